#!/usr/bin/env bash
# Issue 15's comparisons in one command (docs/BENCHMARKS.md), release builds, this machine:
#
#   Benchmarks/run-all.sh               # ~20 min; SKIP_SEARCH=1 leaves out the 1M-message search
#
# 1. builds parley and parley-bench (release);
# 2. starts the comparison kit's cluster (../shared/bench/limits, setup.sh the first time);
# 3. Parley's send transaction against the kit's minimal send, pgbench on the same cluster
#    (send-vs-minimal.sh), and the same two counted in CPU instructions per send, which do not
#    drift with the machine's speed (send-instructions.sh, needs valgrind); sends through the
#    API (`parley serve`, 16 HTTP connections) against the minimal send (api-send-vs-minimal.sh);
# 4. sends to an agent with 200 and with 8,000 sessions, timed and counted in instructions
#    (send-by-sessions.sh);
# 5. live delivery against `parley serve` in its own process (this and the rest on the kit's
#    cluster too, through PARLEY_TEST_DATABASE_URL): send→deliver latency with the
#    POST alone, throughput with the recipient's sockets 0 / 50, latency with 1,000 and
#    15,000 idle streams open, server memory per idle stream (parley-bench);
# 6. provisioning 1,000 brokerages, and sends spread over 1,000 of them against over 50
#    (parley-bench --brokerages);
# 7. search at 1,000,000 messages (parley-bench --search).
# Each figure is printed beside its comparison from the same run; the summary repeats them.
set -euo pipefail
cd "$(dirname "$0")/.."
export LIMITS=${LIMITS:-/tmp/limits} BENCH_NICE=${BENCH_NICE:-0}
KIT=$(cd ../shared/bench/limits 2>/dev/null && pwd || echo /work/shared/bench/limits)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
LOG=${LOG:-$(mktemp /tmp/parley-bench-XXXX.log)}
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

echo "== release builds" | tee "$LOG"
swift build -c release --product parley 2>&1 | tail -1
swift build -c release --product parley-bench 2>&1 | tail -1

echo "== the comparison kit's cluster ($LIMITS)" | tee -a "$LOG"
if [ ! -d "$LIMITS/pgdata" ]; then
    "$KIT/setup.sh"
elif ! as_pg "$PGBIN/pg_ctl" -D "$LIMITS/pgdata" status > /dev/null 2>&1; then
    as_pg "$PGBIN/pg_ctl" -D "$LIMITS/pgdata" -l "$LIMITS/restart.log" start -w > /dev/null
fi
stop_kit() { as_pg "$PGBIN/pg_ctl" -D "$LIMITS/pgdata" stop -m fast > /dev/null 2>&1 || true; }

Benchmarks/send-vs-minimal.sh 2>&1 | tee -a "$LOG"
if command -v valgrind > /dev/null; then Benchmarks/send-instructions.sh 2>&1 | tee -a "$LOG"; fi
Benchmarks/api-send-vs-minimal.sh 2>&1 | tee -a "$LOG"
Benchmarks/send-by-sessions.sh 2>&1 | tee -a "$LOG"
# parley-bench runs on the kit's cluster too (durable settings, its buffers), each run in a
# scratch database of its own, dropped at the end (`parley_bench` holds the control schema).
PSQL=(as_pg "$PGBIN/psql" -h "$LIMITS/sock" -p "${PGPORT:-55433}" -U postgres -qAt)
"${PSQL[@]}" -c "SELECT 1 FROM pg_database WHERE datname = 'parley_bench'" | grep -q 1 || "${PSQL[@]}" -c "CREATE DATABASE parley_bench"
export PARLEY_TEST_DATABASE_URL="host=$LIMITS/sock port=${PGPORT:-55433} user=postgres dbname=parley_bench"
drop_scratch() {
    for db in $("${PSQL[@]}" -c "SELECT datname FROM pg_database WHERE datname LIKE 'parley\_scratch\_%'"); do
        "${PSQL[@]}" -c "DROP DATABASE $db"
    done
}
echo "== live delivery (parley-bench)" | tee -a "$LOG"
.build/release/parley-bench 2>&1 | grep -v "unexpected status" | tee -a "$LOG"
echo "== 1,000 brokerages against 50 (parley-bench --brokerages)" | tee -a "$LOG"
.build/release/parley-bench --brokerages 1000 2>&1 | tee -a "$LOG"
if [ -z "${SKIP_SEARCH:-}" ]; then
    echo "== search at 1,000,000 messages (parley-bench --search)" | tee -a "$LOG"
    .build/release/parley-bench --search 2>&1 | tee -a "$LOG"
fi
drop_scratch
stop_kit

echo
echo "== summary (commit $(git rev-parse --short HEAD); full output in $LOG)"
grep -E -A1 "^round [0-9]+: minimal send" "$LOG" | grep -v "^--" | sed 's/^ */send vs minimal: /' || true
grep -E "^(minimal send|Parley's send transaction).*[0-9]$|× the minimal send" "$LOG" | sed 's/^/instructions per send: /' || true
grep -E "^  round [0-9]+: API send [0-9]+ msgs/s /" "$LOG" | sed 's/^ */API send vs minimal: /' || true
grep -E "^round [0-9]+: 200 sessions" "$LOG" | sed 's/^/sessions per recipient: /' || true
grep -E "^instructions per send and its numbering" "$LOG" | sed 's/^/sessions per recipient: /' || true
grep -E "^badge check" "$LOG" || true
grep -E "200 msgs/s over 20 sessions|live sockets:|per idle stream|idle streams open and nothing else" "$LOG" | sed 's/^ *//' || true
grep -E "brokerages in|brokerages = " "$LOG" | sed 's/^ */brokerages: /' || true
grep -E "^\s+(rare|common|prefix|name|two|phrase)" "$LOG" | sed 's/^ */search: /' || true
