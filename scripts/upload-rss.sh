#!/usr/bin/env bash
# Server memory under 20 concurrent 10 MiB uploads (issue 7's figure; docs/BENCHMARKS.md).
#
#   swift build -c release --product parley
#   DATABASE_URL=postgresql:///postgres?host=/tmp/pg scripts/upload-rss.sh
#
# Starts the release server on 127.0.0.1:18081, makes a tenant, a session and a 10 MiB PDF,
# uploads it once (warm-up), then 20 at once while sampling the server's VmRSS every 50 ms.
set -euo pipefail
: "${DATABASE_URL:?set DATABASE_URL}"
bin=.build/release/parley
port=18081
work=$(mktemp -d)
PARLEY_OPERATOR_KEY=bench-operator "$bin" serve --host 127.0.0.1 --port $port > "$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.2; done
slug="rss$RANDOM$RANDOM"
curl -sf -X POST -H "Authorization: Bearer bench-operator" -H "Content-Type: application/json" \
    -d "{\"slug\":\"$slug\",\"name\":\"Upload RSS\"}" "http://127.0.0.1:$port/v1/tenants" > /dev/null
# 20 × 10 MiB unsent from one user is over the default per-user quota (100 MiB): raise it.
curl -sf -X PATCH -H "Authorization: Bearer bench-operator" -H "Content-Type: application/json" \
    -d '{"maxUnsentUploadBytesPerUser":1073741824}' "http://127.0.0.1:$port/v1/tenants/$slug/settings" > /dev/null
token=$("$bin" token --tenant "$slug" --sub agent-1 --role agent --name Agent 2>/dev/null | tail -1)
session=$(curl -sf -X POST -H "Authorization: Bearer $token" -H "Content-Type: application/json" \
    -d '{"client":{"userId":"c1","name":"Client"}}' "http://127.0.0.1:$port/v1/sessions" |
    python3 -c 'import sys, json; print(json.load(sys.stdin)["id"])')
(printf '%%PDF-1.4\n'; head -c $((10 * 1024 * 1024 - 9)) /dev/urandom) > "$work/big.pdf"
upload() { curl -s -o /dev/null -w "%{http_code} " -H "Authorization: Bearer $token" -F "file=@$work/big.pdf" \
    "http://127.0.0.1:$port/v1/sessions/$session/attachments"; }
upload; echo "(warm-up)"
rss() { awk '/VmRSS/ {print $2}' /proc/$server/status; }
before=$(rss)
(while kill -0 $server 2>/dev/null; do rss; sleep 0.05; done) > "$work/samples" &
sampler=$!
start=$(date +%s.%N)
pids=""; for _ in $(seq 20); do upload & pids="$pids $!"; done; wait $pids
end=$(date +%s.%N)
kill $sampler
peak=$(sort -n "$work/samples" | tail -1)
echo
echo "20 × 10 MiB uploads in $(echo "$end - $start" | bc) s; server RSS before ${before} kB, peak ${peak} kB (+$(( (peak - before) / 1024 )) MiB), after $(rss) kB"
