#!/usr/bin/env bash
# The web inbox and the website widget in headless Chromium (issue 20): starts `parley serve` on
# its own embedded cluster, fills it with `parley demo`, and runs scripts/browser_check.py
# (a visitor's widget request accepted live, messages both ways, ✓✓, typing, an attachment,
# search, the XSS corpus, Request Chat across brokerages, phone width). Screenshots go to
# $SHOTS. Exits 1 if a check failed.
#
#   scripts/browser-check.sh            (PARLEY=path to use another build; default: the debug build)
#
# Needs chromium and chromium-driver (Debian packages; .ci/run installs them) and python3 with
# venv; installs selenium from PyPI into $VENV the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
PARLEY=${PARLEY:-$(swift build --show-bin-path)/parley}
DIR=${BROWSER_CHECK_DIR:-/tmp/parley-browser-check}
SHOTS=${SHOTS:-$DIR/screenshots}
PORT=${PORT:-8292}
VENV=${VENV:-/tmp/parley-browser-venv}
[ -x "$PARLEY" ] || swift build --product parley
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -c 'import selenium' 2>/dev/null || "$VENV/bin/pip" install -q --retries 5 --timeout 30 selenium
rm -rf "$DIR" && mkdir -p "$DIR" "$SHOTS"
export PARLEY_DATA_DIR=$DIR/data
LOG_LEVEL=warning "$PARLEY" serve --port "$PORT" > "$DIR/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 180); do
  curl -fsS "http://127.0.0.1:$PORT/ready" >/dev/null 2>&1 && break
  kill -0 $SERVER 2>/dev/null || { cat "$DIR/server.log"; exit 1; }
  sleep 1
done
"$PARLEY" demo --base-url "http://127.0.0.1:$PORT" > "$DIR/demo.log"
"$VENV/bin/python" scripts/browser_check.py --base "http://127.0.0.1:$PORT" --parley "$PARLEY" \
  --data-dir "$PARLEY_DATA_DIR" --shots "$SHOTS"
