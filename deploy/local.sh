#!/usr/bin/env bash
# The README's two commands:
#   bash deploy/local.sh demo   set up a virtual environment and run the whole job on local defaults
#   bash deploy/local.sh test   set up the same environment and run the whole test suite
# Both install into .venv, and start PostgreSQL and Redis when they are installed but stopped.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-demo}
shift || true

say() { printf '%s\n' "$*" >&2; }
die() { say "deploy/local.sh: $*"; exit 1; }

python_bin() {
    for candidate in python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return
        fi
    done
    die "Python 3.11 or newer is required (python3.11 or python3 on PATH)"
}

setup_venv() {
    if [ ! -x .venv/bin/python ]; then
        "$(python_bin)" -m venv .venv || die "could not create .venv (is the python3-venv package installed?)"
    fi
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
}

pg_up() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
redis_up() { [ "$(printf 'PING\r\n' | timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/6379; cat >&3; head -c 5 <&3' 2>/dev/null)" = "+PONG" ]; }

wait_for() {
    local what=$1 check=$2
    for _ in $(seq 1 30); do
        "$check" && return 0
        sleep 1
    done
    die "$what did not come up on 127.0.0.1"
}

ensure_postgres() {
    pg_up && return 0
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
        say "starting PostgreSQL"
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start ||
            die "PostgreSQL is installed but would not start (see /var/log/postgresql/)"
        wait_for PostgreSQL pg_up
    else
        die "PostgreSQL is not running on 127.0.0.1:5432 and is not installed here (install postgresql-15, or point CLAIMS_STAGING_DSN/CLAIMS_PRODUCTION_DSN at a server)"
    fi
}

ensure_redis() {
    redis_up && return 0
    if command -v redis-server >/dev/null 2>&1; then
        say "starting Redis"
        redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no ||
            die "Redis is installed but would not start"
        wait_for Redis redis_up
    else
        die "Redis is not running on 127.0.0.1:6379 and is not installed here (install redis-server, or point CLAIMS_BROKER_URL at one)"
    fi
}

# The browser test (tests/api/test_api_ui.py) drives Debian's chromium through Playwright; Playwright's own
# browser download is never used.
ensure_chromium() {
    [ -x /usr/bin/chromium ] && return 0
    command -v apt-get >/dev/null 2>&1 || die "/usr/bin/chromium is missing and apt-get is not available: install chromium"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    say "installing chromium (for the browser test)"
    $sudo apt-get update -qq && $sudo apt-get install -y -qq chromium >/dev/null || die "apt-get install chromium failed"
}

# Debian packages the tests need, installed only when missing: promtool (Debian's prometheus package) checks
# deploy/prometheus/ (tests/api/test_monitoring.py); pg_dump/pg_restore for the backup/restore test.
ensure_debian_tool() {
    local tool=$1 package=$2
    command -v "$tool" >/dev/null 2>&1 && return 0
    command -v apt-get >/dev/null 2>&1 || die "$tool is missing and apt-get is not available: install $package"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    say "installing $package (for $tool)"
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$package" >/dev/null ||
        die "apt-get install $package failed"
}

# The same for packages that bring no command: unixODBC and the ODBC drivers (psqlODBC, FreeTDS) the ODBC
# production writer's tests run through (tests/odbc/, docs/SQLSERVER.md).
ensure_debian_package() {
    local package=$1
    dpkg -s "$package" >/dev/null 2>&1 && return 0
    command -v apt-get >/dev/null 2>&1 || die "$package is missing and apt-get is not available: install it"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    say "installing $package"
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$package" >/dev/null ||
        die "apt-get install $package failed"
}

case "$mode" in
    demo)
        setup_venv
        ensure_postgres
        ensure_redis
        exec .venv/bin/claims-tasks demo "$@"
        ;;
    test)
        setup_venv
        ensure_postgres
        ensure_redis
        ensure_chromium
        ensure_debian_tool promtool prometheus
        ensure_debian_tool pg_dump postgresql-client
        ensure_debian_package unixodbc
        ensure_debian_package odbc-postgresql
        ensure_debian_package tdsodbc
        # Two test processes (the machine's two cores; most tests wait on real workers, not the CPU), each
        # with its own databases and Redis database; the fault suite runs whole on one of them.
        exec .venv/bin/python -m pytest -n "${CLAIMS_TEST_PROCESSES:-2}" --dist loadgroup "$@"
        ;;
    *)
        die "usage: bash deploy/local.sh demo|test [args]"
        ;;
esac
