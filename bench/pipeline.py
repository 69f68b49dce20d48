"""The pipeline's throughput and latency, one JSON line per measurement.

End to end (default): a devnet per offered load, on this machine's Ray with the embedded L1,
signed transfers over JSON-RPC; each line gives what was admitted and verified per second and
the latency percentiles from submission to soft finality, to a proof, and to the L1.

    python -m bench.pipeline --loads 50 100 200 400 --duration 20 [--log2-rows 10] [--workers 1]

Prover only (--prover-only): no Ray, no node, no L1; full ledger batches (2^k transfers each)
proven one after another by the pipeline's own ProverWorker, as a GPU machine without Ray runs
it. Each line is one batch; the last line sums them up: transfers proven per second, p50/p99
proof latency (trace building included), and the phase breakdown.

    python -m bench.pipeline --prover-only --log2-rows 16 --batches 5 --backend auto
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def context() -> dict:
    from bench.primitives import load_average, machine_description
    return {"machine": machine_description(), "loadavg_1m": load_average()}


# ---------------------------------------------------------------------------------------------
# End to end


def end_to_end(args) -> list[dict]:
    from node.pipeline.devnet import DevnetConfig, run_devnet

    rows = []
    for tps in args.loads:
        ctx = context()
        cfg = DevnetConfig(duration=args.duration, tps=tps, workers=args.workers, provers=args.provers,
                           log2_rows=args.log2_rows, accounts=args.accounts, batch_deadline=args.batch_deadline,
                           max_unproven=args.max_unproven, rpc_port=0, dashboard_port=None,
                           run_dir=f"{args.run_dir}/tps-{tps:g}" if args.run_dir else None, out=progress)
        started = time.perf_counter()
        summary, ok = run_devnet(cfg)
        lat, load, b = summary["latency_s"], summary["load"], summary["batches"]
        row = {"bench": "pipeline", "mode": "end_to_end", "offered_tps": tps, "duration_s": args.duration,
               "accepted_tps": load["accepted_tps"], "verified_tps": load["verified_tps"],
               "accepted": load["accepted"], "deferred_chunks": load["deferred_chunks"],
               "soft_finality_p50_s": lat["executed"]["p50"], "soft_finality_p99_s": lat["executed"]["p99"],
               "proven_p50_s": lat["proven"]["p50"], "proven_p99_s": lat["proven"]["p99"],
               "l1_verified_p50_s": lat["l1_verified"]["p50"], "l1_verified_p99_s": lat["l1_verified"]["p99"],
               "batches": b["verified"], "transfers_per_batch": b["transfers_mean"],
               "proof_p50_s": b["proof_s"]["p50"], "proof_p99_s": b["proof_s"]["p99"],
               "l1_gas_per_batch": b["l1_gas_mean"], "all_verified_nothing_lost": ok,
               "log2_rows": args.log2_rows, "workers": args.workers or 1, "provers": args.provers,
               "run_s": round(time.perf_counter() - started, 1), **ctx}
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------
# Prover only


def bench_jobs(log2_rows: int, count: int, accounts: int, seed: int = 1):
    """Full batches for the prover: `accounts` funded slots and 2^k transfers among them each,
    amounts small enough that no balance can go negative. (The prover takes transfers the
    sequencer has already checked; no signatures are involved at this stage.)"""
    from circuits.ledger_job import LedgerJob

    rng = np.random.default_rng(seed)
    n = 1 << log2_rows
    addresses = [int.from_bytes(rng.bytes(20), "big") | 1 for _ in range(accounts)]
    balances = [10**15] * accounts
    jobs = []
    for b in range(1, count + 1):
        src = rng.integers(0, accounts, n)
        dst = (src + rng.integers(1, accounts, n)) % accounts
        amount = rng.integers(1, 1 << 20, n)
        jobs.append(LedgerJob(b, log2_rows, addresses, balances,
                              list(zip(src.tolist(), dst.tolist(), amount.tolist()))))
    return jobs


def prover_only(args) -> list[dict]:
    from kernels import get_backend
    from node.pipeline.circuit import LedgerCircuit
    from node.pipeline.worker import ProverWorker
    from prover.keys import dev_keys

    be = get_backend(args.backend)
    circuit = LedgerCircuit(args.log2_rows)
    air = circuit.air()
    t = time.perf_counter()
    pk, _ = dev_keys(air, args.log2_rows, b"bench pipeline", be)
    setup_s = time.perf_counter() - t
    accounts = min(args.accounts, circuit.rows)
    jobs = bench_jobs(args.log2_rows, args.batches, accounts)
    progress(f"keys for 2^{args.log2_rows} rows in {setup_s:.1f} s; warming up the worker")
    worker = ProverWorker(circuit, pk, backend=args.backend)
    warm_s = worker.warm_up()
    ctx = context()
    device = {"device": worker.device, "backend": be.name}
    rows, seconds = [], []
    for job in jobs:
        result = worker.prove(job)
        s = result.seconds
        seconds.append(s)
        row = {"bench": "pipeline", "mode": "prover_only", "batch": job.batch_index, "log2_rows": args.log2_rows,
               "transfers": result.transfers, "seconds": round(s, 4),
               "transfers_per_s": round(result.transfers / s, 1),
               "phases_ms": result.phases_ms, "gpu_memory_bytes": worker.memory_bytes(), **device, **ctx}
        print(json.dumps(row), flush=True)
        rows.append(row)
    total = sum(r["transfers"] for r in rows)
    summary = {"bench": "pipeline", "mode": "prover_only_summary", "log2_rows": args.log2_rows,
               "batches": len(rows), "transfers": total,
               "transfers_per_s": round(total / sum(seconds), 1),
               "proof_p50_s": round(float(np.percentile(seconds, 50)), 4),
               "proof_p99_s": round(float(np.percentile(seconds, 99)), 4),
               "phases_ms_mean": {p: round(statistics.fmean(r["phases_ms"][p] for r in rows), 3)
                                  for p in rows[0]["phases_ms"]},
               "setup_s": round(setup_s, 2), "warm_up_s": round(warm_s, 2), **device, **ctx}
    print(json.dumps(summary), flush=True)
    return rows + [summary]


# ---------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prover-only", action="store_true", help="prove full batches with the worker alone (no Ray)")
    parser.add_argument("--loads", type=float, nargs="+", default=[50, 100, 200, 400],
                        help="offered transfers per second, one devnet each (end to end)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load per devnet")
    parser.add_argument("--log2-rows", type=int, default=None,
                        help="ledger circuit size (default: 10 end to end, 16 prover only)")
    parser.add_argument("--workers", type=int, default=None, help="prover workers (end to end)")
    parser.add_argument("--provers", choices=("auto", "gpu", "cpu"), default="auto")
    parser.add_argument("--accounts", type=int, default=64, help="funded accounts")
    parser.add_argument("--batch-deadline", type=float, default=2.0, help="seconds a proof batch stays open")
    parser.add_argument("--max-unproven", type=int, default=4)
    parser.add_argument("--run-dir", default=None, help="keep each devnet's files under this folder")
    parser.add_argument("--batches", type=int, default=5, help="batches to prove (prover only)")
    parser.add_argument("--backend", choices=("auto", "cpu", "gpu"), default="auto", help="prover only")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    if args.log2_rows is None:
        args.log2_rows = 16 if args.prover_only else 10
    if not 3 <= args.log2_rows <= 26 or args.batches < 1 or args.duration <= 0 or min(args.loads) <= 0:
        parser.error("need 3 ≤ --log2-rows ≤ 26, --batches ≥ 1, positive --duration and --loads")
    if args.prover_only:
        prover_only(args)
    else:
        end_to_end(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
