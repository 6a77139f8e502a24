#!/usr/bin/env bash
# The main job for a newcomer: installs what is missing, builds, starts a
# local redis-server on a free loopback port and runs brandmond on the
# bundled demo configuration (demo/brandmond.yaml): a replay of realistic
# posts through the example packs, so alerts and counters appear in Redis
# at once. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
scripts/build.sh release >/dev/null
bin=build/release/daemon/brandmond
mkdir -p build/demo

port=""
for p in $(seq 6390 6499); do
    if ! (exec 3<>/dev/tcp/127.0.0.1/"$p") 2>/dev/null; then
        port=$p
        break
    fi
done
[ -n "$port" ] || { echo "demo: no free port in 6390-6499" >&2; exit 1; }

redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
    --dir build/demo --daemonize no >build/demo/redis.log 2>&1 &
redis_pid=$!
daemon_pid=""
cleanup() {
    [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
    kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 0' INT TERM
for _ in $(seq 50); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.1
done

sed "s#redis://127.0.0.1:6379/0#redis://127.0.0.1:$port/0#" demo/brandmond.yaml \
    >demo/brandmond.local.yaml
"$bin" -c demo/brandmond.local.yaml --check

cat <<MSG

brandmond is running on demo/brandmond.local.yaml; Redis listens on 127.0.0.1:$port.
In another terminal:
  redis-cli -p $port XREVRANGE brandmon:alerts + - COUNT 3        # the latest alerts
  redis-cli -p $port XREAD BLOCK 0 STREAMS brandmon:alerts '\$'    # wait for the next one
  redis-cli -p $port HGETALL brandmon:total:acme                  # counters of one brand
Ctrl-C stops the daemon and Redis.

MSG
"$bin" -c demo/brandmond.local.yaml &
daemon_pid=$!
wait "$daemon_pid"
