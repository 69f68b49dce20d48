"""Latency distributions with bounded memory.

Two kinds, fed the same samples:
- `LogHistogram`: fine logarithmic bins (each 2% wider than the last, from 10 µs to 10,000 s), so
  any percentile is known to within 1% however many samples went in. Used for the dashboard's
  percentiles, per time bucket and for the whole run.
- `PromHistogram`: Prometheus's cumulative `le` buckets (1 ms to 60 s) with count and sum, the form
  `histogram_quantile` works on.
Both take a NumPy array at a time, so a mini-batch of a thousand transaction latencies costs one
vectorized call rather than a thousand `observe`s.
"""

from __future__ import annotations

import bisect
import math

import numpy as np
from prometheus_client.utils import floatToGoString

LOG_MIN_S = 1e-5
LOG_GROWTH = 1.02
LOG_BINS = int(math.ceil(math.log(1e4 / LOG_MIN_S) / math.log(LOG_GROWTH))) + 1
_LOG_SCALE = 1.0 / math.log(LOG_GROWTH)

# Prometheus `le` bounds, seconds: 1 ms to 60 s, roughly 1-2.5-5 per decade.
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
GAS_BUCKETS = (100_000, 200_000, 300_000, 400_000, 500_000, 750_000, 1_000_000, 2_000_000, 5_000_000)


def _bin_of(values: np.ndarray) -> np.ndarray:
    """Bin i covers (LOG_MIN_S·g^(i-1), LOG_MIN_S·g^i]; everything at or below LOG_MIN_S is bin 0."""
    with np.errstate(divide="ignore"):
        idx = np.ceil(np.log(np.maximum(values, LOG_MIN_S) / LOG_MIN_S) * _LOG_SCALE)
    return np.clip(idx, 0, LOG_BINS - 1).astype(np.int64)


class Binned:
    """A non-empty array of samples counted into LogHistogram's bins, with its sum and max."""

    __slots__ = ("values", "counts", "n", "total", "max")

    def __init__(self, values: np.ndarray):
        self.values = values
        self.counts = np.bincount(_bin_of(values), minlength=LOG_BINS)
        self.n = int(values.size)
        self.total = float(values.sum())
        self.max = float(values.max())


class LogHistogram:
    """Counts of samples in fine logarithmic bins, with count, sum and max kept exactly."""

    __slots__ = ("counts", "count", "total", "max")

    def __init__(self):
        self.counts = np.zeros(LOG_BINS, dtype=np.int64)
        self.count = 0
        self.total = 0.0
        self.max = 0.0

    def add(self, values: np.ndarray) -> None:
        if values.size:
            self.add_binned(Binned(values))

    def add_binned(self, b: "Binned") -> None:
        """Samples already binned (one binning serves several histograms of the same samples)."""
        self.counts += b.counts
        self.count += b.n
        self.total += b.total
        if b.max > self.max:
            self.max = b.max

    def observe(self, v: float) -> None:
        """One sample; plain Python, as NumPy's per-call cost would dominate here."""
        i = 0 if v <= LOG_MIN_S else min(LOG_BINS - 1, math.ceil(math.log(v / LOG_MIN_S) * _LOG_SCALE))
        self.counts[i] += 1
        self.count += 1
        self.total += v
        if v > self.max:
            self.max = v

    def quantiles(self, qs=(0.5, 0.9, 0.99)) -> list[float | None]:
        """The q-quantiles (nearest rank), each the geometric middle of its bin, so within 1% of
        the true sample; the top rank reports the exact maximum. None when empty."""
        if self.count == 0:
            return [None for _ in qs]
        cum = np.cumsum(self.counts)
        out = []
        for q in qs:
            rank = max(1, math.ceil(q * self.count))
            if rank >= self.count:
                out.append(self.max)
                continue
            i = int(np.searchsorted(cum, rank))
            mid = LOG_MIN_S if i == 0 else LOG_MIN_S * LOG_GROWTH ** (i - 0.5)
            out.append(min(mid, self.max))
        return out

    def stats(self) -> dict:
        p50, p90, p99 = self.quantiles()
        mean = self.total / self.count if self.count else None
        return {"count": self.count, "mean": mean, "p50": p50, "p90": p90, "p99": p99,
                "max": self.max if self.count else None}


class PromHistogram:
    """Non-cumulative counts per `le` bucket (the last is +Inf), with count and sum."""

    __slots__ = ("bounds", "_bounds", "counts", "total")

    def __init__(self, bounds):
        self.bounds = np.asarray(bounds, dtype=np.float64)
        self._bounds = [float(b) for b in bounds]
        self.counts = np.zeros(len(bounds) + 1, dtype=np.int64)
        self.total = 0.0

    def add(self, values: np.ndarray, total: float | None = None) -> None:
        if values.size == 0:
            return
        # side="left": a sample equal to a bound belongs to that bound's bucket (le = "≤").
        idx = np.searchsorted(self.bounds, values, side="left")
        self.counts += np.bincount(idx, minlength=self.counts.size)
        self.total += float(values.sum()) if total is None else total

    def observe(self, v: float) -> None:
        self.counts[bisect.bisect_left(self._bounds, v)] += 1
        self.total += v

    @property
    def count(self) -> int:
        return int(self.counts.sum())

    def cumulative(self) -> list[tuple[str, int]]:
        """(le label, cumulative count) pairs, ending with +Inf, as the exposition format wants."""
        cum = np.cumsum(self.counts)
        labels = [_le_label(b) for b in self.bounds] + ["+Inf"]
        return list(zip(labels, (int(c) for c in cum)))


def _le_label(bound: float) -> str:
    # The same spelling prometheus_client's own histograms use ("0.005", "1.0", "5e+06").
    return floatToGoString(float(bound))
