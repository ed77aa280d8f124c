#!/usr/bin/env bash
# Parley's webhooks verified from outside with the `standardwebhooks` package (issue 19):
# starts `parley serve` on its own embedded cluster, a receiver on 127.0.0.1, and runs
# scripts/webhook_check.py (endpoints, a visitor's request through to a CRM contact, a retried
# 500, secret rotation), every delivery verified by the library. Exits 1 if a check failed.
#
#   scripts/webhook-check.sh             (PARLEY=path to use another build; default: the release build)
#
# Needs python3 with venv; installs standardwebhooks from PyPI into $VENV the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
PARLEY=${PARLEY:-$(pwd)/.build/release/parley}
DIR=${WEBHOOK_CHECK_DIR:-/tmp/parley-webhook-check}
PORT=${PORT:-8290}
RECEIVER_PORT=${RECEIVER_PORT:-8291}
VENV=${VENV:-/tmp/parley-webhook-venv}
[ -x "$PARLEY" ] || swift build -c release --product parley
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -c 'import standardwebhooks' 2>/dev/null || "$VENV/bin/pip" install -q --retries 5 --timeout 30 standardwebhooks
rm -rf "$DIR" && mkdir -p "$DIR"
export PARLEY_DATA_DIR=$DIR/data
PARLEY_WEBHOOK_ALLOWED_HOSTS=127.0.0.1 PARLEY_WEBHOOK_RETRY_SCHEDULE=1,5,5 LOG_LEVEL=warning \
  "$PARLEY" serve --port "$PORT" > "$DIR/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 180); do
  curl -fsS "http://127.0.0.1:$PORT/ready" >/dev/null 2>&1 && break
  kill -0 $SERVER 2>/dev/null || { cat "$DIR/server.log"; exit 1; }
  sleep 1
done
"$VENV/bin/python" scripts/webhook_check.py --port "$PORT" --receiver-port "$RECEIVER_PORT" --parley "$PARLEY" --tenant demo
