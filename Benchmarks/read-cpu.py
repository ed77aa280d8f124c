#!/usr/bin/env python3
"""CPU per request of read paths, from outside: the server's and PostgreSQL's, from /proc.

Usage: read-cpu.py PORT SERVER_PID PGDATA TOKEN_FILE N PATH...
Prints, per PATH, wall-clock p50/p95 and the CPU the server process and every backend of the
cluster (children of its postmaster) spent per request over N requests on one keep-alive
connection (after 5 warm-up requests). CPU time drifts less with this machine's speed than
wall-clock time does, and is the figure to pair between two builds (read-cpu.sh).
"""
import http.client, os, sys, time

port, server_pid, pgdata, token_file, n = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
paths = sys.argv[6:]
token = open(token_file).read().strip()
postmaster = int(open(os.path.join(pgdata, "postmaster.pid")).readline())
tick = os.sysconf("SC_CLK_TCK")


def stat(pid):
    return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()


def cpu(pid):
    fields = stat(pid)
    return (int(fields[11]) + int(fields[12])) / tick


def postgres_cpu():
    total = 0.0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = stat(entry)
                if int(fields[1]) == postmaster:
                    total += (int(fields[11]) + int(fields[12])) / tick
            except (FileNotFoundError, ProcessLookupError, IndexError):
                pass
    return total


connection = http.client.HTTPConnection("127.0.0.1", port)
headers = {"Authorization": "Bearer " + token}


def get(path):
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    response.read()
    return response.status


for path in paths:
    for _ in range(5):
        get(path)
    times = []
    server0, postgres0 = cpu(server_pid), postgres_cpu()
    for _ in range(n):
        start = time.perf_counter()
        status = get(path)
        times.append((time.perf_counter() - start) * 1000)
    server1, postgres1 = cpu(server_pid), postgres_cpu()
    times.sort()
    print(f"  {path:34s} {status} p50 {times[n // 2]:6.2f} p95 {times[int(n * 0.95) - 1]:6.2f} ms   "
          f"CPU per request: server {(server1 - server0) / n * 1000:5.2f} ms, postgres {(postgres1 - postgres0) / n * 1000:5.2f} ms")
