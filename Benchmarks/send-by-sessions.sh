#!/usr/bin/env bash
# Issue 15, point 2: a send's cost against the recipient's number of sessions. Two brokerages
# on the comparison kit's cluster, each with one agent: 200 sessions in one, 8,000 in the
# other; clients send to the agent in random sessions. Each pgbench transaction is what one
# send costs the database: the send transaction, then the numbering the dispatcher runs
# after it (sequence_events(), which fills in the agent's badge counts). Then the same sends
# counted in CPU instructions, in each brokerage (needs valgrind; the cluster stops meanwhile).
#
#   export LIMITS=/tmp/limits BENCH_NICE=0; ../shared/bench/limits/setup.sh
#   Benchmarks/send-by-sessions.sh            # CLIENTS=16 DURATION=15 ROUNDS=2
source "$(dirname "$0")/common.sh"

sql -d postgres -c "DROP DATABASE IF EXISTS parley_fanin" -c "DROP ROLE IF EXISTS parley_t_s200" -c "DROP ROLE IF EXISTS parley_t_s8000" \
    -c "CREATE DATABASE parley_fanin"
export DATABASE_URL="host=$HOST port=$PORT user=postgres dbname=parley_fanin"
LOG_LEVEL=warning "$PARLEY" migrate > /dev/null
for n in 200 8000; do
    LOG_LEVEL=warning "$PARLEY" tenant create "s$n" --name "Sessions $n" > /dev/null
    sql -d parley_fanin <<SQL
SET ROLE parley_t_s$n;
SET search_path = t_s$n, public;
INSERT INTO users (id, role, display_name) VALUES ('agent', 'agent', 'The Agent');
INSERT INTO users (id, role, display_name) SELECT 'c' || i, 'client', 'Client ' || i FROM generate_series(1, $n) AS i;
CREATE TABLE bench_sessions (i int PRIMARY KEY, id uuid NOT NULL);
INSERT INTO bench_sessions SELECT i, gen_random_uuid() FROM generate_series(1, $n) AS i;
INSERT INTO sessions (id, kind, created_by, last_seq) SELECT id, 'client', 'agent', 3 FROM bench_sessions;
INSERT INTO session_members (session_id, user_id, role, last_read_seq)
SELECT id, 'agent', 'agent', 1 FROM bench_sessions UNION ALL SELECT id, 'c' || i, 'client', 3 FROM bench_sessions;
RESET ROLE;
ANALYZE;
SQL
    send_and_number_script "$n" > "$WORK/send$n.sql"
done
chmod 644 "$WORK"/*.sql
bench() { as_pg "$PGBIN/pgbench" -h "$HOST" -p "$PORT" -U postgres -n -c "$CLIENTS" -j 2 -T "$DURATION" -f "$1" parley_fanin 2>/dev/null | awk '/^tps/ {print int($3)}'; }
echo "== sends to one agent, $CLIENTS clients, ${DURATION} s each, alternating"
for round in $(seq "$ROUNDS"); do
    a=$(bench "$WORK/send200.sql")
    b=$(bench "$WORK/send8000.sql")
    echo "round $round: 200 sessions $a tps, 8,000 sessions $b tps, 8,000/200 = $(awk "BEGIN {printf \"%.2f\", $b / $a}")"
done
for n in 200 8000; do
    # The agent's badge as kept, as the last badge.updated announced it, and recounted.
    echo "badge check ($n): $(sql -d parley_fanin -F ' ' -c "SET search_path = t_s$n, public;
      SELECT 'kept', unread_messages('agent'),
             'announced', (SELECT (data->>'unreadMessages')::bigint FROM events WHERE type = 'badge.updated' AND recipients = ARRAY['agent'] ORDER BY pos DESC LIMIT 1),
             'recount', (SELECT sum(GREATEST(s.last_seq - m.last_read_seq, CASE WHEN m.marked_unread THEN 1 ELSE 0 END))
                         FROM session_members m JOIN sessions s ON s.id = m.session_id WHERE m.user_id = 'agent' AND s.status = 'active' AND m.archived_at IS NULL)")"
done

# The same sends counted instead of timed (see common.sh): one send to the agent and its
# numbering (two transactions), in a single-user backend, in each brokerage. Timed rounds scatter
# with the machine's drift (±15 % between runs minutes apart); an instruction count does not,
# and a count that grew with the agent's sessions would show here as a ratio above 1.
command -v valgrind > /dev/null || { echo "instructions per send: needs valgrind (apt-get install valgrind)"; exit 0; }
TX_PER_SEND=2
for n in 200 8000; do
    { echo "PREPARE scope AS SELECT set_config('role', 'parley_t_s$n', true), set_config('search_path', 't_s$n, public', true)"
      echo "BEGIN"; echo "EXECUTE scope"
      echo "PREPARE send(uuid, text, text, text, text, text, jsonb, uuid[]) AS SELECT outcome FROM send_message(\$1, \$2, \$3, \$4, \$5, \$6, \$7, \$8)"
      echo "PREPARE fold AS SELECT sequence_events()"
      echo "COMMIT"
      sql -d parley_fanin -c "
        SELECT concat_ws(E'\n', 'BEGIN', 'EXECUTE scope',
                 format('EXECUTE send(%L, %L, %L, %L, %L, %L, NULL, NULL)',
                        b.id, 'c' || b.i, 'instr-' || k || '-@RUN@', 'is the loft on harbor way still available',
                        'is the loft on harbor way still available', 'is the loft'),
                 'COMMIT', 'BEGIN', 'EXECUTE scope', 'EXECUTE fold', 'COMMIT')
        FROM generate_series(0, $((WARM + SENDS)) - 1) AS k
        JOIN t_s$n.bench_sessions b ON b.i = 1 + (k * 7919) % $n
        ORDER BY k"; } > "$WORK/count$n.sql"
done
chmod 644 "$WORK"/count*.sql
# Counted as after an autovacuum visit (send-instructions.sh says why).
sql -d parley_fanin -c "VACUUM"
kit_stop
trap 'kit_start; rm -rf "$WORK"' EXIT
few=$(per_send parley_fanin "$WORK/count200.sql") || exit 1
many=$(per_send parley_fanin "$WORK/count8000.sql") || exit 1
echo "instructions per send and its numbering (callgrind, $SENDS sends after $WARM): 200 sessions $few, 8,000 sessions $many, 8,000/200 = $(awk "BEGIN {printf \"%.3f\", $many / $few}")"
