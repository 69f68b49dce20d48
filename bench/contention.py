"""Proving speed when the cores are shared: one workload timed quiet and under a competing load,
rep by rep, for each threading configuration of the CPU kernels.

    python -m bench.contention                               # kernels workload, 2^12 × 20 columns
    python -m bench.contention --workload ledger --log2 12   # a real ledger batch proof
    python -m bench.contention --configs ours cores          # only these configurations
    python -m bench.contention --competitor-session own      # the competitor a session apart

The competing load is a second process keeping every core given to this one busy (one thread per
core hashing in C, the GIL released). Each rep runs the workload once quiet and once with the
competitor running, so both figures meet the same background; `ratio` is loaded / quiet median.
A fair share of the machine under such a competitor is half of it for one thread per core, so
a perfectly parallel workload with one thread per core would take 2× its quiet time; the
scheduler shares per runnable thread, so more threads take a larger share: within one
scheduling group. The competitor is the benchmark's child, in its session; with
`--competitor-session own` it runs in a session of its own, as a service started apart from the
prover does, and where the kernel groups tasks by session (`/proc/sys/kernel/sched_autogroup_enabled`,
on by default in most distributions; cgroups do the same per service) the cores are first shared
half and half between the two sessions, whatever their thread counts. `pair_ratio` is the
median of each rep's loaded / quiet, which a drifting background load disturbs less. The child
records the threads each call ran with (`threads_quiet`, `threads_loaded`) and the pool size.

Configurations, each in its own process (numba and libgomp read them when their pool starts):

- `ours`: what `kernels.cpu.threads` sets (OpenMP, passive waiting, a pool of 8 threads per
  core given, all of them working while other processes' threads wait to run, one per core
  otherwise);
- `release-memory`: as `ours`, with glibc's own thresholds for handing freed memory back
  (`ZKPIPE_CPU_KEEP_MEMORY=0`; see kernels.cpu.memory);
- `always-pool`: the same pool, all of it working whatever the load (`ZKPIPE_CPU_ADAPT=0`);
- `pool-4x`: as `ours` with 4 threads per core (`ZKPIPE_CPU_OVERSUBSCRIBE=4`);
- `cores`: one thread per core given, whatever the load (`ZKPIPE_CPU_OVERSUBSCRIBE=1`);
- `spin`: as `cores`, with OpenMP threads that spin while they wait (`OMP_WAIT_POLICY=ACTIVE`),
  which libgomp's default approximates;
- `short-spin`: as `cores`, with OpenMP threads that spin briefly (`GOMP_SPINCOUNT=20000`, some
  microseconds) before they sleep;
- `workqueue`: as `cores`, on numba's own pool (not safe for parallel regions entered from two
  threads at once);
- `one-thread`: `ZKPIPE_CPU_THREADS=1`, no extra threads.

Workloads: `kernels` is a proof's kernel calls at 2^log2 rows and `--columns` columns (inverse
NTT of every column, a coset NTT at 4× the rows, one MSM per column with 254-bit scalars, an
element-wise product chain and a batch inversion); `ledger` proves one ledger batch with the
prover (keys made once, untimed). One JSON line per configuration; progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Callable, Optional, Sequence

ONE_PER_CORE = {"ZKPIPE_CPU_OVERSUBSCRIBE": "1"}
CONFIGS = {
    "ours": {},
    "release-memory": {"ZKPIPE_CPU_KEEP_MEMORY": "0"},
    "always-pool": {"ZKPIPE_CPU_ADAPT": "0"},
    "pool-4x": {"ZKPIPE_CPU_OVERSUBSCRIBE": "4"},
    "cores": ONE_PER_CORE,
    "spin": {**ONE_PER_CORE, "OMP_WAIT_POLICY": "ACTIVE"},
    "short-spin": {**ONE_PER_CORE, "GOMP_SPINCOUNT": "20000"},
    "workqueue": {**ONE_PER_CORE, "NUMBA_THREADING_LAYER": "workqueue"},
    "one-thread": {**ONE_PER_CORE, "ZKPIPE_CPU_THREADS": "1"},
}
# What a configuration may set: taken out of the inherited environment, so that each means
# the same whatever the shell had.
CONFIG_KNOBS = {"ZKPIPE_CPU_OVERSUBSCRIBE", "ZKPIPE_CPU_ADAPT", "ZKPIPE_CPU_KEEP_MEMORY", "OMP_WAIT_POLICY",
                "GOMP_SPINCOUNT", "NUMBA_THREADING_LAYER"}

# One thread per core, each hashing a 1 MiB buffer in C (hashlib releases the GIL).
COMPETITOR = """
import hashlib, os, threading, time
buf = b"x" * (1 << 20)
def spin():
    while True:
        hashlib.sha256(buf).digest()
for _ in range(len(os.sched_getaffinity(0))):
    threading.Thread(target=spin, daemon=True).start()
while True:
    time.sleep(60)
"""


def progress(message: str) -> None:
    print(f"[bench.contention] {message}", file=sys.stderr, flush=True)


class Competitor:
    """A second process busy on every core this one is given, for as long as the block lasts;
    with `own_session`, in a session of its own, as a service started apart from the prover is
    (with the kernel's session autogroups, the scheduler then shares the cores between the two
    sessions first, and only within each per thread)."""

    def __init__(self, own_session: bool = False):
        self.own_session = own_session

    def __enter__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", COMPETITOR], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=self.own_session)
        time.sleep(0.3)                     # its threads are up and spinning
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# ---------------------------------------------------------------------------------------------
# Workloads: each returns the call to time, prepared (inputs, keys, JIT) before any timing
# ---------------------------------------------------------------------------------------------

def kernels_workload(log2: int, columns: int) -> Callable[[], object]:
    import numpy as np

    from kernels import get_backend

    be = get_backend("cpu")
    rng = np.random.default_rng(3)
    n = 1 << log2
    values = be.fr.random(columns * n, rng=rng).reshape(columns, n, 4)
    points = be.g1.random(min(n, 1 << 10), rng=rng)
    bases = np.resize(points, (n, 2, 4))           # an MSM's cost does not depend on its bases

    def call():
        coeffs = be.ntt(values, inverse=True)
        wide = np.zeros((columns, 4 * n, 4), dtype=np.uint64)
        wide[:, :n] = coeffs
        evals = be.ntt(wide, coset=True)
        commitments = [be.msm(bases, coeffs[c]) for c in range(columns)]
        acc = evals[0]
        for c in range(1, columns):
            acc = be.fr.add(be.fr.mul(acc, evals[c]), evals[c - 1])
        inv = be.fr.batch_inv(be.fr.add(acc, be.fr.ones(acc.shape[0])))
        return commitments, inv
    return call


def ledger_workload(log2: int) -> Callable[[], object]:
    from bench.ledger import batch_job
    from circuits.ledger import Ledger, build_trace
    from kernels import get_backend
    from prover.keys import dev_keys
    from prover.prove import prove

    be = get_backend("cpu")
    air = Ledger(log2)
    pk, _ = dev_keys(air, log2, b"bench.contention", be)
    job = batch_job(log2)

    def call():
        trace, pub = build_trace(job)
        return prove(air, pk, trace, pub, be)
    return call


def measure(workload: Callable[[], object], reps: int, threads: Optional[Callable[[], int]] = None,
            own_session: bool = False) -> dict:
    """Quiet and loaded medians (ms), taking turns within each rep, after one warm-up call;
    with `threads`, the thread count each call ran with (it may follow the load); the
    competitor in its own session with `own_session`."""
    workload()
    quiet, loaded, used = [], [], {"quiet": [], "loaded": []}
    for rep in range(reps):
        start = time.perf_counter()
        workload()
        quiet.append((time.perf_counter() - start) * 1e3)
        if threads:
            used["quiet"].append(threads())
        with Competitor(own_session):
            start = time.perf_counter()
            workload()
            loaded.append((time.perf_counter() - start) * 1e3)
            if threads:
                used["loaded"].append(threads())
        progress(f"rep {rep + 1}/{reps}: quiet {quiet[-1]:.0f} ms, loaded {loaded[-1]:.0f} ms")
    q, l = statistics.median(quiet), statistics.median(loaded)
    out = {"quiet_ms": round(q, 1), "loaded_ms": round(l, 1), "ratio": round(l / q, 3),
           "pair_ratio": round(statistics.median(b / a for a, b in zip(quiet, loaded)), 3),
           "quiet_all_ms": [round(x, 1) for x in quiet], "loaded_all_ms": [round(x, 1) for x in loaded]}
    if threads:
        out.update(threads_quiet=used["quiet"], threads_loaded=used["loaded"])
    return out


def child(args) -> dict:
    """Runs in the configured process: prepare, measure, describe the threads it ran with."""
    import kernels.cpu  # noqa: F401  (sets the thread pool up before numba reads its settings)
    import numba

    from bench.primitives import load_average, machine_description

    if args.workload == "ledger":
        call = ledger_workload(args.log2)
    else:
        call = kernels_workload(args.log2, args.columns)
    load_before = load_average()
    own = args.competitor_session == "own"
    figures = measure(call, args.reps, threads=numba.get_num_threads, own_session=own)
    return {"bench": "contention", "config": args.config, "workload": args.workload, "log2": args.log2,
            "columns": args.columns if args.workload == "kernels" else None, **figures,
            "pool_threads": numba.config.NUMBA_NUM_THREADS,
            "threading_layer": numba.threading_layer(),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"), "reps": args.reps,
            "competitor": "one process, one busy thread per core", "competitor_session": args.competitor_session,
            "machine": machine_description(),
            "loadavg_1m_before": load_before, "loadavg_1m_after": load_average()}


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.contention", description=__doc__.split("\n\n")[0])
    p.add_argument("--workload", choices=["kernels", "ledger"], default="kernels")
    p.add_argument("--log2", type=int, default=12, help="rows as log2 (default 12)")
    p.add_argument("--columns", type=int, default=20, help="columns of the kernels workload (default 20)")
    p.add_argument("--reps", type=int, default=3, help="quiet/loaded pairs (default 3)")
    p.add_argument("--configs", nargs="+", choices=sorted(CONFIGS), default=["ours", "cores", "always-pool", "one-thread"])
    p.add_argument("--competitor-session", choices=["same", "own"], default="same",
                   help="the competitor in this benchmark's session (default) or in its own, as a "
                        "separately started service is")
    p.add_argument("--config", help=argparse.SUPPRESS)    # set in the child process
    args = p.parse_args(argv)
    if args.reps < 1 or not 1 <= args.log2 <= 20:
        p.error("--reps must be ≥ 1 and --log2 in 1..20")
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.config:
        print(json.dumps(child(args)), flush=True)
        return 0
    # Configurations take turns, one quiet/loaded pair each per round, so that all of them meet
    # the same background load; the kernels' JIT cache and the ledger's key cache make a fresh
    # process cheap (a few seconds).
    samples = {name: [] for name in args.configs}
    for r in range(args.reps):
        for name in args.configs:
            progress(f"round {r + 1}/{args.reps}, {name}: {args.workload} at 2^{args.log2}")
            env = {k: v for k, v in os.environ.items() if k not in CONFIG_KNOBS}
            env.update(CONFIGS[name])
            command = [sys.executable, "-m", "bench.contention", "--workload", args.workload, "--log2", str(args.log2),
                       "--columns", str(args.columns), "--reps", "1", "--competitor-session", args.competitor_session,
                       "--config", name]
            done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True)
            lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
            if done.returncode == 0 and lines:
                samples[name].append(json.loads(lines[-1]))
            else:
                progress(f"{name}: exit {done.returncode}")
    for name, runs in samples.items():
        if not runs:
            print(json.dumps({"bench": "contention", "config": name, "error": "no run finished"}), flush=True)
            continue
        quiet = [x for run in runs for x in run["quiet_all_ms"]]
        loaded = [x for run in runs for x in run["loaded_all_ms"]]
        q, l = statistics.median(quiet), statistics.median(loaded)
        line = {**runs[-1], "quiet_ms": round(q, 1), "loaded_ms": round(l, 1), "ratio": round(l / q, 3),
                "pair_ratio": round(statistics.median(b / a for a, b in zip(quiet, loaded)), 3),
                "quiet_all_ms": quiet, "loaded_all_ms": loaded, "reps": len(quiet),
                "threads_quiet": [t for run in runs for t in run.get("threads_quiet", [])],
                "threads_loaded": [t for run in runs for t in run.get("threads_loaded", [])],
                "loadavg_1m_before": runs[0]["loadavg_1m_before"]}
        print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
