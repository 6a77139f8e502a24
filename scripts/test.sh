#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what is
# missing, checks formatting, builds twice (release, and ASan + UBSan) and
# runs every unit and integration test in both builds.
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
