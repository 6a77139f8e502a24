#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/) with clang, ASan and UBSan into
# build/fuzz and runs each of them for N seconds (default 30), one after the
# other, from its seed corpus in tests/fuzz/corpus/<target>/ and with the
# dictionary tests/fuzz/<target>.dict when there is one.
#   scripts/fuzz.sh            every target, 30 s each
#   scripts/fuzz.sh 600        every target, 10 minutes each
#   scripts/fuzz.sh 60 fuzz_text fuzz_yaml
# New inputs go to build/fuzz/corpus/<target>/ (the seeds in the repository
# are only read); a crash leaves its input in build/fuzz/artifacts/ and
# makes the script fail. Needs clang and libclang-rt-14-dev (scripts/deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
shift || true
case "$seconds" in
'' | *[!0-9]*)
    echo "fuzz: N must be a number of seconds, not '$seconds'" >&2; exit 64 ;;
esac

all=(fuzz_framer_ndjson fuzz_framer_sse fuzz_fieldmap fuzz_text fuzz_yaml
     fuzz_config fuzz_pack fuzz_decision)
if [ $# -gt 0 ]; then
    targets=("$@")
else
    targets=("${all[@]}")
fi

jobs=$(nproc 2>/dev/null || echo 2)
CC=clang cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DBM_FUZZ=ON "-DBM_SANITIZE=address;undefined" -DBM_BENCH=OFF >/dev/null
cmake --build build/fuzz -j "$jobs" --target "${targets[@]}"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
mkdir -p build/fuzz/artifacts
failed=()
for t in "${targets[@]}"; do
    bin=build/fuzz/tests/fuzz/$t
    seeds=tests/fuzz/corpus/$t
    work=build/fuzz/corpus/$t
    log=build/fuzz/$t.log
    dict=()
    [ -f "tests/fuzz/$t.dict" ] && dict=("-dict=tests/fuzz/$t.dict")
    mkdir -p "$work"
    echo "== fuzz $t for ${seconds}s"
    # -timeout: one input running for 10 s is a hang worth reporting.
    if "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="build/fuzz/artifacts/$t-" \
        "${dict[@]}" "$work" "$seeds" >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
        echo "$t: ok, ${runs:-?} runs, ${rate:-?} execs/s"
    else
        tail -n 40 "$log" >&2
        # The cause, which the tail may have cut off.
        grep -E 'runtime error|ERROR: |invariant failed' "$log" | head -n 5 >&2 || true
        echo "$t: FAILED (input in build/fuzz/artifacts/, log in $log)" >&2
        failed+=("$t")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: ${failed[*]} failed" >&2
    exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, no crash"
