#!/usr/bin/env python3
"""Does a flood of public chat requests on one brokerage slow another brokerage's API?

Run the release server (`DATABASE_URL=… PARLEY_OPERATOR_KEY=k .build/release/parley serve --port 18083`),
then `scripts/flood.py http://127.0.0.1:18083 k`. Makes tenants A and B, measures B's
`GET /v1/badge` and B's public submission alone, then again while 4 processes × 8 threads post
to A's public endpoint as fast as they can (almost all answered 429 by the in-memory limiter).
The flood runs in other processes, so the measuring thread never waits for Python's GIL behind
it. Prints p50/p99. Standard library only.
"""
import json, multiprocessing, random, string, subprocess, sys, threading, time, urllib.request, urllib.error

base, operator = sys.argv[1], sys.argv[2]

def call(method, path, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token: req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=10) as r: return r.status, r.read()
    except urllib.error.HTTPError as e: return e.code, e.read()

def tenant(prefix, per_hour):
    slug = prefix + "".join(random.choice(string.ascii_lowercase) for _ in range(8))
    call("POST", "/v1/tenants", {"slug": slug, "name": prefix}, operator)
    call("PATCH", f"/v1/tenants/{slug}/settings", {"chatRequestsPerIPPerHour": 100000, "chatRequestsPerHour": per_hour}, operator)
    return slug

if __name__ != "__main__":
    a = b = token_b = None
# A: 100 requests an hour (the flood is refused after those); B: enough for the measurement.
if __name__ == "__main__":
  a, b = tenant("flooda", 100), tenant("floodb", 1000000)
  token_b = subprocess.run([".build/release/parley", "token", "--tenant", b, "--sub", "agent-1", "--role", "agent", "--name", "Agent"],
                           capture_output=True, text=True).stdout.strip().splitlines()[-1]

def measure(seconds):
    badge, submit = [], []
    end = time.time() + seconds
    i = 0
    while time.time() < end:
        t = time.perf_counter(); call("GET", "/v1/badge", token=token_b); badge.append((time.perf_counter() - t) * 1000)
        i += 1
        t = time.perf_counter()
        call("POST", f"/v1/public/{b}/chat-requests", {"agentId": "agent-1", "name": "B", "email": f"b{i}-{random.random()}@example.com"})
        submit.append((time.perf_counter() - t) * 1000)
    def p(xs, q): xs = sorted(xs); return xs[min(len(xs) - 1, int(len(xs) * q))]
    return f"badge p50 {p(badge, .5):.2f} ms p99 {p(badge, .99):.2f} ms (n={len(badge)}); submit p50 {p(submit, .5):.2f} ms p99 {p(submit, .99):.2f} ms"

if __name__ == "__main__":
    print("tenant B alone:          ", measure(5))
def flood_process(slug, seconds, queue, per_thread_rate):
    counts = {}
    end = time.time() + seconds
    def worker():
        next_at = time.time()
        while time.time() < end:
            if per_thread_rate:
                next_at += 1 / per_thread_rate
                time.sleep(max(0, next_at - time.time()))
            status, _ = call("POST", f"/v1/public/{slug}/chat-requests", {"agentId": "agent-1", "name": "A", "email": f"{random.random()}@example.com"})
            counts[status] = counts.get(status, 0) + 1
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads: t.start()
    for t in threads: t.join()
    queue.put(counts)

def flood(rate):
    """rate: total requests per second on A, or None for as fast as possible."""
    queue = multiprocessing.Queue()
    flooders = [multiprocessing.Process(target=flood_process, args=(a, 7, queue, rate / 32 if rate else None)) for _ in range(4)]
    for p in flooders: p.start()
    time.sleep(1)
    result = measure(5)
    totals = {}
    for _ in flooders:
        for status, n in queue.get().items(): totals[status] = totals.get(status, 0) + n
    for p in flooders: p.join()
    return result, dict(sorted(totals.items()))

if __name__ == "__main__":
    for rate in (500, 1000, None):
        result, answers = flood(rate)
        label = f"{rate}/s" if rate else "unbounded"
        print(f"tenant B during a {label} flood on A:", result, "| A answered", answers, "in ~7 s")
