#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The rate limiter benchmark, in one run:
#
# 1. bench/ratelimit_bench.cpp (bulwark_ratelimit_bench): one in-memory decision per
#    algorithm through MemoryRateStore (target: median <= 100 ns), and the whole
#    RateLimiter::check of the pipeline stage for a per-ip rule.
# 2. A cached GET /api/v1/activities?limit=4 as demo1 (a seeded database; memory cache on,
#    every request after the first a HIT) against four `bulwark --server --threads 1`
#    instances, all on 127.0.0.1 with the access log off:
#      ratelimit-off   BULWARK_RATELIMIT_ENABLED=false (the baseline)
#      ip-memory       one rule {"name": "per_ip", "route": "/api/**", "scope": "ip",
#                      "limit": 1000000000, "window": "1m"} in the memory store, so that
#                      every request is decided and none is refused (target: >= 0.95 x
#                      ratelimit-off)
#      ip-memory-bare  the same with both header sets off: what deciding costs without the
#                      ~180 header bytes per response (which the server writes and wrk reads)
#      ip-redis        the same rule with ratelimit.store redis (a redis-server started here,
#                      --save '' --appendonly no): one EVALSHA per request
#    wrk sends every request from 127.0.0.1, so all of them count against one key (one
#    worker thread, one shard: no lock is contended).
# 3. The ceiling for the Redis store: redis-benchmark running the very EVALSHA the server
#    sends (read from MONITOR during one request), no pipelining, at 64 connections and at
#    one (a worker thread waits for each answer, so --threads 1 has one command in flight).
#
# Before measuring it checks that ip-memory and ip-redis answer 200 with RateLimit and
# X-RateLimit-Remaining headers and ratelimit-off with none, and that the Redis rule is
# decided in Redis (GET /admin/api/ratelimit: allowed > 0, store_errors 0). After a 3 s
# warm-up of each, rounds alternate between them (the order rotates each round); it prints
# every round, the medians, server CPU per request and the ratios.
#
# Everything listens and connects on 127.0.0.1 only; every wait is bounded; every process
# started here is stopped on exit. It holds /tmp/bulwark-build.lock from the micro-benchmark
# to the last round (--no-lock turns that off). With the defaults it takes about 4 minutes
# after the build. docs/benchmarks.md explains the figures.
#
# Usage: bench/run_ratelimit_bench.sh [--no-build] [--build-dir DIR] [--duration S]
#            [--rounds N] [--connections N] [--keep-tmp] [--no-lock]
#   --no-build         use the binaries already in the build directory
#   --build-dir DIR    default build/bench (release preset, tests off)
#   --duration S       seconds per wrk round (default 10)
#   --rounds N         rounds (default 3)
#   --connections N    wrk connections (default 64)
#   --keep-tmp         keep the database, logs and wrk outputs (path printed at the end)
#   --no-lock          do not hold the shared build lock during the measurements
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=run_ratelimit_bench
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

parse_options "$@"
for tool in wrk curl python3 redis-server redis-cli redis-benchmark; do
    command -v "$tool" >/dev/null || die "$tool is required (Debian: apt-get install wrk curl python3 redis-server redis-tools)"
done
STARTED_AT=$SECONDS

if (( DO_BUILD )); then
    build_release bulwark bulwark_ratelimit_bench
fi
BULWARK="$BUILD_DIR/app/bulwark"
MICRO="$BUILD_DIR/bench/bulwark_ratelimit_bench"
for bin in "$BULWARK" "$MICRO"; do
    [[ -x "$bin" ]] || die "$bin is missing; build first (drop --no-build)"
done
start_run bulwark-ratelimit-bench

REDIS_VERSION=$(redis-server --version 2>/dev/null | grep -oE 'v=[0-9.]+' | cut -d= -f2 || true)
print_machine "redis-server ${REDIS_VERSION:-unknown}"
take_build_lock "from the micro-benchmark to the last round"

# ---------------------------------------------------------------- 1. the micro-benchmark
echo "== $MICRO (at most 5 minutes)"
MICRO_OUT="$TMP/micro.txt"
timeout 300 "$MICRO" >"$MICRO_OUT" 2>"$TMP/micro.err" &
micro_pid=$!
PIDS+=("$micro_pid")
micro_rc=0
wait "$micro_pid" || micro_rc=$?
forget_pid "$micro_pid"
sed 's/^/   /' "$MICRO_OUT"
(( micro_rc == 0 )) || die "bulwark_ratelimit_bench exited with status $micro_rc: $(tail -3 "$TMP/micro.err")"

# ---------------------------------------------------------------- data and Redis
DATA="$TMP/data"
echo "== seeding: bulwark seed --users 3 --rows 300 --no-key"
env BULWARK_SERVER_DATA_DIR="$DATA" "$BULWARK" seed --users 3 --rows 300 --no-key >"$TMP/seed.out" 2>"$TMP/seed.err" \
    || { tail -5 "$TMP/seed.err" >&2; die "seeding failed"; }
KEY=$(key_for demo1@example.com "" BULWARK_SERVER_DATA_DIR="$DATA")
[[ "$KEY" == bwk_* ]] || die "could not create an API key for demo1@example.com"
AUTH="Authorization: Bearer $KEY"
PATH_QUERY="/api/v1/activities?limit=4"

start_redis

# ---------------------------------------------------------------- the servers
RULE='[{"name": "per_ip", "route": "/api/**", "scope": "ip", "limit": 1000000000, "window": "1m"}]'
COMMON=(BULWARK_SERVER_DATA_DIR="$DATA" BULWARK_CACHE_ENABLED=true BULWARK_CACHE_MEMORY_ENABLED=true)
echo "== starting the servers (127.0.0.1 only, access log off, --threads 1)"
start_server ratelimit-off "${COMMON[@]}" BULWARK_REDIS_URL= BULWARK_RATELIMIT_ENABLED=false -- --threads 1
PID_OF[ratelimit-off]=$SERVER_PID; PORT_OFF=$SERVER_PORT
start_server ip-memory "${COMMON[@]}" BULWARK_REDIS_URL= BULWARK_RATELIMIT_ENABLED=true \
    BULWARK_RATELIMIT_STORE=memory BULWARK_RATELIMIT_RULES="$RULE" -- --threads 1
PID_OF[ip-memory]=$SERVER_PID; PORT_MEM=$SERVER_PORT
start_server ip-memory-bare "${COMMON[@]}" BULWARK_REDIS_URL= BULWARK_RATELIMIT_ENABLED=true \
    BULWARK_RATELIMIT_STORE=memory BULWARK_RATELIMIT_RULES="$RULE" BULWARK_RATELIMIT_HEADERS_LEGACY=false \
    BULWARK_RATELIMIT_HEADERS_STANDARD=false -- --threads 1
PID_OF[ip-memory-bare]=$SERVER_PID; PORT_BARE=$SERVER_PORT
start_server ip-redis "${COMMON[@]}" BULWARK_REDIS_URL="redis://127.0.0.1:$REDIS_PORT" BULWARK_CACHE_REDIS_ENABLED=false \
    BULWARK_RATELIMIT_ENABLED=true BULWARK_RATELIMIT_STORE=redis BULWARK_RATELIMIT_RULES="$RULE" -- --threads 1
PID_OF[ip-redis]=$SERVER_PID; PORT_REDIS=$SERVER_PORT
ADMIN_TOKEN=$(tr -d '[:space:]' <"$DATA/admin.token" 2>/dev/null || true)
[[ ${#ADMIN_TOKEN} -ge 32 ]] || die "no admin token in $DATA/admin.token"

header_of() { { grep -i "^$1:" "$2" 2>/dev/null || true; } | tr -d '\r' | cut -d' ' -f2- | tail -1; }
check() { # name port want-headers(0/1); the limiter's decisions are checked below
    local name=$1 port=$2 want=$3 code i
    for (( i = 1; i <= 2; i++ )); do # the second is a cache HIT
        code=$(curl -s --max-time 10 -o "$TMP/check-$name.body" -D "$TMP/check-$name.head" -w '%{http_code}' \
            -H "$AUTH" "http://127.0.0.1:$port$PATH_QUERY" || true)
        [[ "$code" == 200 ]] || die "$name answered $code: $(head -c 300 "$TMP/check-$name.body")"
    done
    local cache policy remaining
    cache=$(header_of x-cache "$TMP/check-$name.head")
    policy=$(header_of ratelimit-policy "$TMP/check-$name.head")
    remaining=$(header_of x-ratelimit-remaining "$TMP/check-$name.head")
    [[ "$cache" == HIT ]] || die "$name: the second request was X-Cache: ${cache:-none}, not HIT"
    if (( want )); then
        [[ "$policy" == '"per_ip";q=1000000000;w=60' && -n "$remaining" ]] \
            || die "$name: RateLimit-Policy '$policy', X-RateLimit-Remaining '$remaining'"
    else
        [[ -z "$policy" && -z "$remaining" ]] || die "$name: rate-limit headers where there should be none"
    fi
    echo "   check $name: 200, X-Cache: HIT, RateLimit-Policy: ${policy:-none}, X-RateLimit-Remaining: ${remaining:-none}"
}
echo "== checks: GET $PATH_QUERY as demo1"
check ratelimit-off "$PORT_OFF" 0
check ip-memory "$PORT_MEM" 1
check ip-memory-bare "$PORT_BARE" 0
check ip-redis "$PORT_REDIS" 1
decided() { # name port what: the per_ip rule counted the checks (allowed >= 2, no store errors)
    local json allowed errors
    json=$(curl -s --max-time 10 -H "Authorization: Bearer $ADMIN_TOKEN" "http://127.0.0.1:$2/admin/api/ratelimit" || true)
    read -r allowed errors < <(python3 -c '
import json, sys
r = json.loads(sys.argv[1])["rules"][0]["stats"]
print(int(r["allowed"]), int(r["store_errors"]))' "$json" 2>/dev/null || echo "? ?")
    if ! [[ "$allowed" =~ ^[0-9]+$ ]] || (( allowed < 2 )) || [[ "$errors" != 0 ]]; then
        die "$1: GET /admin/api/ratelimit says allowed $allowed, store_errors $errors"
    fi
    echo "   check $1: $3 (allowed $allowed, store_errors 0)"
}
decided ip-memory-bare "$PORT_BARE" "decided without headers"
decided ip-redis "$PORT_REDIS" "decided in Redis"

# The EVALSHA the server sends, read from MONITOR during one request.
timeout 5 redis-cli -p "$REDIS_PORT" MONITOR >"$TMP/monitor.txt" 2>&1 &
monitor_pid=$!
PIDS+=("$monitor_pid")
sleep 0.5
curl -s --max-time 10 -o /dev/null -H "$AUTH" "http://127.0.0.1:$PORT_REDIS$PATH_QUERY" || true
sleep 0.5
stop_pid "$monitor_pid"
EVALSHA_LINE=$(grep -m1 '"EVALSHA"' "$TMP/monitor.txt" || true)
[[ -n "$EVALSHA_LINE" ]] || die "no EVALSHA seen on MONITOR: $(head -5 "$TMP/monitor.txt")"
# "1764... [0 127.0.0.1:4242] "EVALSHA" "sha" "1" "key" "arg"..." -> the quoted words
mapfile -t EVALSHA_ARGS < <(python3 -c '
import shlex, sys
line = sys.argv[1]
print("\n".join(shlex.split(line[line.index("]") + 1:])))' "$EVALSHA_LINE")
echo "   the server sends: ${EVALSHA_ARGS[*]:0:4} ... (${#EVALSHA_ARGS[@]} words)"

# ---------------------------------------------------------------- measuring
NAMES=(ratelimit-off ip-memory ip-memory-bare ip-redis)
declare -A PORT_OF=([ratelimit-off]=$PORT_OFF [ip-memory]=$PORT_MEM [ip-memory-bare]=$PORT_BARE [ip-redis]=$PORT_REDIS)
for name in "${NAMES[@]}"; do
    URL[$name]="http://127.0.0.1:${PORT_OF[$name]}$PATH_QUERY"
    HEADER[$name]=$AUTH
done
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== warm-up: 3 s of wrk against each (load average $LOAD_BEFORE)"
WRK_EXTRA=(-H "$AUTH")
for name in "${NAMES[@]}"; do
    run_wrk "$TMP/warmup-$name.txt" "${URL[$name]}" 3 "${PID_OF[$name]}"
    [[ "$WRK_NOTE" == ok ]] || echo "   warm-up $name: $WRK_NOTE"
done
REDIS_TICKS0=$(cpu_ticks "$REDIS_PID")
measure "${NAMES[@]}"
REDIS_TICKS1=$(cpu_ticks "$REDIS_PID")
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
REDIS_REQUESTS=$(awk '/ requests in / { n += $1 } END { print n + 0 }' "$TMP"/wrk-ip-redis-*.txt)
REDIS_CPU=$(awk -v t="$(( REDIS_TICKS1 - REDIS_TICKS0 ))" -v n="$REDIS_REQUESTS" -v hz="$CLK_TCK" \
    'BEGIN { if (n > 0) printf "%.2f", t / hz / n * 1e6; else print "n/a" }')
for name in "${NAMES[@]}"; do
    kill -0 "${PID_OF[$name]}" 2>/dev/null || NOTES[$name]+="the server is gone after the rounds; "
done

# ---------------------------------------------------------------- 3. the Redis ceiling
# The servers are idle now; redis-benchmark gets the cores wrk had.
# At 64 connections (what Redis can do) and at one (what one worker, which waits for each
# answer, can ask of it).
CEILING=()
CEILING1=()
for clients in 64 1; do
    echo "== redis-benchmark: the server's EVALSHA, $clients connection(s), no pipelining, $ROUNDS runs of 100000"
    for (( r = 1; r <= ROUNDS; r++ )); do
        timeout 120 redis-benchmark -p "$REDIS_PORT" -c "$clients" -n 100000 -q "${EVALSHA_ARGS[@]}" \
            >"$TMP/redis-benchmark-$clients-$r.txt" 2>&1 || true
        rps=$(tr '\r' '\n' <"$TMP/redis-benchmark-$clients-$r.txt" | grep -oE '[0-9.]+ requests per second' | tail -1 | awk '{print $1}')
        if (( clients == 1 )); then CEILING1+=("${rps:-0}"); else CEILING+=("${rps:-0}"); fi
        echo "   run $r: ${rps:-?} EVALSHA/s"
    done
done

# ---------------------------------------------------------------- summary
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { if (v == "n/a") print "n/a"; else print (v + 0 >= t + 0) ? "meets target" : "MISSES target" }'; }
# shellcheck disable=SC2086
med() { median ${RPS[$1]}; }
# shellcheck disable=SC2086
cpu_med() { median ${CPUS[$1]}; }
CEILING_MED=$(median "${CEILING[@]}")
CEILING1_MED=$(median "${CEILING1[@]}")
ELAPSED=$(( SECONDS - STARTED_AT ))
echo
echo "================================================================ summary"
echo "date        $(date -u '+%Y-%m-%d %H:%M UTC'); took $(( ELAPSED / 60 )) min $(( ELAPSED % 60 )) s (build included)"
echo "machine     $NPROC cores ($CPU_MODEL); kernel $(uname -r); redis-server ${REDIS_VERSION:-unknown}; wrk and the servers share the cores"
echo "build lock  $LOCK_NOTE; load average before/after the rounds: $LOAD_BEFORE / $LOAD_AFTER"
echo "request     GET $PATH_QUERY as demo1, cached (X-Cache: HIT); wrk -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s, 3 s warm-up each, $ROUNDS rotating rounds; medians"
echo "micro       bulwark_ratelimit_bench (release, coarse clock):"
sed 's/^/              /' "$MICRO_OUT"
summary_line ratelimit-off "rate limiting off, --threads 1 (baseline)"
summary_line ip-memory "per-ip rule, memory store, --threads 1"
summary_line ip-memory-bare "per-ip rule, memory store, no rate-limit headers"
summary_line ip-redis "per-ip rule, Redis store, --threads 1"
echo "ratio       ip-memory / ratelimit-off: $(ratio "$(med ip-memory)" "$(med ratelimit-off)") (target >= 0.95: $(verdict "$(ratio "$(med ip-memory)" "$(med ratelimit-off)")" 0.95))"
echo "ratio       ip-memory-bare / ratelimit-off: $(ratio "$(med ip-memory-bare)" "$(med ratelimit-off)") (the decision without the headers)"
echo "ratio       ip-redis / ratelimit-off:  $(ratio "$(med ip-redis)" "$(med ratelimit-off)")"
echo "ceiling     redis-benchmark EVALSHA (the server's script and key), -c 64: $CEILING_MED /s median (runs: ${CEILING[*]}); ip-redis / ceiling: $(ratio "$(med ip-redis)" "$CEILING_MED")"
echo "ceiling     the same at -c 1 (one connection waiting for each answer, as one worker does): $CEILING1_MED /s median (runs: ${CEILING1[*]}); ip-redis / that: $(ratio "$(med ip-redis)" "$CEILING1_MED")"
echo "server CPU  per request (medians, us): ratelimit-off $(cpu_med ratelimit-off), ip-memory $(cpu_med ip-memory), ip-memory-bare $(cpu_med ip-memory-bare), ip-redis $(cpu_med ip-redis) (+ redis-server $REDIS_CPU)"
