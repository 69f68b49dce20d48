"""`Metrics`: the sink the pipeline reports to, and the one source the dashboard and Prometheus
read from.

One lock guards everything; `event` does a validation, a few dict updates and, for transaction
latencies, a couple of vectorized NumPy calls, so it stays cheap for the driver that calls it.
Memory is bounded whatever the length of the run: a fixed set of histograms, at most `history`
batches and `max_buckets` time buckets.
"""

from __future__ import annotations

import json
import math
import threading
import time
from pathlib import Path

from prometheus_client import CollectorRegistry

from .batches import BatchHistory
from .exposition import PipelineCollector
from .histogram import GAS_BUCKETS, LATENCY_BUCKETS_S, Binned, LogHistogram, PromHistogram
from .schema import (
    BATCH_EVENT_STAGES, BATCH_STAGES, COUNTERS, EVENT_TYPES, GAUGES, PHASES, TX_STAGES, InvalidEvent, validate_event,
)
from .series import Series
from .workers import Workers

RUN_FORMAT = 1
RATE_WINDOW_S = 10.0
FLUSH_EVERY_S = 1.0


class Distribution:
    """One latency distribution in both forms: fine bins for percentiles, Prometheus buckets."""

    __slots__ = ("fine", "prom")

    def __init__(self):
        self.fine = LogHistogram()
        self.prom = PromHistogram(LATENCY_BUCKETS_S)

    def add(self, binned: Binned) -> None:
        self.fine.add_binned(binned)
        self.prom.add(binned.values, binned.total)

    def observe(self, v: float) -> None:
        self.fine.observe(v)
        self.prom.observe(v)


class Metrics:
    """Collects the pipeline's events (see docs/dashboard.md for their schema).

    record: a path to write every accepted event to, one JSON object per line (a saved run, which
    `Metrics.load` and `zkpipe dashboard --run` open again).
    history: how many recent batches the dashboard keeps; bucket_s and max_buckets: the
    resolution and length of the charts' time series; open_buckets: how many of the newest
    buckets still accept events that arrive late.
    """

    def __init__(self, *, record: str | Path | None = None, history: int = 10_000, bucket_s: float = 1.0,
                 max_buckets: int = 3600, open_buckets: int = 5, source: str = "live"):
        self._lock = threading.Lock()
        self.source = source
        self.live = source == "live"
        self.history = BatchHistory(history)
        self.series = Series(bucket_s, max_buckets, open_buckets)
        self.workers = Workers()
        self.tx = {s: Distribution() for s in TX_STAGES}
        self.stage = {s: Distribution() for s in BATCH_STAGES}  # time since the batch's previous stage
        self.age = {s: Distribution() for s in BATCH_STAGES}  # time since the batch's first stage
        self.phases = {p: Distribution() for p in PHASES}
        self.gas = PromHistogram(GAS_BUCKETS)
        self.gas_max = 0
        self.batch_events = dict.fromkeys(BATCH_EVENT_STAGES, 0)
        self.counters = dict.fromkeys(COUNTERS, 0)
        self.gauges: dict[str, dict[str, float]] = {g: {} for g in GAUGES}  # name → worker ("" if none) → value
        self.events_by_type = dict.fromkeys(EVENT_TYPES, 0)
        self.t_first: float | None = None
        self.t_last: float | None = None
        self.version = 0  # bumped by every event; the live channel sends when it changes
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(PipelineCollector(self))
        self._record = None
        if record is not None:
            self._record = open(record, "w", encoding="utf-8")
            header = {"zkpipe_metrics": RUN_FORMAT, "bucket_s": self.series.bucket_s, "history": history,
                      "started": time.time()}
            self._record.write(json.dumps(header) + "\n")
            self._record.flush()
            self._last_flush = time.monotonic()

    # ------------------------------------------------------------------ ingestion

    def event(self, ev: dict) -> None:
        """Takes one event; raises InvalidEvent (naming the problem) if it breaks the schema."""
        ev = validate_event(ev)
        with self._lock:
            self._apply(ev)
            if self._record is not None:
                self._write(ev)

    def _apply(self, ev: dict) -> None:
        t = ev["t"]
        if self.t_first is None or t < self.t_first:
            self.t_first = t
        if self.t_last is None or t > self.t_last:
            self.t_last = t
        kind = ev["type"]
        self.events_by_type[kind] += 1
        self.version += 1
        bucket = self.series.bucket_for(t)
        if kind == "txs":
            values = ev["latencies_s"]
            if values.size == 0:
                return
            binned = Binned(values)  # binned once for the run's histogram and the time bucket's
            self.tx[ev["stage"]].add(binned)
            if bucket is not None:
                bucket.tx_counts[ev["stage"]] += binned.n
                hist = bucket.tx_hist.get(ev["stage"])
                if hist is None:
                    hist = bucket.tx_hist[ev["stage"]] = LogHistogram()
                hist.add_binned(binned)
        elif kind == "batch":
            self._apply_batch(ev, bucket)
        elif kind == "gauge":
            by_worker = self.gauges[ev["name"]]
            by_worker[ev.get("worker", "")] = ev["value"]
            self.series.set_gauge(t, ev["name"], float(sum(by_worker.values())))
        elif kind == "worker":
            self.workers.apply(ev)
        else:  # counter
            self.counters[ev["name"]] += ev["inc"]
            if bucket is not None:
                bucket.counters[ev["name"]] += ev["inc"]

    def _apply_batch(self, ev: dict, bucket) -> None:
        stage = ev["stage"]
        self.batch_events[stage] += 1
        if bucket is not None:
            bucket.batch_counts[stage] += 1
        if "phases_ms" in ev:
            for phase, ms in ev["phases_ms"].items():
                self.phases[phase].observe(ms / 1000.0)
        if "gas" in ev:
            self.gas.observe(float(ev["gas"]))
            self.gas_max = max(self.gas_max, ev["gas"])
        record = self.history.record_for(ev["batch"])
        if record is None:
            return
        since_prev, since_first = record.apply(ev)
        if since_prev is not None:
            self.stage[stage].observe(since_prev)
            if bucket is not None:
                hist = bucket.stage_hist.get(stage)
                if hist is None:
                    hist = bucket.stage_hist[stage] = LogHistogram()
                hist.observe(since_prev)
        if since_first is not None:
            self.age[stage].observe(since_first)

    def _write(self, ev: dict) -> None:
        if "latencies_s" in ev:
            ev = dict(ev, latencies_s=ev["latencies_s"].tolist())
        self._record.write(json.dumps(ev) + "\n")
        now = time.monotonic()
        # A saved run should survive a crash of the node losing at most about a second.
        if now - self._last_flush >= FLUSH_EVERY_S:
            self._record.flush()
            self._last_flush = now

    def close(self) -> None:
        """Flushes and closes the run file, if any; events after this are still counted."""
        with self._lock:
            if self._record is not None:
                self._record.close()
                self._record = None

    # ------------------------------------------------------------------ saved runs

    @classmethod
    def load(cls, path: str | Path, **kwargs) -> "Metrics":
        """Rebuilds the metrics of a saved run (a file written with `record=`)."""
        path = Path(path)
        try:
            lines = path.read_text(encoding="utf-8").split("\n")
        except OSError as e:
            raise InvalidEvent(f"cannot read saved run {path}: {e.strerror or e}") from None
        truncated_tail = lines and lines[-1] != ""  # a node killed mid-write leaves a partial line
        start = 0
        if lines and lines[0].startswith("{") and '"zkpipe_metrics"' in lines[0]:
            header = _parse_line(path, 1, lines[0])
            if header.get("zkpipe_metrics") != RUN_FORMAT:
                raise InvalidEvent(f"{path}: saved-run format {header.get('zkpipe_metrics')!r} is not {RUN_FORMAT}")
            kwargs.setdefault("bucket_s", header.get("bucket_s", 1.0))
            kwargs.setdefault("history", header.get("history", 10_000))
            start = 1
        metrics = cls(source=str(path), **kwargs)
        for n, line in enumerate(lines[start:], start=start + 1):
            if not line.strip():
                continue
            try:
                ev = _parse_line(path, n, line)
            except InvalidEvent:
                if truncated_tail and n == len(lines):
                    break
                raise
            try:
                metrics.event(ev)
            except InvalidEvent as e:
                raise InvalidEvent(f"{path}:{n}: {e}") from None
        return metrics

    # ------------------------------------------------------------------ reading

    def now(self) -> float:
        """The run's clock: the latest event time (so a saved run reads the same every time)."""
        return self.t_last if self.t_last is not None else 0.0

    def summary(self) -> dict:
        """The run so far, in one JSON-ready dict (served as /api/summary)."""
        with self._lock:
            now = self.now()
            gpu = self.gauges["gpu_memory_bytes"]
            span = (self.t_last - self.t_first) if self.t_first is not None else 0.0
            rates = self._recent_rates()
            transactions = {}
            for s in TX_STAGES:
                st = self.tx[s].fine.stats()
                st["rate_10s"] = rates[s]
                st["rate_mean"] = round(st["count"] / span, 3) if span > 0 else None
                transactions[s] = st
            low, high = self.history.bounds()
            return {
                "source": self.source, "live": self.live, "t_first": self.t_first, "t_last": self.t_last,
                "events": sum(self.events_by_type.values()), "late_events": self.series.late_events,
                "counters": dict(self.counters),
                "gauges": {g: (float(sum(v.values())) if v else None) for g, v in self.gauges.items()},
                "transactions": transactions,
                "batch_stages": {s: self.stage[s].fine.stats() for s in BATCH_STAGES},
                "batch_latency": {s: self.age[s].fine.stats() for s in BATCH_STAGES},
                "phases": {p: self.phases[p].fine.stats() for p in PHASES},
                "gas": {"count": self.gas.count, "total": int(self.gas.total),
                        "mean": self.gas.total / self.gas.count if self.gas.count else None,
                        "max": self.gas_max if self.gas.count else None},
                "batch_events": dict(self.batch_events),
                "workers": self.workers.to_json(now, gpu),
                "history": {"batches": len(self.history), "capacity": self.history.capacity,
                            "dropped": self.history.dropped, "oldest": low, "newest": high,
                            "buckets": len(self.series.buckets), "max_buckets": self.series.max_buckets,
                            "bucket_s": self.series.bucket_s},
            }

    def _recent_rates(self) -> dict[str, float | None]:
        """Transactions per second reaching each stage over about the last RATE_WINDOW_S."""
        buckets = self.series.buckets
        if not buckets or self.t_last is None:
            return dict.fromkeys(TX_STAGES)
        k = min(len(buckets), max(1, math.ceil(RATE_WINDOW_S / self.series.bucket_s)))
        window = [buckets[-1 - i] for i in range(k)]
        start = max(window[-1].index * self.series.bucket_s, self.t_first)
        duration = max(self.t_last - start, self.series.bucket_s)
        return {s: round(sum(b.tx_counts[s] for b in window) / duration, 3) for s in TX_STAGES}

    def series_json(self, since: float | None = None, limit: int | None = None) -> dict:
        """The charts' time series from `since` (served as /api/series)."""
        with self._lock:
            return self.series.to_json(since, limit)

    def batches_json(self, limit: int = 50, before: int | None = None) -> dict:
        """The most recent batches, newest first (served as /api/batches)."""
        with self._lock:
            records = self.history.latest(limit, before)
            low, high = self.history.bounds()
            return {"batches": [r.to_json() for r in records], "oldest": low, "newest": high,
                    "stored": len(self.history), "capacity": self.history.capacity}

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric (served as /metrics)."""
        from prometheus_client import generate_latest
        return generate_latest(self.registry)


def _parse_line(path: Path, n: int, line: str) -> dict:
    try:
        ev = json.loads(line)
    except json.JSONDecodeError as e:
        raise InvalidEvent(f"{path}:{n}: not a JSON object ({e.msg})") from None
    if not isinstance(ev, dict):
        raise InvalidEvent(f"{path}:{n}: expected a JSON object, got {type(ev).__name__}")
    return ev
