#!/usr/bin/env bash
# The main job: set up the environment, then run zkpipe. With no arguments it runs the primitive
# benchmark (MSM and NTT beside snarkjs's engine); arguments go to the zkpipe CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "$#" -eq 0 ]; then
    set -- bench --sizes 12 14 16
fi
exec .venv/bin/zkpipe "$@"
