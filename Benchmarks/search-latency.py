#!/usr/bin/env python3
"""Search latency of two running servers on the same database, paired in one run.

    Benchmarks/search-latency.py NEW_PORT OLD_PORT TOKEN_FILE[:OLD_TOKEN_FILE] [ROUNDS] [N]

Each round asks each server (the order alternates) N times per query kind of the search bench
(`parley-bench --search`'s brokerage, agent-1's token) over one keep-alive connection, and prints
p50/p95 per kind and server. Start both servers with `parley serve --port …` on one DATABASE_URL,
or, when the two builds need different schemas, each on its own database holding a search bench
brokerage, with a token file for each (NEW:OLD).
"""
import http.client
import sys
import time

new_port, old_port = int(sys.argv[1]), int(sys.argv[2])
token_files = sys.argv[3].split(":")
tokens = {port: open(token_files[min(i, len(token_files) - 1)]).read().strip() for i, port in enumerate((new_port, old_port))}
rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 4
n = int(sys.argv[5]) if len(sys.argv) > 5 else 15
queries = ["zanzibar", "house", "apart", "mar", "house%20garden", "%22house%20garden%22", "harbor"]
connections = {port: http.client.HTTPConnection("127.0.0.1", port) for port in (new_port, old_port)}
times = {(port, q): [] for port in connections for q in queries}
for round_ in range(rounds):
    for port in (new_port, old_port) if round_ % 2 == 0 else (old_port, new_port):
        connection = connections[port]
        for q in queries:
            for _ in range(n):
                start = time.perf_counter()
                connection.request("GET", "/v1/search?q=" + q, headers={"Authorization": "Bearer " + tokens[port]})
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    sys.exit(f"port {port}, q={q}: HTTP {response.status}")
                times[(port, q)].append((time.perf_counter() - start) * 1000)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


for q in queries:
    new, old = times[(new_port, q)], times[(old_port, q)]
    print(f"{q:26s} new p50 {percentile(new, 50):6.2f} p95 {percentile(new, 95):6.2f} ms"
          f" | old p50 {percentile(old, 50):6.2f} p95 {percentile(old, 95):6.2f} ms")
