#!/usr/bin/env bash
# Issue 15, point 1, second half: sends through the API against the comparison kit's minimal
# send, on the kit's cluster (durable settings), in one run — target: the API send reaches at
# least 60 % of the minimal send's tps.
#
#   swift build -c release --product parley && swift build -c release --product parley-bench
#   export LIMITS=/tmp/limits BENCH_NICE=0; ../shared/bench/limits/setup.sh
#   Benchmarks/api-send-vs-minimal.sh          # CLIENTS=16 DURATION=15 ROUNDS=2
#
# parley-bench --api-send starts `parley serve` (release) in its own process on a scratch
# database of this cluster and sends with 16 keep-alive HTTP connections; between its runs it
# runs the kit's pgbench `send` scenario (CLIENTS clients), the two sides taking turns at going
# first. Both on the same two cores: the API side's figure includes the server's own CPU, as a
# deployment's would. The scratch databases and the brokerage's role are dropped at the end.
source "$(dirname "$0")/common.sh"
KIT=$(cd "$(dirname "$0")/../../shared/bench/limits" 2>/dev/null && pwd || echo /work/shared/bench/limits)
BENCH=${PARLEY_BENCH:-$(dirname "$PARLEY")/parley-bench}

cp "$KIT/pgbench/send.sql" "$WORK/minimal_send.sql"
chmod 644 "$WORK/minimal_send.sql"
pgbench_as_pg=("$PGBIN/pgbench")
if [ "$(id -u)" = 0 ]; then pgbench_as_pg=(runuser -u postgres -- "$PGBIN/pgbench"); fi
minimal="${pgbench_as_pg[*]} -h $HOST -p $PORT -U postgres -n -M prepared -c $CLIENTS -j 2 -T $DURATION -f $WORK/minimal_send.sql chat"

cleanup() {
    for db in $(sql -d postgres -c "SELECT datname FROM pg_database WHERE datname LIKE 'parley\_scratch\_%' OR datname = 'parley_api'"); do
        sql -d postgres -c "DROP DATABASE $db WITH (FORCE)"
    done
    for role in $(sql -d postgres -c "SELECT rolname FROM pg_roles WHERE rolname LIKE 'parley\_t\_api%'"); do
        sql -d postgres -c "DROP ROLE $role"
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
sql -d postgres -c "DROP DATABASE IF EXISTS parley_api" -c "CREATE DATABASE parley_api"
PARLEY_TEST_DATABASE_URL="host=$HOST port=$PORT user=postgres dbname=parley_api" PARLEY_SERVER_EXECUTABLE=$PARLEY \
    "$BENCH" --api-send "$ROUNDS" --round-seconds "$DURATION" --minimal "$minimal" 2>&1 | grep -v "unexpected status"
