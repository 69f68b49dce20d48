#!/usr/bin/env bash
# Installs what the dashboard's browser tests need, where it is missing: Debian's chromium and
# chromium-driver (the system browser the tests drive; no browser is downloaded by a test tool),
# and the playwright Python package in .venv. Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    echo "setup_browser: installing Debian's chromium and chromium-driver" >&2
    if ! $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null 2>&1; then
        $SUDO apt-get update -qq
        $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
    fi
fi

PY=.venv/bin/python
[ -x "$PY" ] || PY=${PYTHON:-python3}
if ! "$PY" -c "import playwright.sync_api" >/dev/null 2>&1; then
    echo "setup_browser: installing the playwright Python package" >&2
    "$PY" -m pip install -q playwright
fi
echo "setup_browser: $(chromium --version 2>/dev/null | head -n1); playwright $("$PY" -c 'import importlib.metadata as m; print(m.version("playwright"))')" >&2
