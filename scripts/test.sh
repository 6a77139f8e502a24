#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what is
# missing, checks formatting, builds twice (release, and ASan + UBSan), runs
# every unit and integration test in both builds (the integration tests
# start their own redis-server and mock stream servers on free loopback
# ports), then runs the demo end to end against a redis-server this script
# starts on a free loopback port and stops by pid, then a one-minute soak
# (tests/bench/soak.sh: every alert and counter exactly once through Redis
# restarts and stream drops), and last builds the libFuzzer targets with
# clang and runs each for 10 seconds (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh

echo "== format (clang-format --dry-run -Werror)"
git ls-files -z -- '*.c' '*.h' | xargs -0 clang-format --dry-run -Werror

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for flavour in release sanitize; do
    echo "== build $flavour"
    scripts/build.sh "$flavour"
    echo "== test $flavour"
    ctest --test-dir "build/$flavour" --output-on-failure -j 2 --timeout 300
done

echo "== demo end to end (redis-server + brandmond on demo/brandmond.yaml)"
work=$(mktemp -d)
redis_pid=""
daemon_pid=""
cleanup() {
    [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null
    [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
port=""
for p in $(seq 7390 7499); do
    if ! (exec 3<>/dev/tcp/127.0.0.1/"$p") 2>/dev/null; then
        port=$p
        break
    fi
done
[ -n "$port" ] || { echo "no free port" >&2; exit 1; }
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$work" --daemonize no >"$work/redis.log" 2>&1 &
redis_pid=$!
for _ in $(seq 50); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.1
done
sed -e "s#redis://127.0.0.1:6379/0#redis://127.0.0.1:$port/0#" \
    -e "s#rate: 5 #rate: 200 #" demo/brandmond.yaml >demo/brandmond.local.yaml
build/release/daemon/brandmond -c demo/brandmond.local.yaml 2>"$work/daemon.log" &
daemon_pid=$!
alerts=0
for _ in $(seq 100); do
    alerts=$(redis-cli -p "$port" XLEN brandmon:alerts)
    [ "$alerts" -ge 20 ] && break
    sleep 0.1
done
mentions=$(redis-cli -p "$port" HGET brandmon:total:acme mentions)
kill -TERM "$daemon_pid"
wait "$daemon_pid" && rc=0 || rc=$?
daemon_pid=""
rm -f demo/brandmond.local.yaml
echo "demo: $alerts alerts, ${mentions:-0} acme mentions, daemon exit $rc"
if [ "$alerts" -ge 20 ] && [ "${mentions:-0}" -gt 0 ] && [ "$rc" -eq 0 ]; then
    echo "demo end to end: ok"
else
    cat "$work/daemon.log" >&2
    echo "demo end to end: FAILED"
    exit 1
fi

echo "== soak, 1 minute (Redis SIGKILLed and restarted, the stream dropped)"
tests/bench/soak.sh build/release 1

echo "== fuzz (every libFuzzer target for 10 s, clang + ASan + UBSan)"
scripts/fuzz.sh 10
