#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Shared by the benchmark scripts in bench/ (sourced, not run): the build lock, the
# bookkeeping that stops every started process on exit, bounded waits, wrk runs with the
# server's CPU time per request, the options every script takes, and small number helpers.
# The caller sets ROOT and BENCH_NAME before sourcing it, TMP after, and may set the array
# WRK_EXTRA (more wrk arguments, e.g. -H headers).
#
# The second half (from "Bulwark and the bare server") is what run_data_bench.sh and
# run_cache_bench.sh share: the release build, the machine line, taking the build lock for
# the measurements, API keys, starting `bulwark --server` and the bare QHttpServer, and
# rotating wrk rounds over named endpoints with their summary lines. Those also use ROOT,
# BUILD_DIR, BULWARK, BARE, DURATION and ROUNDS.

die() { echo "${BENCH_NAME:-bench}: $*" >&2; exit 1; }

# The options every script takes, at their defaults (a script may change them before or
# after sourcing this file), and their parsing.
# shellcheck disable=SC2034 # used by the scripts that source this file
BUILD_DIR="${ROOT:?set ROOT before sourcing bench/lib.sh}/build/bench"
DO_BUILD=1
DURATION=10
ROUNDS=3
CONNECTIONS=64
WRK_THREADS=2
KEEP_TMP=0
HOLD_LOCK=1
LOCK_FILE=/tmp/bulwark-build.lock
WRK_EXTRA=()

common_option() { # "$@" of the script -> sets TAKEN to the arguments the option used (0: not one)
    TAKEN=0
    case "$1" in
        --no-build) DO_BUILD=0; TAKEN=1 ;;
        --build-dir) [[ $# -ge 2 ]] || die "--build-dir needs a value"; BUILD_DIR=$(realpath -m "$2"); TAKEN=2 ;;
        --duration) int_in_range "${2:-}" 1 120 || die "--duration must be 1..120 seconds"; DURATION=$2; TAKEN=2 ;;
        --rounds) int_in_range "${2:-}" 1 9 || die "--rounds must be 1..9"; ROUNDS=$2; TAKEN=2 ;;
        --connections) int_in_range "${2:-}" 2 1024 || die "--connections must be 2..1024"; CONNECTIONS=$2; TAKEN=2 ;;
        --keep-tmp) KEEP_TMP=1; TAKEN=1 ;;
        --no-lock) HOLD_LOCK=0; TAKEN=1 ;;
    esac
}

# The usage text: the script's header comment, from its third line to `set -euo pipefail`.
usage() { sed -n '3,/^set -euo pipefail/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

parse_options() { # "$@" of a script that takes the common options and --help only
    while [[ $# -gt 0 ]]; do
        common_option "$@"
        if (( TAKEN )); then shift "$TAKEN"; continue; fi
        case "$1" in
            -h | --help) usage; exit 0 ;;
            *) die "unknown option $1 (try --help)" ;;
        esac
    done
    (( WRK_THREADS <= CONNECTIONS )) || WRK_THREADS=$CONNECTIONS
}

start_run() { # tmp-name : warns on a non-release build, makes TMP, sets the traps (cleanup on exit)
    grep -q 'CMAKE_BUILD_TYPE:STRING=Release' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null \
        || echo "WARNING: $BUILD_DIR is not a Release build; the figures are not comparable" >&2
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
    trap cleanup EXIT
    trap 'echo "$BENCH_NAME: stopped by a failing command at line $LINENO" >&2' ERR
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

int_in_range() { # value min max
    [[ "$1" =~ ^[0-9]+$ ]] && (( $1 >= $2 && $1 <= $3 ))
}

locked() { # run a build command under the shared build lock when there is one
    if command -v flock >/dev/null && [[ -d "$(dirname "$LOCK_FILE")" ]]; then
        flock "$LOCK_FILE" "$@"
    else
        "$@"
    fi
}


declare -a PIDS=()      # every process started here, stopped by cleanup()

stop_pid() { # pid: TERM, wait up to 5 s, then KILL
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || true
    for (( i = 0; i < 50; i++ )); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    forget_pid "$pid"
}

forget_pid() { # pid: drop it from PIDS, so that cleanup() never signals a recycled id
    local pid=$1 p
    local -a keep=()
    for p in "${PIDS[@]}"; do
        [[ "$p" == "$pid" ]] || keep+=("$p")
    done
    PIDS=("${keep[@]}")
}

cleanup() {
    local i
    local -a all=("${PIDS[@]}")
    stop_postgres
    # Newest first: the connection holder before the servers it holds connections to.
    for (( i = ${#all[@]} - 1; i >= 0; i-- )); do
        stop_pid "${all[$i]}"
    done
    if (( KEEP_TMP )); then
        echo "(logs kept in $TMP)"
    else
        rm -rf "$TMP"
    fi
}
wait_for_line() { # file regex tries(0.1 s each) -> sets FOUND_LINE to the first match
    # No command substitution around it: a signal then reaches the trap within 0.1 s.
    local file=$1 re=$2 tries=$3 i
    FOUND_LINE=""
    for (( i = 0; i < tries; i++ )); do
        FOUND_LINE=$(grep -m1 -E "$re" "$file" 2>/dev/null || true)
        [[ -z "$FOUND_LINE" ]] || return 0
        sleep 0.1
    done
    return 1
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
fds_of() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

median() { # numbers... (odd count: the middle one; even: the mean of the two middle ones)
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print 0; exit }
        if (NR % 2) printf "%.2f\n", v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'; }

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; } # utime + stime
CLK_TCK=$(getconf CLK_TCK)

to_ms() { # wrk duration ("812.00us", "1.20ms", "2.01s") on stdin -> milliseconds
    awk '{ v = $1 + 0; if ($1 ~ /us$/) v /= 1000; else if ($1 ~ /ms$/) v += 0; else if ($1 ~ /s$/) v *= 1000; printf "%.2f\n", v }'
}

# One wrk run, in the background so that a signal interrupts the wait at once (cleanup then
# stops it). Sets WRK_RPS, WRK_LAT, WRK_CPU (server CPU microseconds per request) and
# WRK_P50, WRK_P99 (ms), WRK_NOTE ("ok" or the errors wrk reported); wrk's full output stays in file.
run_wrk() { # file url duration pid
    local file=$1 url=$2 duration=$3 pid=$4 errs non2xx requests before after wrk_pid
    before=$(cpu_ticks "$pid")
    timeout $(( duration + 30 )) wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${duration}s" --latency \
        "${WRK_EXTRA[@]}" "$url" >"$file" 2>&1 &
    wrk_pid=$!
    PIDS+=("$wrk_pid")
    wait "$wrk_pid" || true
    forget_pid "$wrk_pid"
    after=$(cpu_ticks "$pid")
    WRK_RPS=$(awk '/^Requests\/sec:/ {print $2}' "$file")
    WRK_RPS=${WRK_RPS:-0}
    WRK_LAT=$(awk '/^ *Latency/ {print $2; exit}' "$file")
    WRK_LAT=${WRK_LAT:-?}
    # --latency percentiles, converted to milliseconds.
    WRK_P50=$(awk '/^ +50%/ {print $2; exit}' "$file" | to_ms)
    WRK_P99=$(awk '/^ +99%/ {print $2; exit}' "$file" | to_ms)
    requests=$(awk '/ requests in / {print $1; exit}' "$file")
    WRK_CPU=$(awk -v a="$before" -v b="$after" -v n="${requests:-0}" -v t="$CLK_TCK" \
        'BEGIN { if (n > 0) printf "%.2f", (b - a) / t / n * 1e6; else print "n/a" }')
    errs=$(grep -E '^ *Socket errors:' "$file" | sed 's/^ *Socket errors: *//' || true)
    non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$file")
    WRK_NOTE="ok"
    if [[ -n "$errs" ]]; then WRK_NOTE="socket errors: $errs"; fi
    if [[ -n "$non2xx" ]]; then WRK_NOTE="$WRK_NOTE; non-2xx: $non2xx"; fi
}

# ---------------------------------------------------------------- Bulwark and the bare server

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

build_release() { # targets... : the release preset into BUILD_DIR, tests off, under the lock
    echo "== building the release preset in $BUILD_DIR"
    (cd "$ROOT" && locked cmake --preset release -B "$BUILD_DIR" -DBULWARK_BUILD_TESTS=OFF -DBULWARK_BUILD_BENCH=ON) >/dev/null
    (cd "$ROOT" && locked cmake --build "$BUILD_DIR" --target "$@")
}

print_machine() { # [more versions] : the machine lines; sets CPU_MODEL, NPROC
    CPU_MODEL=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || echo unknown)
    NPROC=$(nproc)
    echo "== machine: $NPROC cores ($CPU_MODEL), kernel $(uname -r); load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "   Qt $(dpkg-query -W -f='${Version}' libqt6core6 2>/dev/null || echo unknown), $(wrk --version 2>&1 | head -1 | awk '{print $1, $2}')${1:+, $1}"
}

# Keeps builds (which all take the shared lock) off the cores while measuring: takes
# LOCK_FILE on descriptor 9 unless HOLD_LOCK is 0, waiting at most 10 minutes for a build
# that holds it. The wait runs in the background so that a signal reaches the trap at once;
# the lock belongs to the open file behind descriptor 9, which this shell keeps until exit.
take_build_lock() { # what ("during the rounds") -> sets LOCK_NOTE
    local lock_pid
    LOCK_NOTE="not held (--no-lock or no flock)"
    if (( HOLD_LOCK )) && command -v flock >/dev/null && [[ -d "$(dirname "$LOCK_FILE")" ]]; then
        exec 9>>"$LOCK_FILE"
        echo "== taking $LOCK_FILE $1 (waits up to 600 s for a running build)"
        flock -w 600 9 &
        lock_pid=$!
        PIDS+=("$lock_pid")
        if wait "$lock_pid"; then
            LOCK_NOTE="held $1"
        else
            LOCK_NOTE="NOT held: a build kept it for 10 minutes"
            echo "WARNING: $LOCK_NOTE" >&2
        fi
        forget_pid "$lock_pid"
    fi
}

key_for() { # email role extra-env... -> prints an API key (role "": the user exists already)
    local email=$1 role=$2
    shift 2
    if [[ -n "$role" ]]; then
        env "$@" "$BULWARK" user add "$email" --role "$role" >/dev/null 2>&1 || true
    fi
    env "$@" "$BULWARK" user key "$email" --name bench 2>/dev/null
}

# shellcheck disable=SC2034 # SERVER_PORT is for the caller
start_server() { # label [NAME=VALUE...] [-- bulwark-args...] -> sets SERVER_PID, SERVER_PORT
    # `bulwark --server` on a free loopback port with the access log off and, unless the
    # caller's NAME=VALUE says otherwise, rate limiting off (the default rules would refuse
    # a load generator within a second: run_ratelimit_bench.sh measures the limiter);
    # output in TMP/label.*
    local label=$1
    local -a server_env=() server_args=()
    shift
    while (( $# > 0 )) && [[ "$1" != -- ]]; do server_env+=("$1"); shift; done
    if (( $# > 0 )); then shift; server_args=("$@"); fi
    env BULWARK_LOG_ACCESS=off BULWARK_RATELIMIT_ENABLED=false "${server_env[@]}" "$BULWARK" --server --listen 127.0.0.1:0 "${server_args[@]}" \
        >"$TMP/$label.out" 2>"$TMP/$label.err" &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    wait_for_line "$TMP/$label.err" 'listening on http://127\.0\.0\.1:[0-9]+' 600 \
        || { tail -20 "$TMP/$label.err" >&2; die "bulwark ($label) did not start"; }
    SERVER_PORT=$(grep -oE 'listening on http://127\.0\.0\.1:[0-9]+' <<<"$FOUND_LINE" | grep -oE '[0-9]+$')
}

# PostgreSQL from Debian's packages in TMP/pg on a free loopback port, with database
# "bulwark". Durability is off (fsync, synchronous_commit, full_page_writes), as in the test
# harness: the figures are about Bulwark, not the disk. It refuses to run as root, so then
# it runs as the postgres user (and TMP is opened to it). cleanup() stops it.
PG_BIN=""
PG_DATA=""
as_postgres() {
    if (( EUID == 0 )); then runuser -u postgres -- "$@"; else "$@"; fi
}
stop_postgres() {
    if [[ -n "$PG_DATA" && -f "$PG_DATA/postmaster.pid" ]]; then
        as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    fi
}
# shellcheck disable=SC2034 # PG_PORT is for the caller
start_postgres() { # -> sets PG_BIN, PG_DATA, PG_PORT
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [[ -x "$PG_BIN/initdb" ]] || die "PostgreSQL is not installed (Debian: apt-get install postgresql)"
    chmod 755 "$TMP"
    local dir="$TMP/pg"
    mkdir -p "$dir"
    (( EUID != 0 )) || chown postgres: "$dir"
    PG_DATA="$dir/data"
    PG_PORT=$(free_port)
    echo "== starting PostgreSQL ($PG_BIN) on 127.0.0.1:$PG_PORT"
    as_postgres "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --no-sync >"$TMP/initdb.log" 2>&1 \
        || { tail "$TMP/initdb.log" >&2; die "initdb failed"; }
    as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$dir/log" -w -t 60 \
        -o "-p $PG_PORT -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=512MB" \
        start >/dev/null || { tail "$dir/log" >&2; die "PostgreSQL did not start"; }
    as_postgres "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "CREATE DATABASE bulwark" >/dev/null
}

# shellcheck disable=SC2034 # REDIS_PORT and REDIS_PID are for the caller
start_redis() { # -> a redis-server without persistence on a free loopback port; sets REDIS_PORT, REDIS_PID
    REDIS_PORT=$(free_port)
    mkdir -p "$TMP/redis"
    echo "== starting redis-server ${REDIS_VERSION:-} on 127.0.0.1:$REDIS_PORT"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP/redis" \
        >"$TMP/redis.out" 2>&1 &
    REDIS_PID=$!
    PIDS+=("$REDIS_PID")
    wait_for_line "$TMP/redis.out" 'Ready to accept connections' 100 \
        || { tail -20 "$TMP/redis.out" >&2; die "redis-server did not start"; }
}

# shellcheck disable=SC2034 # BARE_PORT is for the caller
start_bare_server() { # label [hello_qhttpserver options...] -> sets BARE_PID, BARE_PORT
    local label=$1
    shift
    "$BARE" 0 "$@" >"$TMP/$label.out" 2>"$TMP/$label.err" &
    BARE_PID=$!
    PIDS+=("$BARE_PID")
    wait_for_line "$TMP/$label.out" '^port [0-9]+' 100 \
        || { cat "$TMP/$label.err" >&2; die "the bare server ($label) did not start"; }
    BARE_PORT=${FOUND_LINE#port }
}

# Rotating wrk rounds. The caller fills, per endpoint name, URL (and HEADER: one request
# header or empty) and PID_OF (the server whose CPU time is read); measure() fills RPS, P50,
# P99 and CPUS with one space-separated figure per round, and NOTES with wrk's errors.
declare -A URL=() HEADER=() RPS=() P50=() P99=() NOTES=() CPUS=() PID_OF=()
# shellcheck disable=SC2153 # DURATION and ROUNDS are set by the caller
measure() { # names... : ROUNDS rotating rounds over the named endpoints
    local names=("$@")
    local round i name n=${#names[@]}
    for name in "${names[@]}"; do RPS[$name]=""; P50[$name]=""; P99[$name]=""; NOTES[$name]=""; CPUS[$name]=""; done
    echo "== wrk -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s --latency, $ROUNDS rounds (order rotates each round)"
    for (( round = 1; round <= ROUNDS; round++ )); do
        for (( i = 0; i < n; i++ )); do
            name=${names[$(( (i + round - 1) % n ))]}
            if [[ -n "${HEADER[$name]:-}" ]]; then WRK_EXTRA=(-H "${HEADER[$name]}"); else WRK_EXTRA=(); fi
            run_wrk "$TMP/wrk-$name-$round.txt" "${URL[$name]}" "$DURATION" "${PID_OF[$name]}"
            RPS[$name]+="$WRK_RPS "
            P50[$name]+="$WRK_P50 "
            P99[$name]+="$WRK_P99 "
            CPUS[$name]+="$WRK_CPU "
            [[ "$WRK_NOTE" == ok ]] || NOTES[$name]+="round $round: $WRK_NOTE; "
            printf '   round %d  %-22s %10s req/s  p50 %8s ms  p99 %8s ms  %s\n' "$round" "$name" "$WRK_RPS" "$WRK_P50" "$WRK_P99" "$WRK_NOTE"
        done
    done
}

# shellcheck disable=SC2086 # the lists are space-separated numbers
summary_line() { # name label
    printf '%-22s %-58s %10s req/s  p50 %8s ms  p99 %8s ms  (rounds: %s) %s\n' "$1" "$2" \
        "$(median ${RPS[$1]})" "$(median ${P50[$1]})" "$(median ${P99[$1]})" "${RPS[$1]% }" "${NOTES[$1]}"
}
