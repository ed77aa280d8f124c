#!/usr/bin/env bash
# Issue 15, point 4: what a wave of vacuums costs a backend that has served many brokerages.
# Every VACUUM or ANALYZE of a table updates pg_class and so sends every backend an
# invalidation of the table (and of its indexes); a backend that reads one walks every plan it
# has cached, of every brokerage it served, looking for the relation (decision 0025's
# addendum). Every backend pays that for every table vacuumed. This counts it in instructions
# (a timing drifts 2–3× on this machine), on the comparison kit's cluster:
#
#   1. a database with N brokerages (`parley tenant create`), one agent–client session each;
#   2. one backend sends once in each brokerage, twice over (send_message(), then
#      sequence_events(), as the server's send and numbering do): it now holds their plans;
#   3. it runs VACUUM (ANALYZE) of six tables in each of WAVE brokerages (the wave
#      `parley-bench --vacuum-wave` runs) and sends once more in each of those.
#
# The backend is a single-user `postgres --single` under callgrind (the cluster is stopped
# meanwhile), which reads its own invalidations as any backend reads those of others; the
# instructions counted are those of `LocalExecuteInvalidationMessage` (what reading an
# invalidation costs) and, in a second run, of the whole session with and without the wave's
# last sends (the plans made again).
#
#   swift build -c release --product parley
#   Benchmarks/invalidation-cost.sh               # N=100 WAVE=50
#   KEEP=1 Benchmarks/invalidation-cost.sh        # keeps the database for another run
#   KEEP=1 FUNCTIONS=f.sql Benchmarks/invalidation-cost.sh   # f.sql run in every brokerage first
#
# FUNCTIONS compares versions of the function files in one database (a copy made for the run).
# Compare figures of one database only: how many invalidations a wave sends depends on its
# history (a table analyzed for the first time changes more of the catalog than one analyzed
# before).
source "$(dirname "$0")/common.sh"
N=${N:-100}
WAVE=${WAVE:-50}
DB=${DB:-parley_invalidation}
command -v valgrind > /dev/null || { echo "needs valgrind (apt-get install valgrind)"; exit 1; }

if [ -z "$(sql -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" ] || [ -z "${KEEP:-}" ]; then
    echo "== $DB: $N brokerages (parley tenant create, 2 at a time)"
    fresh_brokerages "$DB" i "$N"
    sql -d "$DB" <<SQL
CREATE TABLE public.brokerages (t int PRIMARY KEY, role text NOT NULL, path text NOT NULL, schema text NOT NULL, session uuid NOT NULL);
INSERT INTO public.brokerages
SELECT t, 'parley_t_i' || lpad(t::text, 4, '0'), 't_i' || lpad(t::text, 4, '0') || ', public', 't_i' || lpad(t::text, 4, '0'), gen_random_uuid()
FROM generate_series(1, $N) AS t;
GRANT SELECT ON public.brokerages TO PUBLIC;
DO \$\$
DECLARE r record;
BEGIN
  FOR r IN SELECT * FROM public.brokerages LOOP
    EXECUTE format('SET LOCAL ROLE %I', r.role);
    PERFORM set_config('search_path', r.path, true);
    INSERT INTO users (id, role, display_name) VALUES ('agent', 'agent', 'The Agent'), ('client', 'client', 'The Client');
    INSERT INTO sessions (id, kind, created_by) VALUES (r.session, 'client', 'agent');
    INSERT INTO session_members (session_id, user_id, role) VALUES (r.session, 'agent', 'agent'), (r.session, 'client', 'client');
    RESET ROLE;
  END LOOP;
END
\$\$;
SQL
fi

# The version measured: a copy of the kept database, with FUNCTIONS run in every brokerage.
# Each run below starts from a copy of this one, so that all four start in the same state.
BASE_DB=${DB}_base RUN_DB=${DB}_run
sql -d postgres -c "DROP DATABASE IF EXISTS $BASE_DB" -c "CREATE DATABASE $BASE_DB TEMPLATE $DB"
if [ -n "${FUNCTIONS:-}" ]; then
    for t in $(seq -f "%04g" 1 "$N"); do
        { echo "SET ROLE parley_t_i$t; SET search_path = t_i$t, public;"; cat "$FUNCTIONS"; } | sql -d "$BASE_DB" > /dev/null 2>&1
    done
fi
# The runs below stop the cluster: whatever ends the script, it is started again first.
trap 'kit_start
      sql -d postgres -c "DROP DATABASE IF EXISTS $RUN_DB" -c "DROP DATABASE IF EXISTS $BASE_DB"; rm -rf "$WORK"' EXIT

sends() {  # first, last brokerage → a send transaction in each (send_message(), then sequence_events()), a statement per line
    sql -d "$DB" -c "
    SELECT concat_ws(E'\n', 'BEGIN',
        format('SELECT set_config(''role'', %L, true), set_config(''search_path'', %L, true)', role, path),
        format('SELECT 1 FROM send_message(%L::uuid, ''agent'', ''inv-'' || txid_current(), ''hello there'', ''hello there'', ''hello there'', NULL::jsonb, NULL::uuid[])', session),
        'SELECT sequence_events()', 'COMMIT')
    FROM public.brokerages WHERE t BETWEEN $1 AND $2 ORDER BY t"
}
# One session in four versions: the warm-up (two sends in every brokerage, then the plans it
# holds are counted), with the wave or not, with a send in each vacuumed brokerage after it or not.
tables="messages sessions session_members session_terms event_outbox badge_deltas"
{ sends 1 "$N"; sends 1 "$N"; echo "SELECT count(*) AS plans FROM pg_backend_memory_contexts WHERE name = 'CachedPlanSource'"; } > "$WORK/warm.sql"
sql -d "$DB" -c "SELECT format('VACUUM (ANALYZE) %s', (SELECT string_agg(format('%I.%I', schema, t), ', ') FROM unnest(string_to_array('$tables', ' ')) AS t))
                 FROM public.brokerages WHERE t <= $WAVE ORDER BY t" > "$WORK/the-wave.sql"
sends 1 "$WAVE" > "$WORK/after.sql"
cat "$WORK/warm.sql" "$WORK/after.sql" > "$WORK/warm-sends.sql"
cat "$WORK/warm.sql" "$WORK/the-wave.sql" > "$WORK/wave.sql"
cat "$WORK/warm.sql" "$WORK/the-wave.sql" "$WORK/after.sql" > "$WORK/wave-sends.sql"
chmod 644 "$WORK"/*.sql

single() {  # input file → "instructions of the run, of them reading invalidations, plans held"
    local out log profile
    out=$(mktemp -p "$WORK"); log=$(mktemp -p "$WORK"); profile=$(mktemp -p "$WORK"); chmod 666 "$profile"
    sql -d postgres -c "DROP DATABASE IF EXISTS $RUN_DB" -c "CREATE DATABASE $RUN_DB TEMPLATE $BASE_DB"
    kit_stop
    as_pg valgrind --tool=callgrind --callgrind-out-file="$profile" "$PGBIN/postgres" --single -D "$PGDATA" \
        -c shared_buffers=256MB -c autovacuum=off "$RUN_DB" < "$1" > "$out" 2> "$log" || true
    kit_start
    if grep -q "ERROR" "$out" "$log"; then grep -m3 "ERROR" "$out" "$log" >&2; return 1; fi
    echo "$(sed -nE 's/.*Collected : ([0-9]+).*/\1/p' "$log")" \
         "$(callgrind_annotate --inclusive=yes "$profile" 2> /dev/null | awk '/[: ]LocalExecuteInvalidationMessage / {gsub(",", "", $1); found = $1} END {print found + 0}')" \
         "$(sed -nE 's/.*plans = "([0-9]+)".*/\1/p' "$out" | head -1)"
}
read -r warm warm_reading plans < <(single "$WORK/warm.sql")
read -r calm _ _ < <(single "$WORK/warm-sends.sql")
read -r waved reading _ < <(single "$WORK/wave.sql")
read -r waved_sends _ _ < <(single "$WORK/wave-sends.sql")
echo "one backend, after sending twice in each of $N brokerages: $plans cached plans ($((plans / N)) per brokerage)"
echo "VACUUM (ANALYZE) of 6 tables in each of $WAVE of them, then a send in each; instructions per brokerage vacuumed:"
awk -v r="$reading" -v r0="${warm_reading:-0}" -v a="$warm" -v b="$calm" -v c="$waved" -v d="$waved_sends" -v n="$WAVE" -v p="$plans" 'BEGIN {
    printf "  reading its invalidations (every backend pays this): %.2f M, %.0f per plan the backend holds\n", (r - r0) / n / 1e6, (r - r0) / n / p
    printf "  its next send there: %.2f M, against %.2f M without the wave (plans made again, relations opened again)\n", (d - c) / n / 1e6, (b - a) / n / 1e6 }'
sql -d postgres -c "DROP DATABASE $RUN_DB" -c "DROP DATABASE $BASE_DB"
[ -n "${KEEP:-}" ] || { sql -d postgres -c "DROP DATABASE $DB"
    for role in $(sql -d postgres -c "SELECT rolname FROM pg_roles WHERE rolname LIKE 'parley\\_t\\_i%'"); do sql -d postgres -c "DROP ROLE \"$role\""; done; }
