"""Time-bucketed series for the dashboard's charts, in a ring of bounded length.

Events are placed by their own timestamp `t` (not by when they arrive), so a saved run replays
into the same buckets. The newest few buckets stay open, because events from different actors
reach the driver a little out of order; older buckets are closed: their percentiles are computed
once, their fine histograms dropped, and only one row of numbers is kept. Events for a bucket
already closed are counted as late (they still count in the run's totals and in Prometheus).
"""

from __future__ import annotations

import math
from collections import deque

from kernels.errors import InvalidInput

from .histogram import LogHistogram
from .schema import BATCH_EVENT_STAGES, BATCH_STAGES, COUNTERS, GAUGES, TX_STAGES

QUANTILES = (0.5, 0.9, 0.99)
QUANTILE_NAMES = ("p50", "p90", "p99")


class Bucket:
    __slots__ = ("index", "tx_counts", "tx_hist", "stage_hist", "batch_counts", "gauges", "gauge_set",
                 "counters", "row")

    def __init__(self, index: int, gauges: dict):
        self.index = index
        self.tx_counts = dict.fromkeys(TX_STAGES, 0)
        self.tx_hist: dict[str, LogHistogram] = {}
        self.stage_hist: dict[str, LogHistogram] = {}
        self.batch_counts = dict.fromkeys(BATCH_EVENT_STAGES, 0)
        self.gauges = dict(gauges)  # gauges are state: a bucket starts with the last known values
        self.gauge_set: set[str] = set()
        self.counters = dict.fromkeys(COUNTERS, 0)
        self.row: tuple | None = None  # filled when the bucket closes

    def build_row(self, bucket_s: float) -> tuple:
        """The bucket as one flat row in `Series.COLUMNS` order."""
        row = [round(self.index * bucket_s, 6)]
        row += [round(self.tx_counts[s] / bucket_s, 3) for s in TX_STAGES]
        for stage in TX_STAGES:
            row += _quantiles(self.tx_hist.get(stage))
        for stage in BATCH_STAGES:
            row += _quantiles(self.stage_hist.get(stage))
        row += [self.batch_counts[s] for s in BATCH_EVENT_STAGES]
        row += [self.gauges.get(g) for g in GAUGES]
        row += [self.counters[c] for c in COUNTERS]
        return tuple(row)

    def close(self, bucket_s: float) -> None:
        self.row = self.build_row(bucket_s)
        self.tx_hist = self.stage_hist = None  # the fine histograms are what costs memory


def _quantiles(hist: LogHistogram | None) -> list:
    if hist is None:
        return [None] * len(QUANTILES)
    return [None if q is None else round(q, 6) for q in hist.quantiles(QUANTILES)]


class Series:
    """A ring of at most `max_buckets` buckets of `bucket_s` seconds; the newest `open_buckets`
    accept events."""

    def __init__(self, bucket_s: float = 1.0, max_buckets: int = 3600, open_buckets: int = 5):
        if not (bucket_s > 0 and math.isfinite(bucket_s)):
            raise InvalidInput(f"bucket_s must be a positive number of seconds, got {bucket_s!r}")
        if max_buckets < 2 or open_buckets < 1 or open_buckets >= max_buckets:
            raise InvalidInput("need max_buckets ≥ 2 and 1 ≤ open_buckets < max_buckets")
        self.bucket_s = float(bucket_s)
        self.max_buckets = int(max_buckets)
        self.open_buckets = int(open_buckets)
        self.buckets: deque[Bucket] = deque(maxlen=self.max_buckets)
        self.late_events = 0

    def bucket_for(self, t: float) -> Bucket | None:
        """The open bucket holding time t, creating buckets up to it; None when t is too old."""
        index = int(t // self.bucket_s)
        if not self.buckets:
            self.buckets.append(Bucket(index, {}))
            return self.buckets[-1]
        newest = self.buckets[-1].index
        if index > newest:
            self._advance(index)
            return self.buckets[-1]
        back = newest - index
        if back >= self.open_buckets or back >= len(self.buckets):
            self.late_events += 1
            return None
        return self.buckets[-1 - back]

    def _advance(self, index: int) -> None:
        last = self.buckets[-1]
        # After a long silence only the last max_buckets are worth creating.
        start = max(last.index + 1, index - self.max_buckets + 1)
        for i in range(start, index + 1):
            self.buckets.append(Bucket(i, last.gauges))
        # Close what has fallen out of the open window (at most open_buckets + the ones just made).
        for k in range(self.open_buckets, min(len(self.buckets), self.open_buckets + index - last.index + 1)):
            b = self.buckets[-1 - k]
            if b.row is None:
                b.close(self.bucket_s)

    def set_gauge(self, t: float, name: str, total: float) -> None:
        bucket = self.bucket_for(t)
        if bucket is None:
            return
        bucket.gauges[name] = total
        bucket.gauge_set.add(name)
        # Newer open buckets carried the old value forward; they take this one unless they have
        # their own reading.
        for k in range(min(self.open_buckets, len(self.buckets))):
            b = self.buckets[-1 - k]
            if b is bucket:
                break
            if name not in b.gauge_set:
                b.gauges[name] = total

    # Columns of a row, in order; `columns()` groups them for the API.
    COLUMNS = (
        ["t"]
        + [f"tx_rate.{s}" for s in TX_STAGES]
        + [f"tx_latency.{s}.{q}" for s in TX_STAGES for q in QUANTILE_NAMES]
        + [f"batch_latency.{s}.{q}" for s in BATCH_STAGES for q in QUANTILE_NAMES]
        + [f"batch_events.{s}" for s in BATCH_EVENT_STAGES]
        + [f"gauges.{g}" for g in GAUGES]
        + [f"counters.{c}" for c in COUNTERS]
    )

    def rows_since(self, since: float | None, limit: int | None = None) -> list[tuple]:
        """Rows of the buckets that start at or after `since` (all kept ones when None), oldest
        first, at most the newest `limit`."""
        rows = []
        for b in reversed(self.buckets):
            start = b.index * self.bucket_s
            if since is not None and start < since - 1e-9:
                break
            rows.append(b.row if b.row is not None else b.build_row(self.bucket_s))
            if limit is not None and len(rows) >= limit:
                break
        rows.reverse()
        return rows

    def closed_until(self) -> float | None:
        """The start of the oldest open bucket: rows before it will not change any more."""
        if not self.buckets:
            return None
        k = min(self.open_buckets, len(self.buckets)) - 1
        return self.buckets[-1 - k].index * self.bucket_s

    def to_json(self, since: float | None, limit: int | None = None) -> dict:
        rows = self.rows_since(since, limit)
        cols = list(zip(*rows)) if rows else [() for _ in self.COLUMNS]
        out: dict = {"bucket_s": self.bucket_s, "closed_until": self.closed_until(), "late_events": self.late_events,
                     "t": list(cols[0])}
        for name, values in zip(self.COLUMNS[1:], cols[1:]):
            node = out
            *path, leaf = name.split(".")
            for key in path:
                node = node.setdefault(key, {})
            node[leaf] = list(values)
        return out
