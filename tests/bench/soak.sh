#!/usr/bin/env bash
# soak.sh - a long run of brandmond against a Redis that keeps dying and a
# stream that keeps dropping, then an exact account of what reached Redis.
#
#     tests/bench/soak.sh BUILD_DIR [MINUTES]       (MINUTES: default 30)
#
# BUILD_DIR holds daemon/brandmond, tests/mock/mockstream and
# tests/bench/bench_replay (a Release build for the real soak). The run:
#
#   1. `bench_replay --gen-only` writes a corpus of X messages and its
#      1,000-brand pack (the pack's throttles included), SOAK_RATE (default
#      100) posts a second for MINUTES. The first half is served as an X
#      stream by mockstream, the second half is a `replay` source.
#   2. redis-server (AOF on, appendfsync everysec, no RDB) on a free
#      127.0.0.1 port, in a temporary folder.
#   3. mockstream serves the stream half paced to last MINUTES, in segments:
#      each connection gets one segment and is dropped (close_after_bytes)
#      in the middle of its last line, every 10 s (1-2 minute runs) or 60 s;
#      the next connection starts 5 lines back, so the cut line comes again
#      whole and the 5 before it are repeats the daemon must drop. The last
#      segment ends with a keep-alive a second, never a close.
#   4. brandmond: those two sources, sink redis with a small memory queue
#      (queue_max SOAK_QUEUE_MAX, default 200, so an outage spills to the
#      spool), /metrics.
#   5. Every 20 s (1-2 minute runs) or 3 minutes, redis-server is SIGKILLed
#      and started again on the same port and folder 5 s later (from its
#      AOF). The daemon's RSS is sampled every 5 s (short runs) or 30 s.
#   6. Once every post is decided and the queue and spool are empty (waited
#      for at most 2 minutes plus a tenth of the run), SIGTERM
#      (exit 0 wanted). Then the same two files are decided offline
#      (`brandmond --replay`, same pack) and compared with Redis:
#        - alerts (XRANGE Palerts): every match of a rule without throttle
#          is an alert exactly once; for throttled rules, no (rule, post)
#          twice, every throttle key that matched alerted at least once, and
#          two alerts of one key are at least the window apart by their
#          stream ids (Redis's clock when it took the write and set the
#          throttle); nothing that is not a match;
#        - Ptotal:BRAND of every brand: mentions, positive, negative,
#          neutral, defense, amplification, insight, rule:RULE,
#          source:SOURCE, sentiment_sum, and alerts + throttled = matches,
#          alerts = the brand's entries in the stream.
#
# Prints the RSS series, then RSS first/last/max, alerts lost, duplicates,
# unexpected alerts, counter drift, Redis restarts and stream drops done.
# Exits 0 only when nothing was lost, doubled or drifted and the daemon
# stopped cleanly; 1 otherwise; 64 bad usage, 66/69 a binary or tool
# missing, 70 a process that would not start. Needs redis-server,
# redis-cli, awk, and nothing else beyond coreutils. Every process is
# started here, listens on 127.0.0.1 only and is stopped by its pid. The
# work folder is removed on exit unless SOAK_KEEP=1 (it is always kept, and
# named, after a failure).
set -euo pipefail
export LC_ALL=C

usage() {
    echo "usage: $0 BUILD_DIR [MINUTES]" >&2
    exit 64
}

[ $# -ge 1 ] && [ $# -le 2 ] || usage
build=$1
minutes=${2:-30}
case $minutes in '' | *[!0-9]* | 0) usage ;; esac

src=$(cd "$(dirname "$0")/../.." && pwd)
brandmond=$build/daemon/brandmond
mockstream=$build/tests/mock/mockstream
bench_replay=$build/tests/bench/bench_replay
data=$src/rules
for b in "$brandmond" "$mockstream" "$bench_replay"; do
    [ -x "$b" ] || { echo "soak: $b not built" >&2; exit 66; }
done
for b in redis-server redis-cli awk; do
    command -v "$b" >/dev/null || { echo "soak: $b not found" >&2; exit 69; }
done

# ---- the schedule -----------------------------------------------------------

rate=${SOAK_RATE:-100}
run_s=$((minutes * 60))
if [ "$minutes" -le 2 ]; then
    drop_every=10 kill_every=20 sample_every=5
else
    drop_every=60 kill_every=180 sample_every=30
fi
down_s=5
overlap=5
queue_max=${SOAK_QUEUE_MAX:-200}
drain_limit=$((120 + run_s / 10)) # after the schedule, for the backlog
prefix="brandmon:"

work=$(mktemp -d "${TMPDIR:-/tmp}/brandmon-soak.XXXXXX")
pids=()
failed=1 # until the verdict says otherwise: keeps the work folder

die() {
    echo "soak: $*" >&2
    exit 70
}

cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${pids[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    if [ "${SOAK_KEEP:-0}" = 1 ] || [ "$failed" != 0 ]; then
        echo "soak: files kept in $work" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'echo "soak: line $LINENO failed: $BASH_COMMAND" >&2' ERR

forget_pid() {
    local p keep=()
    for p in "${pids[@]}"; do
        [ "$p" = "$1" ] || keep+=("$p")
    done
    pids=("${keep[@]}")
}

log() {
    printf '[%5ds] %s\n' "$((SECONDS - t_start))" "$*"
}

used_ports=" "
# Sets $port to a loopback port nothing listens on, not handed out before.
free_port() {
    local p
    for _ in $(seq 200); do
        p=$((20000 + RANDOM % 40000))
        case $used_ports in *" $p "*) continue ;; esac
        if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            continue
        fi
        used_ports+="$p "
        port=$p
        return 0
    done
    die "no free loopback port"
}

# kB of a /proc/PID/status line (VmRSS, VmHWM); 0 when gone.
status_kb() {
    awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# GET /metrics over bash's /dev/tcp into $metrics_text ("" when no answer).
metrics_text=""
scrape() {
    local fd
    metrics_text=""
    { exec {fd}<>"/dev/tcp/127.0.0.1/$metrics_port"; } 2>/dev/null || return 0
    printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&"$fd"
    metrics_text=$(timeout 5 cat <&"$fd" || true)
    exec {fd}>&-
}

# The value of one sample (name with labels) in $metrics_text; 0 if absent.
metric() {
    awk -v k="$1" '$1 == k { v = $2 } END { print v == "" ? 0 : v }' \
        <<<"$metrics_text"
}

rcli() {
    redis-cli -h 127.0.0.1 -p "$redis_port" "$@"
}

start_redis() {
    redis-server --port "$redis_port" --bind 127.0.0.1 --save "" \
        --appendonly yes --appendfsync everysec --dir "$work/redis" \
        --daemonize no >>"$work/redis.log" 2>&1 &
    redis_pid=$!
    pids+=("$redis_pid")
    # up to 60 s: a big AOF takes a while to load (PING says LOADING)
    for _ in $(seq 600); do
        rcli ping 2>/dev/null | grep -q PONG && return 0
        kill -0 "$redis_pid" 2>/dev/null || break
        sleep 0.1
    done
    tail -20 "$work/redis.log" >&2
    die "redis-server did not start on port $redis_port"
}

# ---- 1. the corpus ----------------------------------------------------------

t_start=$SECONDS
total=$((rate * run_s))
stream_n=$((total / 2))
replay_n=$((total - stream_n))
echo "soak: $minutes min, $total posts ($stream_n streamed, $replay_n replayed)," \
    "a stream drop every ${drop_every}s, Redis killed every ${kill_every}s" \
    "for ${down_s}s; work folder $work"
"$bench_replay" --gen-only --dir "$work/corpus" --posts "$total" \
    >"$work/gen.log" 2>&1 || { cat "$work/gen.log" >&2; die "bench_replay failed"; }
pack=$work/corpus/pack-1000
head -n "$stream_n" "$work/corpus/corpus.ndjson" >"$work/stream.ndjson"
tail -n "+$((stream_n + 1))" "$work/corpus/corpus.ndjson" >"$work/replay.ndjson"
rm -f "$work/corpus/corpus.ndjson"

# ---- 3. the stream's segments and the mock's script -------------------------

stream_bytes=$(wc -c <"$work/stream.ndjson")
# Bytes a second so that the stream lasts about the run (5 % early).
bps=$((stream_bytes * 100 / (run_s * 95) + 1))
delay_ms=100
piece=$((bps * delay_ms / 1000 + 1))
chunk_lo=$((piece / 2 + 1))
chunk_hi=$((piece * 3 / 2 + 1))
[ "$chunk_hi" -le 1048576 ] || die "rate too high for mockstream's pieces"
seg_bytes=$((bps * drop_every))

# Splits stream.ndjson into seg-K.ndjson files. Each segment but the last
# holds about seg_bytes of whole lines and then one more line, the cut line,
# of which only half is sent (close_after_bytes); the next segment starts
# $overlap lines before the cut line. Prints "K CLOSE_AFTER" per segment
# (CLOSE_AFTER -1 for the last).
awk -v dir="$work" -v seg_bytes="$seg_bytes" -v overlap="$overlap" '
{
    line[NR] = $0
}
END {
    n = NR; k = 0; start = 1
    while (start <= n) {
        f = sprintf("%s/seg-%d.ndjson", dir, k)
        bytes = 0; i = start
        while (i <= n && bytes < seg_bytes) {
            printf "%s\n", line[i] > f
            bytes += length(line[i]) + 1
            i++
        }
        if (i > n) {
            close(f)
            print k, -1
            break
        }
        # the cut line: sent whole in the body, cut in half on the wire
        printf "%s\n", line[i] > f
        close(f)
        print k, bytes + int(length(line[i]) / 2)
        start = i - overlap
        if (start < 1)
            start = 1
        k++
    }
}' "$work/stream.ndjson" >"$work/segments.txt"
segments=$(wc -l <"$work/segments.txt")
{
    printf '{"routes": {"/stream": [\n'
    while read -r k close_after; do
        printf '  {"type": "ndjson", "body_file": "seg-%d.ndjson", ' "$k"
        printf '"chunk": [%d, %d], "delay_ms": %d, "seed": %d, ' \
            "$chunk_lo" "$chunk_hi" "$delay_ms" "$((k + 1))"
        if [ "$close_after" -ge 0 ]; then
            printf '"close_after_bytes": %d},\n' "$close_after"
        else
            printf '"then": "keepalive:1000"}\n'
        fi
    done <"$work/segments.txt"
    printf ']}}\n'
} >"$work/script.json"

# ---- 2, 4. Redis, the mock, the daemon --------------------------------------

mkdir -p "$work/redis"
free_port
redis_port=$port
start_redis

"$mockstream" --script "$work/script.json" --port-file "$work/mock.port" \
    --log "$work/requests.jsonl" --max-seconds $((run_s + drain_limit + 600)) \
    >/dev/null 2>"$work/mock.err" &
mock_pid=$!
pids+=("$mock_pid")
for _ in $(seq 100); do
    [ -s "$work/mock.port" ] && break
    sleep 0.1
done
[ -s "$work/mock.port" ] || { cat "$work/mock.err" >&2; die "mockstream did not start"; }
mock_port=$(cat "$work/mock.port")

free_port
metrics_port=$port
replay_rate=$(awk -v n="$replay_n" -v s="$run_s" 'BEGIN { printf "%.3f", n / s }')
cat >"$work/brandmond.yaml" <<EOF
# written by tests/bench/soak.sh
instance: soak
rules: "$pack"
data_dir: "$data"
sink: redis
redis:
  url: "redis://127.0.0.1:$redis_port/0"
  prefix: "$prefix"
  spool: "$work/spool"
  queue_max: $queue_max
  alerts_maxlen: 100000000
metrics:
  listen: "127.0.0.1:$metrics_port"
log:
  level: info
sources:
  - name: stream
    type: x
    url: "http://127.0.0.1:$mock_port/stream"
  - name: replay
    type: replay
    file: "$work/replay.ndjson"
    rate: $replay_rate
EOF
"$brandmond" -c "$work/brandmond.yaml" >"$work/daemon.out" 2>"$work/daemon.err" &
daemon_pid=$!
pids+=("$daemon_pid")
echo "soak: redis :$redis_port, mockstream :$mock_port ($segments segments," \
    "${bps} B/s), brandmond pid $daemon_pid (metrics :$metrics_port)," \
    "replay at $replay_rate posts/s"

# ---- 5. the run -------------------------------------------------------------

# The clock starts once the daemon serves /metrics (its packs are loaded).
for _ in $(seq 100); do
    scrape
    [ -n "$metrics_text" ] && break
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.1
done
[ -n "$metrics_text" ] || { tail -20 "$work/daemon.err" >&2; die "brandmond did not start"; }
t0=$SECONDS
queue_max_seen=0
spool_max_seen=0
restarts=0
next_kill=$kill_every
restart_at=-1
next_sample=0
rss_series=()
# Unique posts: the stream's lines (overlaps are repeats) plus the replay's.
expected_decided=$((stream_n + replay_n))
drained=0
t_drain=-1
daemon_dead=0

while :; do
    now=$((SECONDS - t0))
    if ! kill -0 "$daemon_pid" 2>/dev/null; then
        daemon_dead=1
        log "brandmond exited on its own"
        break
    fi
    scrape
    queue=$(metric brandmon_sink_queue_depth)
    spool=$(metric brandmon_sink_spool_depth)
    [ "${queue%.*}" -le "$queue_max_seen" ] || queue_max_seen=${queue%.*}
    [ "${spool%.*}" -le "$spool_max_seen" ] || spool_max_seen=${spool%.*}
    if [ "$now" -ge "$next_sample" ]; then
        rss_series+=("$now:$(status_kb "$daemon_pid" VmRSS)")
        next_sample=$((next_sample + sample_every))
    fi
    if [ "$restart_at" -ge 0 ] && [ "$now" -ge "$restart_at" ]; then
        start_redis
        restarts=$((restarts + 1))
        restart_at=-1
        log "redis-server restarted (pid $redis_pid); the daemon held queue" \
            "$queue, spool $spool"
    fi
    if [ "$now" -ge "$next_kill" ] && [ "$next_kill" -lt "$run_s" ] &&
        [ "$restart_at" -lt 0 ]; then
        kill -9 "$redis_pid"
        wait "$redis_pid" 2>/dev/null || true
        forget_pid "$redis_pid"
        restart_at=$((now + down_s))
        next_kill=$((next_kill + kill_every))
        log "redis-server SIGKILLed; decided" \
            "$(metric brandmon_posts_decided_total), queue $queue, spool $spool"
    fi
    if [ "$now" -ge "$run_s" ] && [ "$restart_at" -lt 0 ]; then
        decided=$(metric brandmon_posts_decided_total)
        if [ "$decided" -ge "$expected_decided" ] && [ "$queue" = 0 ] &&
            [ "$spool" = 0 ] && [ "$(metric brandmon_sink_connected)" = 1 ]; then
            drained=1
            t_drain=$now
            log "drained: $decided decided, queue 0, spool 0"
            break
        fi
        if [ "$now" -ge $((run_s + drain_limit)) ]; then
            log "not drained after $drain_limit s: decided $decided of" \
                "$expected_decided, queue $queue, spool $spool"
            break
        fi
    fi
    sleep 1
done

# A last look before SIGTERM.
scrape
final_metrics=$metrics_text
rss_last=$(status_kb "$daemon_pid" VmRSS)
hwm=$(status_kb "$daemon_pid" VmHWM)
[ "$daemon_dead" = 1 ] || rss_series+=("$((SECONDS - t0)):$rss_last")
daemon_rc=0
if [ "$daemon_dead" = 0 ]; then
    kill -TERM "$daemon_pid"
    for _ in $(seq 300); do
        kill -0 "$daemon_pid" 2>/dev/null || break
        sleep 0.1
    done
fi
if kill -0 "$daemon_pid" 2>/dev/null; then
    log "brandmond still running 30 s after SIGTERM; SIGKILL"
    kill -9 "$daemon_pid"
fi
wait "$daemon_pid" && daemon_rc=0 || daemon_rc=$?
forget_pid "$daemon_pid"
kill -TERM "$mock_pid" 2>/dev/null || true
wait "$mock_pid" 2>/dev/null || true
forget_pid "$mock_pid"
log "brandmond exit $daemon_rc"

# ---- 6. what Redis must hold --------------------------------------------------

for part in stream replay; do
    "$brandmond" --rules "$pack" --data "$data" --replay "$work/$part.ndjson" \
        --format x --source "$part" >"$work/offline-$part.ndjson" \
        2>"$work/offline-$part.err" || die "offline replay of $part failed"
done

# The pack's throttles: rule, per, window in seconds.
awk '
/^  - id: / { rule = $3 }
/throttle:/ {
    per = $0; sub(/.*per: */, "", per); sub(/[,} ].*/, "", per)
    w = $0; sub(/.*window: */, "", w); sub(/[,} ].*/, "", w)
    n = w + 0; u = substr(w, length(w), 1)
    mult = u == "s" ? 1 : u == "m" ? 60 : u == "h" ? 3600 : u == "d" ? 86400 : 1
    print rule "\t" per "\t" n * mult
}' "$pack/bench.yaml" >"$work/throttles.tsv"

# Offline decisions -> brands.tsv (post, source, brand, tone, score) and
# matches.tsv (post, source, rule, kind, brand, author).
awk -v brands="$work/brands.tsv" -v matches="$work/matches.tsv" '
function str(s, key,   i, v) {
    i = index(s, "\"" key "\":\"")
    if (!i)
        return ""
    v = substr(s, i + length(key) + 4)
    match(v, /^([^"\\]|\\.)*/)
    return substr(v, 1, RLENGTH)
}
FNR == 1 {
    source = FILENAME; sub(/.*offline-/, "", source); sub(/\.ndjson$/, "", source)
}
{
    id = str($0, "post_id"); author = str($0, "author")
    b = substr($0, index($0, "\"brands\":["))
    b = substr(b, 1, index(b, "],\"intents\""))
    while (match(b, /\{"id":"[^"]*","sentiment":[-0-9.e+]*,"tone":"[a-z]*"/)) {
        m = substr(b, RSTART, RLENGTH); b = substr(b, RSTART + RLENGTH)
        split(m, p, "\"")
        score = m; sub(/.*"sentiment":/, "", score); sub(/,.*/, "", score)
        print id "\t" source "\t" p[4] "\t" p[10] "\t" score > brands
    }
    s = substr($0, index($0, "\"matches\":["))
    s = substr(s, 1, index(s, "],\"escalations\":"))
    while (match(s, /\{"rule":"[^"]*","kind":"[a-z]*","priority":"[a-z]*","brand":("[^"]*"|null)/)) {
        m = substr(s, RSTART, RLENGTH); s = substr(s, RSTART + RLENGTH)
        split(m, p, "\"")
        brand = m ~ /"brand":null$/ ? "" : p[16]
        print id "\t" source "\t" p[4] "\t" p[8] "\t" brand "\t" author > matches
    }
}' "$work/offline-stream.ndjson" "$work/offline-replay.ndjson"
: >>"$work/brands.tsv"
: >>"$work/matches.tsv"

# Redis: start it again if the last kill left it down (it should not).
kill -0 "$redis_pid" 2>/dev/null || start_redis
rcli --raw EVAL "
local r = redis.call('XRANGE', KEYS[1], '-', '+')
local out = {}
for i, e in ipairs(r) do
    local f, t = e[2], {}
    for j = 1, #f, 2 do t[f[j]] = f[j + 1] end
    local ms = string.match(e[1], '^(%d+)')
    out[#out + 1] = (t.kind or '?') .. '\t' .. (t.rule or '?') .. '\t' ..
        (t.post_id or '?') .. '\t' .. ms .. '\t' .. (t.brand or '') ..
        '\t' .. (t.source or '')
end
return out" 1 "${prefix}alerts" >"$work/alerts.tsv"
rcli --scan --pattern "${prefix}total:*" >"$work/total-keys.txt"
: >"$work/totals.tsv"
if [ -s "$work/total-keys.txt" ]; then
    # shellcheck disable=SC2046
    rcli --raw EVAL "
local out = {}
for _, k in ipairs(KEYS) do
    local h = redis.call('HGETALL', k)
    local b = string.sub(k, string.len(ARGV[1]) + 1)
    for j = 1, #h, 2 do out[#out + 1] = b .. '\t' .. h[j] .. '\t' .. h[j + 1] end
end
return out" $(wc -l <"$work/total-keys.txt") $(cat "$work/total-keys.txt") \
        "${prefix}total:" >"$work/totals.tsv"
fi

# The comparison. Prints problems (at most 20 of each kind) and a last
# line "lost DUP UNEXPECTED DRIFT".
awk -F '\t' -v out="$work/problems.txt" '
function problem(kind, msg) {
    if (++nprob[kind] <= 20)
        print kind ": " msg > out
}
NF < 3 { next }    # an empty reply from redis-cli
FILENAME ~ /throttles.tsv$/ { per[$1] = $2; window[$1] = $3; next }
FILENAME ~ /brands.tsv$/ {
    want[$3 SUBSEP "mentions"]++
    want[$3 SUBSEP $4]++
    want[$3 SUBSEP "source:" $2]++
    score[$3] += $5
    brand[$3] = 1
    next
}
FILENAME ~ /matches.tsv$/ {
    key = $3 SUBSEP $1
    matched[key] = 1
    if ($5 != "") {
        want[$5 SUBSEP $4]++
        want[$5 SUBSEP "rule:" $3]++
        branded[$5]++
        brand[$5] = 1
    }
    if ($3 in per) {
        tk = $3 "\t" (per[$3] == "author" ? ($6 != "" ? $6 : "-") : \
                      per[$3] == "brand" ? $5 : "-")
        tkey[key] = tk
        tmatches[tk]++
    } else {
        need[key] = 1
    }
    nmatches++
    next
}
FILENAME ~ /alerts.tsv$/ {
    nalerts++
    key = $2 SUBSEP $3
    if (seen[key]++) {
        ndup++
        problem("duplicate", $2 " " $3 " (" seen[key] " times)")
    }
    if (!(key in matched)) {
        nunexp++
        problem("unexpected", $1 " " $2 " " $3)
    }
    if ($5 != "") {
        alerts_of[$5]++
        brand[$5] = 1
    }
    if (key in tkey && seen[key] == 1) {
        tk = tkey[key]
        talerts[tk]++
        # stream ids are Redis ms; allow 1 s for the clock and rounding
        if (tk in tlast && $4 - tlast[tk] < window[$2] * 1000 - 1000) {
            nthrottle++
            problem("throttle", tk " alerted again after " \
                    ($4 - tlast[tk]) / 1000 "s, window " window[$2] "s")
        }
        tlast[tk] = $4
    }
    next
}
FILENAME ~ /totals.tsv$/ {
    got[$1 SUBSEP $2] = $3
    brand[$1] = 1
    next
}
END {
    for (key in need) {
        if (!(key in seen)) {
            nlost++
            split(key, p, SUBSEP)
            problem("lost", p[1] " " p[2])
        }
    }
    for (tk in tmatches) {
        if (!(tk in talerts)) {
            nlost++
            problem("lost", "throttle key " tk ": " tmatches[tk] " matches, no alert")
        }
    }
    for (k in want) {
        split(k, p, SUBSEP)
        g = (k in got) ? got[k] : 0
        if (g != want[k]) {
            ndrift++
            problem("drift", "total:" p[1] " " p[2] " is " g ", offline " want[k])
        }
    }
    for (k in got) {
        split(k, p, SUBSEP)
        f = p[2]
        if (f == "sentiment_sum") {
            d = got[k] - score[p[1]]
            if (d < 0) d = -d
            if (d > 0.001 * want[p[1] SUBSEP "mentions"] + 0.001) {
                ndrift++
                problem("drift", "total:" p[1] " sentiment_sum is " got[k] ", offline " score[p[1]])
            }
        } else if (f == "alerts" || f == "throttled") {
            continue
        } else if (!(k in want)) {
            ndrift++
            problem("drift", "total:" p[1] " has " f " = " got[k] ", offline none")
        }
    }
    for (b in brand) {
        a = got[b SUBSEP "alerts"] + 0; th = got[b SUBSEP "throttled"] + 0
        if (a + th != branded[b] + 0) {
            ndrift++
            problem("drift", "total:" b " alerts " a " + throttled " th " != matches " branded[b] + 0)
        }
        if (a != alerts_of[b] + 0) {
            ndrift++
            problem("drift", "total:" b " alerts " a " but the stream has " alerts_of[b] + 0)
        }
    }
    printf "%d %d %d %d %d %d %d\n", nlost + 0, ndup + 0, nunexp + 0, ndrift + 0,
        nthrottle + 0, nalerts + 0, nmatches + 0
}' "$work/throttles.tsv" "$work/brands.tsv" "$work/matches.tsv" \
    "$work/alerts.tsv" "$work/totals.tsv" >"$work/verdict.txt"
read -r lost dups unexpected drift throttle_gaps nalerts nmatches <"$work/verdict.txt"

# ---- the report ---------------------------------------------------------------

metrics_text=$final_metrics
decided=$(metric brandmon_posts_decided_total)
requests=$(grep -c '"path":"/stream"' "$work/requests.jsonl" || true)
drops=$((requests > 0 ? requests - 1 : 0))
# A reconnect the schedule did not make skips the rest of a segment.
unscheduled=$((requests > segments ? requests - segments : 0))
stalls=$(metric 'brandmon_source_stalls_total{source="stream",type="x"}')
truncated=$(metric 'brandmon_posts_skipped_total{source="stream",type="x",reason="truncated"}')
duplicates_in=$(metric 'brandmon_source_duplicates_total{source="stream",type="x"}')
sink_lost=$(metric brandmon_sink_lost_total)
sink_reconnects=$(metric brandmon_sink_reconnects_total)
written=$(metric brandmon_alerts_written_total)
rss_first=${rss_series[0]#*:}
rss_max=0
echo
echo "RSS (kB) every ${sample_every}s:"
line=""
for s in "${rss_series[@]}"; do
    v=${s#*:}
    [ "$v" -gt "$rss_max" ] && rss_max=$v
    line+=" ${s%%:*}s=$v"
    if [ ${#line} -gt 70 ]; then
        echo " $line"
        line=""
    fi
done
[ -z "$line" ] || echo " $line"
echo
printf '%-28s %s\n' \
    "duration" "$((SECONDS - t_start)) s (schedule ${run_s} s, drained at ${t_drain} s)" \
    "posts decided" "$decided of $expected_decided" \
    "RSS first/last/max" "$rss_first / $rss_last / $rss_max kB (VmHWM $hwm kB)" \
    "matches (offline)" "$nmatches" \
    "alerts in Redis" "$nalerts" \
    "alerts lost" "$lost" \
    "alerts duplicated" "$dups" \
    "alerts unexpected" "$unexpected" \
    "throttle gaps too short" "$throttle_gaps" \
    "counter drift" "$drift" \
    "Redis restarts done" "$restarts" \
    "stream drops done" "$drops (truncated lines $truncated, repeats dropped $duplicates_in)" \
    "unscheduled reconnects" "$unscheduled (stalls $stalls)" \
    "queue / spool max seen" "$queue_max_seen / $spool_max_seen" \
    "sink reconnects / lost" "$sink_reconnects / $sink_lost" \
    "writes acknowledged" "$written" \
    "brandmond exit" "$daemon_rc"
if [ -s "$work/problems.txt" ]; then
    echo
    echo "problems (at most 20 of each kind):"
    sed 's/^/  /' "$work/problems.txt"
fi

ok=1
[ "$lost" = 0 ] && [ "$dups" = 0 ] && [ "$unexpected" = 0 ] && [ "$drift" = 0 ] &&
    [ "$throttle_gaps" = 0 ] || ok=0
[ "$daemon_rc" = 0 ] && [ "$drained" = 1 ] && [ "$daemon_dead" = 0 ] || ok=0
[ "$decided" = "$expected_decided" ] || ok=0
[ "${sink_lost%.*}" = 0 ] || ok=0
[ "$restarts" -ge 1 ] && [ "$drops" -ge 1 ] || ok=0
if [ "$ok" = 1 ]; then
    echo "soak: ok"
    failed=0
    exit 0
fi
echo "soak: FAILED (brandmond's log: $work/daemon.err)"
exit 1
