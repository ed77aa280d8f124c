#!/usr/bin/env bash
# Parley on a Citus cluster, checked as users would check it (issue 18, decision 0032).
#
#   scripts/citus-check.sh            build Citus (once), start a coordinator and two workers,
#                                     run Parley against the coordinator, check every user flow
#                                     over 20 brokerages on both workers, move a brokerage to the
#                                     other worker during a send load, and time the same send load
#                                     on plain PostgreSQL and on the cluster
#   KEEP=1 scripts/citus-check.sh     leave the clusters and servers running afterwards
#
# Needs root the first time (Citus' build installs packages and citus.so; ../shared/citus/build.sh,
# ~3 minutes), python3 (standard library only), and a release build of parley (built here if
# missing; PARLEY=path to use another). Everything listens on 127.0.0.1: the cluster on
# CITUS_BASE..+2 (9710), plain PostgreSQL on CITUS_BASE+3, the two servers on PORT and PORT+1.
# Prints where each brokerage lives and every check; exits 1 if a check failed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CITUS_SRC=${CITUS_SRC:-$ROOT/../shared/citus}
DIR=${CITUS_DIR:-/tmp/parley-citus}
BASE=${CITUS_BASE:-9710}
PLAIN=$((BASE + 3))
PORT=${PORT:-8190}
BROKERAGES=${BROKERAGES:-20}
LOAD_SECONDS=${LOAD_SECONDS:-20}
LOAD_THREADS=${LOAD_THREADS:-8}
PARLEY=${PARLEY:-$ROOT/.build/release/parley}
B=/usr/lib/postgresql/15/bin
RUN=(); [ "$(id -u)" = 0 ] && RUN=(runuser -u postgres --)
COORD="postgresql://postgres@127.0.0.1:$BASE/parley"
PLAIN_URL="postgresql://postgres@127.0.0.1:$PLAIN/parley"
psql_at() { "${RUN[@]}" "$B/psql" -h 127.0.0.1 -p "$1" -U postgres -d parley -v ON_ERROR_STOP=1 -qAt "${@:2}"; }
step() { printf '\n== %s\n' "$*"; }
PIDS=()
cleanup() {
  [ "${KEEP:-0}" = 1 ] && { echo "kept: cluster $DIR, servers ${PIDS[*]:-}"; return; }
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  bash "$CITUS_SRC/cluster.sh" stop "$DIR" || true
  [ -f "$DIR/plain/postmaster.pid" ] && "${RUN[@]}" $B/pg_ctl -D "$DIR/plain" stop -m fast >/dev/null || true
}
trap cleanup EXIT

step "Citus 13.2.2 ($CITUS_SRC)"
bash "$CITUS_SRC/build.sh"

step "parley (release)"
[ -x "$PARLEY" ] || swift build -c release --product parley
echo "$PARLEY"

step "clusters: a coordinator and two workers on $BASE-$((BASE + 2)), plain PostgreSQL on $PLAIN"
bash "$CITUS_SRC/cluster.sh" stop "$DIR" || true
[ -f "$DIR/plain/postmaster.pid" ] && "${RUN[@]}" $B/pg_ctl -D "$DIR/plain" stop -m fast >/dev/null || true
rm -rf "$DIR"
BASE=$BASE bash "$CITUS_SRC/cluster.sh" start "$DIR"
# Moving a brokerage without blocking its writes uses logical replication between the workers.
for n in 0 1 2; do psql_at $((BASE + n)) -c "ALTER SYSTEM SET wal_level = logical"; done
for n in 0 1 2; do "${RUN[@]}" $B/pg_ctl -D "$DIR/n$n" -l "$DIR/n$n.log" -w restart >/dev/null; done
"${RUN[@]}" $B/initdb -D "$DIR/plain" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
printf "port = %s\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\nmax_connections = 300\n" \
  "$PLAIN" "$DIR" >> "$DIR/plain/postgresql.conf"
"${RUN[@]}" $B/pg_ctl -D "$DIR/plain" -l "$DIR/plain.log" -w start >/dev/null
"${RUN[@]}" $B/psql -h 127.0.0.1 -p "$PLAIN" -U postgres -d postgres -qc "CREATE DATABASE parley"

step "migrate and provision $BROKERAGES brokerages on each"
TENANTS=()
for i in $(seq -w 1 "$BROKERAGES"); do TENANTS+=("broker-$i"); done
for url in "$COORD" "$PLAIN_URL"; do
  DATABASE_URL=$url LOG_LEVEL=warning "$PARLEY" migrate >/dev/null
  for t in "${TENANTS[@]}"; do DATABASE_URL=$url LOG_LEVEL=warning "$PARLEY" tenant create "$t" --name "Brokerage $t" >/dev/null; done
done

status=0
step "where each brokerage lives"
PLACEMENT="SELECT n.nspname || ' ' || s.nodeport FROM citus_shards s JOIN pg_class c ON c.oid = s.table_name
  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname LIKE 't\_%' GROUP BY n.nspname, s.nodeport ORDER BY 1"
psql_at "$BASE" -c "$PLACEMENT" | tee "$DIR/placement.txt" | column -c 100
W1=$(awk -v p=$((BASE + 1)) '$2 == p {print $1; exit}' "$DIR/placement.txt")
W2=$(awk -v p=$((BASE + 2)) '$2 == p {print $1; exit}' "$DIR/placement.txt")
[ -n "$W1" ] && [ -n "$W2" ] || { echo "FAIL: the brokerages are not on both workers"; exit 1; }
slug() { echo "${1#t_}" | tr _ -; }
echo "on worker $((BASE + 1)): $(grep -c " $((BASE + 1))$" "$DIR/placement.txt"), on worker $((BASE + 2)): $(grep -c " $((BASE + 2))$" "$DIR/placement.txt")"

step "an upgrade: migration 020 taken back from $W2, then parley migrate applies it through the coordinator"
identity="SELECT relreplident FROM pg_class WHERE oid = '$W2.badge_deltas'::regclass"
psql_at "$BASE" -c "DELETE FROM $W2.schema_migrations WHERE version = 20" \
  -c "ALTER TABLE $W2.badge_deltas REPLICA IDENTITY DEFAULT"
DATABASE_URL=$COORD LOG_LEVEL=warning "$PARLEY" migrate --recheck | tail -1
WORKER=$(awk -v s="$W2" '$1 == s {print $2}' "$DIR/placement.txt")
# Workers hide shards from catalog queries unless asked (citus.override_table_visibility).
shard=$(psql_at "$WORKER" -c "SET citus.override_table_visibility = off" -c "SELECT c.relname FROM pg_class c WHERE c.relnamespace = '$W2'::regnamespace AND c.relname LIKE 'badge\_deltas\_%' AND c.relkind = 'r'")
if [ "$(psql_at "$BASE" -c "$identity")" = f ] && [ -n "$shard" ] \
   && [ "$(psql_at "$WORKER" -c "SET citus.override_table_visibility = off" -c "SELECT relreplident FROM pg_class WHERE oid = '$W2.$shard'::regclass")" = f ]; then
  echo "  ok    REPLICA IDENTITY FULL on the coordinator's table and on the worker's shard $shard"
else echo "  FAIL  migration 020 did not reach the worker's shard"; status=1; fi

start_server() { # url port → pid
  DATABASE_URL=$1 LOG_LEVEL=warning PARLEY_WEBHOOK_ALLOWED_HOSTS=127.0.0.1 "$PARLEY" serve --port "$2" >"$DIR/serve-$2.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 300); do curl -sf "127.0.0.1:$2/ready" >/dev/null && break; sleep 0.2; done
  curl -sf "127.0.0.1:$2/ready" >/dev/null || { echo "parley serve on $2 not ready:"; tail -20 "$DIR/serve-$2.log"; exit 1; }
  echo "$pid"
}
step "parley serve against the coordinator (:$PORT) and against plain PostgreSQL (:$((PORT + 1)))"
PIDS+=("$(start_server "$COORD" "$PORT")")
PIDS+=("$(start_server "$PLAIN_URL" $((PORT + 1)))")

CHECK=(python3 "$ROOT/scripts/citus_check.py")
step "every user flow in each brokerage, and a chat between $(slug "$W1") (worker $((BASE + 1))) and $(slug "$W2") (worker $((BASE + 2)))"
DATABASE_URL=$COORD "${CHECK[@]}" flows --port "$PORT" --parley "$PARLEY" \
  --tenants "$(IFS=,; echo "${TENANTS[*]}")" --pair "$(slug "$W1"):$(slug "$W2")" || status=1

step "webhooks in a brokerage on each worker, every delivery verified with the standardwebhooks package"
VENV=${VENV:-/tmp/parley-webhook-venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -c 'import standardwebhooks' 2>/dev/null || "$VENV/bin/pip" install -q --retries 5 --timeout 30 standardwebhooks
for t in "$(slug "$W1")" "$(slug "$W2")"; do
  echo "-- $t"
  DATABASE_URL=$COORD "$VENV/bin/python" "$ROOT/scripts/webhook_check.py" --port "$PORT" --receiver-port $((PORT + 2)) \
    --parley "$PARLEY" --tenant "$t" | grep -v '^ *[{}"]' || status=1
done

step "reporting: a brokerage's reporting login reads its report_* views, never a message's text or a person's contact details"
T=$(slug "$W2"); R=$(DATABASE_URL=$COORD LOG_LEVEL=warning "$PARLEY" tenant reporting-role "$T" | awk '/^role / {print $2}') || true
echo "role: ${R:-?}"
if [ -n "$R" ] && out=$("${RUN[@]}" $B/psql -h 127.0.0.1 -p "$BASE" -U "$R" -d parley -v ON_ERROR_STOP=1 -qAt \
     -c "SELECT count(*) FROM t_${T//-/_}.report_messages" 2>&1); then
  echo "  ok    report_messages counts $out messages"
else echo "  FAIL  report_messages: $out"; status=1; fi
# On Citus the login also holds the columns its views read (decision 0032): never these.
for q in "text FROM messages" "email FROM contacts" "display_name FROM users" "data FROM events"; do
  out=$("${RUN[@]}" $B/psql -h 127.0.0.1 -p "$BASE" -U "$R" -d parley -qAt -c "SELECT $q LIMIT 1" 2>&1) || true
  if [[ $out == *"permission denied"* ]]; then echo "  ok    refused: SELECT $q"
  else echo "  FAIL  SELECT $q by the reporting login: $out"; status=1; fi
done

step "moving $(slug "$W1") from worker $((BASE + 1)) to $((BASE + 2)) during a send load"
DATABASE_URL=$COORD "${CHECK[@]}" move --port "$PORT" --parley "$PARLEY" --tenant "$(slug "$W1")" --threads 4 \
  --seconds "$LOAD_SECONDS" --psql "$B/psql -h 127.0.0.1 -p $BASE -U postgres -d parley -v ON_ERROR_STOP=1 -qAt" \
  --move-sql "SELECT citus_schema_move('$W1', '127.0.0.1', $((BASE + 2)))" || status=1
psql_at "$BASE" -c "$PLACEMENT" | grep "^$W1 " | sed 's/^/  now: /'

step "the same send load ($LOAD_THREADS senders, ${LOAD_SECONDS} s, brokerages on both workers): plain PostgreSQL vs the cluster"
echo "(2 cores run all three nodes, both servers and the clients: this measures the coordinator's cost, not a speed-up)"
LOADT=$(awk '{print $1}' "$DIR/placement.txt" | head -8 | while read -r s; do slug "$s"; done | paste -sd,)
for round in 1 2; do
  for side in plain citus; do
    if [ $side = plain ]; then url=$PLAIN_URL; p=$((PORT + 1)); else url=$COORD; p=$PORT; fi
    DATABASE_URL=$url "${CHECK[@]}" load --port "$p" --parley "$PARLEY" --tenants "$LOADT" \
      --threads "$LOAD_THREADS" --seconds "$LOAD_SECONDS" --label "$side round $round" | grep '^{' | tee -a "$DIR/load.jsonl"
  done
done
python3 - "$DIR/load.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
side = lambda s: [r for r in rows if r["label"].startswith(s)]
mean = lambda rs, k: sum(r[k] for r in rs) / len(rs)
p, c = side("plain"), side("citus")
print(f"plain PostgreSQL: {mean(p, 'messages_per_s'):.0f} msgs/s, p50 {mean(p, 'p50_ms'):.1f} ms, p99 {mean(p, 'p99_ms'):.1f} ms")
print(f"Citus cluster:    {mean(c, 'messages_per_s'):.0f} msgs/s, p50 {mean(c, 'p50_ms'):.1f} ms, p99 {mean(c, 'p99_ms'):.1f} ms")
print(f"cluster / plain:  {mean(c, 'messages_per_s') / mean(p, 'messages_per_s'):.2f} of the throughput")
PY

step "connections on each worker (Citus reaches a worker as the brokerage's own role)"
for n in 1 2; do
  echo "worker $((BASE + n)): $(psql_at $((BASE + n)) -c "SELECT count(*) || ' connections of ' || count(DISTINCT usename)
    || ' roles, at most ' || max(c) || ' for one role' FROM (SELECT usename, count(*) OVER (PARTITION BY usename) AS c
    FROM pg_stat_activity WHERE datname = 'parley' AND backend_type = 'client backend') AS a")"
done
echo "coordinator: $(psql_at "$BASE" -c "SELECT count(*) FROM pg_stat_activity WHERE datname = 'parley' AND backend_type = 'client backend'") connections (two parley serve pools, this psql)"
[ $status = 0 ] && echo "all checks passed" || echo "some checks FAILED"
exit $status
