"""The run's summary: throughput and latency percentiles per stage, from the driver's EventLog."""

from __future__ import annotations

import numpy as np

STAGE_NAMES = {
    "sequenced": "submission → sequenced (acknowledged)",
    "executed": "submission → executed (soft finality)",
    "proven": "submission → proven",
    "l1_verified": "submission → verified on the L1",
}


def percentiles(values, qs=(50, 90, 99)) -> dict:
    a = np.asarray(values, dtype=np.float64)
    if a.size == 0:
        return {f"p{q}": None for q in qs} | {"count": 0}
    out = {f"p{q}": round(float(np.percentile(a, q)), 4) for q in qs}
    out["max"] = round(float(a.max()), 4)
    out["count"] = int(a.size)
    return out


def batch_steps(log) -> dict:
    """Median milliseconds a batch spends in each step after it is sealed, from the batch
    events: handed to the coordinator (the seal logged, the job put in Ray's object store),
    waiting for a worker, proving (the worker's phases, trace building included), the hand-off
    to and from the worker (the Ray calls, the job's and the proof's transfer, the proof's
    encoding), to the submitter, and the L1's verification; and the provers' idle gap, from a
    proof's end to the next batch's start when that batch was sealed after the proof ended
    (how long a free prover waits for work: the pipeline's fixed cost per proof)."""
    steps = {"to_coordinator": ("executed", "proof_queued"), "queued": ("proof_queued", "proof_started"),
             "to_submitter": ("proof_done", "l1_submitted"), "l1_verification": ("l1_submitted", "l1_verified")}
    out: dict[str, list[float]] = {k: [] for k in (*steps, "proving", "worker_hand_off", "prover_idle_gap")}
    b = log.batches
    for n, st in b.items():
        for name, (a, z) in steps.items():
            if a in st and z in st:
                out[name].append(st[z] - st[a])
        phases = log.batch_info.get(n, {}).get("phases_ms")
        if phases and "proof_started" in st and "proof_done" in st:
            work = sum(phases.values()) / 1e3
            out["proving"].append(work)
            out["worker_hand_off"].append(st["proof_done"] - st["proof_started"] - work)
        nxt = b.get(n + 1, {})
        if "proof_done" in st and "proof_started" in nxt and nxt.get("executed", 0) >= st["proof_done"]:
            out["prover_idle_gap"].append(nxt["proof_started"] - st["proof_done"])
    return {k: round(float(np.median(v)) * 1e3, 1) if v else None for k, v in out.items()}


def summarize(log, load=None, l1: dict | None = None) -> dict:
    """A JSON-able summary of a run: what the load generator sent, what each stage reached and
    how long it took, proving and L1 figures per batch."""
    lat = {stage: percentiles(log.latencies.get(stage, [])) for stage in STAGE_NAMES}
    proofs = [info for info in log.batch_info.values() if "phases_ms" in info]
    proof_s = []
    for b, stages in log.batches.items():
        if "proof_started" in stages and "proof_done" in stages:
            proof_s.append(stages["proof_done"] - stages["proof_started"])
    gas = [info["gas"] for info in log.batch_info.values() if info.get("gas")]
    verified = [b for b, s in log.batches.items() if "l1_verified" in s]
    out = {"latency_s": lat,
           "batches": {"proven": sum(1 for s in log.batches.values() if "proof_done" in s),
                       "verified": len(verified), "failed": sorted(b for b, s in log.batches.items() if "failed" in s),
                       "retried": sorted(b for b, s in log.batches.items() if "retried" in s),
                       "proof_s": percentiles(proof_s),
                       "transfers_mean": round(float(np.mean([p.get("transfers", 0) for p in proofs])), 1) if proofs else 0,
                       "l1_gas_mean": int(np.mean(gas)) if gas else None,
                       "step_p50_ms": batch_steps(log)},
           "counters": dict(log.counters)}
    if load is not None:
        verified_txs = len(log.latencies.get("l1_verified", []))
        end = max([s.get("l1_verified", 0) for s in log.batches.values()] + [load.finished])
        out["load"] = {"offered": load.offered, "accepted": load.accepted, "rejected": load.rejected,
                       "deferred_chunks": load.deferred_chunks, "seconds": round(load.seconds, 2),
                       "accepted_tps": round(load.accepted / load.seconds, 1),
                       "verified_tps": round(verified_txs / max(end - load.started, 1e-9), 1),
                       "acknowledged_s": percentiles(getattr(load, "ack_s", []))}
    if l1 is not None:
        out["l1"] = l1
    return out


def format_summary(s: dict) -> str:
    lines = []
    load = s.get("load")
    if load:
        lines.append(f"load: {load['accepted']}/{load['offered']} transfers accepted in {load['seconds']} s "
                     f"({load['accepted_tps']} tx/s admitted, {load['verified_tps']} tx/s verified on the L1 "
                     f"end to end); rejected {load['rejected']}, chunks deferred by back-pressure "
                     f"{load['deferred_chunks']}")
        ack = load.get("acknowledged_s") or {}
        if ack.get("count"):
            lines.append(f"acknowledged, from when the load offered each transfer (time deferred included): "
                         f"p50 {ack['p50']:.3f} s, p90 {ack['p90']:.3f} s, p99 {ack['p99']:.3f} s, max {ack['max']:.3f} s")
    b = s["batches"]
    ps = b["proof_s"]
    lines.append(f"batches: {b['proven']} proven, {b['verified']} verified on the L1, failed {b['failed'] or 'none'}, "
                 f"retried {b['retried'] or 'none'}; {b['transfers_mean']} transfers per batch on average; "
                 f"proof p50 {ps.get('p50')} s, p99 {ps.get('p99')} s; L1 gas per batch {b['l1_gas_mean']}")
    steps = b.get("step_p50_ms") or {}
    if any(v is not None for v in steps.values()):
        lines.append("per batch, median ms: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in steps.items()
                                                            if v is not None))
    lines.append("latency per transaction (seconds):        count      p50      p90      p99      max")
    for stage, name in STAGE_NAMES.items():
        p = s["latency_s"][stage]
        if p["count"]:
            lines.append(f"  {name:<40} {p['count']:>6} {p['p50']:>8.3f} {p['p90']:>8.3f} {p['p99']:>8.3f} {p['max']:>8.3f}")
        else:
            lines.append(f"  {name:<40} {0:>6}        -        -        -        -")
    if "l1" in s:
        lines.append("L1: " + ", ".join(f"{k} {v}" for k, v in s["l1"].items()))
    return "\n".join(lines)
