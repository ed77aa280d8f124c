#!/usr/bin/env python3
"""Checks Parley's webhooks from outside (issue 19): a receiver on 127.0.0.1 that verifies every
delivery with the `standardwebhooks` package (pip install standardwebhooks), as an integration
would, against a running `parley serve` started with PARLEY_WEBHOOK_ALLOWED_HOSTS=127.0.0.1.

    webhook_check.py --port P --receiver-port R --parley BIN --tenant demo

scripts/webhook-check.sh starts an embedded server and runs this. `parley token` must reach the
server's database (DATABASE_URL or PARLEY_DATA_DIR in the environment). Exit status 1 when a check
fails.
"""
import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from citus_check import API, Tokens, check, FAILURES  # noqa: E402  (same folder)


class Receiver(ThreadingHTTPServer):
    """Records every POST /hook/<name>; answers from a plan per name (default 200)."""

    daemon_threads = True

    def __init__(self, port):
        super().__init__(("127.0.0.1", port), Handler)
        self.lock = threading.Lock()
        self.received = []  # (name, headers, body, time)
        self.plans = {}

    def plan(self, name, statuses):
        with self.lock:
            self.plans.setdefault(name, []).extend(statuses)

    def got(self, name):
        with self.lock:
            return [r for r in self.received if r[0] == name]

    def wait(self, name, count, seconds=30):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if len(self.got(name)) >= count:
                break
            time.sleep(0.05)
        return self.got(name)


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        name = self.path.rsplit("/", 1)[-1]
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        server = self.server
        with server.lock:
            server.received.append((name, {k.lower(): v for k, v in self.headers.items()}, body, time.time()))
            plan = server.plans.get(name) or []
            status = plan.pop(0) if plan else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def verify(secret, request):
    """The standardwebhooks package's check: the payload, or None if it refuses the request."""
    _, headers, body, _ = request
    try:
        return Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--receiver-port", type=int, required=True)
    parser.add_argument("--parley", required=True)
    parser.add_argument("--tenant", default="demo")
    args = parser.parse_args()

    receiver = Receiver(args.receiver_port)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hook = lambda name: f"http://127.0.0.1:{args.receiver_port}/hook/{name}"  # noqa: E731
    tokens, api = Tokens(args.parley), API(args.port)
    integration = tokens(args.tenant, "crm", "integration")
    agent = tokens(args.tenant, "agent-wh", "agent", "Webhook Agent")
    check(api.call("GET", "/v1/me", agent)[0] == 200, "the agent signs in")

    print("== endpoints", flush=True)
    status, everything = api.call("POST", "/v1/webhooks/endpoints", integration, {
        "url": hook("all"), "eventTypes": ["request.created", "request.updated", "message.created", "contact.created"]})
    check(status == 201, f"endpoint for four event types registered ({status})")
    status, flaky = api.call("POST", "/v1/webhooks/endpoints", integration, {"url": hook("flaky"), "eventTypes": ["request.created"]})
    check(status == 201, f"endpoint for request.created registered ({status})")
    receiver.plan("flaky", [500])

    print("== a visitor's request, accepted, answered, converted", flush=True)
    status, submitted = api.call("POST", f"/v1/public/{args.tenant}/chat-requests", body={
        "agentId": "agent-wh", "name": "Vera Visitor", "email": "vera@example.com", "phone": "+1 415 555 0100",
        "message": "Is the loft on Harbor Way still available?", "preferredContactMethod": "text"})
    check(status == 201, f"chat request submitted ({status})")
    status, accepted = api.call("POST", f"/v1/chat-requests/{submitted['id']}/accept", agent)
    check(status == 200, f"accepted ({status})")
    session = accepted["session"]["id"]
    check(api.call("POST", f"/v1/sessions/{session}/messages", agent, {"clientMessageId": "wh1", "text": "Yes — when can you visit?"})[0] == 201,
          "the agent answers")
    # 200 when an earlier run made this visitor's contact already (the request is linked to it).
    check(api.call("POST", f"/v1/chat-requests/{submitted['id']}/convert-to-crm", agent)[0] in (200, 201), "converted to a CRM contact")

    wanted = {"request.created", "request.updated", "message.created", "contact.created"}
    deadline = time.time() + 30
    while time.time() < deadline and not wanted <= {json.loads(r[2])["type"] for r in receiver.got("all")}:
        time.sleep(0.05)
    got = receiver.got("all")
    payloads = [verify(everything["secret"], r) for r in got]
    check(bool(got) and all(p is not None for p in payloads),
          f"standardwebhooks verifies all {len(got)} deliveries with the endpoint's secret")
    check(wanted <= {p["type"] for p in payloads if p}, "request.created, request.updated, message.created and contact.created arrived")
    check(all(set(p) == {"type", "timestamp", "data"} for p in payloads if p), "each payload is {type, timestamp, data}")
    check(all(verify(flaky["secret"], r) is None for r in got), "another endpoint's secret does not verify them")

    tries = receiver.wait("flaky", 2)
    check(len(tries) == 2 and tries[0][1]["webhook-id"] == tries[1][1]["webhook-id"],
          "a 500 is retried with the same webhook-id")
    check(all(verify(flaky["secret"], r) for r in tries), "both attempts verify")

    print("== secret rotation", flush=True)
    status, rotated = api.call("POST", f"/v1/webhooks/endpoints/{everything['id']}/rotate-secret?overlapSeconds=3600", integration)
    check(status == 200 and rotated["previousSecret"] == everything["secret"], "rotated with an hour of overlap")
    before = len(receiver.got("all"))
    api.call("POST", f"/v1/sessions/{session}/messages", agent, {"clientMessageId": "wh2", "text": "Saturday works."})
    during = receiver.wait("all", before + 1)[before:]
    check(bool(during) and all(verify(rotated["secret"], r) and verify(everything["secret"], r) for r in during),
          "during the overlap the old and the new secret both verify")
    status, cut = api.call("POST", f"/v1/webhooks/endpoints/{everything['id']}/rotate-secret?overlapSeconds=0", integration)
    before = len(receiver.got("all"))
    api.call("POST", f"/v1/sessions/{session}/messages", agent, {"clientMessageId": "wh3", "text": "See you then."})
    after = receiver.wait("all", before + 1)[before:]
    check(bool(after) and all(verify(cut["secret"], r) and verify(rotated["secret"], r) is None for r in after),
          "after a rotation without overlap only the new secret verifies")

    status, log = api.call("GET", f"/v1/webhooks/endpoints/{flaky['id']}/deliveries", integration)
    check(status == 200 and log["items"] and log["items"][0]["attempts"] == 2 and log["items"][0]["status"] == "succeeded",
          "the delivery log shows two attempts, succeeded")
    print(json.dumps(log["items"][0], indent=2))
    receiver.shutdown()
    print(f"\n{len(FAILURES)} failed" if FAILURES else "\nall checks passed")
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()
