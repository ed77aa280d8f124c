#!/usr/bin/env python3
"""Checks a running Parley from outside, as its users would: real HTTP and WebSocket clients.

Written for scripts/citus-check.sh (Parley on a Citus coordinator), usable against any Parley.
Standard library only: the WebSocket client below is the few lines RFC 6455 asks of a client.

    citus_check.py flows --port P --parley BIN --tenants a,b,… [--pair a:b]
        every user flow in each brokerage, live delivery exactly once, and a chat across the pair
    citus_check.py move --port P --parley BIN --tenant T --move-sql SQL --psql CMD [--seconds S]
        a send load on T while SQL (citus_schema_move) runs: nothing lost or duplicated
    citus_check.py load --port P --parley BIN --tenants a,b,… [--seconds S] [--threads N]
        a send load over the brokerages: messages/s and latency percentiles

`parley token` needs DATABASE_URL in the environment. Exit status 1 when a check fails.
"""
import argparse
import base64
import http.client
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid

FAILURES = []


def check(ok, what):
    """Records a check: prints it, remembers a failure."""
    print(("  ok    " if ok else "  FAIL  ") + what, flush=True)
    if not ok:
        FAILURES.append(what)
    return ok


class Tokens:
    def __init__(self, parley):
        self.parley, self.cache = parley, {}

    def __call__(self, tenant, sub, role, name=None):
        key = (tenant, sub, role)
        if key not in self.cache:
            cmd = [self.parley, "token", "--tenant", tenant, "--sub", sub, "--role", role, "--ttl", "86400"]
            if name:
                cmd += ["--name", name]
            for attempt in range(3):
                out = subprocess.run(cmd, capture_output=True, text=True)
                if out.returncode == 0:
                    break
                print(f"  parley token failed ({out.returncode}): {out.stderr.strip()[-400:]}", flush=True)
                time.sleep(1)
            if out.returncode != 0:
                raise SystemExit(f"cannot sign a token for {tenant}/{sub}")
            self.cache[key] = out.stdout.strip()
        return self.cache[key]


class API:
    """One keep-alive HTTP/1.1 connection (not shared between threads)."""

    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method, path, token=None, body=None, headers=None, raw=None):
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=data, headers=h)
                r = self.conn.getresponse()
                payload = r.read()
                break
            except (http.client.HTTPException, ConnectionError, socket.timeout):
                self.conn.close()  # the server closed a kept-alive connection: open another once
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt == 2:
                    raise
        ctype = r.getheader("Content-Type", "")
        value = json.loads(payload) if payload and "json" in ctype else payload
        return r.status, value


class WebSocket:
    """A WebSocket client on a socket: text frames in, masked text frames out, pings answered."""

    def __init__(self, port, token, after=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        path = "/v1/stream" + (f"?after={after}" if after else "")
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                           f"Authorization: Bearer {token}\r\n\r\n").encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed during the upgrade")
            buf += chunk
        head, self.buf = buf.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(head.decode(errors="replace"))
        self.closed = None

    def _frame(self):
        """One whole frame from the buffer, or None (nothing is consumed until a frame is whole)."""
        b = self.buf
        if len(b) < 2:
            return None
        opcode, length, at = b[0] & 0x0F, b[1] & 0x7F, 2
        if length == 126:
            if len(b) < 4:
                return None
            length, at = struct.unpack(">H", b[2:4])[0], 4
        elif length == 127:
            if len(b) < 10:
                return None
            length, at = struct.unpack(">Q", b[2:10])[0], 10
        if len(b) < at + length:
            return None
        self.buf = b[at + length:]
        return opcode, b[at:at + length]

    def send(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x80 | opcode]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n))
        self.sock.sendall(head + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(payload)))

    def recv(self, timeout):
        """The next JSON text frame, or None after `timeout` seconds or once closed."""
        deadline = time.monotonic() + timeout
        while self.closed is None:
            frame = self._frame()
            if frame:
                opcode, payload = frame
                if opcode == 1:
                    return json.loads(payload)
                if opcode == 9:
                    self.send(10, payload)
                elif opcode == 8:
                    self.closed = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else 1005
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return None
            if not chunk:
                self.closed = 1006
            self.buf += chunk
        return None

    def events(self, name, count, timeout):
        """Frames of event `name` until `count` came or `timeout` seconds pass with none."""
        seen = []
        while len(seen) < count:
            f = self.recv(timeout)
            if f is None:
                break
            if f.get("type") == "event" and f.get("event") == name:
                seen.append(f)
        return seen

    def close(self):
        try:
            self.send(8, struct.pack(">H", 1000))
        except OSError:
            pass
        self.sock.close()


class StreamCollector(threading.Thread):
    """Reads a stream on its own thread and keeps every message.created id, in arrival order.
    Like an app, it reconnects after a close (a 4008 when this Python reader falls more than the
    server's 1,000 queued frames behind, a 1001) with `after=` its last event id."""

    def __init__(self, port, token):
        super().__init__(daemon=True)
        self.port, self.token = port, token
        self.ws = WebSocket(port, token)
        self.hello = self.ws.recv(30)
        self.cursor = self.hello.get("cursor") if self.hello else None
        self.ids, self.stop, self.reconnects = [], threading.Event(), 0

    def run(self):
        while not self.stop.is_set():
            if self.ws.closed is not None:
                self.reconnects += 1
                try:
                    self.ws = WebSocket(self.port, self.token, after=self.cursor)
                except OSError:
                    time.sleep(0.5)
                    continue
            f = self.ws.recv(0.5)
            if f and f.get("type") == "event":
                self.cursor = f["id"]
                if f.get("event") == "message.created":
                    self.ids.append((f["data"]["id"], f["data"]["seq"]))

    def wait_for(self, count, timeout):
        deadline = time.monotonic() + timeout
        while len(self.ids) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        self.stop.set()
        self.join(5)
        self.ws.close()
        return self.ids


def open_session(api, agent, client_id, client_name, quiet=False):
    status, s = api.call("POST", "/v1/sessions", agent,
                         {"client": {"userId": client_id, "name": client_name,
                                     "email": f"{client_id}@example.com"}})
    if status not in (200, 201) or not quiet:
        check(status in (200, 201), f"session opened ({status})")
    if status not in (200, 201):
        raise SystemExit(f"cannot go on: {s}")
    return s["id"]


def multipart(name, data, media_type):
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            f"Content-Type: {media_type}\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def flows(args):
    tokens = Tokens(args.parley)
    api = API(args.port)
    for tenant in args.tenants.split(","):
        print(f"brokerage {tenant}", flush=True)
        agent = tokens(tenant, "agent-1", "agent", "Avery Agent")
        client = tokens(tenant, "client-9", "client", "Maria Lopez")
        sid = open_session(api, agent, "client-9", "Maria Lopez")
        stream = StreamCollector(args.port, client)
        stream.start()
        word = "harbor" + uuid.uuid4().hex[:8]
        sent = []
        for i in range(10):
            status, m = api.call("POST", f"/v1/sessions/{sid}/messages", agent,
                                 {"clientMessageId": f"{sid}-{i}", "text": f"message {i} about the {word} house"})
            sent.append(m["id"] if status == 201 else None)
        check(None not in sent, "10 sends answered 201")
        status, again = api.call("POST", f"/v1/sessions/{sid}/messages", agent,
                                 {"clientMessageId": f"{sid}-3", "text": f"message 3 about the {word} house"})
        check(status == 200 and again.get("id") == sent[3], f"a retry with the same clientMessageId returns the message ({status})")
        arrived = stream.wait_for(10, 15)
        check(sorted(i for i, _ in arrived) == sorted(sent) and len(arrived) == 10,
              f"live: the client's stream got each message once ({len(arrived)} frames, {len(set(arrived))} distinct)")
        check([s for _, s in arrived] == sorted(s for _, s in arrived), "live: in seq order")
        status, page = api.call("GET", f"/v1/sessions/{sid}/messages?limit=50", client)
        history = [m["id"] for m in page.get("items", [])] if status == 200 else []
        check(set(sent) <= set(history) and len(history) == len(set(history)), f"history has every message once ({status})")
        status, badge = api.call("GET", "/v1/badge", client)
        check(status == 200 and badge.get("unreadMessages", 0) >= 10, f"client's badge counts the unread messages ({badge})")
        top = max(m["seq"] for m in page["items"])
        status, _ = api.call("POST", f"/v1/sessions/{sid}/read", client, {"upTo": top})
        status2, badge = api.call("GET", "/v1/badge", client)
        check(status in (200, 204) and badge.get("unreadMessages") == 0, f"read receipt clears the badge ({status}, {badge})")
        status, page = api.call("GET", f"/v1/sessions/{sid}/messages?limit=1", agent)
        read_by = page["items"][0].get("readBy", []) if status == 200 and page.get("items") else []
        check("client-9" in read_by, f"the agent sees ✓✓ on the newest message ({read_by})")
        status, found = api.call("GET", f"/v1/search?q={word}", agent)
        check(status == 200 and any(r["session"]["id"] == sid for r in found.get("items", [])),
              f"search finds the session by a word of its messages ({status})")
        for who, token in (("agent", agent), ("client", client)):
            status, listed = api.call("GET", "/v1/sessions?limit=100", token)
            check(status == 200 and any(s["id"] == sid and s["members"] for s in listed.get("items", [])),
                  f"the {who}'s session list holds the session, with its members ({status})")
        data = b"a floor plan, plain text, for the check\n" * 50
        raw, headers = multipart("plan.txt", data, "text/plain")
        status, up = api.call("POST", f"/v1/sessions/{sid}/attachments", agent, raw=raw, headers=headers)
        ok = check(status == 201 and len(up.get("items", [])) == 1, f"attachment uploaded ({status})")
        if ok:
            aid = up["items"][0]["id"]
            status, m = api.call("POST", f"/v1/sessions/{sid}/messages", agent,
                                 {"clientMessageId": f"{sid}-file", "text": "", "attachmentIds": [aid]})
            check(status == 201, f"message with the attachment sent ({status})")
            status, body = api.call("GET", f"/v1/attachments/{aid}", client)
            check(status == 200 and body == data, f"the client downloads the same bytes ({status}, {len(body)} bytes)")
        status, r = api.call("POST", f"/v1/public/{tenant}/chat-requests", None,
                             {"agentId": "agent-1", "name": "Vera Visitor", "email": f"vera-{uuid.uuid4().hex[:6]}@example.com",
                              "message": "Is the loft still available?", "website": ""})
        ok = check(status == 201, f"a website visitor's chat request ({status})")
        if ok:
            status, listed = api.call("GET", "/v1/chat-requests?status=pending", agent)
            check(any(x["id"] == r["id"] for x in listed.get("items", [])), "the agent sees it pending")
            status, accepted = api.call("POST", f"/v1/chat-requests/{r['id']}/accept", agent)
            check(status == 200 and accepted.get("session", {}).get("id"), f"accepted: a session opens ({status})")
            status, polled = api.call("GET", f"/v1/public/{tenant}/chat-requests/{r['id']}", r["visitorToken"])
            check(polled.get("status") == "accepted", f"the visitor sees it accepted ({polled.get('status')})")
    if args.pair:
        across(args, tokens, api, *args.pair.split(":"))


def across(args, tokens, api, a, b):
    """A chat between agents of brokerages a and b: Request Chat, accept, messages live both ways."""
    print(f"across brokerages {a} → {b}", flush=True)
    avery = tokens(a, "agent-1", "agent", "Avery Agent")
    hana = tokens(b, "hana", "agent", "Hana Ito")
    sync = tokens(b, "crm-sync", "integration")
    status, _ = api.call("GET", "/v1/me", hana)
    status, _ = api.call("PUT", "/v1/directory/agents/hana", sync,
                         {"MemberFullName": "Hana Ito", "MemberCity": "Oakland", "listed": True})
    check(status in (200, 201), f"{b}'s integration lists Hana ({status})")
    status, found = api.call("GET", "/v1/directory?q=hana", avery)
    check(any(x.get("MemberKey") == "hana" for x in found.get("items", [])), f"{a}'s agent finds her in the directory")
    status, req = api.call("POST", "/v1/chat-requests", avery,
                           {"brokerage": b, "memberKey": "hana", "message": "My buyers love 12 Oak St — co-op?"})
    if not check(status in (200, 201), f"Request Chat across brokerages ({status} {req})"):
        return
    status, acc = api.call("POST", f"/v1/chat-requests/{req['id']}/accept", hana)
    if not check(status == 200, f"Hana accepts ({status} {acc})"):
        return
    sid = acc["session"]["id"]
    a_stream, b_stream = StreamCollector(args.port, avery), StreamCollector(args.port, hana)
    a_stream.start()
    b_stream.start()
    ids = []
    for i in range(6):
        who = avery if i % 2 == 0 else hana
        status, m = api.call("POST", f"/v1/sessions/{sid}/messages", who, {"clientMessageId": f"x-{sid}-{i}", "text": f"across {i}"})
        ids.append(m.get("id") if status == 201 else None)
    check(None not in ids, "both sides send (6 × 201)")
    got_a, got_b = a_stream.wait_for(6, 15), b_stream.wait_for(6, 15)
    check(sorted(i for i, _ in got_a) == sorted(ids), f"{a}'s agent got all 6 live, once each ({len(got_a)})")
    check(sorted(i for i, _ in got_b) == sorted(ids), f"{b}'s agent got all 6 live, once each ({len(got_b)})")
    _, pa = api.call("GET", f"/v1/sessions/{sid}/messages?limit=50", avery)
    _, pb = api.call("GET", f"/v1/sessions/{sid}/messages?limit=50", hana)
    check([(m["id"], m["seq"]) for m in pa.get("items", [])] == [(m["id"], m["seq"]) for m in pb.get("items", [])],
          "both copies have the same ids and seq")
    status, _ = api.call("POST", f"/v1/sessions/{sid}/read", hana, {"upTo": max(m["seq"] for m in pb["items"])})
    _, pa = api.call("GET", f"/v1/sessions/{sid}/messages?limit=50", avery)
    last_of_avery = next((m for m in pa.get("items", []) if m["id"] == ids[4]), {})
    check(any(r.endswith("hana") for r in last_of_avery.get("readBy", [])),
          f"Hana's receipt reaches {a}'s copy: ✓✓ on Avery's last message ({last_of_avery.get('readBy')})")
    status, _ = api.call("POST", f"/v1/sessions/{sid}/close", avery)
    _, sa = api.call("GET", f"/v1/sessions/{sid}", avery)
    _, sb = api.call("GET", f"/v1/sessions/{sid}", hana)
    check(sa.get("status") == "closed" and sb.get("status") == "closed", f"closing on one side closes both copies ({sa.get('status')}, {sb.get('status')})")


class Sender(threading.Thread):
    """Sends to its session as fast as answers come, retrying a failed send with the same id."""

    def __init__(self, port, token, sid, prefix, until):
        super().__init__(daemon=True)
        self.api, self.token, self.sid, self.prefix, self.until = API(port), token, sid, prefix, until
        self.ok, self.latencies, self.statuses = [], [], {}

    def run(self):
        i = 0
        while time.monotonic() < self.until:
            cid = f"{self.prefix}-{i}"
            for _ in range(50):  # retries with the same clientMessageId: at most one message results
                t0 = time.monotonic()
                try:
                    status, m = self.api.call("POST", f"/v1/sessions/{self.sid}/messages", self.token,
                                              {"clientMessageId": cid, "text": f"load {i}"})
                except OSError:
                    status, m = 0, None
                self.statuses[status] = self.statuses.get(status, 0) + 1
                if status in (200, 201):
                    self.latencies.append(time.monotonic() - t0)
                    self.ok.append((m["id"], m["seq"]))
                    break
                time.sleep(0.2)
            i += 1


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))] * 1000 if v else float("nan")


def move(args):
    """A send load on one brokerage while args.move_sql runs; then every answer checked."""
    tokens = Tokens(args.parley)
    api = API(args.port)
    t = args.tenant
    print(f"moving brokerage {t} during a send load", flush=True)
    sessions = []
    for k in range(args.threads):
        agent = tokens(t, f"mover-agent-{k}", "agent", f"Agent {k}")
        sessions.append((agent, open_session(api, agent, "move-client", "Morgan Client")))
    client = tokens(t, "move-client", "client", "Morgan Client")
    stream = StreamCollector(args.port, client)
    stream.start()
    until = time.monotonic() + args.seconds
    senders = [Sender(args.port, agent, sid, f"mv-{uuid.uuid4().hex[:6]}", until) for agent, sid in sessions]
    for s in senders:
        s.start()
    time.sleep(args.seconds / 4)
    t0 = time.monotonic()
    out = subprocess.run(args.psql + ["-c", args.move_sql], capture_output=True, text=True)
    moved_in = time.monotonic() - t0
    check(out.returncode == 0, f"{args.move_sql} ran in {moved_in:.1f} s {out.stderr.strip()}")
    for s in senders:
        s.join()
    total = sum(len(s.ok) for s in senders)
    statuses = {}
    for s in senders:
        for k, v in s.statuses.items():
            statuses[k] = statuses.get(k, 0) + v
    print(f"  {total} messages sent in {args.seconds} s, answers {statuses}; "
          f"a send p50 {pct(sum((s.latencies for s in senders), []), 50):.1f} ms, "
          f"max {max(sum((s.latencies for s in senders), [0])) * 1000:.0f} ms")
    # After the move the stream must keep delivering: one more message per session.
    after = []
    for agent, sid in sessions:
        status, m = api.call("POST", f"/v1/sessions/{sid}/messages", agent, {"clientMessageId": f"after-{sid}", "text": "after the move"})
        check(status == 201, f"a send after the move ({status})")
        after.append((m["id"], m["seq"]))
    expected = set(x for s in senders for x in s.ok) | set(after)
    arrived = stream.wait_for(len(expected), 30)
    check(len(arrived) == len(set(arrived)), f"no message arrived twice on the stream ({len(arrived)} frames, {len(set(arrived))} distinct)")
    check(set(arrived) == expected, f"the stream got every sent message ({len(set(arrived) & expected)} of {len(expected)}, "
          f"{len(set(arrived) - expected)} unknown; {stream.reconnects} reconnects with after=)")
    for (agent, sid), s in zip(sessions, senders):
        history, cursor = [], None
        while True:
            status, page = api.call("GET", f"/v1/sessions/{sid}/messages?limit=100" + (f"&before={cursor}" if cursor else ""), agent)
            if status != 200:
                check(False, f"history of session {sid[:8]} ({status} {page})")
                break
            history += [(m["id"], m["seq"]) for m in page.get("items", [])]
            cursor = page.get("nextCursor")
            if not cursor or not page.get("items"):
                break
        seqs = sorted(q for _, q in history)
        check(seqs == list(range(1, len(seqs) + 1)), f"session {sid[:8]}: seq 1…{len(seqs)} without gaps or repeats")
        check(set(s.ok) <= set(history) and len(history) == len(s.ok) + 1,
              f"session {sid[:8]}: history holds each answered send once ({len(history)} = {len(s.ok)} + 1)")


def load(args):
    """The same send load (threads senders, one session each) for args.seconds; prints figures."""
    tokens = Tokens(args.parley)
    api = API(args.port)
    tenants = args.tenants.split(",")
    sessions = []
    for k in range(args.threads):
        t = tenants[k % len(tenants)]
        agent = tokens(t, f"load-agent-{k}", "agent", f"Agent {k}")
        sessions.append((agent, open_session(api, agent, f"load-client-{k}", f"Client {k}", quiet=True)))
    warm = [Sender(args.port, a, s, f"w-{uuid.uuid4().hex[:6]}", time.monotonic() + 3) for a, s in sessions]
    for s in warm:
        s.start()
    for s in warm:
        s.join()
    until = time.monotonic() + args.seconds
    senders = [Sender(args.port, a, s, f"l-{uuid.uuid4().hex[:6]}", until) for a, s in sessions]
    for s in senders:
        s.start()
    for s in senders:
        s.join()
    lat = sum((s.latencies for s in senders), [])
    errors = sum(v for s in senders for k, v in s.statuses.items() if k not in (200, 201))
    print(json.dumps({"label": args.label, "messages_per_s": round(len(lat) / args.seconds, 1),
                      "p50_ms": round(pct(lat, 50), 1), "p99_ms": round(pct(lat, 99), 1), "errors": errors}), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["flows", "move", "load"])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--parley", required=True, help="the parley executable (for tokens)")
    p.add_argument("--tenants", default="")
    p.add_argument("--tenant", default="")
    p.add_argument("--pair", default="")
    p.add_argument("--move-sql", default="")
    p.add_argument("--psql", default="psql", help="the psql command line for the coordinator (split on spaces)")
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--label", default="")
    args = p.parse_args()
    args.psql = args.psql.split()
    {"flows": flows, "move": move, "load": load}[args.command](args)
    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed", flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
