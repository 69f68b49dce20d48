#!/usr/bin/env bash
# The main job: set up the environment, then run zkpipe. With no arguments it runs the local
# devnet (the whole pipeline on this machine, embedded L1, JSON-RPC and dashboard) for 30 s;
# arguments go to the zkpipe CLI instead (e.g. `bench --sizes 16`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "$#" -eq 0 ]; then
    set -- devnet --duration 30
fi
exec .venv/bin/zkpipe "$@"
