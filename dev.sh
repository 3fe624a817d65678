#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# dev.sh: the one entry point for building, running and testing Bulwark on Debian 12.
#
#   ./dev.sh run [bulwark args]   install what is missing, build the `release` preset and
#                                 run `bulwark --server` in the foreground
#   ./dev.sh test                 install what is missing, build the `dev` preset and run
#                                 the whole ctest suite (non-zero exit on any failure)
#   ./dev.sh help                 this text
#
# Why a script: a fresh Debian 12 machine (and CI, which is a fresh clone) must get from
# `git clone` to a running server or a green test suite with one command. Packages are
# checked one by one with dpkg-query and only the missing ones are installed, so a machine
# that has everything never touches apt. apt-get runs directly as root, through sudo
# otherwise. The compiler cache (ccache) is picked up by CMakeLists.txt when installed.
set -euo pipefail

ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
cd "$ROOT"

# Needed to build and run the server.
BUILD_PACKAGES=(
    build-essential cmake ninja-build ccache pkg-config
    qt6-base-dev qt6-base-dev-tools qt6-httpserver-dev qt6-websockets-dev qt6-charts-dev
    libqt6sql6-sqlite libqt6sql6-psql libsqlite3-dev libhiredis-dev zlib1g-dev libgl-dev
)
# Needed on top of those for testing: openssl makes throw-away TLS certificates, promtool
# (package prometheus) checks the /metrics exposition, wrk drives the benchmarks in bench/,
# and redis-server and postgresql are for the tests of the Redis and database modules,
# which run against real servers that the tests start themselves.
TEST_PACKAGES=(openssl redis-server postgresql prometheus wrk)

say() { printf '==> %s\n' "$*"; }
die() { printf 'dev.sh: %s\n' "$*" >&2; exit 1; }

# Qt warns on a non-UTF-8 locale (a minimal Debian has none set); C.UTF-8 is always there.
if [[ -z "${LC_ALL:-}${LANG:-}" ]]; then
    export LANG=C.UTF-8
fi

# as_root CMD...: run CMD as root, directly when we are root, through sudo otherwise.
as_root() {
    if [[ ${EUID} -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "not root and sudo is not installed; run as root or install sudo"
    fi
}

# ensure_packages PKG...: install the packages that dpkg does not report as installed.
APT_UPDATED=0
ensure_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        if [[ "$(dpkg-query -W -f='${db:Status-Status}' "${pkg}" 2>/dev/null || true)" != installed ]]; then
            missing+=("${pkg}")
        fi
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        return 0
    fi
    say "installing: ${missing[*]}"
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found: this script supports Debian 12"
    if [[ ${APT_UPDATED} -eq 0 ]]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update
        APT_UPDATED=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
}

# configure PRESET: cmake --preset PRESET. A build tree configured for another checkout
# (the folder was moved or copied) makes CMake refuse; it is generated, so start it afresh.
configure() {
    local preset="$1" cache="${ROOT}/build/$1/CMakeCache.txt" home
    if [[ -f "${cache}" ]]; then
        home="$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "${cache}")"
        if [[ "${home}" != "${ROOT}" ]]; then
            say "build/${preset} was configured for ${home}; configuring it afresh"
            rm -rf "${ROOT:?}/build/${preset}"
        fi
    fi
    say "configuring (${preset})"
    cmake --preset "${preset}"
}

cmd_help() {
    cat <<'EOF'
Usage: ./dev.sh COMMAND [ARGS]

  run [bulwark args]  Install the Debian packages needed to build (only the missing ones),
                      build the `release` CMake preset into build/release and start
                      `bulwark --server` in the foreground. With no arguments it listens
                      on http://127.0.0.1:8080 and keeps its data (including the generated
                      admin token, admin.token) in the platform data directory,
                      $XDG_DATA_HOME/bulwark (~/.local/share/bulwark when unset).
                      Extra arguments go to bulwark, for example
                        ./dev.sh run --listen 127.0.0.1:9000 --data-dir /tmp/bw
                      Stop it with Ctrl-C (SIGINT) or SIGTERM.

  test                Install the packages needed to build and test (including
                      redis-server, postgresql, openssl, prometheus for promtool, wrk),
                      build the `dev` preset into build/dev and run the whole ctest
                      suite. Exits non-zero if anything fails. BULWARK_TEST_JOBS sets the
                      number of tests run at once (default 2).

  help                Show this text.

Packages are installed with apt-get (as root, or through sudo otherwise); apt-get update
runs once, and only when something is missing. ccache is used when installed.
EOF
}

cmd_run() {
    ensure_packages "${BUILD_PACKAGES[@]}"
    configure release
    say "building (release)"
    cmake --build --preset release --target bulwark
    local bin="${ROOT}/build/release/app/bulwark"
    [[ -x "${bin}" ]] || die "build finished but ${bin} is missing"

    # Work out what the server will use, for the banner: flags win over the environment,
    # which wins over the built-in defaults (a --config file can change these too; the
    # server's own first log line always states the real values).
    local listen="${BULWARK_SERVER_LISTEN:-127.0.0.1:8080}"
    local data_dir="${BULWARK_SERVER_DATA_DIR:-}"
    local args=("$@") i
    for ((i = 0; i < ${#args[@]}; i++)); do
        case "${args[i]}" in
            --listen=*) listen="${args[i]#--listen=}" ;;
            --listen) listen="${args[i + 1]:-${listen}}" ;;
            --data-dir=*) data_dir="${args[i]#--data-dir=}" ;;
            --data-dir) data_dir="${args[i + 1]:-${data_dir}}" ;;
        esac
    done
    if [[ -z "${data_dir}" ]]; then
        local xdg="${XDG_DATA_HOME:-}"
        [[ "${xdg}" == /* ]] || xdg="${HOME}/.local/share"
        data_dir="${xdg}/bulwark"
    fi
    local host="${listen%:*}" port="${listen##*:}"
    case "${host}" in
        0.0.0.0) host=127.0.0.1 ;;
        "[::]") host="[::1]" ;;
    esac

    # First start: a small deterministic demo data set (3 demo users, 300 activities), so the
    # data API has something to serve. `seed --if-empty` does nothing once activities exist.
    local seed_args=()
    for ((i = 0; i < ${#args[@]}; i++)); do
        case "${args[i]}" in
            --config=* | --data-dir=*) seed_args+=("${args[i]}") ;;
            --config | --data-dir) seed_args+=("${args[i]}" "${args[i + 1]:-}") ;;
        esac
    done
    local demo_key=""
    say "seeding demo data on first start (bulwark seed --if-empty)"
    demo_key="$("${bin}" seed --users 3 --rows 300 --if-empty "${seed_args[@]}")" \
        || say "demo data not seeded (see the message above); starting anyway"

    say "starting bulwark --server${*:+ $*}"
    printf '    URL:            http://%s:%s/  (health: /health/live /health/ready /health, metrics: /metrics)\n' "${host}" "${port}"
    printf '    data directory: %s\n' "${data_dir}"
    if [[ -n "${BULWARK_ADMIN_TOKEN:-}" ]]; then
        printf '    admin token:    taken from BULWARK_ADMIN_TOKEN (no file)\n'
    else
        printf '    admin token:    %s/admin.token (generated and printed once on first start, mode 0600)\n' "${data_dir}"
    fi
    if [[ -n "${demo_key}" ]]; then
        printf '    demo API key:   %s  (demo1@example.com; shown once)\n' "${demo_key}"
        printf '    try:            curl -H "Authorization: Bearer %s" http://%s:%s/api/v1/activities?limit=5\n' "${demo_key}" "${host}" "${port}"
    fi
    printf '    stop with Ctrl-C or SIGTERM; SIGHUP reopens the access log\n'
    exec "${bin}" --server "$@"
}

cmd_test() {
    ensure_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
    configure dev
    say "building (dev)"
    cmake --build --preset dev
    say "running tests"
    # Tests listen on port 0 and start their own Redis/PostgreSQL on free ports, so a few
    # can run at once. --no-tests=error: a suite that ran nothing is a failure, not a pass.
    ctest --preset dev --output-on-failure --no-tests=error -j "${BULWARK_TEST_JOBS:-2}"
    say "all tests passed"
}

main() {
    if [[ $# -eq 0 ]]; then
        printf 'dev.sh: no command given (commands: run, test, help)\n' >&2
        exit 2
    fi
    local command="$1"
    shift
    case "${command}" in
        run) cmd_run "$@" ;;
        test)
            [[ $# -eq 0 ]] || { printf 'dev.sh: test takes no arguments\n' >&2; exit 2; }
            cmd_test
            ;;
        help | -h | --help) cmd_help ;;
        *)
            printf 'dev.sh: unknown command "%s" (commands: run, test, help)\n' "${command}" >&2
            exit 2
            ;;
    esac
}

main "$@"
