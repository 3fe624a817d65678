#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Shared by the benchmark scripts in bench/ (sourced, not run): the build lock, the
# bookkeeping that stops every started process on exit, bounded waits, wrk runs with the
# server's CPU time per request, and small number helpers. The caller sets BENCH_NAME,
# LOCK_FILE, KEEP_TMP, TMP, WRK_THREADS and CONNECTIONS, and may set the array WRK_EXTRA
# (more wrk arguments, e.g. -H headers).

die() { echo "${BENCH_NAME:-bench}: $*" >&2; exit 1; }

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

