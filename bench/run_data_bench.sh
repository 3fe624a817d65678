#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The data API benchmark: uncached list and report requests over a seeded database, in one
# run, against the bare Qt 6.4 QHttpServer hello world as the same-session baseline.
#
# It seeds the demo schema with `bulwark seed` (1 000 000 activities over 1 000 users by
# default; the seed time is reported, it is the "1 M rows in under a minute" figure), starts
# `bulwark --server` on it (default worker threads, access log off) and drives, with wrk
# at 64 connections, as an admin (who sees all rows):
#   keyset-first   GET /api/v1/activities?limit=50&cursor=           (first keyset page)
#   keyset-deep    GET /api/v1/activities?limit=50&cursor=<90 % deep> (cursor built from
#                  the row at 90 % of the list, read from the database)
#   offset-first   GET /api/v1/activities?limit=50                   (page 1, with COUNT)
#   offset-first-nocount  the same with skip_total=true
#   offset-deep    GET /api/v1/activities?limit=50&page=18000&skip_total=true (contrast)
#   report         GET /api/v1/reports/weekly_distance as demo1 (its ~1 000 activities)
#   bare           the bare QHttpServer's 1 KiB /debug/bytes, the baseline of the session
# Rounds alternate between them (the order rotates each round); it prints every round,
# the medians of requests/s and of wrk's p50/p99 latency, and the ratios deep/first.
# Then the same lists on PostgreSQL (a temporary cluster started here as the postgres
# user, on a free loopback port), seeded with the same data. Targets (issue "Step 2"):
# keyset page >= 10 000 requests/s; deep cursor within 1.2x of the first page.
#
# Everything listens and connects on 127.0.0.1 only; every wait is bounded; every process
# started here is stopped on exit. With the defaults it takes about 12 minutes (seeding
# both databases is most of it). docs/benchmarks.md explains the figures.
#
# Usage: bench/run_data_bench.sh [--no-build] [--build-dir DIR] [--rows N] [--users N]
#            [--duration S] [--rounds N] [--connections N] [--no-postgres] [--keep-tmp]
#            [--no-lock]
#   --no-build         use the binaries already in the build directory
#   --build-dir DIR    default build/bench (release preset, tests off)
#   --rows N           activities to seed (default 1000000)
#   --users N          demo users to spread them over (default 1000)
#   --duration S       seconds per wrk round (default 10)
#   --rounds N         rounds (default 3)
#   --connections N    wrk connections (default 64)
#   --no-postgres      SQLite only
#   --keep-tmp         keep the databases, logs and wrk outputs (path printed at the end)
#   --no-lock          do not hold the shared build lock during the measurements
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=run_data_bench
ROWS=1000000
USERS=1000
POSTGRES=1
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

usage() { sed -n '3,39p' "$0" | sed 's/^# \{0,1\}//'; }

while [[ $# -gt 0 ]]; do
    common_option "$@"
    if (( TAKEN )); then shift "$TAKEN"; continue; fi
    case "$1" in
        --rows) int_in_range "${2:-}" 1000 100000000 || die "--rows must be 1000..100000000"; ROWS=$2; shift 2 ;;
        --users) int_in_range "${2:-}" 1 1000000 || die "--users must be 1..1000000"; USERS=$2; shift 2 ;;
        --no-postgres) POSTGRES=0; shift ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown option $1 (try --help)" ;;
    esac
done
(( WRK_THREADS <= CONNECTIONS )) || WRK_THREADS=$CONNECTIONS
(( ROWS / USERS >= 1 )) || die "--rows must be at least --users"
for tool in wrk curl python3; do
    command -v "$tool" >/dev/null || die "$tool is required (Debian: apt-get install $tool)"
done

if (( DO_BUILD )); then
    build_release bulwark bulwark_hello_qhttpserver
fi
BULWARK="$BUILD_DIR/app/bulwark"
BARE="$BUILD_DIR/bench/bulwark_hello_qhttpserver"
for bin in "$BULWARK" "$BARE"; do
    [[ -x "$bin" ]] || die "$bin is missing; build first (drop --no-build)"
done
start_run bulwark-data-bench

# ---------------------------------------------------------------- the machine
print_machine "SQLite $(python3 -c 'import sqlite3; print(sqlite3.sqlite_version)')"
take_build_lock "during seeding and the rounds"

# ---------------------------------------------------------------- seeding
SEED_LINE=""
seed() { # label extra-env... : seeds ROWS activities, sets SEED_LINE
    local label=$1
    shift
    echo "== seeding $label: bulwark seed --users $USERS --rows $ROWS"
    env "$@" "$BULWARK" seed --users "$USERS" --rows "$ROWS" --no-key >"$TMP/seed-$label.out" 2>"$TMP/seed-$label.err" \
        || { tail -5 "$TMP/seed-$label.err" >&2; die "seeding $label failed"; }
    SEED_LINE=$(tr '\r' '\n' <"$TMP/seed-$label.err" | grep -E 'rows in [0-9.]+ s' | tail -1 | sed 's/^bulwark: seed: //')
    echo "   $SEED_LINE"
}

deep_cursor() { # label python-connect-snippet -> prints the cursor of the row at 90 %
    python3 - "$1" "$(( ROWS * 9 / 10 ))" <<'PY'
import base64, json, sys
label, offset = sys.argv[1], int(sys.argv[2])
if label.startswith("sqlite:"):
    import sqlite3
    db = sqlite3.connect(label[len("sqlite:"):])
    row = db.execute("SELECT started_at, id FROM activities ORDER BY started_at DESC, id DESC "
                     "LIMIT 1 OFFSET ?", (offset,)).fetchone()
    started, ident = row
else:
    import subprocess
    port = label[len("postgres:"):]
    out = subprocess.run(["psql", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-d", "bulwark",
                          "-At", "-c",
                          "SELECT to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), id "
                          f"FROM activities ORDER BY started_at DESC, id DESC LIMIT 1 OFFSET {offset}"],
                         check=True, capture_output=True, text=True).stdout.strip()
    started, ident = out.split("|")
cursor = json.dumps({"s": "-started_at,-id", "v": [started, int(ident)]}, separators=(",", ":"))
print(base64.urlsafe_b64encode(cursor.encode()).decode().rstrip("="))
PY
}

check_page() { # url header: a 200 with a data array of 50 rows
    local code rows
    code=$(curl -s --max-time 120 -o "$TMP/check.json" -w '%{http_code}' -H "$2" "$1") || code=000
    rows=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["data"]))' "$TMP/check.json" 2>/dev/null || echo 0)
    [[ "$code" == 200 ]] || die "$1 answered $code: $(head -c 300 "$TMP/check.json")"
    echo "$rows"
}

# ---------------------------------------------------------------- measuring
# measure() and summary_line() are in lib.sh (URL, HEADER, PID_OF in; RPS, P50, P99, NOTES out).

# ---------------------------------------------------------------- SQLite
SQLITE_DIR="$TMP/sqlite"
SEED_START=$(date +%s.%N)
seed sqlite BULWARK_SERVER_DATA_DIR="$SQLITE_DIR"
SQLITE_SEED=$SEED_LINE
SQLITE_SIZE=$(du -h "$SQLITE_DIR/bulwark.db" | cut -f1)
ADMIN_KEY=$(key_for bench-admin@example.com admin BULWARK_SERVER_DATA_DIR="$SQLITE_DIR")
DEMO_KEY=$(key_for demo1@example.com "" BULWARK_SERVER_DATA_DIR="$SQLITE_DIR")
[[ "$ADMIN_KEY" == bwk_* && "$DEMO_KEY" == bwk_* ]] || die "could not create API keys"
DEEP=$(deep_cursor "sqlite:$SQLITE_DIR/bulwark.db")

# The cache off: this benchmark measures the database path (run_cache_bench.sh the cache).
start_server sqlite BULWARK_SERVER_DATA_DIR="$SQLITE_DIR" BULWARK_CACHE_ENABLED=false
SQLITE_PID=$SERVER_PID
BASE="http://127.0.0.1:$SERVER_PORT/api/v1"
start_bare_server bare

ADMIN="Authorization: Bearer $ADMIN_KEY"
URL[keyset-first]="$BASE/activities?limit=50&cursor="
URL[keyset-deep]="$BASE/activities?limit=50&cursor=$DEEP"
URL[offset-first]="$BASE/activities?limit=50"
URL[offset-first-nocount]="$BASE/activities?limit=50&skip_total=true"
URL[offset-deep]="$BASE/activities?limit=50&page=18000&skip_total=true"
URL[report]="$BASE/reports/weekly_distance"
URL[bare]="http://127.0.0.1:$BARE_PORT/debug/bytes?n=1024"
for name in keyset-first keyset-deep offset-first offset-first-nocount offset-deep; do HEADER[$name]=$ADMIN; PID_OF[$name]=$SQLITE_PID; done
HEADER[report]="Authorization: Bearer $DEMO_KEY"; PID_OF[report]=$SQLITE_PID
HEADER[bare]=""; PID_OF[bare]=$BARE_PID
for name in keyset-first keyset-deep offset-first offset-deep; do
    echo "   check $name: $(check_page "${URL[$name]}" "${HEADER[$name]}") rows"
done
SQLITE_NAMES=(keyset-first keyset-deep offset-first offset-first-nocount offset-deep report bare)
measure "${SQLITE_NAMES[@]}"
declare -A SQLITE_RPS SQLITE_P50 SQLITE_P99 SQLITE_NOTES
for name in "${SQLITE_NAMES[@]}"; do
    SQLITE_RPS[$name]=${RPS[$name]}; SQLITE_P50[$name]=${P50[$name]}; SQLITE_P99[$name]=${P99[$name]}; SQLITE_NOTES[$name]=${NOTES[$name]}
done
stop_pid "$SQLITE_PID"

# ---------------------------------------------------------------- PostgreSQL
PG_SEED="skipped (--no-postgres)"
if (( POSTGRES )); then
    # Durability off (lib.sh): the benchmark reads; it only speeds the seeding.
    start_postgres
    PG_ENV=(BULWARK_SERVER_DATA_DIR="$TMP/pg-data" BULWARK_DB_DRIVER=postgres BULWARK_DB_POSTGRES_HOST=127.0.0.1
            BULWARK_DB_POSTGRES_PORT="$PG_PORT" BULWARK_DB_POSTGRES_USER=postgres BULWARK_DB_POSTGRES_NAME=bulwark)
    seed postgres "${PG_ENV[@]}"
    PG_SEED=$SEED_LINE
    PG_ADMIN_KEY=$(key_for bench-admin@example.com admin "${PG_ENV[@]}")
    [[ "$PG_ADMIN_KEY" == bwk_* ]] || die "could not create the PostgreSQL admin key"
    PG_DEEP=$(PATH="$PG_BIN:$PATH" deep_cursor "postgres:$PG_PORT")
    start_server postgres "${PG_ENV[@]}" BULWARK_CACHE_ENABLED=false
    PG_PID=$SERVER_PID
    PG_BASE="http://127.0.0.1:$SERVER_PORT/api/v1"
    URL[pg-keyset-first]="$PG_BASE/activities?limit=50&cursor="
    URL[pg-keyset-deep]="$PG_BASE/activities?limit=50&cursor=$PG_DEEP"
    URL[pg-offset-first]="$PG_BASE/activities?limit=50"
    URL[pg-offset-deep]="$PG_BASE/activities?limit=50&page=18000&skip_total=true"
    for name in pg-keyset-first pg-keyset-deep pg-offset-first pg-offset-deep; do
        HEADER[$name]="Authorization: Bearer $PG_ADMIN_KEY"; PID_OF[$name]=$PG_PID
        echo "   check $name: $(check_page "${URL[$name]}" "${HEADER[$name]}") rows"
    done
    measure pg-keyset-first pg-keyset-deep pg-offset-first pg-offset-deep bare
    PG_BARE_RPS=${RPS[bare]}; PG_BARE_P50=${P50[bare]}; PG_BARE_P99=${P99[bare]}; PG_BARE_NOTES=${NOTES[bare]}
fi

# ---------------------------------------------------------------- summary
echo
echo "================================================================ summary"
echo "machine     $NPROC cores ($CPU_MODEL); build lock $LOCK_NOTE; load average now $(cut -d' ' -f1-3 /proc/loadavg)"
echo "data        $ROWS activities over $USERS users (SQLite file $SQLITE_SIZE)"
echo "seed        SQLite: $SQLITE_SEED"
echo "seed        PostgreSQL: $PG_SEED"
echo "load        wrk -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s --latency, $ROUNDS rotating rounds; medians"
for name in "${SQLITE_NAMES[@]}"; do
    RPS[$name]=${SQLITE_RPS[$name]}; P50[$name]=${SQLITE_P50[$name]}; P99[$name]=${SQLITE_P99[$name]}; NOTES[$name]=${SQLITE_NOTES[$name]}
done
summary_line keyset-first "SQLite  first keyset page (limit 50)"
summary_line keyset-deep "SQLite  keyset page at 90 % depth"
summary_line offset-first "SQLite  page 1 with total (COUNT over all rows)"
summary_line offset-first-nocount "SQLite  page 1, skip_total"
summary_line offset-deep "SQLite  page 18000 (OFFSET 899950), for contrast"
summary_line report "SQLite  weekly_distance report (demo1)"
summary_line bare "bare QHttpServer 1 KiB (baseline, SQLite rounds)"
# shellcheck disable=SC2086
FIRST=$(median ${SQLITE_RPS[keyset-first]}); DEEPR=$(median ${SQLITE_RPS[keyset-deep]}); BARER=$(median ${SQLITE_RPS[bare]})
echo "ratio       SQLite deep/first keyset requests/s: $(ratio "$DEEPR" "$FIRST") (target: deep within 1.2x of first, i.e. >= 0.833)"
echo "ratio       SQLite first keyset page / bare QHttpServer 1 KiB: $(ratio "$FIRST" "$BARER")"
if (( POSTGRES )); then
    summary_line pg-keyset-first "PostgreSQL first keyset page"
    summary_line pg-keyset-deep "PostgreSQL keyset page at 90 % depth"
    summary_line pg-offset-first "PostgreSQL page 1 with total"
    summary_line pg-offset-deep "PostgreSQL page 18000, for contrast"
    RPS[bare]=$PG_BARE_RPS; P50[bare]=$PG_BARE_P50; P99[bare]=$PG_BARE_P99; NOTES[bare]=$PG_BARE_NOTES
    summary_line bare "bare QHttpServer 1 KiB (baseline, PostgreSQL rounds)"
    # shellcheck disable=SC2086
    echo "ratio       PostgreSQL deep/first keyset requests/s: $(ratio "$(median ${RPS[pg-keyset-deep]})" "$(median ${RPS[pg-keyset-first]})")"
fi
