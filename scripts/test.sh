#!/usr/bin/env bash
# The test command: set up the environment, then run pytest. Arguments go to pytest.
# An empty selection (pytest exit 5) is not a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
# The dashboard's browser tests drive the system Chromium; without it they skip and say why.
bash scripts/setup_browser.sh || echo "test: no Chromium; the browser tests will skip" >&2
.venv/bin/python -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
    echo "no tests were selected"
    rc=0
fi
exit "$rc"
