"""The metrics sink: schema validation, the Prometheus endpoint scraped over HTTP against the
events fed, percentiles, time series, saved runs, bounded memory, and the Grafana dashboard."""

from __future__ import annotations

import json
import re
import threading
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.dashboard import simulated_run
from node.dashboard import start_dashboard
from node.metrics import BATCH_STAGES, InvalidEvent, Metrics, metric_names
from node.metrics.histogram import LATENCY_BUCKETS_S

from .dashboard_util import get, scrape

ROOT = Path(__file__).resolve().parents[1]


def feed(m: Metrics, events):
    for ev in events:
        m.event(ev)
    return m


# ----------------------------------------------------------------------------------- the schema

T = 1_700_000_000.0


@pytest.mark.parametrize("ev, message", [
    ("batch", "must be a dict"),
    ({"type": "blocks", "t": T}, "'type' must be one of batch, txs, gauge, worker, counter"),
    ({"type": "batch", "batch": 1, "stage": "proved", "t": T}, "'stage' must be one of sequenced"),
    ({"type": "batch", "batch": -1, "stage": "executed", "t": T}, "'batch' must be a non-negative integer"),
    ({"type": "batch", "batch": True, "stage": "executed", "t": T}, "'batch' must be a non-negative integer"),
    ({"type": "batch", "batch": 1, "stage": "executed"}, "missing 't'"),
    ({"type": "batch", "batch": 1, "stage": "executed", "t": float("nan")}, "'t' must be a finite"),
    ({"type": "batch", "batch": 1, "stage": "executed", "t": T, "gass": 5}, "unknown key 'gass'"),
    ({"type": "batch", "batch": 1, "stage": "proof_done", "t": T, "phases_ms": {"fft": 3}}, "unknown phase 'fft'"),
    ({"type": "batch", "batch": 1, "stage": "proof_done", "t": T, "phases_ms": {"msm": -3}}, "non-negative number of ms"),
    ({"type": "txs", "stage": "executed", "latencies_s": [0.1, -0.2], "t": T}, "finite, non-negative seconds"),
    ({"type": "txs", "stage": "executed", "latencies_s": "0.1", "t": T}, "must be a list of seconds"),
    ({"type": "txs", "stage": "executed", "latencies_s": [[0.1]], "t": T}, "flat list"),
    ({"type": "txs", "stage": "soft", "latencies_s": [], "t": T}, "'stage' must be one of received"),
    ({"type": "gauge", "name": "queue", "value": 1, "t": T}, "'name' must be one of queue_depth"),
    ({"type": "gauge", "name": "queue_depth", "value": "3", "t": T}, "'value' must be a finite number"),
    ({"type": "worker", "worker": "w", "node": "n", "state": "sleeping", "batch": None, "t": T}, "'state' must be one of"),
    ({"type": "worker", "worker": "w", "node": "n", "state": "busy", "t": T}, "missing 'batch'"),
    ({"type": "worker", "worker": "", "node": "n", "state": "busy", "batch": 1, "t": T}, "non-empty string"),
    ({"type": "counter", "name": "retries", "inc": 1.5, "t": T}, "'inc' must be a non-negative integer"),
    ({"type": "counter", "name": "retries", "inc": -1, "t": T}, "'inc' must be a non-negative integer"),
])
def test_invalid_events_are_rejected_with_a_clear_message(ev, message):
    m = Metrics()
    with pytest.raises(InvalidEvent, match=re.escape(message)):
        m.event(ev)
    assert m.summary()["events"] == 0  # nothing half-applied


# ------------------------------------------------------------- Prometheus, scraped over HTTP

def stage_durations(events):
    """Per batch stage, the seconds since the latest earlier stage the batch had reached, as
    docs/dashboard.md defines them; and per stage the seconds since the batch's first stage."""
    times: dict[int, dict[str, float]] = {}
    since_prev = {s: [] for s in BATCH_STAGES}
    since_first = {s: [] for s in BATCH_STAGES}
    for ev in events:
        if ev["type"] != "batch" or ev["stage"] not in BATCH_STAGES:
            continue
        seen = times.setdefault(ev["batch"], {})
        earlier = [seen[s] for s in BATCH_STAGES[:BATCH_STAGES.index(ev["stage"])] if s in seen]
        if earlier:
            since_prev[ev["stage"]].append(max(0.0, ev["t"] - earlier[-1]))
        if seen:
            since_first[ev["stage"]].append(max(0.0, ev["t"] - min(seen.values())))
        seen[ev["stage"]] = ev["t"]
    return since_prev, since_first


def busy_seconds(events):
    """Per worker, the seconds between each 'busy' event and the worker's next event, with a
    proof still running counted up to the last event of the run."""
    t_end = max(ev["t"] for ev in events)
    busy, since = {}, {}
    for ev in events:
        if ev["type"] != "worker":
            continue
        w = ev["worker"]
        busy.setdefault(w, 0.0)
        if w in since:
            busy[w] += ev["t"] - since.pop(w)
        if ev["state"] == "busy":
            since[w] = ev["t"]
    for w, t in since.items():
        busy[w] += t_end - t
    return busy


def buckets(prom, name, labels) -> dict[float, float]:
    """The histogram's cumulative bucket counts by upper bound."""
    out = {}
    for (sample, lab), value in prom.items():
        lab = dict(lab)
        if sample == f"{name}_bucket" and all(lab.get(k) == v for k, v in labels.items()):
            out[float(lab["le"])] = value
    return out


def assert_histogram(prom, name, labels, samples):
    samples = np.asarray(samples, dtype=float)
    lab = tuple(sorted(labels.items()))
    assert prom[(f"{name}_count", lab)] == samples.size
    assert prom[(f"{name}_sum", lab)] == pytest.approx(samples.sum(), rel=1e-9, abs=1e-9)
    got = buckets(prom, name, labels)
    assert sorted(got) == sorted(LATENCY_BUCKETS_S) + [float("inf")]
    for le, count in got.items():
        assert count == np.count_nonzero(samples <= le), (name, labels, le)


def test_prometheus_endpoint_matches_the_events_fed(rng):
    events = simulated_run(60, t0=T, fail_every=7, seed=int(rng.integers(1 << 30)), workers=4)
    m = feed(Metrics(), events)
    url, stop = start_dashboard(m)
    try:
        text = get(url, "/metrics").decode()
        prom = scrape(url)
    finally:
        stop()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["zkpipe_transaction_latency_seconds"].type == "histogram"
    assert families["zkpipe_transactions_received"].type == "counter"
    assert families["zkpipe_queue_depth"].type == "gauge"

    # Counters: the sums of the increments.
    for name in ("transactions_received", "transactions_rejected", "retries", "failures", "batches_proven",
                 "batches_verified"):
        want = sum(ev["inc"] for ev in events if ev["type"] == "counter" and ev["name"] == name)
        assert prom[(f"zkpipe_{name}_total", ())] == want, name
    assert prom[("zkpipe_retries_total", ())] > 0 and prom[("zkpipe_batches_verified_total", ())] == 60

    # Gauges: the last value reported.
    last = {}
    for ev in events:
        if ev["type"] == "gauge":
            last[(ev["name"], ev.get("worker", ""))] = ev["value"]
    for event_name, metric in (("queue_depth", "zkpipe_queue_depth"), ("verified_height", "zkpipe_verified_height"),
                               ("proven_height", "zkpipe_proven_height"), ("executed_height", "zkpipe_executed_height"),
                               ("pending_txs", "zkpipe_pending_transactions")):
        assert prom[(metric, ())] == last[(event_name, "")]
    for (name, worker), value in last.items():
        if name == "gpu_memory_bytes":
            assert prom[("zkpipe_gpu_memory_bytes", (("worker", worker),))] == value

    # Transaction latencies: every sample in its bucket.
    for stage in ("received", "sequenced", "executed", "proven", "l1_verified"):
        lat = np.concatenate([ev["latencies_s"] for ev in events if ev["type"] == "txs" and ev["stage"] == stage])
        assert_histogram(prom, "zkpipe_transaction_latency_seconds", {"stage": stage}, lat)

    # Batch stages, from consecutive stages of each batch, and from its first stage.
    since_prev, since_first = stage_durations(events)
    for stage in BATCH_STAGES:
        assert_histogram(prom, "zkpipe_batch_stage_seconds", {"stage": stage}, since_prev[stage])
        assert_histogram(prom, "zkpipe_batch_latency_seconds", {"stage": stage}, since_first[stage])
    assert len(since_prev["proof_started"]) == 60 + sum(1 for e in events if e.get("stage") == "retried")

    # Proving phases and gas.
    for phase in ("witness", "ntt", "msm", "quotient", "openings", "other"):
        ms = [ev["phases_ms"][phase] for ev in events if ev["type"] == "batch" and "phases_ms" in ev]
        assert_histogram(prom, "zkpipe_proof_phase_seconds", {"phase": phase}, np.array(ms) / 1000)
    gas = [ev["gas"] for ev in events if ev["type"] == "batch" and "gas" in ev]
    assert prom[("zkpipe_l1_verification_gas_count", ())] == len(gas) == 60
    assert prom[("zkpipe_l1_verification_gas_sum", ())] == sum(gas)
    assert buckets(prom, "zkpipe_l1_verification_gas", {})[300_000.0] == sum(g <= 300_000 for g in gas)

    # Batch events by stage, events by type.
    for stage in BATCH_STAGES + ("failed", "retried"):
        want = sum(1 for ev in events if ev["type"] == "batch" and ev["stage"] == stage)
        assert prom[("zkpipe_batch_events_total", (("stage", stage),))] == want
    for kind in ("batch", "txs", "gauge", "worker", "counter"):
        assert prom[("zkpipe_metrics_events_total", (("type", kind),))] == sum(1 for e in events if e["type"] == kind)

    # Workers: busy time and current state.
    nodes = {ev["worker"]: ev["node"] for ev in events if ev["type"] == "worker"}
    states = {ev["worker"]: ev["state"] for ev in events if ev["type"] == "worker"}
    for w, want in busy_seconds(events).items():
        got = prom[("zkpipe_worker_busy_seconds_total", (("node", nodes[w]), ("worker", w)))]
        assert got == pytest.approx(want, rel=1e-9)
        for state in ("idle", "busy", "dead"):
            assert prom[("zkpipe_worker_state", (("node", nodes[w]), ("state", state), ("worker", w)))] == (
                1.0 if states[w] == state else 0.0)


def test_stage_latencies_of_a_retried_batch_by_hand():
    """A batch whose first proof attempt fails: each stage measured from the latest earlier stage,
    the retry's times replacing the failed attempt's."""
    m = Metrics()
    for stage, t in [("sequenced", 100.0), ("executed", 100.25), ("proof_queued", 100.5), ("proof_started", 101.0),
                     ("failed", 101.5), ("retried", 101.5), ("proof_started", 102.0), ("proof_done", 104.0),
                     ("l1_submitted", 104.5), ("l1_verified", 105.0)]:
        m.event({"type": "batch", "batch": 7, "stage": stage, "t": t})
    m.event({"type": "worker", "worker": "w0", "node": "n", "state": "busy", "batch": 7, "t": 101.0})
    m.event({"type": "worker", "worker": "w0", "node": "n", "state": "idle", "batch": None, "t": 101.5})
    m.event({"type": "worker", "worker": "w0", "node": "n", "state": "busy", "batch": 7, "t": 102.0})
    m.event({"type": "worker", "worker": "w0", "node": "n", "state": "idle", "batch": None, "t": 104.0})
    m.event({"type": "worker", "worker": "w1", "node": "n", "state": "busy", "batch": 8, "t": 104.5})
    m.event({"type": "txs", "stage": "proven", "latencies_s": [0.001, 0.0025, 0.1, 60.0, 61.0], "t": 104.0})
    rec = m.batches_json(1)["batches"][0]
    assert rec["stage_s"] == {"executed": 0.25, "proof_queued": 0.25, "proof_started": 1.5, "proof_done": 2.0,
                              "l1_submitted": 0.5, "l1_verified": 0.5}
    assert rec["status"] == "l1_verified" and rec["failures"] == 1 and rec["retries"] == 1
    s = m.summary()
    assert s["batch_stages"]["proof_started"]["count"] == 2
    assert s["batch_stages"]["proof_started"]["max"] == 1.5
    assert s["batch_latency"]["l1_verified"]["max"] == 5.0
    workers = {w["worker"]: w for w in s["workers"]}
    assert workers["w0"]["busy_s"] == 2.5 and workers["w0"]["state"] == "idle"
    # w1 has been proving since 104.5 and the run's clock is its last event, 105.0.
    assert workers["w1"]["busy_s"] == 0.5 and workers["w1"]["batch"] == 8
    assert workers["w0"]["utilization"] == pytest.approx(2.5 / 4.0)
    prom = {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(m.exposition().decode()) for s in f.samples}
    assert prom[("zkpipe_batch_stage_seconds_sum", (("stage", "proof_started"),))] == 2.0
    assert buckets(prom, "zkpipe_batch_stage_seconds", {"stage": "proof_started"})[1.0] == 1
    # A sample equal to a bucket's bound is inside it (le means ≤).
    executed = buckets(prom, "zkpipe_batch_stage_seconds", {"stage": "executed"})
    assert executed[0.1] == 0 and executed[0.25] == 1
    assert buckets(prom, "zkpipe_batch_stage_seconds", {"stage": "l1_submitted"})[0.5] == 1
    proven = buckets(prom, "zkpipe_transaction_latency_seconds", {"stage": "proven"})
    assert [proven[le] for le in (0.001, 0.0025, 0.005, 0.1, 30.0, 60.0, float("inf"))] == [1, 2, 2, 3, 3, 4, 5]
    assert prom[("zkpipe_worker_busy_seconds_total", (("node", "n"), ("worker", "w1")))] == 0.5


def test_percentiles_within_one_percent(rng):
    m = Metrics()
    lat = rng.lognormal(np.log(0.05), 1.2, 20_000)
    for i, chunk in enumerate(np.array_split(lat, 40)):
        m.event({"type": "txs", "stage": "l1_verified", "latencies_s": chunk.tolist(), "t": T + i * 0.05})
    st = m.summary()["transactions"]["l1_verified"]
    exact = np.sort(lat)
    for q, name in ((0.5, "p50"), (0.9, "p90"), (0.99, "p99")):
        want = exact[int(np.ceil(q * lat.size)) - 1]  # nearest rank
        assert st[name] == pytest.approx(want, rel=0.0101), name
    assert st["count"] == lat.size and st["max"] == exact[-1]
    assert st["mean"] == pytest.approx(lat.mean(), rel=1e-12)


def test_series_buckets_by_event_time_with_late_events():
    m = Metrics(bucket_s=1.0, open_buckets=3)
    m.event({"type": "txs", "stage": "executed", "latencies_s": [0.01] * 5, "t": T + 0.5})
    m.event({"type": "gauge", "name": "queue_depth", "value": 4, "t": T + 0.6})
    m.event({"type": "txs", "stage": "executed", "latencies_s": [0.02] * 7, "t": T + 2.2})
    m.event({"type": "txs", "stage": "executed", "latencies_s": [0.03] * 2, "t": T + 1.9})  # late, still open
    m.event({"type": "counter", "name": "retries", "inc": 2, "t": T + 5.1})  # closes buckets T..T+2
    m.event({"type": "txs", "stage": "executed", "latencies_s": [0.04] * 3, "t": T + 0.7})  # too late for its bucket
    s = m.series_json()
    assert s["t"] == [T, T + 1, T + 2, T + 3, T + 4, T + 5]
    assert s["tx_rate"]["executed"] == [5.0, 2.0, 7.0, 0.0, 0.0, 0.0]
    assert s["tx_latency"]["executed"]["p50"][0] == pytest.approx(0.01, rel=0.01)
    assert s["tx_latency"]["executed"]["p50"][3] is None
    assert s["gauges"]["queue_depth"] == [4.0] * 6  # a gauge holds its value until the next reading
    assert s["counters"]["retries"] == [0, 0, 0, 0, 0, 2]
    assert s["late_events"] == 1 and s["closed_until"] == T + 3
    # The late samples still count in the run's totals.
    assert m.summary()["transactions"]["executed"]["count"] == 17
    assert m.series_json(since=T + 4)["t"] == [T + 4, T + 5]
    assert m.series_json(limit=2)["t"] == [T + 4, T + 5]


def test_series_ring_is_bounded_across_a_long_silence():
    m = Metrics(bucket_s=1.0, max_buckets=50, open_buckets=2)
    for i in range(120):
        m.event({"type": "counter", "name": "failures", "inc": 1, "t": T + i})
    m.event({"type": "counter", "name": "failures", "inc": 1, "t": T + 10_000})
    s = m.series_json()
    assert len(s["t"]) == 50 and s["t"][-1] == T + 10_000 and s["t"][0] == T + 10_000 - 49


# ------------------------------------------------------------------------------- saved runs

def test_saved_run_is_rebuilt_identically(tmp_path):
    events = simulated_run(20, t0=T, fail_every=6)
    path = tmp_path / "run.jsonl"
    live = Metrics(record=path)
    feed(live, events)
    live.close()
    lines = path.read_text().splitlines()
    assert json.loads(lines[0])["zkpipe_metrics"] == 1 and len(lines) == len(events) + 1
    saved = Metrics.load(path)
    a, b = live.summary(), saved.summary()
    assert b["source"] == str(path) and not b["live"]
    for d in (a, b):
        d.pop("source"), d.pop("live")
    assert a == b
    assert live.exposition() == saved.exposition()
    assert live.batches_json(50) == saved.batches_json(50)
    assert live.series_json() == saved.series_json()


def test_saved_run_errors_name_the_line(tmp_path):
    path = tmp_path / "run.jsonl"
    m = Metrics(record=path)
    for i in range(3):
        m.event({"type": "counter", "name": "retries", "inc": 1, "t": T + i})
    m.close()
    good = path.read_text()
    path.write_text(good + '{"type": "counter", "na')  # a node killed mid-write
    assert Metrics.load(path).summary()["counters"]["retries"] == 3
    path.write_text(good + '{"type": "counter", "name": "retries", "inc": -2, "t": 5}\n')
    with pytest.raises(InvalidEvent, match=r"run\.jsonl:5: .*'inc' must be a non-negative integer"):
        Metrics.load(path)
    path.write_text(good.replace('"inc": 1', '"inc": 1,,', 1))
    with pytest.raises(InvalidEvent, match=r"run\.jsonl:2: not a JSON object"):
        Metrics.load(path)
    with pytest.raises(InvalidEvent, match="cannot read saved run"):
        Metrics.load(tmp_path / "missing.jsonl")


# -------------------------------------------------------------------------- bounded memory

def test_batch_history_keeps_the_newest():
    m = Metrics(history=100)
    for b in range(250):
        m.event({"type": "batch", "batch": b, "stage": "sequenced", "t": T + b})
    page = m.batches_json(limit=500)
    assert page["stored"] == 100 and page["oldest"] == 150 and page["newest"] == 249
    assert [r["batch"] for r in page["batches"]] == list(range(249, 149, -1))
    assert [r["batch"] for r in m.batches_json(limit=3, before=200)["batches"]] == [199, 198, 197]
    # A straggler older than everything kept is counted but does not evict a newer batch.
    m.event({"type": "batch", "batch": 3, "stage": "executed", "t": T + 300})
    assert m.batches_json(1)["oldest"] == 150 and m.summary()["batch_events"]["executed"] == 1
    assert m.summary()["history"]["dropped"] == 150


def test_memory_stays_bounded_as_the_run_goes_on():
    def grow(m, start, n):
        for b in range(start, start + n):
            t = T + b * 0.5
            m.event({"type": "batch", "batch": b, "stage": "sequenced", "t": t, "transfers": 100})
            m.event({"type": "batch", "batch": b, "stage": "proof_done", "t": t + 0.3,
                     "phases_ms": {"msm": 100.0, "ntt": 50.0}})
            m.event({"type": "txs", "stage": "executed", "latencies_s": [0.01, 0.02, 0.03], "t": t + 0.1})
            m.event({"type": "gauge", "name": "queue_depth", "value": b % 5, "t": t})

    m = Metrics(history=500, max_buckets=200)
    grow(m, 0, 1000)  # past both limits
    tracemalloc.start()
    try:
        grow(m, 1000, 2000)  # objects made before tracing are replaced by traced ones
        before = tracemalloc.get_traced_memory()[0]
        grow(m, 3000, 6000)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(m.history) == 500 and len(m.series.buckets) == 200
    assert after - before < 20_000, f"memory grew by {after - before} bytes over 6000 more batches"


def test_concurrent_producers_lose_nothing():
    m = Metrics()

    def produce(k):
        for i in range(2000):
            m.event({"type": "counter", "name": "transactions_received", "inc": 3, "t": T + i * 0.001})
            m.event({"type": "txs", "stage": "received", "latencies_s": [0.001 * (k + 1)], "t": T + i * 0.001})

    threads = [threading.Thread(target=produce, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    s = m.summary()
    assert s["counters"]["transactions_received"] == 4 * 2000 * 3
    assert s["transactions"]["received"]["count"] == 8000 and s["events"] == 16000
    assert sum(m.series_json()["tx_rate"]["received"]) == 8000


# ----------------------------------------------------------------------------------- Grafana

def test_grafana_dashboard_uses_only_exported_metrics():
    dash = json.loads((ROOT / "grafana" / "zkpipe.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 10
    m = feed(Metrics(), simulated_run(5, t0=T))
    exported = {s.name for f in text_string_to_metric_families(m.exposition().decode()) for s in f.samples}
    exported |= {f.name for f in text_string_to_metric_families(m.exposition().decode())}
    used = set()
    for expr in exprs:
        used |= set(re.findall(r"\bzkpipe_[a-z0-9_]+", expr))
    unknown = used - exported
    assert not unknown, f"the Grafana dashboard queries metrics that do not exist: {sorted(unknown)}"
    # Every exported family is on the dashboard somewhere.
    missing = {n for n in metric_names() if not any(u.startswith(n) for u in used)}
    assert not missing, f"metrics with no Grafana panel: {sorted(missing)}"
    assert dash["uid"] and dash["title"] and all(p.get("datasource") for p in dash["panels"] if "targets" in p)
