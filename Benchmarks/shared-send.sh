#!/usr/bin/env bash
# What a send costs in a session shared by two brokerages (decision 0028) against one that stays
# in one brokerage, through the API, in one run: the release server with its own embedded
# cluster, a Python client in its own process, CONCURRENCY senders (keep-alive), N sends each,
# alternating the two kinds of session ROUNDS times.
#
#   swift build -c release --product parley
#   Benchmarks/shared-send.sh              # N=500 CONCURRENCY=4 ROUNDS=2
set -euo pipefail
PARLEY=${PARLEY:-$(pwd)/.build/release/parley}
N=${N:-500}
CONCURRENCY=${CONCURRENCY:-4}
ROUNDS=${ROUNDS:-2}
PORT=${PORT:-18089}
DATA=$(mktemp -d)
chmod 755 "$DATA"
cleanup() { [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$DATA"; }
trap cleanup EXIT
LOG_LEVEL=warning "$PARLEY" serve --port "$PORT" --data-dir "$DATA/parley" > "$DATA/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 120); do curl -sf "localhost:$PORT/ready" > /dev/null && break; sleep 0.5; done
OP=$(cat "$DATA/parley/operator-key")
curl -sf -H "Authorization: Bearer $OP" -H 'Content-Type: application/json' -d '{"slug":"other","name":"Other Brokerage"}' \
     "localhost:$PORT/v1/tenants" > /dev/null
token() { "$PARLEY" token --data-dir "$DATA/parley" --tenant "$1" --sub "$2" --role "$3" --name "$2" 2>/dev/null; }
export PORT N CONCURRENCY ROUNDS
export SYNC=$(token other sync integration) A1=$(token demo a1 agent) A2=$(token demo a2 agent) B1=$(token other b1 agent)
python3 - <<'PY'
import http.client, json, os, statistics, threading, time
port, n, conc, rounds = int(os.environ["PORT"]), int(os.environ["N"]), int(os.environ["CONCURRENCY"]), int(os.environ["ROUNDS"])
def call(conn, method, path, token, body=None):
    conn.request(method, path, body=json.dumps(body) if body is not None else None,
                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    r = conn.getresponse(); data = r.read()
    return r.status, (json.loads(data) if data else None)
c = http.client.HTTPConnection("127.0.0.1", port)
E = os.environ
for key, token in (("b1", E["SYNC"]),):
    assert call(c, "PUT", "/v1/directory/agents/b1", token, {"MemberFullName": "Bea Other", "listed": True})[0] in (200, 201)
for key in ("a2",):
    pass
def session(asker, brokerage, key, accepter):
    s, sent = call(c, "POST", "/v1/chat-requests", asker, {"brokerage": brokerage, "memberKey": key, "message": "hello"})
    assert s in (200, 201), sent
    s, acc = call(c, "POST", f"/v1/chat-requests/{sent['id']}/accept", accepter)
    assert s == 200, acc
    return acc["session"]["id"]
# a2 must be listed to be asked within demo
demo_sync = os.popen(f"true").read()
shared = session(E["A1"], "other", "b1", E["B1"])
s, local = call(c, "POST", "/v1/sessions", E["A1"], {"agent": {"userId": "a2", "name": "a2"}})
assert s in (200, 201), local
local = local["id"]
def run(sid, label, r):
    lat = []; lock = threading.Lock()
    def worker(w):
        conn = http.client.HTTPConnection("127.0.0.1", port); mine = []
        for i in range(n):
            t = time.perf_counter()
            st, _ = call(conn, "POST", f"/v1/sessions/{sid}/messages", E["A1"], {"clientMessageId": f"{label}-{r}-{w}-{i}", "text": f"message {i} from {w}"})
            mine.append(time.perf_counter() - t); assert st == 201, st
        with lock: lat.extend(mine)
    start = time.perf_counter()
    ts = [threading.Thread(target=worker, args=(w,)) for w in range(conc)]
    [t.start() for t in ts]; [t.join() for t in ts]
    wall = time.perf_counter() - start
    lat.sort()
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000
    return len(lat) / wall, q(0.5), q(0.99)
print(f"{conc} senders x {n} sends, keep-alive, release server with its embedded cluster")
for r in range(rounds):
    for label, sid in (("one brokerage", local), ("shared by two", shared)):
        tps, p50, p99 = run(sid, label.replace(" ", ""), r)
        print(f"round {r + 1}: {label:14s} {tps:7.0f} msgs/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms")
PY
