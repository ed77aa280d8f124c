# Shared by the Benchmarks/*.sh scripts (sourced): the comparison kit's cluster
# (../shared/bench/limits, set up with its setup.sh), pgbench settings, the parley binary,
# a scratch folder, and psql/pgbench as the postgres OS user when run as root.
set -euo pipefail
LIMITS=${LIMITS:-/tmp/limits}
PORT=${PGPORT:-55433}
HOST=$LIMITS/sock
CLIENTS=${CLIENTS:-16}
DURATION=${DURATION:-15}
ROUNDS=${ROUNDS:-2}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PARLEY=${PARLEY:-$(pwd)/.build/release/parley}
WORK=$(mktemp -d)
chmod 755 "$WORK"
trap 'rm -rf "$WORK"' EXIT
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
sql() { as_pg "$PGBIN/psql" -h "$HOST" -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
# A database made afresh with `count` brokerages named <prefix>0001…, made by `parley tenant
# create` (two at a time, a process each) after `parley migrate`; the roles of brokerages with
# that prefix left by an earlier run are dropped first (roles are cluster-wide). Prints the time
# the brokerages took.
fresh_brokerages() {  # database, prefix, count
    local role start
    sql -d postgres -c "DROP DATABASE IF EXISTS $1"
    for role in $(sql -d postgres -c "SELECT rolname FROM pg_roles WHERE rolname LIKE 'parley\\_t\\_$2%'"); do
        sql -d postgres -c "DROP ROLE \"$role\""
    done
    sql -d postgres -c "CREATE DATABASE $1"
    DATABASE_URL="host=$HOST port=$PORT user=postgres dbname=$1" LOG_LEVEL=warning "$PARLEY" migrate > /dev/null
    start=$(date +%s.%N)
    seq -f "$2%04g" 1 "$3" | DATABASE_URL="host=$HOST port=$PORT user=postgres dbname=$1" \
        xargs -P 2 -I{} env LOG_LEVEL=warning "$PARLEY" tenant create {} --name "Brokerage {}" > /dev/null
    echo "   $3 brokerages in $(awk "BEGIN {printf \"%.1f\", $(date +%s.%N) - $start}") s (a process per brokerage)"
}
