#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The job queue benchmark (bench/jobs_bench.cpp, bulwark_jobs_bench), in one run:
#
# 1. SQLite (a database file in a temporary directory): N no-op jobs end to end through
#    JobQueue (enqueued in batches of 1000 by a producer thread while the coordinator claims
#    and the workers run and complete them), against "serial": a straightforward queue loop
#    in one thread on the same database (batched inserts, claim slices, one UPDATE per
#    completed job). Target (issue "Step 5"): >= 20 000 jobs/s.
#    Then enqueue latency: single-job enqueues while the queue drains them, against bare
#    single-row INSERT transactions (p50, p99).
# 2. The same on PostgreSQL (Debian's, started here on a free loopback port, durability off
#    as in the test harness; FOR UPDATE SKIP LOCKED claims).
#
# Each database gets --rounds runs (serial and queue alternate which goes first); it prints
# every run and the medians. Everything is local (a file and 127.0.0.1); every process
# started here is stopped on exit. It holds /tmp/bulwark-build.lock while measuring
# (--no-lock turns that off). With the defaults it takes about 2 minutes after the build.
# docs/benchmarks.md explains the figures.
#
# Usage: bench/run_jobs_bench.sh [--no-build] [--build-dir DIR] [--rounds N] [--jobs N]
#            [--workers N] [--no-postgres] [--baseline-binary PATH] [--keep-tmp] [--no-lock]
#   --no-build         use the binary already in the build directory
#   --build-dir DIR    default build/bench (release preset, tests off)
#   --rounds N         runs per database (default 3)
#   --jobs N           jobs per run (default 100000)
#   --workers N        job worker threads (default 4)
#   --no-postgres      SQLite only
#   --baseline-binary PATH  also run another bulwark_jobs_bench (say, built from the
#                      previous commit) on each database, right after this one
#   --keep-tmp         keep the databases and outputs (path printed at the end)
#   --no-lock          do not hold the shared build lock during the measurements
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=run_jobs_bench
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

JOBS=100000
WORKERS=4
POSTGRES=1
BASELINE=""
while [[ $# -gt 0 ]]; do
    common_option "$@"
    if (( TAKEN )); then shift "$TAKEN"; continue; fi
    case "$1" in
        --jobs) int_in_range "${2:-}" 1000 10000000 || die "--jobs must be 1000..10000000"; JOBS=$2; shift 2 ;;
        --workers) int_in_range "${2:-}" 1 256 || die "--workers must be 1..256"; WORKERS=$2; shift 2 ;;
        --no-postgres) POSTGRES=0; shift ;;
        --baseline-binary) [[ -x "${2:-}" ]] || die "--baseline-binary needs an executable"; BASELINE=$(realpath "$2"); shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown option $1 (try --help)" ;;
    esac
done

if (( DO_BUILD )); then
    build_release bulwark_jobs_bench
fi
JOBS_BENCH="$BUILD_DIR/bench/bulwark_jobs_bench"
[[ -x "$JOBS_BENCH" ]] || die "$JOBS_BENCH is missing; build first (drop --no-build)"
start_run bulwark-jobs-bench
print_machine "sqlite $(dpkg-query -W -f='${Version}' libsqlite3-0 2>/dev/null || echo unknown)"
take_build_lock "during the runs"

run_bench() { # label binary args... -> TMP/label.txt, printed
    local label=$1 binary=$2 rc=0
    shift 2
    echo "== $label: $binary $* (at most 15 minutes)"
    timeout 900 "$binary" "$@" --jobs "$JOBS" --workers "$WORKERS" --runs "$ROUNDS" \
        >"$TMP/$label.txt" 2>"$TMP/$label.err" &
    local pid=$!
    PIDS+=("$pid")
    wait "$pid" || rc=$?
    forget_pid "$pid"
    sed 's/^/   /' "$TMP/$label.txt"
    (( rc == 0 )) || die "$label: bulwark_jobs_bench exited with status $rc: $(tail -3 "$TMP/$label.err")"
}

mkdir -p "$TMP/sqlite" "$TMP/sqlite-baseline"
run_bench sqlite "$JOBS_BENCH" --sqlite "$TMP/sqlite"
[[ -z "$BASELINE" ]] || run_bench sqlite-baseline "$BASELINE" --sqlite "$TMP/sqlite-baseline"
if (( POSTGRES )); then
    start_postgres
    run_bench postgres "$JOBS_BENCH" --postgres "127.0.0.1:$PG_PORT:bulwark:postgres"
    [[ -z "$BASELINE" ]] || run_bench postgres-baseline "$BASELINE" --postgres "127.0.0.1:$PG_PORT:bulwark:postgres"
fi

summary() { # label
    local file="$TMP/$1.txt"
    [[ -f "$file" ]] || return 0
    local med lat insert_lat
    med=$(grep '^median' "$file" | sed 's/floor_jobs_per_s/serial_jobs_per_s/')
    lat=$(grep '^enqueue_latency_us' "$file")
    insert_lat=$(grep -E '^insert(_floor)?_latency_us' "$file" | sed 's/^insert_floor_latency_us/insert_latency_us/')
    printf '%-18s %s\n                   enqueue %s\n                   insert  %s\n' "$1" "${med#median }" "${lat#enqueue_latency_us }" "${insert_lat#insert_latency_us }"
}
echo
echo "== summary ($JOBS jobs per run, $WORKERS workers, medians of $ROUNDS; build lock $LOCK_NOTE; $((SECONDS)) s)"
summary sqlite
summary sqlite-baseline
summary postgres
summary postgres-baseline
