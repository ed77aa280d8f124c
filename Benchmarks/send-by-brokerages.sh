#!/usr/bin/env bash
# Issue 15, point 4: what spreading sends over many brokerages costs PostgreSQL itself, without
# Parley's server. Two databases on the comparison kit's cluster:
#   parley_spread   N Parley brokerages (`parley tenant create`, the real provisioning), each
#                   with SESSIONS agent–client sessions; one pgbench transaction is what one
#                   send costs the database: the send transaction the server runs (BEGIN, the
#                   tenant scope, send_message(), COMMIT), then the numbering the dispatcher
#                   runs after it (sequence_events()).
#   minimal_spread  N copies of the kit's minimal chat schema (sessions, participants, messages
#                   with the tsvector and its GIN index), the kit's minimal send in a schema
#                   picked per transaction.
# Each side sends over its first 50 schemas and over all N, alternating; the ratio N/50 of the
# minimal send is what schema-per-tenant costs PostgreSQL for the least work, the ratio of
# Parley's send what it costs for Parley's functions and tables.
#
#   swift build -c release --product parley
#   export LIMITS=/tmp/limits BENCH_NICE=0; ../shared/bench/limits/setup.sh
#   Benchmarks/send-by-brokerages.sh          # N=1000 SESSIONS=4 CLIENTS=16 DURATION=60 ROUNDS=2
#
# Rounds are a minute: a new backend needs ~40 s to have seen 1,000 schemas (the minimal send
# over 1,000 schemas climbs from 640 to 1,490 tps over its first minute).
DURATION=${DURATION:-60}
source "$(dirname "$0")/common.sh"
N=${N:-1000}
SESSIONS=${SESSIONS:-4}
FEW=${FEW:-50}

echo "== minimal_spread: $N copies of the kit's minimal schema"
sql -d postgres -c "DROP DATABASE IF EXISTS minimal_spread" -c "CREATE DATABASE minimal_spread"
sql -d minimal_spread -c "CREATE TABLE public.bodies (id int PRIMARY KEY, body text NOT NULL)"
sql -d chat -c "\\copy (SELECT id, body FROM bench.bodies) TO STDOUT" | sql -d minimal_spread -c "\\copy public.bodies FROM STDIN"
start=$(date +%s.%N)
sql -d minimal_spread <<SQL
SELECT format(\$f\$
      CREATE SCHEMA m%1\$s;
      CREATE TABLE m%1\$s.sessions (id uuid PRIMARY KEY, status text NOT NULL DEFAULT 'active', created_by uuid NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
        last_message_at timestamptz, last_seq bigint NOT NULL DEFAULT 0);
      CREATE TABLE m%1\$s.participants (session_id uuid NOT NULL REFERENCES m%1\$s.sessions (id) ON DELETE CASCADE,
        user_id uuid NOT NULL, last_read_seq bigint NOT NULL DEFAULT 0, unread_count int NOT NULL DEFAULT 0,
        PRIMARY KEY (session_id, user_id));
      CREATE INDEX ON m%1\$s.participants (user_id);
      CREATE TABLE m%1\$s.messages (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        session_id uuid NOT NULL REFERENCES m%1\$s.sessions (id), sender_id uuid NOT NULL, seq bigint NOT NULL,
        body text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),
        search tsvector GENERATED ALWAYS AS (to_tsvector('english', body)) STORED);
      CREATE UNIQUE INDEX ON m%1\$s.messages (session_id, seq);
      CREATE INDEX ON m%1\$s.messages USING gin (search);
      INSERT INTO m%1\$s.sessions (id, created_by) SELECT md5('session-' || s)::uuid, md5('user-a')::uuid FROM generate_series(0, $SESSIONS - 1) AS s;
      INSERT INTO m%1\$s.participants (session_id, user_id)
        SELECT md5('session-' || s)::uuid, u FROM generate_series(0, $SESSIONS - 1) AS s, (VALUES (md5('user-a')::uuid), (md5('user-b')::uuid)) AS p(u);
    \$f\$, t) FROM generate_series(1, $N) AS t
\\gexec
ANALYZE;
SQL
echo "   $N schemas in $(awk "BEGIN {printf \"%.1f\", $(date +%s.%N) - $start}") s (a transaction each)"
cat > "$WORK/minimal.sql" <<'EOF2'
\set t random(1, :schemas)
\set s random(0, :sessions - 1)
\set who random(0, 1)
\set bid random(1, 100000)
BEGIN;
UPDATE m:t.sessions SET last_seq = last_seq + 1, last_message_at = now(), updated_at = now()
 WHERE id = md5('session-' || :s)::uuid RETURNING last_seq AS seq \gset
INSERT INTO m:t.messages (session_id, sender_id, seq, body)
SELECT md5('session-' || :s)::uuid, md5(CASE WHEN :who = 0 THEN 'user-a' ELSE 'user-b' END)::uuid, :seq, b.body FROM public.bodies b WHERE b.id = :bid
RETURNING id, created_at;
UPDATE m:t.participants SET unread_count = unread_count + 1
 WHERE session_id = md5('session-' || :s)::uuid AND user_id = md5(CASE WHEN :who = 0 THEN 'user-b' ELSE 'user-a' END)::uuid;
COMMIT;
EOF2

echo "== parley_spread: $N Parley brokerages (parley tenant create, 2 at a time)"
fresh_brokerages parley_spread b "$N"
sql -d parley_spread -c "CREATE TABLE public.bodies (id int PRIMARY KEY, body text NOT NULL)"
sql -d chat -c "\\copy (SELECT id, body FROM bench.bodies) TO STDOUT" | sql -d parley_spread -c "\\copy public.bodies FROM STDIN"
sql -d parley_spread <<SQL
CREATE TABLE public.spread (t int, s int, role text NOT NULL, path text NOT NULL, id uuid NOT NULL, PRIMARY KEY (t, s));
INSERT INTO public.spread
SELECT t, s, 'parley_t_b' || lpad(t::text, 4, '0'), 't_b' || lpad(t::text, 4, '0') || ', public', gen_random_uuid()
FROM generate_series(1, $N) AS t, generate_series(0, $SESSIONS - 1) AS s;
GRANT SELECT ON public.spread, public.bodies TO PUBLIC;
DO \$\$
DECLARE r record;
BEGIN
  FOR r IN SELECT t, min(path) AS path, min(role) AS role FROM public.spread GROUP BY t LOOP
    EXECUTE format('SET LOCAL ROLE %I', r.role);
    PERFORM set_config('search_path', r.path, true);
    INSERT INTO users (id, role, display_name) VALUES ('agent', 'agent', 'The Agent'), ('client', 'client', 'The Client');
    INSERT INTO sessions (id, kind, created_by) SELECT id, 'client', 'agent' FROM public.spread WHERE t = r.t;
    INSERT INTO session_members (session_id, user_id, role)
      SELECT id, 'agent', 'agent' FROM public.spread WHERE t = r.t UNION ALL SELECT id, 'client', 'client' FROM public.spread WHERE t = r.t;
    RESET ROLE;
  END LOOP;
END
\$\$;
ANALYZE public.spread;
SQL
cat > "$WORK/parley.sql" <<'EOF2'
\set t random(1, :schemas)
\set s random(0, :sessions - 1)
\set who random(0, 1)
\set bid random(1, 100000)
\set c random(1, 2000000000)
BEGIN;
SELECT set_config('role', b.role, true), set_config('search_path', b.path, true) FROM public.spread b WHERE b.t = :t AND b.s = :s;
SELECT r.outcome FROM public.spread b, public.bodies m,
  LATERAL send_message(b.id, CASE WHEN :who = 0 THEN 'agent' ELSE 'client' END, :client_id || '-' || :c, m.body, m.body, left(m.body, 140), NULL, NULL) AS r
WHERE b.t = :t AND b.s = :s AND m.id = :bid;
COMMIT;
BEGIN;
SELECT set_config('role', b.role, true), set_config('search_path', b.path, true) FROM public.spread b WHERE b.t = :t AND b.s = 0;
SELECT sequence_events();
COMMIT;
EOF2
chmod 644 "$WORK"/*.sql

bench() {  # database script schemas → "tps (slowest 5 s: tps)"
    as_pg "$PGBIN/pgbench" -h "$HOST" -p "$PORT" -U postgres -n -c "$CLIENTS" -j 2 -T "$DURATION" -P 5 \
        -D schemas="$3" -D sessions="$SESSIONS" -f "$2" "$1" 2>&1 | awk '
        /^progress:/ {v = $4 + 0; if (min == "" || v < min) min = v}
        /^tps/ {tps = int($3)}
        END {printf "%d (slowest 5 s: %d)", tps, min}'
}
echo "== $CLIENTS clients, ${DURATION} s each, alternating; a new pgbench (new backends) per run"
for round in $(seq "$ROUNDS"); do
    a=$(bench minimal_spread "$WORK/minimal.sql" "$FEW")
    b=$(bench minimal_spread "$WORK/minimal.sql" "$N")
    echo "round $round: minimal send over $FEW schemas $a tps, over $N $b tps: $(awk "BEGIN {printf \"%.2f\", ${b%% *} / ${a%% *}}")"
    c=$(bench parley_spread "$WORK/parley.sql" "$FEW")
    d=$(bench parley_spread "$WORK/parley.sql" "$N")
    echo "round $round: Parley's send over $FEW brokerages $c tps, over $N $d tps: $(awk "BEGIN {printf \"%.2f\", ${d%% *} / ${c%% *}}")"
done
echo "== autovacuum and autoanalyze runs on the brokerages' tables during the rounds"
sql -d parley_spread -F ' ' -c "SELECT sum(autovacuum_count), sum(autoanalyze_count) FROM pg_stat_user_tables WHERE schemaname LIKE 't\\_b%'" |
    awk '{print "   " $1 " autovacuum, " $2 " autoanalyze"}'
echo "== one backend sending once in each of the $N brokerages, twice over (cold, then warm), then its memory"
sql -d parley_spread <<'SQL'
\o /dev/null
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT format($f$BEGIN; SELECT set_config('role', %L, true), set_config('search_path', %L, true);
  SELECT send_message(%L, 'agent', 'memory-1-' || %s, 'hello there', 'hello there', 'hello there', NULL, NULL); SELECT sequence_events(); COMMIT$f$,
  role, path, id, t) FROM public.spread WHERE s = 0 ORDER BY t
\gexec
SELECT extract(epoch FROM clock_timestamp()) AS t1 \gset
SELECT format($f$BEGIN; SELECT set_config('role', %L, true), set_config('search_path', %L, true);
  SELECT send_message(%L, 'agent', 'memory-2-' || %s, 'hello there', 'hello there', 'hello there', NULL, NULL); SELECT sequence_events(); COMMIT$f$,
  role, path, id, t) FROM public.spread WHERE s = 0 ORDER BY t
\gexec
SELECT extract(epoch FROM clock_timestamp()) AS t2 \gset
\o
SELECT '   per brokerage: first send ' || round((:t1 - :t0) * 1000 / count(*), 2) || ' ms, second ' || round((:t2 - :t1) * 1000 / count(*), 2) || ' ms'
FROM public.spread WHERE s = 0;
SELECT '   the backend''s memory: ' || round(sum(total_bytes) / 1048576.0) || ' MiB, of which cached plans ' ||
       round(sum(total_bytes) FILTER (WHERE name IN ('CachedPlan', 'CachedPlanSource', 'CachedPlanQuery', 'SPI Plan')) / 1048576.0) || ' MiB in ' ||
       count(*) FILTER (WHERE name = 'CachedPlanSource') || ' plans, PL/pgSQL functions ' ||
       round(sum(total_bytes) FILTER (WHERE name = 'PL/pgSQL function') / 1048576.0) || ' MiB in ' ||
       count(*) FILTER (WHERE name = 'PL/pgSQL function') || ', relation and catalog caches ' ||
       round(sum(total_bytes) FILTER (WHERE name IN ('CacheMemoryContext', 'index info', 'relation rules')) / 1048576.0) || ' MiB'
FROM pg_backend_memory_contexts;
SQL
