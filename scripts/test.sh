#!/usr/bin/env bash
# The test command: set up the environment, then run pytest. Arguments go to pytest.
# An empty selection (pytest exit 5) is not a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
# The dashboard's browser tests drive the system Chromium; without it they skip and say why.
bash scripts/setup_browser.sh || echo "test: no Chromium; the browser tests will skip" >&2
# The CPU kernels compiled once, before the tests (a fresh clone has no numba cache yet).
.venv/bin/python -m tests.jit_util || echo "test: the JIT warm-up failed; the tests compile what they use" >&2
# Two pytest-xdist workers (CI has 2 cores, and much of the suite waits on node starts, anvil, Ray
# and the browser rather than computing), each taking a whole test file at a time, so that module
# fixtures are made once and a file's tests keep their order; the longest files go first, in the
# order tests/conftest.py gives. ZKPIPE_TEST_WORKERS=0 runs everything in one process.
workers=${ZKPIPE_TEST_WORKERS:-2}
xdist=()
if [ "$workers" != 0 ]; then
    xdist=(-n "$workers" --dist loadfile --no-loadscope-reorder)
fi
.venv/bin/python -m pytest "${xdist[@]}" "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
    echo "no tests were selected"
    rc=0
fi
exit "$rc"
