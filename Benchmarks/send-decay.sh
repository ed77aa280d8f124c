#!/usr/bin/env bash
# Decision 0047: does a send get dearer the longer autovacuum stays away? One brokerage of
# send-by-sessions.sh (`s200`: one agent, 200 sessions) takes sends and their numbering
# (pgbench, 16 clients) for DURATION seconds after a VACUUM of its hot tables; the rate is printed
# every 10 s. Autovacuum stays on, as in production: it visits a table after 1,000 changed rows
# (decision 0025), but only once per naptime (a minute by default).
#
#   Benchmarks/send-by-sessions.sh                      # once: makes parley_fanin
#   Benchmarks/send-decay.sh                            # DURATION=60 ROUNDS=2
#   FUNCTIONS="a.sql b.sql" Benchmarks/send-decay.sh    # the same, alternating with those
#                                                       # function files applied instead
# With FUNCTIONS, each round runs the other files first, then the current ones (sql/tenant/
# functions/), each applied to the brokerage's schema before its run; the current files are
# applied again at the end.
DURATION=${DURATION:-60}
source "$(dirname "$0")/common.sh"
here=$(pwd)
send_and_number_script 200 > "$WORK/send.sql"
chmod 644 "$WORK/send.sql"
apply() { { echo "SET search_path = t_s200, public;"; cat "$@"; } | sql -1 -d parley_fanin > /dev/null; }
current=("$here"/sql/tenant/functions/*.sql)
run() {  # label, function files
    local label=$1; shift
    apply "$@"
    sql -d parley_fanin -c "VACUUM t_s200.badge_deltas, t_s200.event_outbox, t_s200.event_clock, t_s200.badge_counts, t_s200.sessions, t_s200.session_members"
    as_pg "$PGBIN/pgbench" -h "$HOST" -p "$PORT" -U postgres -n -c "$CLIENTS" -j 2 -T "$DURATION" -P 10 -f "$WORK/send.sql" parley_fanin 2>&1 |
        awk -v label="$label" '/^progress/ {series = series " " int($4)} /^tps/ {mean = int($3)}
            END {printf "%-10s %s tps overall; every 10 s:%s\n", label, mean, series}'
}
echo "== sends and their numbering in one brokerage, $CLIENTS clients, $DURATION s after a VACUUM"
for round in $(seq "$ROUNDS"); do
    # shellcheck disable=SC2086
    if [ -n "${FUNCTIONS:-}" ]; then run "other" $FUNCTIONS; fi
    run "current" "${current[@]}"
done
