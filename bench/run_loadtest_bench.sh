#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The benchmark of Bulwark's load tester, `bulwark loadtest`, in one run:
#
# 1. Throughput against wrk. The same static target is driven by wrk and by `bulwark
#    loadtest` with the same connections, threads and duration, in rounds that alternate
#    between the two (the order rotates each round):
#      wrk -t T -c C -d Ds --latency http://127.0.0.1:PORT/debug/bytes
#      bulwark loadtest SCENARIO --target http://127.0.0.1:PORT --threads T --users C
#          --duration Ds --no-store --quiet --report round.json
#    SCENARIO is written here: closed model, constant shape, one user class with one task,
#    GET /debug/bytes, no checks (the default check: status < 400), no wait, no auth. The
#    targets: the bare QHttpServer hello world (bench/hello_qhttpserver.cpp, a 1024-byte
#    body) and, when nginx is installed, nginx serving a 1024-byte static file (one worker,
#    access log off, keepalive_requests 1000000; a generated nginx.conf in a temporary
#    directory). It prints every round, the medians, the ratio loadtest/wrk (target from
#    the issue: >= 0.9) and each client's CPU time per request (user + system time of the
#    client process from /usr/bin/time, over the requests it completed), which explains
#    the ratio: client and server share the machine's cores, and whatever CPU the client
#    spends per request the server does not get.
# 2. Client memory over a long run. One `bulwark loadtest` run against the hello world,
#    open model at a fixed rate (default 2000 arrivals/s, max_connections 64), for M
#    minutes (default 10); VmRSS of the loadtest process is read from /proc every 10 s.
#    It reports RSS at the reference point (1 minute; 10 s when M is 1, so that a short
#    run still compares two points) and at M minutes, while the load still runs, and
#    their ratio (target: the end at most 10 % above the reference).
#
# Defaults: 64 connections, 1 thread for wrk and for the loadtest, 10 s rounds, 3 rounds.
# The machine has 2 cores, shared by the client and the server (single-threaded), so one
# client thread leaves the server a core; the absolute requests/s are loopback figures of
# a small shared machine: compare the ratio. Everything listens and connects on 127.0.0.1
# only; every wait is bounded; every process started here is stopped on exit. With the
# defaults it takes about 2 minutes of rounds and 10 minutes of the memory run after the
# build. docs/benchmarks.md explains the figures.
#
# Usage: bench/run_loadtest_bench.sh [--no-build] [--build-dir DIR] [--duration S]
#            [--rounds N] [--connections N] [--threads N] [--memory-minutes M]
#            [--memory-rate R] [--skip-throughput] [--skip-memory] [--keep-tmp] [--no-lock]
#   --no-build          use the binaries already in the build directory
#   --build-dir DIR     default build/bench (release preset, tests off)
#   --duration S        seconds per round (default 10)
#   --rounds N          rounds per client and target (default 3)
#   --connections N     connections of wrk = users of the loadtest (default 64)
#   --threads N         threads of wrk and of the loadtest (default 1)
#   --memory-minutes M  length of the memory run (default 10)
#   --memory-rate R     arrivals per second of the memory run (default 2000)
#   --skip-throughput   only the memory run
#   --skip-memory       only the throughput rounds
#   --keep-tmp          keep the scenarios, reports and outputs (path printed at the end)
#   --no-lock           do not hold the shared build lock during the measurements
#
# It holds /tmp/bulwark-build.lock from the first round to the end of the memory run (a
# competing build would slow the client and, in the open model, pile up late arrivals);
# it waits at most 10 minutes for a build that holds it, then measures anyway and says so.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=run_loadtest_bench
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

THREADS=1
MEMORY_MINUTES=10
MEMORY_RATE=2000
DO_THROUGHPUT=1
DO_MEMORY=1
BODY_SIZE=1024
SAMPLE_EVERY=10 # seconds between VmRSS samples of the memory run

while (( $# > 0 )); do
    common_option "$@"
    if (( TAKEN )); then shift "$TAKEN"; continue; fi
    case "$1" in
        --threads) int_in_range "${2:-}" 1 64 || die "--threads must be 1..64"; THREADS=$2; shift 2 ;;
        --memory-minutes) int_in_range "${2:-}" 1 120 || die "--memory-minutes must be 1..120"; MEMORY_MINUTES=$2; shift 2 ;;
        --memory-rate) int_in_range "${2:-}" 1 1000000 || die "--memory-rate must be 1..1000000"; MEMORY_RATE=$2; shift 2 ;;
        --skip-throughput) DO_THROUGHPUT=0; shift ;;
        --skip-memory) DO_MEMORY=0; shift ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown option $1 (try --help)" ;;
    esac
done
(( DO_THROUGHPUT || DO_MEMORY )) || die "--skip-throughput and --skip-memory leave nothing to run"
(( THREADS <= CONNECTIONS )) || die "--threads ($THREADS) must not exceed --connections ($CONNECTIONS)"
WRK_THREADS=$THREADS

for tool in wrk curl python3 awk; do
    command -v "$tool" >/dev/null || die "$tool is required (Debian: apt-get install wrk curl python3)"
done
# GNU time gives each client's CPU time; without it the CPU figures are n/a.
TIME_BIN=""
if [[ -x /usr/bin/time ]] && /usr/bin/time -f '%U' -o /dev/null true 2>/dev/null; then
    TIME_BIN=/usr/bin/time
else
    echo "WARNING: GNU time (/usr/bin/time, Debian package 'time') is missing: no client CPU figures" >&2
fi
NGINX=$(command -v nginx || true)

if (( DO_BUILD )); then
    build_release bulwark bulwark_hello_qhttpserver
fi
BULWARK="$BUILD_DIR/app/bulwark"
BARE="$BUILD_DIR/bench/bulwark_hello_qhttpserver"
for bin in "$BULWARK" "$BARE"; do
    [[ -x "$bin" ]] || die "$bin is missing; build first (drop --no-build)"
done
"$BULWARK" loadtest --help >/dev/null 2>&1 || die "$BULWARK has no working 'loadtest' command"
start_run bulwark-loadtest-bench

NGINX_VERSION=""
if [[ -n "$NGINX" ]]; then
    NGINX_VERSION=$("$NGINX" -v 2>&1 | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -1 || true)
fi
if [[ -n "$NGINX" ]]; then print_machine "nginx ${NGINX_VERSION:-?}"; else print_machine "nginx not installed"; fi
echo "   NOTE: the client ($THREADS thread(s)) and the server share these $NPROC cores (loopback);"
echo "   compare the ratio, not the requests/s."

# ---------------------------------------------------------------- helpers

# A field of a loadtest JSON report: requests_per_second, requests, failed, p50_ms, p99_ms,
# dropped, status (0 or "?" when the file is missing or unreadable).
report_field() { # file field
    python3 - "$1" "$2" <<'EOF' 2>/dev/null || echo "?"
import json, sys
r = json.load(open(sys.argv[1]))
o = r.get("overall", {})
lat = o.get("latency_ns", {})
f = sys.argv[2]
v = {"requests_per_second": "%.2f" % r.get("requests_per_second", 0),
     "requests": o.get("requests", 0), "failed": o.get("failed", 0),
     "p50_ms": "%.2f" % (lat.get("p50", 0) / 1e6), "p99_ms": "%.2f" % (lat.get("p99", 0) / 1e6),
     "dropped": r.get("dropped", 0), "status": r.get("status", "?"),
     "duration": "%.2f" % r.get("duration_seconds", 0)}[f]
print(v)
EOF
}

# CPU microseconds per request from a GNU time output file ("cpu USER SYSTEM", seconds).
cpu_per_request() { # time-file requests
    awk -v n="$2" '/^cpu / { u = $2; s = $3; found = 1 }
        END { if (found && n > 0) printf "%.2f", (u + s) / n * 1e6; else print "n/a" }' "$1" 2>/dev/null \
        || echo n/a
}

# One client run in the background under `timeout` (which passes a TERM on to its process
# group: GNU time and the client), so a signal interrupts the wait at once and cleanup()
# stops it; GNU time writes the client's CPU time to time-file.
run_client() { # out-file time-file seconds command... -> sets CLIENT_RC
    local out=$1 tfile=$2 seconds=$3 pid
    shift 3
    local -a timer=()
    if [[ -n "$TIME_BIN" ]]; then timer=("$TIME_BIN" -f 'cpu %U %S' -o "$tfile"); fi
    rm -f "$tfile"
    timeout "$(( seconds + 60 ))" "${timer[@]}" "$@" >"$out" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    CLIENT_RC=0
    wait "$pid" || CLIENT_RC=$?
    forget_pid "$pid"
}

check_body() { # url label: a 200 with exactly BODY_SIZE bytes
    local code size
    code=$(curl -s --max-time 5 -o "$TMP/check.body" -w '%{http_code}' "$1") || code=000
    size=$(wc -c <"$TMP/check.body" 2>/dev/null || echo 0)
    [[ "$code" == 200 && "$size" -eq "$BODY_SIZE" ]] || die "$2 at $1 answered $code with $size bytes, expected 200 with $BODY_SIZE"
}

start_nginx() { # -> sets NGINX_PID, NGINX_PORT
    local dir="$TMP/nginx" i
    mkdir -p "$dir/www/debug" "$dir/logs" "$dir/temp"
    head -c "$BODY_SIZE" /dev/zero | tr '\0' x >"$dir/www/debug/bytes"
    # Run as root, nginx's worker runs as nobody: it must be able to read the root.
    chmod 755 "$TMP" "$dir" "$dir/www" "$dir/www/debug"
    chmod 644 "$dir/www/debug/bytes"
    NGINX_PORT=$(free_port)
    cat >"$dir/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    default_type text/plain;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    client_body_temp_path $dir/temp/client_body;
    proxy_temp_path $dir/temp/proxy;
    fastcgi_temp_path $dir/temp/fastcgi;
    uwsgi_temp_path $dir/temp/uwsgi;
    scgi_temp_path $dir/temp/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $dir/www;
        location / { }
    }
}
EOF
    local -a early_log=()
    if "$NGINX" -h 2>&1 | grep -q -- '-e filename'; then early_log=(-e "$dir/logs/error.log"); fi
    "$NGINX" -p "$dir" -c "$dir/nginx.conf" "${early_log[@]}" >"$TMP/nginx.out" 2>"$TMP/nginx.err" &
    NGINX_PID=$!
    PIDS+=("$NGINX_PID")
    for (( i = 0; i < 100; i++ )); do
        kill -0 "$NGINX_PID" 2>/dev/null || break
        curl -s --max-time 1 -o /dev/null "http://127.0.0.1:$NGINX_PORT/debug/bytes" && return 0
        sleep 0.1
    done
    cat "$TMP/nginx.err" "$dir/logs/error.log" >&2 2>/dev/null || true
    die "nginx did not start on 127.0.0.1:$NGINX_PORT"
}

# The scenario files (no "target": --target gives it; "auth": false so that a
# BULWARK_LOADTEST_TOKEN in the environment adds no header; --duration, --users and --rate
# override the shape's values).
THROUGHPUT_SCENARIO="$TMP/throughput.json"
cat >"$THROUGHPUT_SCENARIO" <<EOF
{
  "name": "bench-throughput",
  "description": "run_loadtest_bench.sh: GET /debug/bytes as fast as the connections go",
  "load": {"model": "closed", "shape": "constant", "users": $CONNECTIONS, "duration": "${DURATION}s"},
  "user_classes": [
    {"name": "reader", "tasks": [
      {"name": "bytes", "request": {"name": "GET /debug/bytes", "path": "/debug/bytes", "auth": false}}
    ]}
  ]
}
EOF
MEMORY_SCENARIO="$TMP/memory.json"
cat >"$MEMORY_SCENARIO" <<EOF
{
  "name": "bench-memory",
  "description": "run_loadtest_bench.sh: GET /debug/bytes at a fixed rate, for the client's memory",
  "load": {"model": "open", "shape": "constant", "rate": $MEMORY_RATE, "duration": "${MEMORY_MINUTES}m",
           "max_connections": 64},
  "user_classes": [
    {"name": "reader", "tasks": [
      {"name": "bytes", "request": {"name": "GET /debug/bytes", "path": "/debug/bytes", "auth": false}}
    ]}
  ]
}
EOF
for scenario in "$THROUGHPUT_SCENARIO" "$MEMORY_SCENARIO"; do
    "$BULWARK" loadtest "$scenario" --target http://127.0.0.1:1 --check >"$TMP/check.out" 2>&1 \
        || { cat "$TMP/check.out" >&2; die "bulwark loadtest --check refused $scenario"; }
done

# ---------------------------------------------------------------- start the targets
echo "== starting the targets (127.0.0.1 only)"
start_bare_server bare
BARE_URL="http://127.0.0.1:$BARE_PORT"
check_body "$BARE_URL/debug/bytes" "the bare QHttpServer"
echo "   bare QHttpServer  pid $BARE_PID  $BARE_URL/debug/bytes"
TARGETS=(bare)
declare -A TARGET_URL=([bare]="$BARE_URL")
declare -A TARGET_LABEL=([bare]="bare QHttpServer")
if (( DO_THROUGHPUT )) && [[ -n "$NGINX" ]]; then
    start_nginx
    check_body "http://127.0.0.1:$NGINX_PORT/debug/bytes" "nginx"
    echo "   nginx ${NGINX_VERSION}      pid $NGINX_PID  http://127.0.0.1:$NGINX_PORT/debug/bytes (1 worker)"
    TARGETS+=(nginx)
    TARGET_URL[nginx]="http://127.0.0.1:$NGINX_PORT"
    TARGET_LABEL[nginx]="nginx $NGINX_VERSION"
elif (( DO_THROUGHPUT )); then
    echo "   nginx is not installed: the bare QHttpServer is the only target"
fi

take_build_lock "during the rounds and the memory run"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- 1. throughput
# Per target and client: the rounds' requests/s, client CPU us per request, p50 and p99.
declare -A RPS=() CPU=() P50=() P99=() NOTES=() MED_RPS=() MED_CPU=() RATIO=()
CLIENTS=(wrk loadtest)

one_round() { # target client round -> prints the round's line, appends to the arrays
    local target=$1 client=$2 round=$3 key="$1/$2" url=${TARGET_URL[$1]} out tfile rps cpu p50 p99 note requests failed
    out="$TMP/$client-$target-$round.out"
    tfile="$TMP/$client-$target-$round.time"
    if [[ "$client" == wrk ]]; then
        run_client "$out" "$tfile" "$DURATION" \
            wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$url/debug/bytes"
        rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
        requests=$(awk '/ requests in / {print $1; exit}' "$out")
        p50=$(awk '/^ +50%/ {print $2; exit}' "$out" | to_ms)
        p99=$(awk '/^ +99%/ {print $2; exit}' "$out" | to_ms)
        note=ok
        if grep -qE '^ *Socket errors:' "$out"; then note="socket errors: $(grep -E '^ *Socket errors:' "$out" | sed 's/^ *Socket errors: *//')"; fi
        if grep -q 'Non-2xx or 3xx responses:' "$out"; then note="$note; non-2xx: $(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")"; fi
        (( CLIENT_RC == 0 )) || note="$note; wrk exited with $CLIENT_RC"
    else
        rm -f "$TMP/round.json"
        run_client "$out" "$tfile" "$DURATION" \
            "$BULWARK" loadtest "$THROUGHPUT_SCENARIO" --target "$url" --threads "$THREADS" \
            --users "$CONNECTIONS" --duration "${DURATION}s" --no-store --quiet --report "$TMP/round.json"
        cp "$TMP/round.json" "$TMP/loadtest-$target-$round.json" 2>/dev/null || true
        rps=$(report_field "$TMP/round.json" requests_per_second)
        requests=$(report_field "$TMP/round.json" requests)
        failed=$(report_field "$TMP/round.json" failed)
        p50=$(report_field "$TMP/round.json" p50_ms)
        p99=$(report_field "$TMP/round.json" p99_ms)
        note=ok
        [[ "$failed" == 0 ]] || note="$failed failed requests"
        if (( CLIENT_RC != 0 )); then
            note="$note; exited with $CLIENT_RC: $(tail -3 "$out" | tr '\n' ' ')"
        fi
    fi
    [[ "$rps" =~ ^[0-9.]+$ ]] || { note="no requests/s (output in $out); $note"; rps=0; }
    requests=${requests:-0}
    [[ "$requests" =~ ^[0-9]+$ ]] || requests=0
    cpu=$(cpu_per_request "$tfile" "$requests")
    RPS[$key]+="$rps "
    CPU[$key]+="$cpu "
    P50[$key]+="$p50 "
    P99[$key]+="$p99 "
    [[ "$note" == ok ]] || NOTES[$key]+="round $round: $note. "
    printf '   round %d  %-18s %-9s %10s req/s  p50 %6s ms  p99 %6s ms  client CPU %7s us/req  %s\n' \
        "$round" "${TARGET_LABEL[$target]}" "$client" "$rps" "$p50" "$p99" "$cpu" "$note"
}

# shellcheck disable=SC2086,SC2048 # the lists are space-separated numbers
median_of() { if [[ "$*" == *n/a* || -z "${*// /}" ]]; then echo n/a; else median $*; fi; }
cpu_ratio() { if [[ "$1" == n/a || "$2" == n/a ]]; then echo n/a; else ratio "$1" "$2"; fi; }

STEAL_PCT=n/a
if (( DO_THROUGHPUT )); then
    read -r STEAL0 TOTAL0 < <(awk '/^cpu / { print $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
    for target in "${TARGETS[@]}"; do
        echo "== ${TARGET_LABEL[$target]}: warm-up, 3 s of each client"
        run_client "$TMP/warmup-wrk-$target.out" "$TMP/warmup.time" 3 \
            wrk -t"$THREADS" -c"$CONNECTIONS" -d3s "${TARGET_URL[$target]}/debug/bytes"
        run_client "$TMP/warmup-loadtest-$target.out" "$TMP/warmup.time" 3 \
            "$BULWARK" loadtest "$THROUGHPUT_SCENARIO" --target "${TARGET_URL[$target]}" --threads "$THREADS" \
            --users "$CONNECTIONS" --duration 3s --no-store --quiet
        (( CLIENT_RC == 0 )) || { cat "$TMP/warmup-loadtest-$target.out" >&2; die "the loadtest warm-up against ${TARGET_LABEL[$target]} exited with $CLIENT_RC"; }
        echo "== ${TARGET_LABEL[$target]}: $ROUNDS round(s) of ${DURATION}s, $CONNECTIONS connections, $THREADS thread(s); the order rotates each round"
        for (( r = 1; r <= ROUNDS; r++ )); do
            for (( k = 0; k < ${#CLIENTS[@]}; k++ )); do
                one_round "$target" "${CLIENTS[$(( (k + r - 1) % ${#CLIENTS[@]} ))]}" "$r"
            done
        done
        for client in "${CLIENTS[@]}"; do
            # shellcheck disable=SC2086
            MED_RPS[$target/$client]=$(median ${RPS[$target/$client]})
            # shellcheck disable=SC2086
            MED_CPU[$target/$client]=$(median_of ${CPU[$target/$client]})
        done
        RATIO[$target]=$(ratio "${MED_RPS[$target/loadtest]}" "${MED_RPS[$target/wrk]}")
        echo "   medians: wrk ${MED_RPS[$target/wrk]} req/s, loadtest ${MED_RPS[$target/loadtest]} req/s, ratio ${RATIO[$target]}"
    done
    read -r STEAL1 TOTAL1 < <(awk '/^cpu / { print $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
    STEAL_PCT=$(awk -v s="$(( STEAL1 - STEAL0 ))" -v t="$(( TOTAL1 - TOTAL0 ))" 'BEGIN { if (t > 0) printf "%.1f", 100 * s / t; else print "n/a" }')
fi
if [[ -n "${NGINX_PID:-}" ]]; then stop_pid "$NGINX_PID"; fi

# ---------------------------------------------------------------- 2. memory
MEMORY_SECONDS=$(( MEMORY_MINUTES * 60 ))
REF_SECONDS=60
(( MEMORY_MINUTES > 1 )) || REF_SECONDS=10
RSS_REF=0; RSS_END=0; RSS_PEAK=0; MEM_RPS="?"; MEM_REQUESTS="?"; MEM_FAILED="?"; MEM_DROPPED="?"; MEM_NOTE=""
if (( DO_MEMORY )); then
    echo "== memory: one loadtest run, open model, $MEMORY_RATE arrivals/s, max_connections 64, $THREADS thread(s),"
    echo "   ${MEMORY_MINUTES} min (+5 s) against the bare QHttpServer; VmRSS every ${SAMPLE_EVERY} s (reference point: ${REF_SECONDS} s)"
    "$BULWARK" loadtest "$MEMORY_SCENARIO" --target "$BARE_URL" --threads "$THREADS" --rate "$MEMORY_RATE" \
        --duration "$(( MEMORY_SECONDS + 5 ))s" --no-store --quiet --report "$TMP/memory-report.json" \
        >"$TMP/memory.out" 2>&1 &
    MEM_PID=$!
    PIDS+=("$MEM_PID")
    MEM_START=$SECONDS
    NEXT_SAMPLE=$SAMPLE_EVERY
    : >"$TMP/memory-rss.txt"
    # Samples at 10 s, 20 s, ... up to MEMORY_SECONDS; then waits for the report, at most
    # 60 s past the run's end (the loop polls every second so that a signal is seen).
    while kill -0 "$MEM_PID" 2>/dev/null; do
        elapsed=$(( SECONDS - MEM_START ))
        if (( elapsed >= MEMORY_SECONDS + 65 )); then
            MEM_NOTE="the run did not end within 60 s of its duration: stopped. "
            break
        fi
        if (( NEXT_SAMPLE <= MEMORY_SECONDS && elapsed >= NEXT_SAMPLE )); then
            rss=$(rss_kib "$MEM_PID")
            echo "$NEXT_SAMPLE $rss" >>"$TMP/memory-rss.txt"
            (( NEXT_SAMPLE != REF_SECONDS )) || RSS_REF=$rss
            (( NEXT_SAMPLE != MEMORY_SECONDS )) || { RSS_END=$rss; RSS_PEAK=$(awk '/^VmHWM:/ {print $2}' "/proc/$MEM_PID/status" 2>/dev/null || echo 0); }
            if (( NEXT_SAMPLE == REF_SECONDS || NEXT_SAMPLE % 60 == 0 )); then
                printf '   t = %4d s  VmRSS %7s MiB\n' "$NEXT_SAMPLE" "$(mib "$rss")"
            fi
            NEXT_SAMPLE=$(( NEXT_SAMPLE + SAMPLE_EVERY ))
        fi
        sleep 1
    done
    stop_pid "$MEM_PID"
    MEM_RPS=$(report_field "$TMP/memory-report.json" requests_per_second)
    MEM_REQUESTS=$(report_field "$TMP/memory-report.json" requests)
    MEM_FAILED=$(report_field "$TMP/memory-report.json" failed)
    MEM_DROPPED=$(report_field "$TMP/memory-report.json" dropped)
    (( RSS_END > 0 )) || MEM_NOTE+="no sample at ${MEMORY_SECONDS} s (the run ended early: $(tail -3 "$TMP/memory.out" | tr '\n' ' ')). "
    [[ "$MEM_FAILED" == 0 ]] || MEM_NOTE+="$MEM_FAILED failed requests. "
    echo "   the run: $MEM_REQUESTS requests, $MEM_RPS req/s, $MEM_FAILED failed, $MEM_DROPPED dropped arrivals"
fi
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- summary
verdict() { awk -v v="$1" -v t="$2" -v dir="$3" 'BEGIN {
    if (v == "n/a") { print "n/a"; exit }
    ok = (dir == "ge") ? (v + 0 >= t + 0) : (v + 0 <= t + 0); print ok ? "meets target" : "MISSES target" }'; }

echo
echo "================================ SUMMARY ================================"
echo "date        $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine     $NPROC cores, $CPU_MODEL; kernel $(uname -r); client and server share the cores"
if (( DO_THROUGHPUT )); then
    echo "load        $CONNECTIONS connections, $THREADS client thread(s), ${DURATION}s rounds, $ROUNDS round(s) per client, GET /debug/bytes (${BODY_SIZE}-byte body)"
    printf '%-18s %-9s %12s  %9s  %9s  %14s  %s\n' target client "req/s (med)" "p50 ms" "p99 ms" "CPU us/req" "rounds (req/s)"
    for target in "${TARGETS[@]}"; do
        for client in "${CLIENTS[@]}"; do
            key="$target/$client"
            # shellcheck disable=SC2086 # space-separated numbers
            printf '%-18s %-9s %12s  %9s  %9s  %14s  %s\n' "${TARGET_LABEL[$target]}" "$client" "${MED_RPS[$key]}" \
                "$(median_of ${P50[$key]})" "$(median_of ${P99[$key]})" "${MED_CPU[$key]}" "${RPS[$key]% }"
        done
        echo "ratio       ${TARGET_LABEL[$target]}: loadtest / wrk = ${RATIO[$target]}   (target >= 0.9: $(verdict "${RATIO[$target]}" 0.9 ge));" \
            "client CPU per request loadtest / wrk = $(cpu_ratio "${MED_CPU[$target/loadtest]}" "${MED_CPU[$target/wrk]}")"
        for client in "${CLIENTS[@]}"; do
            [[ -z "${NOTES[$target/$client]:-}" ]] || echo "errors      ${TARGET_LABEL[$target]} $client: ${NOTES[$target/$client]}"
        done
    done
    [[ -n "$NGINX" ]] || echo "nginx       not installed: not measured"
    echo "cpu steal   $STEAL_PCT % of CPU time during the rounds"
fi
if (( DO_MEMORY )); then
    MEM_RATIO=n/a
    if (( RSS_REF > 0 && RSS_END > 0 )); then MEM_RATIO=$(ratio "$RSS_END" "$RSS_REF"); fi
    echo "memory      loadtest, open model $MEMORY_RATE/s (max_connections 64), ${MEMORY_MINUTES} min against the bare QHttpServer:" \
        "$MEM_REQUESTS requests, $MEM_RPS req/s, $MEM_FAILED failed, $MEM_DROPPED dropped"
    echo "RSS         at ${REF_SECONDS} s $(mib "$RSS_REF") MiB, at ${MEMORY_SECONDS} s $(mib "$RSS_END") MiB, ratio $MEM_RATIO" \
        "(target <= 1.10: $(verdict "$MEM_RATIO" 1.10 le)); peak (VmHWM) $(mib "$RSS_PEAK") MiB"
    echo "            every ${SAMPLE_EVERY} s (MiB): $(awk '{ printf "%s%.1f", (NR > 1 ? " " : ""), $2 / 1024 }' "$TMP/memory-rss.txt")"
    [[ -z "$MEM_NOTE" ]] || echo "errors      memory run: $MEM_NOTE"
fi
echo "build lock  $LOCK_NOTE; load average before/after: $LOAD_BEFORE / $LOAD_AFTER"
echo "========================================================================="

# The same figures as the tables of docs/benchmarks.md ("Load tester", "Figures measured").
grouped() { # number -> rounded, thousands separated by spaces ("91 914"); other text as it is
    awk -v v="$1" 'BEGIN { if (v !~ /^[0-9.]+$/) { print v; exit }
        s = sprintf("%.0f", v); out = ""
        while (length(s) > 3) { out = " " substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
        print s out }'
}
unit() { if [[ "$1" == n/a || "$1" == "?" ]]; then echo "$1"; else echo "$1 $2"; fi; }
echo
echo "---------------- for docs/benchmarks.md ($(date -u '+%Y-%m-%d %H:%M UTC')) ----------------"
if (( DO_THROUGHPUT )); then
    echo "Throughput (\`-c$CONNECTIONS\`, $THREADS client thread(s), ${DURATION} s rounds, medians of $ROUNDS rounds):"
    echo
    echo "| target | client | requests/s | p50 | p99 | client CPU per request | loadtest / wrk |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
    for target in "${TARGETS[@]}"; do
        for client in "${CLIENTS[@]}"; do
            key="$target/$client"
            # shellcheck disable=SC2016 # the backquotes are Markdown
            if [[ "$client" == wrk ]]; then name=wrk; rel=1; else name='`bulwark loadtest`'; rel="**${RATIO[$target]}**"; fi
            # shellcheck disable=SC2086 # space-separated numbers
            echo "| ${TARGET_LABEL[$target]} | $name | $(grouped "${MED_RPS[$key]}") | $(unit "$(median_of ${P50[$key]})" ms)" \
                "| $(unit "$(median_of ${P99[$key]})" ms) | $(unit "${MED_CPU[$key]}" µs) | $rel |"
        done
    done
fi
if (( DO_MEMORY )); then
    (( DO_THROUGHPUT == 0 )) || echo
    echo "Memory of \`bulwark loadtest\` (open model, $MEMORY_RATE arrivals/s, \`max_connections\` 64, $MEMORY_MINUTES"
    echo "minutes against the bare QHttpServer):"
    echo
    echo "| VmRSS at $REF_SECONDS s | VmRSS at $MEMORY_SECONDS s | ratio | peak (VmHWM) | requests / failed / dropped |"
    echo "| --- | --- | --- | --- | --- |"
    echo "| $(mib "$RSS_REF") MiB | $(mib "$RSS_END") MiB | **$MEM_RATIO** | $(mib "$RSS_PEAK") MiB" \
        "| $(grouped "$MEM_REQUESTS") / $(grouped "$MEM_FAILED") / $(grouped "$MEM_DROPPED") |"
fi
echo "--------------------------------------------------------------------------------------------"
