"""Benchmark of the metrics sink and the dashboard's API.

    python -m bench.dashboard                     # ingestion rate, then API latency at 10,000 batches
    python -m bench.dashboard --batches 2000 --requests 100

Prints one JSON object per measurement on stdout (progress on stderr):

    {"bench": "ingest", "event": "txs", "per_event": 1000, "events_per_s": ..., "us_per_event": ..., "machine": ...}
    {"bench": "api", "path": "/api/batches?limit=50", "batches": 10000, "p50_ms": ..., "p99_ms": ..., "machine": ...}

The events come from `simulated_run`, a timeline shaped like the pipeline's: transactions arriving
at a steady rate in mini-batches, proof batches cut every `batch_interval_s`, a pool of prover
workers taking them in turn with a proof time spread over the proving phases, in-order L1
submission, and now and then a failed attempt that is retried. The tests use it too, as the
event producer behind the dashboard.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import urllib.request

import numpy as np

from bench.primitives import machine_description

PHASE_SHARE = {"witness": 0.12, "ntt": 0.22, "msm": 0.46, "quotient": 0.1, "openings": 0.07, "other": 0.03}


def simulated_run(batches: int = 30, *, tps: float = 2000.0, batch_interval_s: float = 0.25, workers: int = 3,
                  proof_s: float = 0.6, fail_every: int = 0, t0: float = 0.0, seed: int = 1,
                  tx_event_s: float = 0.1) -> list[dict]:
    """A pipeline-shaped list of metrics events, sorted by time, starting at t0.

    fail_every: every n-th batch's first proof attempt fails (0: none) and is retried.
    tx_event_s: how often the sequencer side reports its transactions' latencies.
    """
    rng = np.random.default_rng(seed)
    events: list[tuple[float, int, dict]] = []
    seq = 0

    def emit(ev):
        nonlocal seq
        events.append((ev["t"], seq, ev))
        seq += 1

    names = [f"prover-{i}" for i in range(workers)]
    free_at = {w: t0 for w in names}
    for i, w in enumerate(names):
        emit({"type": "worker", "worker": w, "node": f"node-{i % 2}", "state": "idle", "batch": None, "t": t0,
              "device": "cpu"})
        emit({"type": "gauge", "name": "gpu_memory_bytes", "worker": w, "value": float(2**30 + i * 2**28), "t": t0})

    # Transactions: submitted uniformly; reported in chunks per tx_event_s.
    end = t0 + batches * batch_interval_s
    per_chunk = int(round(tps * tx_event_s))
    t = t0
    while t < end - 1e-9:
        t_next = t + tx_event_s
        lat_recv = rng.gamma(2.0, 0.0004, per_chunk)
        lat_seq = lat_recv + rng.uniform(0.001, 0.010, per_chunk)
        lat_exec = lat_seq + rng.gamma(3.0, 0.003, per_chunk)
        emit({"type": "counter", "name": "transactions_received", "inc": per_chunk, "t": t_next})
        emit({"type": "txs", "stage": "received", "latencies_s": lat_recv.tolist(), "t": t_next})
        emit({"type": "txs", "stage": "sequenced", "latencies_s": lat_seq.tolist(), "t": t_next + 0.005})
        emit({"type": "txs", "stage": "executed", "latencies_s": lat_exec.tolist(), "t": t_next + 0.02})
        if rng.random() < 0.2:
            emit({"type": "counter", "name": "transactions_rejected", "inc": int(rng.integers(1, 4)), "t": t_next})
        emit({"type": "gauge", "name": "pending_txs", "value": float(rng.integers(0, per_chunk)), "t": t_next})
        t = t_next

    # Proof batches.
    transfers = int(round(tps * batch_interval_s))
    submitted_until = t0
    done_events = []
    for b in range(batches):
        t_seq = t0 + (b + 1) * batch_interval_s
        t_exec = t_seq + rng.uniform(0.01, 0.03)
        t_q = t_exec + rng.uniform(0.002, 0.01)
        emit({"type": "batch", "batch": b, "stage": "sequenced", "t": t_seq, "transfers": transfers})
        emit({"type": "batch", "batch": b, "stage": "executed", "t": t_exec, "transfers": transfers})
        emit({"type": "gauge", "name": "executed_height", "value": float(b), "t": t_exec})
        emit({"type": "batch", "batch": b, "stage": "proof_queued", "t": t_q})
        attempts = 2 if fail_every and b % fail_every == fail_every - 1 else 1
        t_ready = t_q
        for attempt in range(1, attempts + 1):
            w = min(names, key=lambda n: free_at[n])
            t_start = max(t_ready, free_at[w]) + rng.uniform(0.001, 0.005)
            emit({"type": "batch", "batch": b, "stage": "proof_started", "t": t_start, "worker": w,
                  "node": f"node-{names.index(w) % 2}", "attempt": attempt})
            emit({"type": "worker", "worker": w, "node": f"node-{names.index(w) % 2}", "state": "busy", "batch": b,
                  "t": t_start, "device": "cpu"})
            dur = proof_s * float(rng.lognormal(0.0, 0.25))
            if attempt < attempts:
                t_fail = t_start + dur * 0.4
                emit({"type": "batch", "batch": b, "stage": "failed", "t": t_fail, "worker": w, "attempt": attempt,
                      "error": "worker timed out"})
                emit({"type": "counter", "name": "failures", "inc": 1, "t": t_fail})
                emit({"type": "batch", "batch": b, "stage": "retried", "t": t_fail + 0.001, "attempt": attempt + 1})
                emit({"type": "counter", "name": "retries", "inc": 1, "t": t_fail + 0.001})
                emit({"type": "worker", "worker": w, "node": f"node-{names.index(w) % 2}", "state": "idle",
                      "batch": None, "t": t_fail})
                free_at[w] = t_fail
                t_ready = t_fail + 0.001
                continue
            t_done = t_start + dur
            free_at[w] = t_done
            share = np.array(list(PHASE_SHARE.values())) * rng.uniform(0.85, 1.15, len(PHASE_SHARE))
            share *= 0.97 / share.sum()
            phases = {p: round(float(s * dur * 1000), 3) for p, s in zip(PHASE_SHARE, share)}
            emit({"type": "batch", "batch": b, "stage": "proof_done", "t": t_done, "worker": w, "attempt": attempt,
                  "phases_ms": phases})
            emit({"type": "worker", "worker": w, "node": f"node-{names.index(w) % 2}", "state": "idle",
                  "batch": None, "t": t_done})
            emit({"type": "counter", "name": "batches_proven", "inc": 1, "t": t_done})
            done_events.append((b, t_seq, t_done))
    # In-order submission: batch b goes to the L1 once it and every earlier batch are proven.
    for b, t_seq, t_done in sorted(done_events):
        t_sub = max(t_done, submitted_until) + rng.uniform(0.005, 0.02)
        t_ver = t_sub + rng.uniform(0.15, 0.35)
        submitted_until = t_sub
        gas = int(rng.integers(280_000, 330_000))
        submit_lat = t_seq - rng.uniform(0, batch_interval_s, transfers)  # when each transfer was submitted
        emit({"type": "txs", "stage": "proven", "latencies_s": (t_done - submit_lat).tolist(), "t": t_done,
              "batch": b})
        emit({"type": "gauge", "name": "proven_height", "value": float(b), "t": t_done})
        emit({"type": "batch", "batch": b, "stage": "l1_submitted", "t": t_sub})
        emit({"type": "batch", "batch": b, "stage": "l1_verified", "t": t_ver, "gas": gas})
        emit({"type": "txs", "stage": "l1_verified", "latencies_s": (t_ver - submit_lat).tolist(), "t": t_ver,
              "batch": b})
        emit({"type": "counter", "name": "batches_verified", "inc": 1, "t": t_ver})
        emit({"type": "gauge", "name": "verified_height", "value": float(b), "t": t_ver})
    # Queue depth: jobs queued and not yet started, sampled at every queue or start event.
    marks = sorted([(ev["t"], +1) for _, _, ev in events if ev["type"] == "batch" and ev["stage"] in ("proof_queued", "retried")]
                   + [(ev["t"], -1) for _, _, ev in events if ev["type"] == "batch" and ev["stage"] == "proof_started"])
    depth = 0
    for t, d in marks:
        depth += d
        emit({"type": "gauge", "name": "queue_depth", "value": float(max(depth, 0)), "t": t})
    events.sort(key=lambda x: (x[0], x[1]))
    return [ev for _, _, ev in events]


# ---------------------------------------------------------------------------------------------

def progress(message: str) -> None:
    print(f"[bench.dashboard] {message}", file=sys.stderr, flush=True)


def bench_ingest(events: list[dict], machine: str) -> list[dict]:
    """Events per second through Metrics.event, per event type (txs events carry their latencies)."""
    from node.metrics import Metrics

    out = []
    by_type: dict[str, list[dict]] = {}
    for ev in events:
        by_type.setdefault(ev["type"], []).append(ev)
    for kind, evs in sorted(by_type.items()) + [("all", events)]:
        m = Metrics()
        start = time.perf_counter()
        for ev in evs:
            m.event(ev)
        elapsed = time.perf_counter() - start
        per_event = statistics.mean(len(e["latencies_s"]) for e in evs) if kind == "txs" else None
        out.append({"bench": "ingest", "event": kind, "events": len(evs), "per_event": per_event,
                    "events_per_s": round(len(evs) / elapsed), "us_per_event": round(1e6 * elapsed / len(evs), 2),
                    "machine": machine})
    return out


def bench_api(n_batches: int, requests: int, machine: str) -> list[dict]:
    """Latency of each endpoint over loopback HTTP with n_batches of history."""
    from node.dashboard import start_dashboard
    from node.metrics import Metrics

    progress(f"building a run of {n_batches} batches")
    # One batch every 0.36 s fills the default ring of 3600 one-second buckets at 10,000 batches.
    events = simulated_run(n_batches, batch_interval_s=0.36, tps=2000, workers=4, proof_s=0.6, fail_every=50,
                           tx_event_s=0.5)
    m = Metrics()
    t = time.perf_counter()
    for ev in events:
        m.event(ev)
    progress(f"{len(events)} events in {time.perf_counter() - t:.1f} s; {len(m.history)} batches kept")
    url, stop = start_dashboard(m)
    t_last = m.summary()["t_last"]
    paths = ["/api/summary", "/api/batches?limit=25", f"/api/batches?limit=25&before={n_batches // 2}",
             "/api/batches?limit=500", f"/api/series?since={t_last - 300:.0f}", "/api/series", "/metrics"]
    out = []
    try:
        for path in paths:
            times, size = [], 0
            for _ in range(requests):
                s = time.perf_counter()
                with urllib.request.urlopen(url.rstrip("/") + path) as r:
                    size = len(r.read())
                times.append((time.perf_counter() - s) * 1000)
            times.sort()
            out.append({"bench": "api", "path": path, "batches": len(m.history),
                        "buckets": len(m.series.buckets), "requests": requests,
                        "bytes": size, "p50_ms": round(times[len(times) // 2], 3),
                        "p99_ms": round(times[min(len(times) - 1, int(0.99 * len(times)))], 3), "machine": machine})
    finally:
        stop()
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(p)
    return command(p.parse_args(argv))


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--batches", type=int, default=10_000, help="batches of history for the API benchmark")
    p.add_argument("--requests", type=int, default=200, help="requests per endpoint")
    p.add_argument("--ingest-batches", type=int, default=400, help="batches in the ingestion run")


def command(args) -> int:
    machine = machine_description()
    progress("ingestion")
    events = simulated_run(args.ingest_batches, tps=20_000, batch_interval_s=0.1, workers=4, proof_s=0.3,
                           fail_every=40, tx_event_s=0.05)
    for row in bench_ingest(events, machine):
        print(json.dumps(row), flush=True)
    progress("API latency")
    for row in bench_api(args.batches, args.requests, machine):
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
