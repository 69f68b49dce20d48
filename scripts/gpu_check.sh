#!/usr/bin/env bash
# Device checks on a lent H100/H200, in one run of at most 8 minutes: the GPU tests
# (tests/test_gpu_backend.py: every kernel against the CPU backend) and the NTT/MSM timings of
# bench.gpu_primitives, printed as JSON (one line per record, a summary line last).
#
# The machine it is written for has CUDA 13, cupy-cuda13x, numpy, numba and pytest, and neither
# galois, py_ecc, ray nor pyrevm, nor a package registry: nothing here installs anything, and the
# tests and benchmark it runs import only kernels/ and bench/gpu_*.py (an import guard below
# fails the run if anything else is pulled in). Run from anywhere:
#
#     bash scripts/gpu_check.sh [--sizes 16 18 20] [--reps 7]
#
# Environment: PYTHON (default python3), OUT (where the logs and JSON go; default a temp folder).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
SIZES="16 18 20"
REPS=7
while [ $# -gt 0 ]; do
    case "$1" in
        --sizes) shift; SIZES=""; while [ $# -gt 0 ] && [[ "$1" != --* ]]; do SIZES="$SIZES $1"; shift; done ;;
        --reps) REPS="$2"; shift 2 ;;
        *) echo "gpu_check: unknown argument $1" >&2; exit 2 ;;
    esac
done
start=$(date +%s)

# Modules the device image does not have; importing one is a bug in what this script runs.
GUARD='
import importlib.abc, sys
class _Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("galois", "py_ecc", "ray", "pyrevm", "web3"):
            raise ImportError(f"gpu_check: {name} is not on the device image and must not be imported")
sys.meta_path.insert(0, _Absent())
'

"$PY" -c "$GUARD
import json, cupy, numpy, numba, pytest
props = cupy.cuda.runtime.getDeviceProperties(0)
name = props['name'].decode() if isinstance(props['name'], bytes) else str(props['name'])
print(json.dumps({'record': 'device', 'device': name, 'cupy': cupy.__version__,
                  'cuda_runtime': cupy.cuda.runtime.runtimeGetVersion(), 'numpy': numpy.__version__,
                  'numba': numba.__version__, 'sms': props['multiProcessorCount']}))
" > "$OUT/device.json" 2> "$OUT/device.err"
device_rc=$?
cat "$OUT/device.json"
if [ $device_rc -ne 0 ]; then
    cat "$OUT/device.err" >&2
    echo "{\"record\": \"summary\", \"ok\": false, \"error\": \"no usable CUDA device or CuPy\"}"
    exit 1
fi

# GPU tests: compilation of every kernel by NVRTC included (CuPy caches it for the benchmark).
timeout 330 "$PY" -c "$GUARD
import sys, pytest
sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', '-m', 'gpu', 'tests/test_gpu_backend.py',
                      '--junitxml', '$OUT/gpu_tests.xml']))
" > "$OUT/gpu_tests.log" 2>&1
tests_rc=$?
tail -n 25 "$OUT/gpu_tests.log" >&2

timeout 150 "$PY" -c "$GUARD
import sys
from bench import gpu_primitives
sys.exit(gpu_primitives.main(['--sizes', *'$SIZES'.split(), '--reps', '$REPS']))
" > "$OUT/primitives.jsonl" 2> "$OUT/primitives.err"
bench_rc=$?
cat "$OUT/primitives.jsonl"
[ $bench_rc -ne 0 ] && tail -n 20 "$OUT/primitives.err" >&2

"$PY" - "$OUT" "$tests_rc" "$bench_rc" "$(( $(date +%s) - start ))" <<'EOF'
import json, sys
import xml.etree.ElementTree as ET
out, tests_rc, bench_rc, elapsed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
summary = {"record": "summary", "tests_rc": tests_rc, "bench_rc": bench_rc, "elapsed_s": elapsed}
try:
    suite = ET.parse(f"{out}/gpu_tests.xml").getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    counts = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    summary.update(counts, passed=counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"])
    summary["failed_tests"] = [f"{c.get('classname')}::{c.get('name')}" for c in suite.iter("testcase")
                               if c.find("failure") is not None or c.find("error") is not None]
except (OSError, ET.ParseError, AttributeError):
    summary["tests"] = None
goals = []
with open(f"{out}/primitives.jsonl") as f:
    for line in f:
        r = json.loads(line)
        if r.get("goal_ms"):
            goals.append({k: r.get(k) for k in ("op", "log2_n", "scalar_bits", "median_ms", "goal_ms")}
                         | {"met": r["median_ms"] <= r["goal_ms"]})
summary["goals"] = goals
summary["ok"] = tests_rc == 0 and bench_rc == 0
summary["out"] = out
print(json.dumps(summary))
EOF
[ $tests_rc -eq 0 ] && [ $bench_rc -eq 0 ]
