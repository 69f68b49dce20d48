#!/usr/bin/env bash
# Prepares the project's own environment: .venv with zkpipe and its Python dependencies, and the
# npm packages the benchmarks and tests use, all inside this checkout. Safe to run repeatedly:
# work is redone only when pyproject.toml or a package manifest changes.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv" >&2
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.zkpipe-installed
extras='test,bench,sass'   # test runner and browser driver; benchmark peers; NVRTC/nvdisasm for SASS counts
want=$( (cat pyproject.toml; echo "$extras") | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "setup: installing Python dependencies into .venv" >&2
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[$extras]"
    echo "$want" > "$stamp"
fi

# npm packages, each into the folder that uses it (only when node and npm exist).
if command -v npm >/dev/null 2>&1; then
    for dir in bench/peers contracts tests/clients; do
        [ -f "$dir/package.json" ] || continue
        lock="$dir/node_modules/.zkpipe-installed"
        want=$(cat "$dir/package.json" "$dir/package-lock.json" 2>/dev/null | sha256sum | cut -d' ' -f1)
        if [ ! -f "$lock" ] || [ "$(cat "$lock")" != "$want" ]; then
            echo "setup: npm install in $dir" >&2
            (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1 || npm install --no-audit --no-fund --loglevel=error >/dev/null)
            echo "$want" > "$lock"
        fi
    done
else
    echo "setup: npm not found; peer benchmarks will report no peer, and the L1 contracts cannot be compiled" >&2
fi
