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
#   PARLEY_BEFORE=/tmp/parley-before Benchmarks/send-vs-minimal.sh   # and the commit before, each round
#   MINIMAL=send_notify Benchmarks/send-vs-minimal.sh                  # against the kit's send + pg_notify
source "$(dirname "$0")/common.sh"
KIT=$(cd "$(dirname "$0")/../../shared/bench/limits" 2>/dev/null && pwd || echo /work/shared/bench/limits)

# PARLEY_BEFORE=path/to/parley (a release build of the commit before a change): a second
# database provisioned by that binary, run in every round beside the current one, so the change
# is measured against its own commit in the same hour as well as against the minimal send.
BEFORE=${PARLEY_BEFORE:-}
# pgbench's protocol: prepared (the default) is how Parley's server runs its statements and how
# the kit measures the minimal send; PROTOCOL=simple parses and plans every statement each time.
PROTOCOL=${PROTOCOL:-prepared}

provision() {  # database, brokerage, parley binary: 400 users, 10,000 one-to-one sessions
    local db=$1 slug=$2 bin=$3
    sql -d postgres -c "DROP DATABASE IF EXISTS $db" -c "DROP ROLE IF EXISTS parley_t_$slug" -c "CREATE DATABASE $db"
    DATABASE_URL="host=$HOST port=$PORT user=postgres dbname=$db" LOG_LEVEL=warning "$bin" migrate > /dev/null
    DATABASE_URL="host=$HOST port=$PORT user=postgres dbname=$db" LOG_LEVEL=warning "$bin" tenant create "$slug" --name "Send bench" > /dev/null
    sql -d $db -c "CREATE TABLE public.bodies (id int PRIMARY KEY, body text NOT NULL)"
    sql -d chat -c "\\copy (SELECT id, body FROM bench.bodies) TO STDOUT" | sql -d $db -c "\\copy public.bodies FROM STDIN"
    sed "s/sendbench/$slug/g" <<'SQL' | sql -d $db
SET ROLE parley_t_sendbench;
SET search_path = t_sendbench, public;
INSERT INTO users (id, role, display_name)
SELECT 'u' || n, CASE WHEN n < 200 THEN 'agent' ELSE 'client' END, 'User ' || n FROM generate_series(0, 399) AS n;
RESET ROLE;
CREATE TABLE public.bench_sessions (n int PRIMARY KEY, id uuid NOT NULL, a text NOT NULL, b text NOT NULL);
INSERT INTO public.bench_sessions
SELECT n, md5('session-' || n)::uuid, 'u' || (n % 400), 'u' || ((n % 400 + 1 + n / 400) % 400) FROM generate_series(0, 9999) AS n;
GRANT SELECT ON public.bench_sessions, public.bodies TO parley_t_sendbench;
SET ROLE parley_t_sendbench;
INSERT INTO sessions (id, kind, created_by) SELECT id, 'client', a FROM public.bench_sessions;
INSERT INTO session_members (session_id, user_id, role)
SELECT id, a, 'agent' FROM public.bench_sessions UNION ALL SELECT id, b, 'client' FROM public.bench_sessions;
RESET ROLE;
ANALYZE;
SQL
}
# Brokerage roles are cluster-wide: the "before" database has a brokerage of its own name.
echo "== a Parley database on the kit's cluster${BEFORE:+ (and one provisioned by $BEFORE)}"
provision parley_send sendbench "$PARLEY"
# PARLEY_PATCH=file.sql: SQL run in the current side's database after provisioning (as the
# superuser, the brokerage's schema first on the search path) — to measure a change to a function,
# a trigger or an index before building it in, against the unpatched PARLEY_BEFORE side.
if [ -n "${PARLEY_PATCH:-}" ]; then
    { echo "SET search_path = t_sendbench, public;"; cat "$PARLEY_PATCH"; echo "ANALYZE;"; } | sql -d parley_send
fi
if [ -n "$BEFORE" ]; then provision parley_before sendbefore "$BEFORE"; fi

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
sed 's/sendbench/sendbefore/g' "$WORK/parley_send.sql" > "$WORK/before_send.sql"
# MINIMAL=send_notify: the kit's send with a pg_notify of the message in its transaction, the
# comparison nearest to a send that is also delivered live (decision 0051).
cp "$KIT/pgbench/${MINIMAL:-send}.sql" "$WORK/minimal_send.sql"
chmod 644 "$WORK"/*.sql

wal() { sql -d postgres -F ' ' -c "SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal"; }
# The cluster's CPU time in clock ticks: every server process, with the backends that exited
# (reaped by the postmaster). CPU per transaction is steadier than tps on a machine whose
# other tenants take a varying share of the cores (steal time).
PM=$(as_pg head -1 "$LIMITS/pgdata/postmaster.pid")
cpu() {
    { awk '{print $14 + $15 + $16 + $17}' "/proc/$PM/stat"
      for c in $(pgrep -P "$PM"); do awk '{print $14 + $15}' "/proc/$c/stat" 2>/dev/null || true; done; } | awk '{s += $1} END {print s}'
}
TICK=$(getconf CLK_TCK)
bench() {  # database script → "tps (server CPU per transaction; WAL per transaction: records, full-page images, bytes)"
    local before after out c0 c1
    sql -d postgres -c "CHECKPOINT" > /dev/null
    before=$(wal); c0=$(cpu)
    out=$(as_pg "$PGBIN/pgbench" -h "$HOST" -p "$PORT" -U postgres -n -M "$PROTOCOL" -c "$CLIENTS" -j 2 -T "$DURATION" -f "$2" "$1" 2>/dev/null)
    sleep 0.5; after=$(wal); c1=$(cpu)
    awk -v b="$before" -v a="$after" -v c=$((c1 - c0)) -v tick="$TICK" '
        /^number of transactions actually processed/ {n = $NF; sub(/\/.*/, "", n)}
        /^tps/ {tps = int($3)}
        END {split(b, x, " "); split(a, y, " ");
             printf "%d (CPU %.3f ms/tx; WAL/tx: %.1f records, %.2f FPI, %d bytes)", tps, c * 1000 / tick / n, (y[1]-x[1])/n, (y[2]-x[2])/n, (y[3]-x[3])/n}' <<< "$out"
}
ratio() { awk "BEGIN {printf \"%.2f\", $1 / $2}"; }
cpu_of() { sed -E 's/.*CPU ([0-9.]+) ms.*/\1/' <<< "$1"; }
against_minimal() {  # label, bench result → the line with both cost ratios to this round's minimal send
    echo "         $1 $2 tps: cost ratio $(ratio "${minimal%% *}" "${2%% *}")× in tps, $(ratio "$(cpu_of "$2")" "$(cpu_of "$minimal")")× in CPU"
}
echo "== pgbench -M $PROTOCOL, $CLIENTS clients, ${DURATION} s each; each round runs the sides in another order"
# This machine's speed drifts within minutes: the sides take turns at going first, and a
# change is judged by the median of its per-round ratios to the commit before.
sides=(minimal parley); if [ -n "$BEFORE" ]; then sides+=(before); fi
changes=()
for round in $(seq "$ROUNDS"); do
    for k in $(seq 0 $((${#sides[@]} - 1))); do
        case ${sides[$(( (k + round - 1) % ${#sides[@]} ))]} in
            minimal) minimal=$(bench chat "$WORK/minimal_send.sql") ;;
            parley) parley=$(bench parley_send "$WORK/parley_send.sql") ;;
            before) before=$(bench parley_before "$WORK/before_send.sql") ;;
        esac
    done
    echo "round $round: minimal send $minimal tps"
    against_minimal "Parley's send" "$parley"
    if [ -n "$BEFORE" ]; then
        against_minimal "before the change" "$before"
        changes+=("$(ratio "$(cpu_of "$parley")" "$(cpu_of "$before")")")
        echo "         CPU per send, now/before: ${changes[-1]}"
    fi
done
if [ -n "$BEFORE" ]; then
    printf '%s\n' "${changes[@]}" | sort -n | awk '{a[NR] = $1} END {printf "median CPU per send, now/before, over %d rounds: %.2f\n", NR, NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'
fi

echo "== where Parley's time goes (last round; track_functions = all)"
sql -d parley_send -c "ALTER DATABASE parley_send SET track_functions = 'all'" > /dev/null
sql -d parley_send -c "SELECT pg_stat_reset()" > /dev/null
bench parley_send "$WORK/parley_send.sql" > /dev/null
sql -d parley_send -F ' | ' -c "
  SELECT funcname, calls, round(total_time::numeric / calls, 3) AS total_ms_per_call, round(self_time::numeric / calls, 3) AS self_ms_per_call
  FROM pg_stat_user_functions WHERE calls > 0 ORDER BY total_time DESC LIMIT 12"
# One send with every statement it runs logged (auto_explain, nested): the tenant scope, the
# call, the function's statements and its triggers' (foreign-key checks included).
one_send() {  # database, brokerage, client id
    sql -d "$1" <<SQL 2>&1
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_analyze = on;
SET auto_explain.log_buffers = on;
SET auto_explain.log_level = notice;
SET client_min_messages = notice;
BEGIN;
SELECT set_config('role', 'parley_t_$2', true), set_config('search_path', 't_$2, public', true);
SELECT s.outcome FROM public.bench_sessions b, public.bodies t,
  LATERAL send_message(b.id, b.a, '$3', t.body, t.body, left(t.body, 140), NULL, NULL) AS s
WHERE b.n = 42 AND t.id = 4242;
COMMIT;
SQL
}
echo "== statements executed by one send: $(one_send parley_send sendbench count-1 | grep -c 'duration:')${BEFORE:+, before the change: $(one_send parley_before sendbefore count-1 | grep -c 'duration:')}"
echo "== one send's statements (auto_explain, nested)"
one_send parley_send sendbench explain-1 | grep -E "duration|Query Text|^\s+->|cost=|actual time" | head -80
