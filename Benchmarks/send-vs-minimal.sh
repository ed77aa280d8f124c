#!/usr/bin/env bash
# Issue 15, point 1: Parley's send transaction against the minimal send of the comparison kit
# (../shared/bench/limits, scenario `send`), pgbench on the same cluster in one run, and where
# Parley's time goes (pg_stat_user_functions; one send's nested plans through auto_explain).
#
#   swift build -c release --product parley
#   export LIMITS=/tmp/limits BENCH_NICE=0; ../shared/bench/limits/setup.sh
#   Benchmarks/send-vs-minimal.sh            # CLIENTS=16 DURATION=15 ROUNDS=2
#
# Both sides: 10,000 one-to-one sessions among 400 users, a random message body of the kit's
# (the same 100,000 bodies), one transaction per send, fsync on. Parley's side is the exact
# transaction the server runs: BEGIN, the tenant scope, send_message(), COMMIT.
source "$(dirname "$0")/common.sh"
KIT=$(cd "$(dirname "$0")/../../shared/bench/limits" 2>/dev/null && pwd || echo /work/shared/bench/limits)

echo "== a Parley database on the kit's cluster"
sql -d postgres -c "DROP DATABASE IF EXISTS parley_send" -c "DROP ROLE IF EXISTS parley_t_sendbench" -c "CREATE DATABASE parley_send"
export DATABASE_URL="host=$HOST port=$PORT user=postgres dbname=parley_send"
LOG_LEVEL=warning "$PARLEY" migrate > /dev/null
LOG_LEVEL=warning "$PARLEY" tenant create sendbench --name "Send bench" > /dev/null
sql -d parley_send -c "CREATE TABLE public.bodies (id int PRIMARY KEY, body text NOT NULL)"
sql -d chat -c "\\copy (SELECT id, body FROM bench.bodies) TO STDOUT" | sql -d parley_send -c "\\copy public.bodies FROM STDIN"
sql -d parley_send <<'SQL'
SET ROLE parley_t_sendbench;
SET search_path = t_sendbench, public;
INSERT INTO users (id, role, display_name)
SELECT 'u' || n, CASE WHEN n < 200 THEN 'agent' ELSE 'client' END, 'User ' || n FROM generate_series(0, 399) AS n;
RESET ROLE;
CREATE TABLE public.bench_sessions (n int PRIMARY KEY, id uuid NOT NULL, a text NOT NULL, b text NOT NULL);
INSERT INTO public.bench_sessions
SELECT n, gen_random_uuid(), 'u' || (n % 400), 'u' || ((n % 400 + 1 + n / 400) % 400) FROM generate_series(0, 9999) AS n;
GRANT SELECT ON public.bench_sessions, public.bodies TO parley_t_sendbench;
SET ROLE parley_t_sendbench;
INSERT INTO sessions (id, kind, created_by) SELECT id, 'client', a FROM public.bench_sessions;
INSERT INTO session_members (session_id, user_id, role)
SELECT id, a, 'agent' FROM public.bench_sessions UNION ALL SELECT id, b, 'client' FROM public.bench_sessions;
RESET ROLE;
ANALYZE;
SQL

cat > "$WORK/parley_send.sql" <<'EOF2'
\set n random(0, 9999)
\set who random(0, 1)
\set bid random(1, 100000)
\set c random(1, 2000000000)
BEGIN;
SELECT set_config('role', 'parley_t_sendbench', true), set_config('search_path', 't_sendbench, public', true);
SELECT s.outcome FROM public.bench_sessions b, public.bodies t,
  LATERAL send_message(b.id, CASE WHEN :who = 0 THEN b.a ELSE b.b END, :client_id || '-' || :c, t.body, t.body, left(t.body, 140), NULL, NULL) AS s
WHERE b.n = :n AND t.id = :bid;
COMMIT;
EOF2
cp "$KIT/pgbench/send.sql" "$WORK/minimal_send.sql"
chmod 644 "$WORK"/*.sql

wal() { sql -d postgres -F ' ' -c "SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal"; }
bench() {  # database script → "tps (WAL per transaction: records, full-page images, bytes)"
    local before after out
    sql -d postgres -c "CHECKPOINT" > /dev/null
    before=$(wal)
    out=$(as_pg "$PGBIN/pgbench" -h "$HOST" -p "$PORT" -U postgres -n -c "$CLIENTS" -j 2 -T "$DURATION" -f "$2" "$1" 2>/dev/null)
    after=$(wal)
    awk -v b="$before" -v a="$after" '
        /^number of transactions actually processed/ {n = $NF; sub(/\/.*/, "", n)}
        /^tps/ {tps = int($3)}
        END {split(b, x, " "); split(a, y, " ");
             printf "%d (WAL/tx: %.1f records, %.2f FPI, %d bytes)", tps, (y[1]-x[1])/n, (y[2]-x[2])/n, (y[3]-x[3])/n}' <<< "$out"
}
echo "== pgbench, $CLIENTS clients, ${DURATION} s each, alternating"
for round in $(seq "$ROUNDS"); do
    minimal=$(bench chat "$WORK/minimal_send.sql")
    sql -d parley_send -c "SELECT pg_stat_reset()" > /dev/null
    parley=$(bench parley_send "$WORK/parley_send.sql")
    echo "round $round: minimal send $minimal tps, Parley's send $parley tps, cost ratio $(awk "BEGIN {printf \"%.2f\", ${minimal%% *} / ${parley%% *}}")×"
done

echo "== where Parley's time goes (last round; track_functions = all)"
sql -d parley_send -c "ALTER DATABASE parley_send SET track_functions = 'all'" > /dev/null
sql -d parley_send -c "SELECT pg_stat_reset()" > /dev/null
bench parley_send "$WORK/parley_send.sql" > /dev/null
sql -d parley_send -F ' | ' -c "
  SELECT funcname, calls, round(total_time::numeric / calls, 3) AS total_ms_per_call, round(self_time::numeric / calls, 3) AS self_ms_per_call
  FROM pg_stat_user_functions ORDER BY total_time DESC LIMIT 12"
echo "== one send's statements (auto_explain, nested)"
sql -d parley_send <<'SQL' 2>&1 | grep -E "duration|Query Text|^\s+->|cost=|actual time" | head -80
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_analyze = on;
SET auto_explain.log_buffers = on;
SET auto_explain.log_level = notice;
SET client_min_messages = notice;
BEGIN;
SELECT set_config('role', 'parley_t_sendbench', true), set_config('search_path', 't_sendbench, public', true);
SELECT s.outcome FROM public.bench_sessions b, public.bodies t,
  LATERAL send_message(b.id, b.a, 'explain-1', t.body, t.body, left(t.body, 140), NULL, NULL) AS s
WHERE b.n = 42 AND t.id = 4242;
COMMIT;
SQL
