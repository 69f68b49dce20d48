"""The pipeline's throughput and latency, one JSON line per measurement.

End to end (default): a devnet per offered load, on this machine's Ray with the embedded L1,
signed transfers over JSON-RPC; each line gives what was admitted and verified per second and
the latency percentiles from submission to soft finality, to a proof, and to the L1.

    python -m bench.pipeline --loads 50 100 200 400 --duration 20 [--log2-rows 10] [--workers 1]

Overload (--overload TPS): one devnet offered more than it can prove, with a light client beside
the load that sends one transfer at a time over JSON-RPC and waits for each (the faucet's
account, so its nonces are its own). The line gives the backlog's bound (transfers admitted and
not yet proven) and the most it held, the most batches waiting for a proof, and the light
client's and the load's acknowledgement latency (from the first offer, time deferred included).

    python -m bench.pipeline --overload 2000 --duration 20 --log2-rows 8

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
# Overload


class LightClient:
    """One transfer at a time from the faucet, each waited for; a refusal for the bound is
    retried, and the latency runs from the first try to the acknowledgement."""

    def __init__(self, url: str, chain_id: int):
        from node.pipeline.loadgen import RpcClient
        self.client, self.chain_id = RpcClient(url), chain_id
        self.latencies: list[float] = []
        self.refused = 0
        self.errors: list[str] = []

    def run(self, stop) -> None:
        from node.genesis import DEV_FAUCET_PRIVATE_KEY
        from node.pipeline.admission import FULL
        from node.pipeline.errors import AdmissionClosed
        from node.transactions import sign_transfer

        nonce = 0
        while not stop.is_set():
            raw = sign_transfer(DEV_FAUCET_PRIVATE_KEY, chain_id=self.chain_id, nonce=nonce, to=b"\x11" * 20, value=1)
            t = time.perf_counter()
            while not stop.is_set():
                try:
                    self.client.call("eth_sendRawTransaction", ["0x" + raw.hex()])
                except AdmissionClosed:
                    self.refused += 1
                    continue
                except RuntimeError as e:
                    if FULL in str(e):
                        self.refused += 1
                        continue
                    self.errors.append(str(e)[:200])
                    return
                self.latencies.append(time.perf_counter() - t)
                nonce += 1
                break
            time.sleep(0.05)


def overload(args) -> dict:
    import threading

    import ray

    from node.pipeline.devnet import Devnet, DevnetConfig
    from node.pipeline.summary import percentiles, summarize

    tps = args.overload
    cfg = DevnetConfig(duration=args.duration, tps=tps, workers=args.workers, provers=args.provers,
                       log2_rows=args.log2_rows, accounts=args.accounts, batch_deadline=args.batch_deadline,
                       max_unproven=args.max_unproven, rpc_port=0, dashboard_port=None, give_up_after=args.duration,
                       run_dir=f"{args.run_dir}/overload-{tps:g}" if args.run_dir else None, out=progress)
    ctx = context()
    net = Devnet(cfg)
    stop = threading.Event()
    peak = {"backlog": 0, "unproven_batches": 0}
    try:
        net.start()
        light = LightClient(net.rpc_url, net.genesis.chain_id)

        def sample():
            while not stop.wait(0.2):
                seq = ray.get(net.sequencer.status.remote())
                st = net.proving.status()
                peak["backlog"] = max(peak["backlog"], seq["backlog"])
                peak["unproven_batches"] = max(peak["unproven_batches"], st["unproven"])
        threads = [threading.Thread(target=sample, daemon=True), threading.Thread(target=light.run, args=(stop,), daemon=True)]
        for th in threads:
            th.start()
        load = net.run_load()
        stop.set()
        for th in threads:
            th.join(30)
        checks = net.check(load, net.drain())
        summary = summarize(net.events, load)
        seq = ray.get(net.sequencer.status.remote())
    finally:
        stop.set()
        net.stop()
    lc = percentiles(light.latencies)
    row = {"bench": "pipeline", "mode": "overload", "offered_tps": tps, "duration_s": args.duration,
           "accepted_tps": summary["load"]["accepted_tps"], "verified_tps": summary["load"]["verified_tps"],
           "backlog_bound": seq["backlog_limit"], "backlog_max": max(peak["backlog"], seq["backlog_high_water"]),
           "unproven_batches_max": peak["unproven_batches"], "max_unproven": args.max_unproven,
           "light_client_sent": lc["count"], "light_client_p50_s": lc["p50"], "light_client_p99_s": lc["p99"],
           "light_client_max_s": lc.get("max"), "light_client_refusals": light.refused,
           "light_client_errors": light.errors[:3],
           "load_ack_p50_s": summary["load"]["acknowledged_s"]["p50"],
           "load_ack_p99_s": summary["load"]["acknowledged_s"]["p99"],
           "deferred_chunks": summary["load"]["deferred_chunks"],
           "all_verified_nothing_lost": checks["ok"], "log2_rows": args.log2_rows, "workers": args.workers or 1,
           "provers": args.provers, **ctx}
    print(json.dumps(row), flush=True)
    return row


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
    parser.add_argument("--overload", type=float, default=None, metavar="TPS",
                        help="one devnet offered TPS (above what it can prove) with a light client beside the load")
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
    if args.overload is not None and args.overload <= 0:
        parser.error("--overload needs a positive offered load")
    if args.prover_only:
        prover_only(args)
    elif args.overload is not None:
        overload(args)
    else:
        end_to_end(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
