#!/usr/bin/env bash
# Issue 15, point 1, counted instead of timed: the CPU instructions one send costs in the
# PostgreSQL backend, for Parley's send transaction and the kit's minimal send, on the databases
# that send-vs-minimal.sh provisioned on the comparison kit's cluster. This machine's speed
# drifts 2–3× within minutes, which buries a 10 % change in any timing; an instruction count
# does not drift.
#
#   Benchmarks/send-vs-minimal.sh                  # once: provisions parley_send (and parley_before)
#   Benchmarks/send-instructions.sh                # SENDS=200
#   PATCH=change.sql Benchmarks/send-instructions.sh   # a change to the SQL, in two same-state copies
#   NUMBER_EVERY=8 Benchmarks/send-instructions.sh     # Parley's side only: 8 sends, then their numbering
#   OUTBOX_DEAD=60000 NUMBER_EVERY=8 …                 # … with 60,000 numbered rows' entries left in the outbox's index
#
# How: the cluster is stopped, and each side runs in a single-user backend (`postgres --single`)
# under valgrind's callgrind, twice — with WARM sends and with WARM + SENDS — so start-up, the
# catalog caches and the first plans cancel out: (Ir of the long run − Ir of the short one) /
# SENDS. Kernel time (the commit's fsync, sockets) is not counted, nor the waits and lock
# contention of concurrent clients: this is the work of the statements themselves. The kit's
# minimal send runs as its three statements (send.sql); where pgbench passes the new seq from
# the first to the second with \gset, the second reads it back with a subquery (one index probe
# more than the kit does).
# The cluster is started again at the end.
source "$(dirname "$0")/common.sh"
command -v valgrind > /dev/null || { echo "needs valgrind (apt-get install valgrind)"; exit 1; }

# Both sides run as prepared statements, as Parley's server and the kit's pgbench (-M prepared)
# run them: planned once, not at every send. Parley's side is the server's own statement,
# `SELECT * FROM send_message($1 … $8)`, with the values it would bind; they are read from the
# database into a file in $WORK while the cluster still runs. Each run starts again from the
# first send and puts a tag of its own in the client ids (@RUN@, common.sh), so a send is never
# a retry of one before.
# With NUMBER_EVERY=k, a unit is k sends, then one transaction of the dispatcher's numbering
# (`sequence_events()`), and the count is of units.
NUMBER_EVERY=${NUMBER_EVERY:-}
parley_input() {  # database, brokerage, count → a file of that many send transactions (or units)
    local file="$WORK/$1-$3.sql" every=${NUMBER_EVERY:-1}
    { echo "PREPARE scope AS SELECT set_config('role', 'parley_t_$2', true), set_config('search_path', 't_$2, public', true)"
      # Prepared in the brokerage's scope, so its names resolve to the brokerage's schema.
      echo "BEGIN"; echo "EXECUTE scope"
      echo "PREPARE send(uuid, text, text, text, text, text, jsonb, uuid[]) AS SELECT * FROM send_message(\$1, \$2, \$3, \$4, \$5, \$6, \$7, \$8)"
      echo "PREPARE numbering AS SELECT sequence_events()"
      # OUTBOX_DEAD=n: n events numbered in this first transaction, so the outbox's index holds
      # n entries of numbered rows at its low end, as under a send load between two autovacuum
      # visits (~60,000 after a minute at 1,000 sends a second); the same in the short and the
      # long run.
      if [ -n "${OUTBOX_DEAD:-}" ]; then
          echo "INSERT INTO event_outbox (type, recipients, data) SELECT 'badge.updated', ARRAY['nobody'], '{}' FROM generate_series(1, $OUTBOX_DEAD)"
          echo "SELECT sequence_events($OUTBOX_DEAD + 1)"
      fi
      echo "COMMIT"
      sql -d "$1" -c "
        SELECT concat_ws(E'\n', 'BEGIN', 'EXECUTE scope',
                 format('EXECUTE send(%L, %L, %L, %L, %L, %L, NULL, NULL)',
                        b.id, CASE WHEN i % 2 = 0 THEN b.a ELSE b.b END, 'instr-' || i || '-@RUN@', t.body, t.body, left(t.body, 140)),
                 'COMMIT',
                 CASE WHEN '$NUMBER_EVERY' <> '' AND i % $every = $every - 1 THEN E'BEGIN\nEXECUTE scope\nEXECUTE numbering\nCOMMIT' END)
        FROM generate_series(0, $3 * $every - 1) AS i
        JOIN public.bench_sessions b ON b.n = (i * 7919) % 10000
        JOIN public.bodies t ON t.id = 1 + (i * 104729) % 100000
        ORDER BY i"; } > "$file"
    chmod 644 "$file"
    echo "$file"
}
minimal_sends() {  # first, count → the kit's send.sql (its \gset seq read back by a subquery)
    echo "PREPARE bump(int) AS UPDATE tenant_demo.sessions SET last_seq = last_seq + 1, last_message_at = now(), updated_at = now() WHERE id = md5('session-' || \$1)::uuid RETURNING last_seq AS seq"
    echo "PREPARE post(int, int, int) AS INSERT INTO tenant_demo.messages (session_id, sender_id, seq, body) SELECT md5('session-' || \$1)::uuid, md5('user-' || \$2)::uuid, (SELECT last_seq FROM tenant_demo.sessions WHERE id = md5('session-' || \$1)::uuid), b.body FROM bench.bodies b WHERE b.id = \$3 RETURNING id, created_at"
    echo "PREPARE unread(int, int) AS UPDATE tenant_demo.participants SET unread_count = unread_count + 1 WHERE session_id = md5('session-' || \$1)::uuid AND user_id = md5('user-' || \$2)::uuid"
    awk -v first="$1" -v count="$2" 'BEGIN {
        for (i = first; i < first + count; i++) {
            n = (i * 7919) % 10000; a = n % 400; b = (a + 1 + int(n / 400)) % 400
            snd = i % 2 == 0 ? a : b; rcp = i % 2 == 0 ? b : a
            print "BEGIN"
            print "EXECUTE bump(" n ")"
            print "EXECUTE post(" n ", " snd ", " 1 + (i * 104729) % 100000 ")"
            print "EXECUTE unread(" n ", " rcp ")"
            print "COMMIT"
        }}'
}
# Both sides start vacuumed. A send updates rows that every send before it updated too (the
# session's, the unread counter's), and until autovacuum visits them their dead versions cost
# every send more: right after send-vs-minimal.sh's pgbench rounds the minimal send counted
# 3,519,943 instructions, and 735,388 once autovacuum had been by (Parley's 2,093,869 and
# 1,851,890). VACUUM first, so that both sides are counted as they are after a visit.
sql -d chat -c "VACUUM tenant_demo.sessions, tenant_demo.participants, tenant_demo.messages"
# Numbering: the sends of every count before this one are still in the outbox (nothing numbers
# them in a single-user run), and a first numbering would take 10,000 of them. Numbered first.
if [ -n "$NUMBER_EVERY" ]; then sendbench_number_all parley_send; fi
sql -d parley_send -c "VACUUM"

# PATCH=file.sql: a change measured in two databases in the same state. Both are copies of
# parley_send (CREATE DATABASE … TEMPLATE: the same rows, the same dead tuples, the same words
# already known), and the file is run in one of them (as the superuser, the brokerage's schema
# first on the search path); the same send transactions then run in each. Counts of databases
# in different states differ by ±2 % (every run commits its sends), more than such changes.
if [ -n "${PATCH:-}" ]; then
    for db in parley_ab_plain parley_ab_patched; do
        sql -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db TEMPLATE parley_send"
    done
    sendbench_sql parley_ab_patched "$PATCH"
fi

# The inputs, while the cluster runs; then the cluster stops for the single-user runs.
minimal_file=$WORK/minimal.sql
minimal_sends 0 $((WARM + SENDS + 1)) > "$minimal_file"; chmod 644 "$minimal_file"
parley_file=$(parley_input parley_send sendbench $((WARM + SENDS + 1)))
before_file=
if [ -z "$NUMBER_EVERY" ] && [ "$(sql -d postgres -c "SELECT count(*) FROM pg_database WHERE datname = 'parley_before'")" = 1 ]; then
    before_file=$(parley_input parley_before sendbefore $((WARM + SENDS + 1)))
fi
chmod 755 "$WORK"
kit_stop
# The copies of PATCH go with the run: they hold objects of the brokerage's role, which
# send-vs-minimal.sh drops and creates again when it provisions.
trap 'kit_start
      if [ -n "${PATCH:-}" ]; then sql -d postgres -c "DROP DATABASE IF EXISTS parley_ab_plain" -c "DROP DATABASE IF EXISTS parley_ab_patched"; fi
      rm -rf "$WORK"' EXIT

what="send"
if [ -n "$NUMBER_EVERY" ]; then TX_PER_SEND=$((NUMBER_EVERY + 1)); what="$NUMBER_EVERY sends and their numbering"; fi
echo "== instructions per $what (callgrind, single-user backend, $SENDS after $WARM)"
if [ -n "${PATCH:-}" ]; then
    plain=$(per_send parley_ab_plain "$parley_file") || exit 1
    patched=$(per_send parley_ab_patched "$parley_file") || exit 1
    echo "copy of parley_send:          $plain"
    echo "the same copy with $PATCH: $patched (patched/plain $(awk "BEGIN {printf \"%.3f\", $patched / $plain}"))"
    exit 0
fi
if [ -n "$NUMBER_EVERY" ]; then
    echo "Parley, $what: $(per_send parley_send "$parley_file")"
    exit 0
fi
minimal=$(per_send chat "$minimal_file") || exit 1
echo "minimal send (the kit's send.sql): $minimal"
parley=$(per_send parley_send "$parley_file") || exit 1
echo "Parley's send transaction:          $parley ($(awk "BEGIN {printf \"%.2f\", $parley / $minimal}")× the minimal send)"
if [ -n "$before_file" ]; then
    before=$(per_send parley_before "$before_file") || exit 1
    echo "before the change:                  $before ($(awk "BEGIN {printf \"%.2f\", $before / $minimal}")× the minimal send; now/before $(awk "BEGIN {printf \"%.2f\", $parley / $before}"))"
fi
