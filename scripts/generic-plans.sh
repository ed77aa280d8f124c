#!/usr/bin/env bash
# Every statement's plan with its parameters unknown (decision 0054): the whole suite against a
# throwaway cluster that plans every parameterized statement generically
# (plan_cache_mode = force_generic_plan) and logs every plan, nested statements included
# (auto_explain, JSON). Then scripts/generic_plans.py lists the scan nodes whose filter holds a
# parameter, grouped by table, for reading by hand.
#
#   scripts/generic-plans.sh > plans.txt      (a debug build first: swift build --build-tests)
#
# Writes ~1.6 GB of log under $DIR while the suite runs, and removes it after. Test failures are
# expected there: a test that counts what a custom plan reads (the resubmission's) fails by design.
set -euo pipefail
cd "$(dirname "$0")/.."
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
DIR=${DIR:-$(mktemp -d /tmp/parley-plans-XXXXXX)}
PORT=${PORT:-55441}
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$DIR"
as_pg "$PGBIN/initdb" -D "$DIR/data" --locale=C.UTF-8 -E UTF8 -A trust -U postgres > /dev/null
as_pg mkdir -p "$DIR/log"
cat >> "$DIR/data/postgresql.conf" <<CONF
listen_addresses = ''
port = $PORT
unix_socket_directories = '$DIR'
max_connections = 600
fsync = off
shared_preload_libraries = 'auto_explain'
auto_explain.log_min_duration = 0
auto_explain.log_nested_statements = on
auto_explain.log_format = json
plan_cache_mode = force_generic_plan
logging_collector = on
log_destination = 'jsonlog'
log_directory = '$DIR/log'
CONF
as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w start > /dev/null
trap 'as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -m immediate stop > /dev/null; rm -rf "$DIR"' EXIT
as_pg "$PGBIN/psql" -h "$DIR" -p "$PORT" -U postgres -qc "CREATE DATABASE parley_plans"
PARLEY_TEST_DATABASE_URL="host=$DIR port=$PORT user=postgres dbname=parley_plans" swift test --skip-build > "$DIR/tests.log" 2>&1 ||
    { echo "# the suite reported failures (the resubmission's is expected: see the header):"; grep "recorded an issue" "$DIR/tests.log"; } >&2
python3 scripts/generic_plans.py "$DIR/log/*.json"
