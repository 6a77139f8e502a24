#!/usr/bin/env bash
# The main job for a newcomer: installs what is missing, builds, checks the
# bundled example packs, runs their embedded tests, then replays the bundled
# demo posts through them and prints one JSON decision per post.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
scripts/build.sh release >/dev/null
bin=build/release/daemon/brandmond

echo "== rule packs" >&2
"$bin" --rules rules/examples --check >&2
"$bin" --rules rules/examples --test | tail -n 1 >&2
echo "== decisions on demo/posts.ndjson" >&2
"$bin" --rules rules/examples --replay demo/posts.ndjson --format x
