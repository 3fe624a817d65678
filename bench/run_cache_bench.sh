#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The response cache benchmark: a cached GET /api/v1/activities against the bare Qt 6.4
# QHttpServer serving a body of the same size and type, in one run.
#
# It first runs bench/cache_bench.cpp (bulwark_cache_bench: throughput and hit ratio of
# the memory tier) when it is built, then seeds a small database (`bulwark seed --users 3
# --rows 300 --no-key`), makes an API key for demo1@example.com and picks the page size N
# whose GET /api/v1/activities?limit=N body is closest to 1024 bytes (from N = 4). It
# starts, all on 127.0.0.1 with the access log off, and drives with wrk at 64 connections,
# every request as demo1 (Authorization: Bearer <key>):
#   cached-mem-1t    bulwark --server --threads 1, memory tier only (no Redis)
#   bare             bench/hello_qhttpserver.cpp serving a body of exactly the same size
#                    as application/json at the same path, so wrk sends byte-identical
#                    requests (it ignores the Authorization header)
#   cached-mem       the same as cached-mem-1t with the default worker count (one per core)
#   uncached-1t      --threads 1 with BULWARK_CACHE_ENABLED=false: what the cache saves
#   cached-redis-1t  --threads 1, memory tier off, Redis tier on: a redis-server started
#                    here (--save '' --appendonly no) on a free loopback port
# Before measuring it checks that every server answers 200 with the same body, that the
# second request of a cached one is X-Cache: HIT, and, for Redis, that GET /admin/api/cache
# reports redis.state "up" and counts that hit in redis.hits. After a 3 s warm-up of each,
# rounds alternate between them (the order rotates each round); it prints every round, the
# medians of requests/s and of wrk's p50/p99 latency, the server CPU time per request, the
# cache counters after the rounds and the ratios cached-mem-1t/bare (target >= 0.85),
# cached-redis-1t/bare and cached-mem-1t/uncached-1t.
#
# Everything listens and connects on 127.0.0.1 only; every wait is bounded; every process
# started here is stopped on exit. It holds /tmp/bulwark-build.lock from the micro-benchmark
# to the last round (--no-lock turns that off); the micro-benchmark is stopped after 5
# minutes. With the defaults it takes about 5 minutes after the build. docs/benchmarks.md explains the figures.
#
# Usage: bench/run_cache_bench.sh [--no-build] [--build-dir DIR] [--duration S] [--rounds N]
#            [--connections N] [--keep-tmp] [--no-lock]
#   --no-build         use the binaries already in the build directory
#   --build-dir DIR    default build/bench (release preset, tests off)
#   --duration S       seconds per wrk round (default 10)
#   --rounds N         rounds (default 3)
#   --connections N    wrk connections (default 64)
#   --keep-tmp         keep the database, logs and wrk outputs (path printed at the end)
#   --no-lock          do not hold the shared build lock during the measurements
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=run_cache_bench
TARGET_SIZE=1024        # the body size the page size is chosen for
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

parse_options "$@"
for tool in wrk curl python3 redis-server; do
    command -v "$tool" >/dev/null || die "$tool is required (Debian: apt-get install $tool)"
done
STARTED_AT=$SECONDS

# ---------------------------------------------------------------- build
CACHE_BENCH_NOTE=""
if (( DO_BUILD )); then
    build_release bulwark bulwark_hello_qhttpserver
    # The micro-benchmark is another engineer's target: built only when bench/CMakeLists.txt
    # has it, and a failure to build it does not stop the HTTP measurements.
    if grep -q bulwark_cache_bench "$ROOT/bench/CMakeLists.txt"; then
        if ! (cd "$ROOT" && locked cmake --build "$BUILD_DIR" --target bulwark_cache_bench); then
            CACHE_BENCH_NOTE="skipped: building bulwark_cache_bench failed (see the build output above)"
            echo "WARNING: $CACHE_BENCH_NOTE" >&2
        fi
    fi
fi
BULWARK="$BUILD_DIR/app/bulwark"
BARE="$BUILD_DIR/bench/bulwark_hello_qhttpserver"
CACHE_BENCH="$BUILD_DIR/bench/bulwark_cache_bench"
for bin in "$BULWARK" "$BARE"; do
    [[ -x "$bin" ]] || die "$bin is missing; build first (drop --no-build)"
done
if [[ -z "$CACHE_BENCH_NOTE" && ! -x "$CACHE_BENCH" ]]; then
    CACHE_BENCH_NOTE="skipped: $CACHE_BENCH does not exist (yet)"
fi
start_run bulwark-cache-bench

# ---------------------------------------------------------------- the machine
REDIS_VERSION=$(redis-server --version 2>/dev/null | grep -oE 'v=[0-9.]+' | cut -d= -f2 || true)
print_machine "redis-server ${REDIS_VERSION:-unknown}"
take_build_lock "from the micro-benchmark to the last round"

# ---------------------------------------------------------------- the micro-benchmark
CACHE_BENCH_OUT="$TMP/cache_bench.txt"
: >"$CACHE_BENCH_OUT"
if [[ -z "$CACHE_BENCH_NOTE" ]]; then
    # About a minute here; the limit keeps a hang from holding the build lock for long.
    echo "== $CACHE_BENCH (memory tier micro-benchmark; at most 5 minutes)"
    timeout 300 "$CACHE_BENCH" >"$CACHE_BENCH_OUT" 2>"$TMP/cache_bench.err" &
    bench_pid=$!
    PIDS+=("$bench_pid")
    bench_rc=0
    wait "$bench_pid" || bench_rc=$?
    forget_pid "$bench_pid"
    sed 's/^/   /' "$CACHE_BENCH_OUT"
    if (( bench_rc != 0 )); then
        CACHE_BENCH_NOTE="exited with status $bench_rc"
        (( bench_rc != 124 )) || CACHE_BENCH_NOTE+=", stopped after 300 s; the lines it printed by then"
        [[ ! -s "$TMP/cache_bench.err" ]] || CACHE_BENCH_NOTE+="; stderr: $(tail -3 "$TMP/cache_bench.err" | tr '\n' ' ')"
        echo "WARNING: bulwark_cache_bench $CACHE_BENCH_NOTE" >&2
    fi
else
    echo "== bulwark_cache_bench $CACHE_BENCH_NOTE"
fi

# ---------------------------------------------------------------- data and Redis
DATA="$TMP/data"
echo "== seeding: bulwark seed --users 3 --rows 300 --no-key"
env BULWARK_SERVER_DATA_DIR="$DATA" "$BULWARK" seed --users 3 --rows 300 --no-key >"$TMP/seed.out" 2>"$TMP/seed.err" \
    || { tail -5 "$TMP/seed.err" >&2; die "seeding failed"; }
SEED_LINE=$(tr '\r' '\n' <"$TMP/seed.err" | grep -E 'rows in [0-9.]+ s' | tail -1 | sed 's/^bulwark: seed: //')
echo "   $SEED_LINE"
KEY=$(key_for demo1@example.com "" BULWARK_SERVER_DATA_DIR="$DATA")
[[ "$KEY" == bwk_* ]] || die "could not create an API key for demo1@example.com"
AUTH="Authorization: Bearer $KEY"

start_redis

# ---------------------------------------------------------------- the servers
# Every Bulwark instance reads the same seeded database; the cache settings are explicit so
# that a BULWARK_* variable in the caller's environment cannot change what is measured.
NO_REDIS=(BULWARK_REDIS_URL=)
echo "== starting the servers (127.0.0.1 only, access log off)"
start_server uncached-1t BULWARK_SERVER_DATA_DIR="$DATA" BULWARK_CACHE_ENABLED=false "${NO_REDIS[@]}" -- --threads 1
PID_OF[uncached-1t]=$SERVER_PID; PORT_UNCACHED=$SERVER_PORT
start_server cached-mem-1t BULWARK_SERVER_DATA_DIR="$DATA" BULWARK_CACHE_ENABLED=true BULWARK_CACHE_MEMORY_ENABLED=true "${NO_REDIS[@]}" -- --threads 1
PID_OF[cached-mem-1t]=$SERVER_PID; PORT_MEM1=$SERVER_PORT
start_server cached-mem BULWARK_SERVER_DATA_DIR="$DATA" BULWARK_CACHE_ENABLED=true BULWARK_CACHE_MEMORY_ENABLED=true "${NO_REDIS[@]}"
PID_OF[cached-mem]=$SERVER_PID; PORT_MEMN=$SERVER_PORT
start_server cached-redis-1t BULWARK_SERVER_DATA_DIR="$DATA" BULWARK_CACHE_ENABLED=true BULWARK_CACHE_MEMORY_ENABLED=false \
    BULWARK_CACHE_REDIS_ENABLED=true BULWARK_REDIS_URL="redis://127.0.0.1:$REDIS_PORT" -- --threads 1
PID_OF[cached-redis-1t]=$SERVER_PID; PORT_REDIS=$SERVER_PORT
ADMIN_TOKEN=$(tr -d '[:space:]' <"$DATA/admin.token" 2>/dev/null || true)
[[ ${#ADMIN_TOKEN} -ge 32 ]] || die "no admin token in $DATA/admin.token"

fetch() { # url file-prefix -> prints "code bytes"; the body in PREFIX.body, headers in PREFIX.head
    curl -s --max-time 10 -o "$2.body" -D "$2.head" -w '%{http_code} %{size_download}\n' -H "$AUTH" "$1" || true
}
x_cache() { { grep -i '^x-cache:' "$1.head" 2>/dev/null || true; } | tr -d '\r' | awk '{print $2}' | tail -1; }
header_bytes() { wc -c <"$1.head" 2>/dev/null || echo 0; }

# ---------------------------------------------------------------- the page size
# From limit=4, step towards TARGET_SIZE until the body crosses it, then take the closer of
# the two sizes either side (on the uncached server, so that the probes fill no cache).
declare -A SIZE_AT=()
probe() { # limit -> sets SIZE_AT[limit]
    local code size
    read -r code size < <(fetch "http://127.0.0.1:$PORT_UNCACHED/api/v1/activities?limit=$1" "$TMP/probe")
    [[ "$code" == 200 ]] || die "GET /api/v1/activities?limit=$1 answered $code: $(head -c 300 "$TMP/probe.body")"
    SIZE_AT[$1]=$size
}
distance() { local d=$(( $1 - TARGET_SIZE )); echo $(( d < 0 ? -d : d )); }
LIMIT=4
probe "$LIMIT"
if (( SIZE_AT[$LIMIT] < TARGET_SIZE )); then step=1; else step=-1; fi
while (( LIMIT + step >= 1 && LIMIT + step <= 100 )); do
    next=$(( LIMIT + step ))
    probe "$next"
    crossed=0
    if (( step > 0 && SIZE_AT[$next] >= TARGET_SIZE )) || (( step < 0 && SIZE_AT[$next] <= TARGET_SIZE )); then crossed=1; fi
    if (( crossed )); then
        if (( $(distance "${SIZE_AT[$next]}") < $(distance "${SIZE_AT[$LIMIT]}") )) \
            || (( $(distance "${SIZE_AT[$next]}") == $(distance "${SIZE_AT[$LIMIT]}") && next < LIMIT )); then
            LIMIT=$next
        fi
        break
    fi
    LIMIT=$next
done
BODY_SIZE=${SIZE_AT[$LIMIT]}
PATH_QUERY="/api/v1/activities?limit=$LIMIT"
PROBES=""
for n in $(printf '%s\n' "${!SIZE_AT[@]}" | sort -n); do PROBES+="limit=$n: ${SIZE_AT[$n]} B, "; done
echo "   page size: limit=$LIMIT, body $BODY_SIZE bytes (probed ${PROBES%, })"
fetch "http://127.0.0.1:$PORT_UNCACHED$PATH_QUERY" "$TMP/reference" >/dev/null
CONTENT_TYPE=$(grep -i '^content-type:' "$TMP/reference.head" | tr -d '\r' | cut -d' ' -f2-)
[[ "$CONTENT_TYPE" == application/json* ]] || die "the list answered Content-Type '$CONTENT_TYPE', expected application/json"

start_bare_server bare --path /api/v1/activities --size "$BODY_SIZE" --type application/json
PID_OF[bare]=$BARE_PID

# ---------------------------------------------------------------- checks
declare -A HEAD_BYTES=() HIT_NOTE=()
check_same_body() { # name prefix: a 200 with the reference body, byte for byte
    local code size
    read -r code size <"$2.status" || true
    [[ "$code" == 200 && "$size" == "$BODY_SIZE" ]] || die "$1 answered $code with $size bytes, expected 200 with $BODY_SIZE"
    cmp -s "$2.body" "$TMP/reference.body" || die "$1 answered a different body than the uncached server"
}
cache_json() { # port -> prints GET /admin/api/cache
    curl -s --max-time 10 -H "Authorization: Bearer $ADMIN_TOKEN" "http://127.0.0.1:$1/admin/api/cache" || true
}
json_field() { # dotted.path <json on stdin -> prints the value ("?" when missing)
    python3 -c '
import json, sys
try:
    v = json.load(sys.stdin)
    for part in sys.argv[1].split("."):
        v = v[part]
    print(str(v).lower() if isinstance(v, bool) else (int(v) if isinstance(v, float) and v.is_integer() else v))
except Exception:
    print("?")' "$1"
}
check_cached() { # name port: the first answer is the reference body, and a later one a HIT
    local name=$1 port=$2 i first later=""
    local url="http://127.0.0.1:$port$PATH_QUERY"
    fetch "$url" "$TMP/check-$name-1" >"$TMP/check-$name-1.status"
    check_same_body "$name" "$TMP/check-$name-1"
    first=$(x_cache "$TMP/check-$name-1")
    # The store may finish after the first answer went out (Redis): retry for up to 5 s.
    for (( i = 2; i <= 50; i++ )); do
        fetch "$url" "$TMP/check-$name-2" >"$TMP/check-$name-2.status"
        check_same_body "$name" "$TMP/check-$name-2"
        later=$(x_cache "$TMP/check-$name-2")
        [[ "$later" != HIT ]] || break
        sleep 0.1
    done
    [[ "$later" == HIT ]] || die "$name: no X-Cache: HIT after 50 requests (first ${first:-none}, last ${later:-none})"
    HIT_NOTE[$name]="request 1 X-Cache: ${first:-none}, request $i: HIT"
    HEAD_BYTES[$name]=$(header_bytes "$TMP/check-$name-2")
    echo "   check $name: 200, $BODY_SIZE bytes, ${HIT_NOTE[$name]}"
}

echo "== checks: $PATH_QUERY as demo1"
fetch "http://127.0.0.1:$PORT_UNCACHED$PATH_QUERY" "$TMP/check-uncached-1t" >"$TMP/check-uncached-1t.status"
check_same_body uncached-1t "$TMP/check-uncached-1t"
UNCACHED_X=$(x_cache "$TMP/check-uncached-1t")
[[ -z "$UNCACHED_X" ]] || echo "WARNING: the uncached server answered X-Cache: $UNCACHED_X" >&2
HEAD_BYTES[uncached-1t]=$(header_bytes "$TMP/check-uncached-1t")
echo "   check uncached-1t: 200, $BODY_SIZE bytes, X-Cache: ${UNCACHED_X:-none}"

check_cached cached-mem-1t "$PORT_MEM1"
check_cached cached-mem "$PORT_MEMN"

# Redis: the tier must be up before the hit can come from it.
for (( i = 0; i < 100; i++ )); do
    REDIS_STATE=$(cache_json "$PORT_REDIS" | json_field redis.state)
    [[ "$REDIS_STATE" != up ]] || break
    sleep 0.1
done
[[ "$REDIS_STATE" == up ]] || die "cached-redis-1t: GET /admin/api/cache says redis.state is '$REDIS_STATE', not up, after 10 s"
check_cached cached-redis-1t "$PORT_REDIS"
REDIS_JSON=$(cache_json "$PORT_REDIS")
REDIS_HITS=$(json_field redis.hits <<<"$REDIS_JSON")
MEMORY_ON=$(json_field memory.enabled <<<"$REDIS_JSON")
if ! [[ "$REDIS_HITS" =~ ^[0-9]+$ ]] || (( REDIS_HITS < 1 )); then
    die "cached-redis-1t: the HIT is not counted in redis.hits ($REDIS_HITS): $REDIS_JSON"
fi
[[ "$MEMORY_ON" == false ]] || die "cached-redis-1t: memory.enabled is '$MEMORY_ON', expected false"
echo "   check cached-redis-1t: redis.state up, redis.hits $REDIS_HITS, memory.enabled false"

fetch "http://127.0.0.1:$BARE_PORT$PATH_QUERY" "$TMP/check-bare" >"$TMP/check-bare.status"
check_same_size() {
    local code size
    read -r code size <"$TMP/check-bare.status" || true
    [[ "$code" == 200 && "$size" == "$BODY_SIZE" ]] || die "the bare server answered $code with $size bytes, expected 200 with $BODY_SIZE"
}
check_same_size
BARE_TYPE=$(grep -i '^content-type:' "$TMP/check-bare.head" | tr -d '\r' | cut -d' ' -f2-)
[[ "$BARE_TYPE" == application/json ]] || die "the bare server answered Content-Type '$BARE_TYPE'"
HEAD_BYTES[bare]=$(header_bytes "$TMP/check-bare")
echo "   check bare: 200, $BODY_SIZE bytes, Content-Type $BARE_TYPE"

# ---------------------------------------------------------------- measuring
NAMES=(cached-mem-1t bare cached-mem uncached-1t cached-redis-1t)
declare -A PORT_OF=([cached-mem-1t]=$PORT_MEM1 [bare]=$BARE_PORT [cached-mem]=$PORT_MEMN
                    [uncached-1t]=$PORT_UNCACHED [cached-redis-1t]=$PORT_REDIS)
for name in "${NAMES[@]}"; do
    URL[$name]="http://127.0.0.1:${PORT_OF[$name]}$PATH_QUERY"
    HEADER[$name]=$AUTH
done
for name in "${NAMES[@]}"; do
    echo "   $(printf '%-16s' "$name") pid ${PID_OF[$name]}  ${URL[$name]}  (RSS $(mib "$(rss_kib "${PID_OF[$name]}")") MiB)"
done

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== warm-up: 3 s of wrk against each (load average $LOAD_BEFORE)"
WRK_EXTRA=(-H "$AUTH")
for name in "${NAMES[@]}"; do
    run_wrk "$TMP/warmup-$name.txt" "${URL[$name]}" 3 "${PID_OF[$name]}"
    [[ "$WRK_NOTE" == ok ]] || echo "   warm-up $name: $WRK_NOTE"
done

read -r STEAL0 TOTAL0 < <(awk '/^cpu / { print $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
REDIS_TICKS0=$(cpu_ticks "$REDIS_PID")
measure "${NAMES[@]}"
REDIS_TICKS1=$(cpu_ticks "$REDIS_PID")
read -r STEAL1 TOTAL1 < <(awk '/^cpu / { print $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
STEAL_PCT=$(awk -v s="$(( STEAL1 - STEAL0 ))" -v t="$(( TOTAL1 - TOTAL0 ))" 'BEGIN { if (t > 0) printf "%.1f", 100 * s / t; else print "n/a" }')
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- after the rounds
requests_of() { # name [with-warm-up] -> requests wrk counted against it in the rounds (and warm-up)
    local -a files=()
    local r
    for (( r = 1; r <= ROUNDS; r++ )); do files+=("$TMP/wrk-$1-$r.txt"); done
    [[ -z "${2:-}" ]] || files+=("$TMP/warmup-$1.txt")
    awk '/ requests in / { n += $1 } END { print n + 0 }' "${files[@]}" 2>/dev/null || echo 0
}
REDIS_REQUESTS=$(requests_of cached-redis-1t)
REDIS_CPU=$(awk -v t="$(( REDIS_TICKS1 - REDIS_TICKS0 ))" -v n="$REDIS_REQUESTS" -v hz="$CLK_TCK" \
    'BEGIN { if (n > 0) printf "%.2f", t / hz / n * 1e6; else print "n/a" }')

declare -A COUNTERS=()
for name in cached-mem-1t cached-mem cached-redis-1t; do
    json=$(cache_json "${PORT_OF[$name]}")
    served=$(requests_of "$name" with-warm-up)
    COUNTERS[$name]="memory hits $(json_field memory.hits <<<"$json") misses $(json_field memory.misses <<<"$json") stale $(json_field memory.stale <<<"$json"); redis ($(json_field redis.state <<<"$json")) hits $(json_field redis.hits <<<"$json") misses $(json_field redis.misses <<<"$json") stale $(json_field redis.stale <<<"$json") errors $(json_field redis.errors <<<"$json") commands $(json_field redis.commands <<<"$json"); stores $(json_field stores <<<"$json"); hit_rate $(json_field hit_rate <<<"$json"); wrk counted $served requests (warm-up and rounds)"
done
for name in "${NAMES[@]}"; do
    kill -0 "${PID_OF[$name]}" 2>/dev/null || NOTES[$name]+="the server is gone after the rounds; "
done

# ---------------------------------------------------------------- summary
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { if (v == "n/a") print "n/a"; else print (v + 0 >= t + 0) ? "meets target" : "MISSES target" }'; }
# shellcheck disable=SC2086 # the lists are space-separated numbers
med() { median ${RPS[$1]}; }
# shellcheck disable=SC2086
cpu_med() { median ${CPUS[$1]}; }
ELAPSED=$(( SECONDS - STARTED_AT ))

echo
echo "================================================================ summary"
echo "date        $(date -u '+%Y-%m-%d %H:%M UTC'); took $(( ELAPSED / 60 )) min $(( ELAPSED % 60 )) s (build included)"
echo "machine     $NPROC cores ($CPU_MODEL); kernel $(uname -r); redis-server ${REDIS_VERSION:-unknown}; wrk and the servers share the cores"
echo "build lock  $LOCK_NOTE; load average before/after the rounds: $LOAD_BEFORE / $LOAD_AFTER; CPU steal $STEAL_PCT %"
echo "data        bulwark seed --users 3 --rows 300 --no-key: $SEED_LINE"
echo "request     GET $PATH_QUERY as demo1 (Authorization: Bearer <key>), $BODY_SIZE-byte application/json body (probed ${PROBES%, })"
echo "            response header bytes: bulwark ${HEAD_BYTES[cached-mem-1t]} (cached), ${HEAD_BYTES[uncached-1t]} (uncached); bare ${HEAD_BYTES[bare]}"
echo "load        wrk -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s --latency, 3 s warm-up each, $ROUNDS rotating rounds; medians"
if [[ -s "$CACHE_BENCH_OUT" ]]; then
    echo "micro       bulwark_cache_bench${CACHE_BENCH_NOTE:+ ($CACHE_BENCH_NOTE)}:"
    cat "$CACHE_BENCH_OUT"
else
    echo "micro       bulwark_cache_bench ${CACHE_BENCH_NOTE:-printed nothing}"
fi
summary_line cached-mem-1t "memory tier, --threads 1"
summary_line bare "bare QHttpServer, same size, path and request"
summary_line cached-mem "memory tier, default threads ($NPROC workers)"
summary_line uncached-1t "cache off, --threads 1"
summary_line cached-redis-1t "Redis tier only, --threads 1"
echo "ratio       cached-mem-1t / bare:        $(ratio "$(med cached-mem-1t)" "$(med bare)") (target >= 0.85: $(verdict "$(ratio "$(med cached-mem-1t)" "$(med bare)")" 0.85))"
echo "ratio       cached-redis-1t / bare:      $(ratio "$(med cached-redis-1t)" "$(med bare)")"
echo "ratio       cached-mem-1t / uncached-1t: $(ratio "$(med cached-mem-1t)" "$(med uncached-1t)")"
echo "ratio       cached-mem / bare:           $(ratio "$(med cached-mem)" "$(med bare)")"
echo "server CPU  per request (medians, us): cached-mem-1t $(cpu_med cached-mem-1t), bare $(cpu_med bare), cached-mem $(cpu_med cached-mem), uncached-1t $(cpu_med uncached-1t), cached-redis-1t $(cpu_med cached-redis-1t) (+ redis-server $REDIS_CPU)"
for name in cached-mem-1t cached-mem cached-redis-1t; do
    printf 'counters    %-16s %s\n' "$name" "${COUNTERS[$name]}"
done
echo "checks      ${HIT_NOTE[cached-mem-1t]} (cached-mem-1t); redis.state up and redis.hits $REDIS_HITS after the check (cached-redis-1t)"
