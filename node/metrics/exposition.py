"""The Prometheus view of `Metrics`: a collector that reads its state at scrape time.

A custom collector rather than prometheus_client's Histogram objects because transaction
latencies arrive a mini-batch at a time and are bucketed with one NumPy call; the names follow
Prometheus's conventions (a `zkpipe_` prefix, base units, `_seconds`, `_bytes`, `_total`).
Every family is always exported, and every stage and phase label from the start with zeros, so
rates and dashboards work before the first batch.
"""

from __future__ import annotations

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from .schema import BATCH_EVENT_STAGES, BATCH_STAGES, COUNTERS, EVENT_TYPES, PHASES, TX_STAGES, WORKER_STATES

# gauge event name → metric name
GAUGE_METRICS = {
    "queue_depth": ("zkpipe_queue_depth", "Proof jobs waiting for a prover worker"),
    "proven_height": ("zkpipe_proven_height", "Highest batch number with a finished proof"),
    "verified_height": ("zkpipe_verified_height", "Highest batch number verified on the L1"),
    "executed_height": ("zkpipe_executed_height", "Highest batch number executed (soft-final)"),
    "pending_txs": ("zkpipe_pending_transactions", "Transactions received and not yet executed"),
}
COUNTER_HELP = {
    "transactions_received": "Transactions accepted by the sequencer",
    "transactions_rejected": "Transactions rejected by the sequencer (signature, nonce, balance, chain id)",
    "retries": "Proof jobs retried after a worker death, out-of-memory or timeout",
    "failures": "Proof attempts that failed",
    "batches_proven": "Batches with a finished proof",
    "batches_verified": "Batches verified on the L1",
    "workers_replaced": "Prover workers replaced after Ray stopped restarting them",
}


def metric_names() -> set[str]:
    """Every family name this collector exports (without the _bucket/_sum/_count/_total parts)."""
    return {f.name for f in PipelineCollector(None).describe()}


class PipelineCollector:
    def __init__(self, metrics):
        self.metrics = metrics

    def describe(self):
        # Families without samples: lets the registry (and metric_names) know the names cheaply.
        return list(self._families())

    def collect(self):
        with self.metrics._lock:
            return list(self._families(self.metrics))

    def _families(self, m=None):
        yield from self._histograms(m)
        yield from self._counters(m)
        yield from self._gauges(m)
        yield from self._workers(m)

    def _histograms(self, m):
        specs = [
            ("zkpipe_transaction_latency_seconds",
             "Time from a transaction's submission until it reached the stage", "stage", TX_STAGES,
             m and m.tx),
            ("zkpipe_batch_stage_seconds",
             "Time a batch took to reach the stage from its previous stage", "stage", BATCH_STAGES,
             m and m.stage),
            ("zkpipe_batch_latency_seconds",
             "Time from a batch's first stage (sequenced) until it reached the stage", "stage", BATCH_STAGES,
             m and m.age),
            ("zkpipe_proof_phase_seconds", "Time a proof spent in each proving phase", "phase", PHASES,
             m and m.phases),
        ]
        for name, help_text, label, values, dists in specs:
            fam = HistogramMetricFamily(name, help_text, labels=[label])
            if m is not None:
                for v in values:
                    prom = dists[v].prom
                    fam.add_metric([v], prom.cumulative(), prom.total)
            yield fam
        gas = HistogramMetricFamily("zkpipe_l1_verification_gas", "Gas used on the L1 to verify one batch")
        if m is not None:
            gas.add_metric([], m.gas.cumulative(), m.gas.total)
        yield gas

    def _counters(self, m):
        for name in COUNTERS:
            fam = CounterMetricFamily(f"zkpipe_{name}", COUNTER_HELP[name])
            if m is not None:
                fam.add_metric([], m.counters[name])
            yield fam
        fam = CounterMetricFamily("zkpipe_batch_events", "Batch events reported, by stage", labels=["stage"])
        if m is not None:
            for s in BATCH_EVENT_STAGES:
                fam.add_metric([s], m.batch_events[s])
        yield fam
        fam = CounterMetricFamily("zkpipe_metrics_events", "Metrics events ingested, by type", labels=["type"])
        if m is not None:
            for kind in EVENT_TYPES:
                fam.add_metric([kind], m.events_by_type[kind])
        yield fam
        fam = CounterMetricFamily("zkpipe_metrics_late_events",
                                  "Events older than the dashboard's open time buckets (counted in totals, not in charts)")
        if m is not None:
            fam.add_metric([], m.series.late_events)
        yield fam

    def _gauges(self, m):
        for event_name, (name, help_text) in GAUGE_METRICS.items():
            fam = GaugeMetricFamily(name, help_text)
            if m is not None and m.gauges[event_name]:
                fam.add_metric([], sum(m.gauges[event_name].values()))
            yield fam
        fam = GaugeMetricFamily("zkpipe_gpu_memory_bytes", "GPU memory in use by a prover worker", labels=["worker"])
        if m is not None:
            for worker, value in sorted(m.gauges["gpu_memory_bytes"].items()):
                fam.add_metric([worker], value)
        yield fam

    def _workers(self, m):
        busy = CounterMetricFamily("zkpipe_worker_busy_seconds", "Time a prover worker spent proving",
                                   labels=["worker", "node"])
        state = GaugeMetricFamily("zkpipe_worker_state", "1 for a prover worker's current state, 0 for the others",
                                  labels=["worker", "node", "state"])
        if m is not None:
            now = m.now()
            for w in sorted(m.workers.by_name.values(), key=lambda w: w.name):
                busy.add_metric([w.name, w.node], w.busy_seconds(now))
                for s in WORKER_STATES:
                    state.add_metric([w.name, w.node, s], 1.0 if w.state == s else 0.0)
        yield busy
        yield state
