#!/usr/bin/env bash
# Decision 0050: does numbering a backlog cost the same per user whatever its size? The
# numbering's generic plan is made at its first call, while the outbox may look empty; a plan
# that joins the batch's users to the users it folds as a nested loop is quadratic, which only a
# backlog shows (a stream that opens after a burst, the maintenance pass's catch-up). Counted in
# CPU instructions (common.sh): a copy of send-vs-minimal.sh's parley_send, then units of one
# transaction writing N users' badge differences and N badge.updated events and one numbering
# them, for N = SMALL and N = LARGE. Linear: the same instructions per user at both sizes.
#
#   Benchmarks/send-vs-minimal.sh            # once: provisions parley_send
#   Benchmarks/numbering-backlog.sh          # SMALL=1000 LARGE=4000
#   FUNCTION=old.sql Benchmarks/numbering-backlog.sh   # another sequence_events.sql
source "$(dirname "$0")/common.sh"
command -v valgrind > /dev/null || { echo "needs valgrind (apt-get install valgrind)"; exit 1; }
SMALL=${SMALL:-1000}
LARGE=${LARGE:-4000}
sql -d postgres -c "DROP DATABASE IF EXISTS parley_backlog" -c "CREATE DATABASE parley_backlog TEMPLATE parley_send"
# This checkout's numbering (or FUNCTION=file.sql, another version of it), whatever parley_send was
# provisioned with.
FUNCTION=${FUNCTION:-$(dirname "$0")/../sql/tenant/functions/sequence_events.sql}
sendbench_sql parley_backlog "$FUNCTION"
# The backlog that earlier counts left in the outbox, numbered first.
sendbench_number_all parley_backlog
sql -d parley_backlog -c "VACUUM"
backlog_input() {  # users per unit → a file of units (only PREPARE, BEGIN, EXECUTE and COMMIT
                   # lines: common.sh cuts the file after a number of units at those)
    local file="$WORK/backlog-$1.sql"
    { echo "PREPARE scope AS SELECT set_config('role', 'parley_t_sendbench', true), set_config('search_path', 't_sendbench, public', true)"
      # Prepared in the brokerage's scope, so their names resolve to its schema.
      echo "BEGIN"; echo "EXECUTE scope"
      echo "PREPARE deltas(text, int) AS INSERT INTO badge_deltas (user_id, delta) SELECT \$1 || g, 1 FROM generate_series(1, \$2) g"
      echo "PREPARE events(text, int) AS INSERT INTO event_outbox (type, recipients, data) SELECT 'badge.updated', ARRAY[\$1 || g], '{}' FROM generate_series(1, \$2) g"
      echo "PREPARE numbering AS SELECT sequence_events(1000000)"
      echo "COMMIT"
      for unit in $(seq 1 4); do
          printf '%s\n' BEGIN "EXECUTE scope" "EXECUTE deltas('u$unit-', $1)" "EXECUTE events('u$unit-', $1)" COMMIT
          printf '%s\n' BEGIN "EXECUTE scope" "EXECUTE numbering" COMMIT
      done; } > "$file"
    chmod 644 "$file"
    echo "$file"
}
small_file=$(backlog_input "$SMALL")
large_file=$(backlog_input "$LARGE")
chmod 755 "$WORK"
kit_stop
trap 'kit_start; sql -d postgres -c "DROP DATABASE IF EXISTS parley_backlog"; rm -rf "$WORK"' EXIT
TX_PER_SEND=2 WARM=1 SENDS=2
small=$(per_send parley_backlog "$small_file") || exit 1
large=$(per_send parley_backlog "$large_file") || exit 1
echo "== a backlog of N users' badge differences and events, written and numbered (callgrind)"
echo "N = $SMALL: $small instructions, $((small / SMALL)) per user"
echo "N = $LARGE: $large instructions, $((large / LARGE)) per user ($(awk "BEGIN {printf \"%.2f\", ($large / $LARGE) / ($small / $SMALL)}")× the smaller backlog's per user; linear: ~1)"
