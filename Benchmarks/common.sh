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
