#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The HTTP benchmark of Bulwark against the bare Qt 6.4 QHttpServer, in one run.
#
# It answers "what do Bulwark's hardening and pipeline cost per request?" by serving the
# same 1 KiB text/plain body from (a) bench/hello_qhttpserver.cpp, the plain QHttpServer
# hello world, and (b) Bulwark's GET /debug/bytes?n=1024 with request id, security headers,
# metrics and the access log off, and driving both with wrk at 64 connections. Rounds
# alternate between the servers (the order rotates every round) so background noise hits
# all of them alike; it prints every round, the medians, their ratio and the server CPU
# time per request. Bulwark runs with --threads 1 (the bare server is single-threaded: the
# fair comparison) and with the default worker count (one per core). Then memory: idle
# VmRSS of `bulwark --server` with the shipped defaults, VmRSS of the benchmark instances
# after the load settled, and VmRSS with 10 000 idle keep-alive connections held by
# bench/conn_holder.cpp (and the same for the bare server, for reference). Targets (from
# the issue): ratio >= 0.85 with --threads 1; idle RSS <= 40 MiB.
#
# Everything listens and connects on 127.0.0.1 only; every wait is bounded; every process
# started here is stopped on exit (trap). It takes about 2.5 minutes. docs/benchmarks.md
# explains the figures.
#
# Usage: bench/run_http_bench.sh [--no-build] [--build-dir DIR] [--duration S] [--rounds N]
#            [--connections N] [--idle-connections N] [--keep-tmp]
#   --no-build            use the binaries already in the build directory
#   --build-dir DIR       default build/bench (release preset, tests off)
#   --duration S          seconds per wrk round (default 10)
#   --rounds N            rounds per server (default 3)
#   --connections N       wrk connections (default 64)
#   --idle-connections N  connections held for the memory figure (default 10000; 0 skips)
#   --keep-tmp            keep the logs and wrk outputs (path printed at the end)
#   --no-lock             do not hold the shared build lock during the wrk rounds
#
# Other sessions build on the same 2 cores. While the wrk rounds run (about 2 minutes) the
# script holds /tmp/bulwark-build.lock, the lock every build here goes through, so no build
# competes with the measurement (it waits at most 10 minutes for the lock, then measures
# anyway and says so). The load average before and after is printed either way.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IDLE_CONNECTIONS=10000
BODY_SIZE=1024

BENCH_NAME=run_http_bench
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

usage() {
    sed -n '3,36p' "$0" | sed 's/^# \{0,1\}//'
}


while (( $# > 0 )); do
    common_option "$@"
    if (( TAKEN )); then shift "$TAKEN"; continue; fi
    case "$1" in
        --idle-connections) int_in_range "${2:-}" 0 30000 || die "--idle-connections must be 0..30000"; IDLE_CONNECTIONS=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown option $1 (try --help)" ;;
    esac
done
(( WRK_THREADS <= CONNECTIONS )) || WRK_THREADS=$CONNECTIONS

for tool in wrk curl awk; do
    command -v "$tool" >/dev/null || die "$tool is required (Debian: apt-get install $tool)"
done

# ---------------------------------------------------------------- build
if (( DO_BUILD )); then
    # The release preset (same compiler flags), in its own binary directory with the tests
    # off: the benchmark needs three targets, and this way it neither depends on the test
    # tree configuring nor changes the cache of anyone's build/release.
    echo "== building the release preset in $BUILD_DIR"
    (cd "$ROOT" && locked cmake --preset release -B "$BUILD_DIR" -DBULWARK_BUILD_TESTS=OFF -DBULWARK_BUILD_BENCH=ON) >/dev/null
    (cd "$ROOT" && locked cmake --build "$BUILD_DIR" --target bulwark bulwark_hello_qhttpserver bulwark_conn_holder)
fi
BULWARK="$BUILD_DIR/app/bulwark"
BARE="$BUILD_DIR/bench/bulwark_hello_qhttpserver"
HOLDER="$BUILD_DIR/bench/bulwark_conn_holder"
for bin in "$BULWARK" "$BARE" "$HOLDER"; do
    [[ -x "$bin" ]] || die "$bin is missing; build first (drop --no-build)"
done
grep -q 'CMAKE_BUILD_TYPE:STRING=Release' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null \
    || echo "WARNING: $BUILD_DIR is not a Release build; the figures are not comparable" >&2

# ---------------------------------------------------------------- processes and cleanup
TMP=$(mktemp -d "${TMPDIR:-/tmp}/bulwark-bench.XXXXXX")

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The descriptor limit: the holder needs IDLE_CONNECTIONS of its own, and Bulwark (which
# raises its soft limit to the hard one by itself) as many again.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
if [[ "$NOFILE" != unlimited ]] && (( IDLE_CONNECTIONS + 64 > NOFILE )); then
    echo "WARNING: ulimit -n is $NOFILE (hard limit); idle connections lowered from $IDLE_CONNECTIONS to $(( NOFILE - 64 ))" >&2
    IDLE_CONNECTIONS=$(( NOFILE - 64 ))
fi

start_bare() { # -> sets BARE_PID, BARE_PORT
    "$BARE" 0 >"$TMP/bare.out" 2>"$TMP/bare.err" &
    BARE_PID=$!
    PIDS+=("$BARE_PID")
    local line
    wait_for_line "$TMP/bare.out" '^port [0-9]+' 100 || { cat "$TMP/bare.err" >&2; die "the bare server did not start"; }
    line=$FOUND_LINE
    BARE_PORT=${line#port }
}

# Environment of the benchmark instances: the debug route on, the optional stages off.
BENCH_ENV=(BULWARK_SERVER_DEBUG_ENDPOINTS=true BULWARK_HTTP_REQUEST_ID=false
           BULWARK_HTTP_SECURITY_HEADERS=false BULWARK_HTTP_METRICS=false BULWARK_LOG_ACCESS=off)

start_bulwark() { # name "env assignments..." [extra args...] -> sets STARTED_PID, STARTED_PORT
    local name=$1 envs=$2
    shift 2
    mkdir -p "$TMP/data-$name"
    # shellcheck disable=SC2086 # envs is a list of NAME=VALUE words
    env $envs "$BULWARK" --server --listen 127.0.0.1:0 --data-dir "$TMP/data-$name" "$@" \
        >"$TMP/$name.out" 2>"$TMP/$name.err" &
    STARTED_PID=$!
    PIDS+=("$STARTED_PID")
    wait_for_line "$TMP/$name.err" 'listening on http://127\.0\.0\.1:[0-9]+' 150 \
        || { cat "$TMP/$name.err" >&2; die "bulwark ($name) did not start"; }
    STARTED_PORT=$(grep -oE 'listening on http://127\.0\.0\.1:[0-9]+' <<<"$FOUND_LINE" | grep -oE '[0-9]+$')
}

check_body() { # url label: a 200 with exactly BODY_SIZE bytes
    local code size
    code=$(curl -s --max-time 5 -o "$TMP/check.body" -w '%{http_code}' "$1") || code=000
    size=$(wc -c <"$TMP/check.body" 2>/dev/null || echo 0)
    [[ "$code" == 200 && "$size" -eq "$BODY_SIZE" ]] || die "$2 at $1 answered $code with $size bytes, expected 200 with $BODY_SIZE"
}

check_live() { # url label
    local code
    code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$1") || code=000
    [[ "$code" == 200 ]] || die "$2 at $1 answered $code"
}

# ---------------------------------------------------------------- the machine
CPU_MODEL=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || echo unknown)
NPROC=$(nproc)
QT_VERSION=$(dpkg-query -W -f='${Version}' libqt6core6 2>/dev/null || echo unknown)
WRK_VERSION=$(wrk --version 2>&1 | head -1 | awk '{print $1, $2}' || true)
echo "== machine: $NPROC cores ($CPU_MODEL), $(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM, kernel $(uname -r)"
echo "   Qt $QT_VERSION, $WRK_VERSION, build $BUILD_DIR"
echo "   NOTE: wrk ($WRK_THREADS threads) and the servers share these $NPROC cores; absolute figures are"
echo "   loopback figures of a small shared machine; compare the ratio, not the requests/s."
echo "   load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------- start everything
echo "== starting the servers (127.0.0.1 only)"
start_bare
BARE_URL="http://127.0.0.1:$BARE_PORT/debug/bytes?n=1024"
check_body "$BARE_URL" "the bare QHttpServer"

start_bulwark t1 "${BENCH_ENV[*]}" --threads 1
T1_PID=$STARTED_PID
T1_URL="http://127.0.0.1:$STARTED_PORT/debug/bytes?n=$BODY_SIZE"
check_body "$T1_URL" "bulwark --threads 1"

start_bulwark tN "${BENCH_ENV[*]}"
TN_PID=$STARTED_PID
TN_URL="http://127.0.0.1:$STARTED_PORT/debug/bytes?n=$BODY_SIZE"
check_body "$TN_URL" "bulwark (default threads)"
TN_THREADS=$(awk '/^Threads:/ {print $2}' "/proc/$TN_PID/status")
sleep 2
BARE_RSS_START=$(rss_kib "$BARE_PID")
T1_RSS_START=$(rss_kib "$T1_PID")
TN_RSS_START=$(rss_kib "$TN_PID")
echo "   bare QHttpServer        pid $BARE_PID  $BARE_URL  (RSS $(mib "$BARE_RSS_START") MiB)"
echo "   bulwark --threads 1     pid $T1_PID  $T1_URL  (RSS $(mib "$T1_RSS_START") MiB)"
echo "   bulwark default threads pid $TN_PID  $TN_URL  (RSS $(mib "$TN_RSS_START") MiB, $TN_THREADS OS threads)"
echo "   Bulwark env: ${BENCH_ENV[*]}"

# ---------------------------------------------------------------- throughput
NAMES=(bare t1 tN)
declare -A LABEL=([bare]="bare QHttpServer" [t1]="bulwark --threads 1" [tN]="bulwark default threads")
declare -A URL=([bare]="$BARE_URL" [t1]="$T1_URL" [tN]="$TN_URL")
declare -A RESULTS=([bare]="" [t1]="" [tN]="")
declare -A NOTES=([bare]="" [t1]="" [tN]="")
declare -A CPUS=([bare]="" [t1]="" [tN]="")
declare -A PID_OF=([bare]="$BARE_PID" [t1]="$T1_PID" [tN]="$TN_PID")

take_build_lock "during the wrk rounds"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "   load average before warm-up and rounds: $LOAD_BEFORE"

echo "== warm-up: 3 s of wrk against each"
for n in "${NAMES[@]}"; do
    run_wrk "$TMP/warmup-$n.txt" "${URL[$n]}" 3 "${PID_OF[$n]}"
done

# CPU time the hypervisor gave to others while we were runnable (steal), over the rounds.
read -r STEAL0 TOTAL0 < <(awk '/^cpu / { print $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
echo "== wrk -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s, $ROUNDS rounds, alternating (order rotates each round)"
for (( r = 1; r <= ROUNDS; r++ )); do
    for (( k = 0; k < ${#NAMES[@]}; k++ )); do
        n=${NAMES[$(( (k + r - 1) % ${#NAMES[@]} ))]}
        run_wrk "$TMP/wrk-$n-r$r.txt" "${URL[$n]}" "$DURATION" "${PID_OF[$n]}"
        RESULTS[$n]="${RESULTS[$n]} $WRK_RPS"
        CPUS[$n]="${CPUS[$n]} $WRK_CPU"
        [[ "$WRK_NOTE" == ok ]] || NOTES[$n]="${NOTES[$n]} round $r: $WRK_NOTE."
        printf '   round %d  %-24s %10s req/s   latency avg %-8s  server CPU %s us/req   %s\n' \
            "$r" "${LABEL[$n]}" "$WRK_RPS" "$WRK_LAT" "$WRK_CPU" "$WRK_NOTE"
    done
done

# shellcheck disable=SC2086 # RESULTS values are space-separated numbers
BARE_MED=$(median ${RESULTS[bare]})
# shellcheck disable=SC2086
T1_MED=$(median ${RESULTS[t1]})
# shellcheck disable=SC2086
TN_MED=$(median ${RESULTS[tN]})
# shellcheck disable=SC2086
BARE_CPU=$(median ${CPUS[bare]})
# shellcheck disable=SC2086
T1_CPU=$(median ${CPUS[t1]})
# shellcheck disable=SC2086
TN_CPU=$(median ${CPUS[tN]})
T1_RATIO=$(ratio "$T1_MED" "$BARE_MED")
TN_RATIO=$(ratio "$TN_MED" "$BARE_MED")

read -r STEAL1 TOTAL1 < <(awk '/^cpu / { print $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
STEAL_PCT=$(awk -v s="$(( STEAL1 - STEAL0 ))" -v t="$(( TOTAL1 - TOTAL0 ))" 'BEGIN { if (t > 0) printf "%.1f", 100 * s / t; else print "n/a" }')

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
if [[ "$LOCK_NOTE" == held* ]]; then
    flock -u 9
    exec 9>&-
fi

echo "== letting the servers settle (5 s)"
sleep 5
BARE_RSS_AFTER=$(rss_kib "$BARE_PID")
T1_RSS_AFTER=$(rss_kib "$T1_PID")
TN_RSS_AFTER=$(rss_kib "$TN_PID")
# The load is over: stop the benchmark instances so the memory runs below have the machine.
stop_pid "$BARE_PID"; stop_pid "$T1_PID"; stop_pid "$TN_PID"

# ---------------------------------------------------------------- memory
# `bulwark --server` as shipped (default configuration, one worker per core), except that
# an idle keep-alive connection is kept 10 minutes instead of 15 s and the connection cap
# is a little above the 10 000 held, so that the held connections stay open while memory
# is read. Neither setting allocates anything.
echo "== memory of 'bulwark --server' (shipped defaults; idle_timeout 600s and max_connections $(( IDLE_CONNECTIONS + 100 )) so the held connections stay)"
start_bulwark idle "BULWARK_SERVER_IDLE_TIMEOUT=600s BULWARK_SERVER_MAX_CONNECTIONS=$(( IDLE_CONNECTIONS + 100 ))"
IDLE_PID=$STARTED_PID
IDLE_PORT=$STARTED_PORT
check_live "http://127.0.0.1:$IDLE_PORT/health/live" "bulwark --server"
sleep 3
IDLE_RSS=$(rss_kib "$IDLE_PID")
IDLE_FDS=$(fds_of "$IDLE_PID")
IDLE_THREADS=$(awk '/^Threads:/ {print $2}' "/proc/$IDLE_PID/status")
echo "   idle: VmRSS $(mib "$IDLE_RSS") MiB, $IDLE_FDS descriptors, $IDLE_THREADS OS threads"

# Holds IDLE_CONNECTIONS idle keep-alive connections to a server and reads its memory.
hold_connections() { # name pid port path -> sets HELD_RSS HELD_OPEN HELD_FDS
    local name=$1 pid=$2 port=$3 path=$4 line end_line holder_pid
    HELD_RSS=0; HELD_OPEN=0; HELD_FDS=0
    "$HOLDER" --host 127.0.0.1 --port "$port" --path "$path" --count "$IDLE_CONNECTIONS" --seconds 300 \
        --setup-timeout 180 </dev/null >"$TMP/holder-$name.out" 2>"$TMP/holder-$name.err" &
    holder_pid=$!
    PIDS+=("$holder_pid")
    if wait_for_line "$TMP/holder-$name.out" '^READY ' 2000; then
        line=$FOUND_LINE
        echo "   conn_holder: $line"
        HELD_OPEN=$(grep -oE 'open=[0-9]+' <<<"$line" | head -1 | cut -d= -f2)
        sleep 5 # let the workers finish whatever the last accepts left
        HELD_RSS=$(rss_kib "$pid")
        HELD_FDS=$(fds_of "$pid")
        echo "   with $HELD_OPEN connections open: VmRSS $(mib "$HELD_RSS") MiB, $HELD_FDS descriptors in the server"
    else
        cat "$TMP/holder-$name.err" >&2
        echo "WARNING: conn_holder did not report READY within 200 s" >&2
    fi
    stop_pid "$holder_pid"
    end_line=$(grep -m1 '^END ' "$TMP/holder-$name.out" || true)
    if [[ -n "$end_line" ]]; then
        echo "   conn_holder: $end_line"
    fi
}

BW_HELD_RSS=0; BW_HELD_OPEN=0; BARE_IDLE_RSS=0; BARE_HELD_RSS=0; BARE_HELD_OPEN=0
if (( IDLE_CONNECTIONS > 0 )); then
    echo "== holding $IDLE_CONNECTIONS idle keep-alive connections to bulwark (each did one GET /health/live)"
    hold_connections bulwark "$IDLE_PID" "$IDLE_PORT" /health/live
    BW_HELD_RSS=$HELD_RSS; BW_HELD_OPEN=$HELD_OPEN
fi
stop_pid "$IDLE_PID"

if (( IDLE_CONNECTIONS > 0 )); then
    # The same with the bare QHttpServer, for reference: what Qt's own per-connection objects
    # cost. (Its listen backlog is Qt's default of 50, so its set-up takes longer.)
    echo "== reference: the bare QHttpServer holding $IDLE_CONNECTIONS idle keep-alive connections (GET /debug/bytes?n=1024 each)"
    start_bare
    check_body "http://127.0.0.1:$BARE_PORT/debug/bytes?n=1024" "the bare QHttpServer"
    sleep 2
    BARE_IDLE_RSS=$(rss_kib "$BARE_PID")
    echo "   idle: VmRSS $(mib "$BARE_IDLE_RSS") MiB"
    hold_connections bare "$BARE_PID" "$BARE_PORT" "/debug/bytes?n=1024"
    BARE_HELD_RSS=$HELD_RSS; BARE_HELD_OPEN=$HELD_OPEN
    stop_pid "$BARE_PID"
fi

# ---------------------------------------------------------------- summary
verdict() { awk -v v="$1" -v t="$2" -v dir="$3" 'BEGIN {
    if (v == "n/a") { print "n/a"; exit }
    ok = (dir == "ge") ? (v + 0 >= t + 0) : (v + 0 <= t + 0); print ok ? "meets target" : "MISSES target" }'; }
per_conn() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { if (n > 0 && a > 0) printf "%.1f", (a - b) / n; else print "n/a" }'; }

echo
echo "================================ SUMMARY ================================"
echo "date        $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine     $NPROC cores, $CPU_MODEL; kernel $(uname -r); Qt $QT_VERSION"
echo "            wrk and the servers share the $NPROC cores (loopback, no network)"
echo "load        wrk -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s, $ROUNDS alternating rounds, ${BODY_SIZE}-byte text/plain body"
echo "bare        QHttpServer GET /debug/bytes?n=1024     rounds:${RESULTS[bare]}  median $BARE_MED req/s"
echo "bulwark t1  --threads 1, GET /debug/bytes?n=$BODY_SIZE        rounds:${RESULTS[t1]}  median $T1_MED req/s"
echo "bulwark tN  default threads ($NPROC workers)              rounds:${RESULTS[tN]}  median $TN_MED req/s"
echo "ratio t1    $T1_RATIO x bare   (target >= 0.85: $(verdict "$T1_RATIO" 0.85 ge))"
echo "ratio tN    $TN_RATIO x bare"
echo "server CPU  per request (utime+stime / requests, medians): bare $BARE_CPU us, bulwark t1 $T1_CPU us, bulwark tN $TN_CPU us"
for n in "${NAMES[@]}"; do
    [[ -z "${NOTES[$n]}" ]] || echo "errors      ${LABEL[$n]}:${NOTES[$n]}"
done
echo "RSS idle    bulwark --server (defaults): $(mib "$IDLE_RSS") MiB   (target <= 40 MiB: $(verdict "$(mib "$IDLE_RSS")" 40 le))"
echo "RSS bench   bulwark t1: $(mib "$T1_RSS_START") MiB after start, $(mib "$T1_RSS_AFTER") MiB after the runs settled"
echo "            bulwark tN: $(mib "$TN_RSS_START") MiB after start, $(mib "$TN_RSS_AFTER") MiB after the runs settled"
echo "            bare QHttpServer: $(mib "$BARE_RSS_START") MiB after start, $(mib "$BARE_RSS_AFTER") MiB after the runs"
if (( IDLE_CONNECTIONS > 0 )); then
    echo "RSS held    bulwark --server, $BW_HELD_OPEN of $IDLE_CONNECTIONS idle keep-alive connections open: $(mib "$BW_HELD_RSS") MiB ($(per_conn "$BW_HELD_RSS" "$IDLE_RSS" "$BW_HELD_OPEN") KiB per connection over idle)"
    echo "            bare QHttpServer, $BARE_HELD_OPEN open: $(mib "$BARE_HELD_RSS") MiB ($(per_conn "$BARE_HELD_RSS" "$BARE_IDLE_RSS" "$BARE_HELD_OPEN") KiB per connection over its idle $(mib "$BARE_IDLE_RSS") MiB)"
fi
echo "cpu steal   $STEAL_PCT % of CPU time during the wrk rounds (time the hypervisor gave elsewhere)"
echo "build lock  $LOCK_NOTE; load average before/after the rounds: $LOAD_BEFORE / $LOAD_AFTER"
echo "load avg    at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "========================================================================="
