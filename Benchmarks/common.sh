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

# Counted instead of timed (send-instructions.sh, send-by-sessions.sh): the CPU instructions of
# sends run in a single-user backend (`postgres --single`, the cluster stopped) under valgrind's
# callgrind, twice — WARM sends and WARM + SENDS — so start-up, the catalog caches and the first
# plans cancel out: (Ir of the long run − Ir of the short one) / SENDS. An input file holds its
# PREPAREs, then one transaction that prepares in the brokerage's scope, then the sends, each
# TX_PER_SEND transactions (BEGIN … COMMIT on lines of their own).
SENDS=${SENDS:-200}
WARM=${WARM:-20}
TX_PER_SEND=${TX_PER_SEND:-1}
PGDATA=$LIMITS/pgdata
# The kit's cluster stops for the single-user runs and starts again after them (kit_start
# does nothing if it runs already, so an EXIT trap may call it whatever stopped the script).
kit_stop() { as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop > /dev/null; }
kit_start() { as_pg "$PGBIN/pg_ctl" -D "$PGDATA" status > /dev/null || as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$LIMITS/postgres.log" -w start > /dev/null; }
instructions() {  # database, input file, sends to run from it → instructions of that single-user run
    local out profile=/dev/null
    out=$(mktemp -p "$WORK")
    # PROFILE=dir keeps each run's callgrind profile there (callgrind_annotate --inclusive=yes).
    if [ -n "${PROFILE:-}" ]; then mkdir -p "$PROFILE"; chmod 777 "$PROFILE"; profile=$PROFILE/$1-$3.callgrind; fi
    # Every PREPARE, then the first $3 sends (an input that opens with the transaction its
    # statements are prepared in counts it in the long and the short run alike: it cancels out).
    # Each run commits its sends, so the next must not repeat their client ids: an input writes
    # @RUN@ in each, and every run puts a tag of its own there. A literal, as the server binds a
    # value: an expression (`'…' || txid_current()`) cost every EXECUTE the planning and the
    # inlining of `||`'s SQL function, ~50,000 instructions a send that no server pays.
    awk -v n="$(($3 * TX_PER_SEND))" '/^BEGIN$/ {t++} t <= n + 1 || !/^(BEGIN|EXECUTE|COMMIT)/' "$2" |
        sed "s/@RUN@/$3-$(date +%s%N)/g" |
        as_pg valgrind --tool=callgrind --callgrind-out-file="$profile" "$PGBIN/postgres" --single -D "$PGDATA" \
        -c shared_buffers=256MB -c autovacuum=off "$1" > /dev/null 2> "$out"
    if grep -q "ERROR" "$out"; then grep -m3 "ERROR" "$out" >&2; return 1; fi
    sed -nE 's/.*Collected : ([0-9]+).*/\1/p' "$out"
}
per_send() {  # database, input file → instructions per send
    local short long
    short=$(instructions "$1" "$2" "$WARM") || exit 1
    long=$(instructions "$1" "$2" $((WARM + SENDS))) || exit 1
    echo $(( (long - short) / SENDS ))
}

# The comparison brokerage of send-vs-minimal.sh (`sendbench`) in a database of the kit's cluster
# (parley_send or a copy of it):
sendbench_sql() {  # database, file.sql → runs the file as the superuser, the brokerage's schema first
    { echo "SET search_path = t_sendbench, public;"; cat "$2"; } | sql -d "$1" > /dev/null
}
sendbench_number_all() {  # database → numbers the events in its outbox (single-user counts leave
                          # theirs there: nothing numbers them in a single-user run)
    for _ in $(seq 1 100); do
        [ "$(sql -d "$1" -c "SELECT count(*) > 0 FROM t_sendbench.event_outbox")" = t ] || return 0
        sql -d "$1" -c "SET ROLE parley_t_sendbench" -c "SET search_path = t_sendbench, public" \
            -c "SELECT sequence_events(100000)" > /dev/null
    done
}

# The pgbench script of send-by-sessions.sh's brokerage s<n> (one agent, n sessions, one client
# in each): a client sends to the agent in a random session, then the dispatcher's numbering
# runs (sequence_events(), which folds the agent's badge differences).
send_and_number_script() {  # n
    cat <<EOF
\\set i random(1, $1)
\\set c random(1, 2000000000)
BEGIN;
SELECT set_config('role', 'parley_t_s$1', true), set_config('search_path', 't_s$1, public', true);
SELECT s.outcome FROM bench_sessions b, LATERAL send_message(b.id, 'c' || :i, :client_id || '-' || :c,
  'is the loft on harbor way still available', 'is the loft on harbor way still available', 'is the loft', NULL, NULL) AS s
WHERE b.i = :i;
COMMIT;
BEGIN;
SELECT set_config('role', 'parley_t_s$1', true), set_config('search_path', 't_s$1, public', true);
SELECT sequence_events();
COMMIT;
EOF
}
