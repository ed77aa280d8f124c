#!/usr/bin/env bash
# The web inbox and the website widget in headless Chromium (issue 20): scripts/browser_check.py
# starts `parley serve` on its own embedded cluster, fills it with `parley demo`, and checks
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
# browser_check.py starts `parley serve` itself (it restarts it midway to check that the pages
# resume their streams), runs `parley demo`, and stops the server at the end.
"$VENV/bin/python" scripts/browser_check.py --port "$PORT" --parley "$PARLEY" --data-dir "$DIR/data" --shots "$SHOTS"
