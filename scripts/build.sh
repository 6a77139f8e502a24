#!/usr/bin/env bash
# Configures and builds one flavour of brandmon into build/NAME.
#   scripts/build.sh release      optimised, warnings are errors
#   scripts/build.sh sanitize     ASan + UBSan, debug info
set -euo pipefail
cd "$(dirname "$0")/.."

flavour=${1:-release}
jobs=$(nproc 2>/dev/null || echo 2)
case "$flavour" in
release)
    cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBM_WERROR=ON >/dev/null ;;
sanitize)
    cmake -S . -B build/sanitize -DCMAKE_BUILD_TYPE=Debug -DBM_WERROR=ON \
        "-DBM_SANITIZE=address;undefined" -DBM_BENCH=OFF >/dev/null ;;
*)
    echo "build: unknown flavour '$flavour' (release or sanitize)" >&2; exit 64 ;;
esac
cmake --build "build/$flavour" -j "$jobs"
