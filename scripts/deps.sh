#!/usr/bin/env bash
# Installs the Debian 12 packages brandmon builds, tests and runs with,
# when any is missing. Needs root or sudo; never asks questions.
set -euo pipefail

packages=(
    build-essential cmake pkg-config git
    libevent-dev libcurl4-openssl-dev libhiredis-dev libjansson-dev
    libyaml-dev libutf8proc-dev libpcre2-dev libsystemd-dev libcmocka-dev
    libssl-dev libwslay-dev
    clang-format redis-server redis-tools
    clang libclang-rt-14-dev
    systemd  # systemd-analyze, for tests/integration/test_systemd.sh
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "deps: run as root or install sudo" >&2; exit 1; }
    sudo="sudo"
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
