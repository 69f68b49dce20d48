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

The ceiling (--find-ceiling): one devnet per offered load, raised by --step from --start-tps
until the verified throughput stops following it (the load's transfers verified within two
proofs and 0.5 s of its end, per second of load, below --follow × offered), within
--max-seconds. One line per load: the latency curve (L1-verified p50/p99) and each stage's
median delay (admission and signature recovery, execution, batching and proving, L1) from the
pipeline's own events, the provers' busy fraction and the trace building's share of a proof;
the last line gives the ceiling (the most verified tx/s seen) and the stage that saturated.

    python -m bench.pipeline --find-ceiling --start-tps 100 --step 1.6 --duration 12 --max-seconds 600

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
                           work_conserving=args.batching == "work-conserving", max_unproven=args.max_unproven,
                           prover_cpus=args.prover_cpus,
                           rpc_port=0, dashboard_port=None,
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
               "l1_gas_per_batch": b["l1_gas_mean"], "batch_step_p50_ms": b.get("step_p50_ms"),
               "all_verified_nothing_lost": ok,
               "log2_rows": args.log2_rows, "workers": args.workers or 1, "provers": args.provers,
               "prover_cpus": args.prover_cpus, "batching": args.batching,
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
                       work_conserving=args.batching == "work-conserving", max_unproven=args.max_unproven,
                           prover_cpus=args.prover_cpus,
                       rpc_port=0, dashboard_port=None, give_up_after=args.duration,
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
# The ceiling

STAGES = ("admission and signature recovery", "execution", "trace building", "proving", "L1")
SATURATED = 0.9     # provers busy this fraction of the time count as saturated (as bench.capacity)


def stage_delays(log) -> dict:
    """Median delay each stage adds, from the per-transaction latencies since submission."""
    p50 = {stage: float(np.median(v)) if len(v) else None for stage, v in log.latencies.items()}
    if any(p50.get(s) is None for s in ("sequenced", "executed", "proven", "l1_verified")):
        return {}
    return {"admission and signature recovery": p50["sequenced"],
            "execution": max(0.0, p50["executed"] - p50["sequenced"]),
            "batching and proving": max(0.0, p50["proven"] - p50["executed"]),
            "L1": max(0.0, p50["l1_verified"] - p50["proven"])}


def prover_use(log, workers: int) -> dict:
    """The provers' busy fraction over the span they worked, and the trace building's share of
    a proof (the worker's witness phase, which builds the trace)."""
    spans = [(st["proof_started"], st["proof_done"]) for st in log.batches.values()
             if "proof_started" in st and "proof_done" in st]
    if not spans:
        return {"provers_busy": None, "trace_share": None}
    busy = sum(done - start for start, done in spans)
    window = max(d for _, d in spans) - min(s for s, _ in spans)
    phases = [info["phases_ms"] for info in log.batch_info.values() if "phases_ms" in info]
    witness = sum(p.get("witness", 0.0) for p in phases)
    total = sum(sum(p.values()) for p in phases)
    return {"provers_busy": round(busy / max(window * workers, 1e-9), 3),
            "trace_share": round(witness / total, 3) if total else None}


def kept_up_tps(log, load, proof_s: float) -> float:
    """Transfers per second of the load verified on the L1 within one settling time of its end:
    two proofs (a transfer waits at most for the proof in progress and its own) and 0.5 s.
    Equal to the admitted rate while the pipeline keeps up; below it once a backlog builds."""
    settle = 2 * proof_s + 0.5
    done = sum(log.batch_info.get(b, {}).get("transfers", 0) for b, st in log.batches.items()
               if st.get("l1_verified", float("inf")) <= load.finished + settle)
    return round(min(done, load.accepted) / max(load.finished - load.started, 1e-9), 1)


def saturating_stage(row: dict, first: dict) -> str:
    """The stage that sets the ceiling: proving (or trace building, where it is most of a
    proof) when the provers were busy nearly all the time on full batches (with work-conserving
    batching a prover is busy at any load, but its batches fill only when it cannot keep up);
    admission when the load was not even admitted and nothing downstream held it back; else the
    stage whose delay grew most from the lightest load."""
    if (row["provers_busy"] or 0) >= SATURATED and row["batch_fill"] >= SATURATED:
        return "trace building" if (row["trace_share"] or 0) > 0.5 else "proving"
    if row["accepted_tps"] < row["follow"] * row["offered_tps"] and not row["admission_waited"]:
        return "admission and signature recovery"
    growth = {s: d - first["stage_delay_p50_s"].get(s, 0.0) for s, d in row["stage_delay_p50_s"].items()}
    if not growth:
        return "unknown"
    stage = max(growth, key=growth.get)
    return "proving" if stage == "batching and proving" else stage


def ceiling_step(args, tps: float, remaining_s: float) -> dict:
    import ray

    from node.pipeline.devnet import Devnet, DevnetConfig
    from node.pipeline.summary import summarize

    cfg = DevnetConfig(duration=args.duration, tps=tps, workers=args.workers, provers=args.provers,
                       log2_rows=args.log2_rows, accounts=args.accounts, batch_deadline=args.batch_deadline,
                       work_conserving=args.batching == "work-conserving", max_unproven=args.max_unproven,
                           prover_cpus=args.prover_cpus,
                       rpc_port=0, dashboard_port=None,
                       give_up_after=args.duration, drain_timeout=max(10.0, remaining_s),
                       run_dir=f"{args.run_dir}/ceiling-{tps:g}" if args.run_dir else None, out=progress)
    ctx = context()
    started = time.perf_counter()
    net = Devnet(cfg)
    try:
        net.start()
        load = net.run_load()
        checks = net.check(load, net.drain())
        summary = summarize(net.events, load)
        seq = ray.get(net.sequencer.status.remote())
        delays = stage_delays(net.events)
        kept_up = kept_up_tps(net.events, load, summary["batches"]["proof_s"]["p50"] or 0.0)
        use = prover_use(net.events, args.workers or 1)
    finally:
        net.stop()
    lat = summary["latency_s"]["l1_verified"]
    return {"bench": "pipeline", "mode": "ceiling_step", "offered_tps": tps, "duration_s": args.duration,
            "accepted_tps": summary["load"]["accepted_tps"], "verified_tps": kept_up,
            "verified_tps_with_drain": summary["load"]["verified_tps"], "follow": args.follow,
            "l1_verified_p50_s": lat["p50"], "l1_verified_p99_s": lat["p99"],
            "stage_delay_p50_s": {k: round(v, 4) for k, v in delays.items()}, **use,
            "batch_step_p50_ms": summary["batches"]["step_p50_ms"],
            "transfers_per_batch": summary["batches"]["transfers_mean"],
            "batch_fill": round(summary["batches"]["transfers_mean"] / (1 << args.log2_rows), 3),
            "proof_p50_s": summary["batches"]["proof_s"]["p50"],
            "admission_waited": seq["admission_waited"], "admission_refused": seq["admission_refused"],
            "all_verified_nothing_lost": checks["ok"], "log2_rows": args.log2_rows,
            "batching": args.batching, "workers": args.workers or 1, "provers": args.provers,
            "prover_cpus": args.prover_cpus, "run_s": round(time.perf_counter() - started, 1), **ctx}


def find_ceiling(args) -> dict:
    """Raise the offered load until the verified throughput stops following it."""
    t0 = time.perf_counter()
    rows, tps, step_s, reason = [], args.start_tps, 0.0, "time"
    while True:
        elapsed = time.perf_counter() - t0
        if rows and elapsed + step_s > args.max_seconds:
            break                            # the next step would not fit in --max-seconds
        row = ceiling_step(args, tps, args.max_seconds - elapsed)
        step_s = max(step_s, row["run_s"])
        print(json.dumps(row), flush=True)
        rows.append(row)
        if row["verified_tps"] < args.follow * tps or not row["all_verified_nothing_lost"]:
            reason = "verified throughput stopped following the offered load"
            break
        tps = round(tps * args.step, 1)
    best = max(rows, key=lambda r: r["verified_tps"])
    last = rows[-1]
    out = {"bench": "pipeline", "mode": "ceiling", "ceiling_verified_tps": best["verified_tps"],
           "at_offered_tps": best["offered_tps"], "stopped": reason,
           "saturating_stage": saturating_stage(last, rows[0]) if reason != "time" else None,
           "curve": [{"offered_tps": r["offered_tps"], "verified_tps": r["verified_tps"],
                      "l1_verified_p50_s": r["l1_verified_p50_s"], "l1_verified_p99_s": r["l1_verified_p99_s"],
                      "provers_busy": r["provers_busy"]} for r in rows],
           "seconds": round(time.perf_counter() - t0, 1), "log2_rows": args.log2_rows,
           "workers": args.workers or 1, "provers": args.provers, **context()}
    print(json.dumps(out), flush=True)
    return out


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
    parser.add_argument("--find-ceiling", action="store_true",
                        help="raise the offered load until verified throughput stops following it")
    parser.add_argument("--start-tps", type=float, default=100.0, help="first offered load (--find-ceiling)")
    parser.add_argument("--step", type=float, default=1.6, help="factor between loads (--find-ceiling)")
    parser.add_argument("--follow", type=float, default=0.9,
                        help="verified below this fraction of offered is the ceiling (--find-ceiling)")
    parser.add_argument("--max-seconds", type=float, default=900.0,
                        help="time bound for --find-ceiling: no step starts that would not end within it")
    parser.add_argument("--loads", type=float, nargs="+", default=[50, 100, 200, 400],
                        help="offered transfers per second, one devnet each (end to end)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load per devnet")
    parser.add_argument("--log2-rows", type=int, default=None,
                        help="ledger circuit size (default: 10 end to end, 16 prover only)")
    parser.add_argument("--workers", type=int, default=None, help="prover workers (end to end)")
    parser.add_argument("--provers", choices=("auto", "gpu", "cpu"), default="auto")
    parser.add_argument("--prover-cpus", type=int, default=None,
                        help="CPUs (kernel threads) each CPU prover takes (default: the machine's shared among them)")
    parser.add_argument("--accounts", type=int, default=64, help="funded accounts")
    parser.add_argument("--batch-deadline", type=float, default=2.0,
                        help="seconds a proof batch stays open at most (batches close when a prover is free)")
    parser.add_argument("--max-unproven", type=int, default=4)
    parser.add_argument("--batching", choices=("work-conserving", "deadline"), default="work-conserving",
                        help="deadline: batches close only when full or at --batch-deadline (the former policy)")
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
    if args.prover_cpus is not None and args.prover_cpus < 1:
        parser.error("--prover-cpus must be at least 1")
    if args.overload is not None and args.overload <= 0:
        parser.error("--overload needs a positive offered load")
    if args.find_ceiling and not (args.start_tps > 0 and args.step > 1 and 0 < args.follow <= 1
                                  and args.max_seconds > 0):
        parser.error("--find-ceiling needs --start-tps > 0, --step > 1, 0 < --follow ≤ 1, --max-seconds > 0")
    if args.prover_only:
        prover_only(args)
    elif args.overload is not None:
        overload(args)
    elif args.find_ceiling:
        find_ceiling(args)
    else:
        end_to_end(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
