"""The recent batches, at most `capacity` of them (the oldest batch numbers are dropped first)."""

from __future__ import annotations

import bisect

from kernels.errors import InvalidInput

from .schema import BATCH_STAGES, PHASES

_ORDER = {s: i for i, s in enumerate(BATCH_STAGES)}


class BatchRecord:
    """What is known of one batch: when it reached each stage, and what its events carried."""

    __slots__ = ("batch", "status", "times", "stage_s", "transfers", "worker", "node", "attempt", "phases_ms",
                 "gas", "error", "failures", "retries")

    def __init__(self, batch: int):
        self.batch = batch
        self.status = None
        self.times: dict[str, float] = {}
        self.stage_s: dict[str, float] = {}
        self.transfers = self.worker = self.node = self.attempt = self.phases_ms = self.gas = self.error = None
        self.failures = 0
        self.retries = 0

    def apply(self, ev: dict) -> tuple[float | None, float | None]:
        """Records a batch event. Returns (seconds since the previous stage, seconds since the
        first stage) for an ordered stage, with None where there is nothing to measure from."""
        stage, t = ev["stage"], ev["t"]
        self.status = stage
        for key in ("transfers", "worker", "node", "attempt", "gas", "error"):
            if key in ev:
                setattr(self, key, ev[key])
        if "phases_ms" in ev:
            self.phases_ms = ev["phases_ms"]
        if stage == "failed":
            self.failures += 1
            return None, None
        if stage == "retried":
            self.retries += 1
            return None, None
        order = _ORDER[stage]
        prev = None
        for earlier in reversed(BATCH_STAGES[:order]):
            if earlier in self.times:
                prev = self.times[earlier]
                break
        first = min(self.times.values()) if self.times else None
        self.times[stage] = t  # a retried proof overwrites its earlier attempt's times
        # Clocks of different nodes may disagree by a little; a stage never takes negative time.
        since_prev = None if prev is None else max(0.0, t - prev)
        if since_prev is not None:
            self.stage_s[stage] = since_prev
        since_first = None if first is None else max(0.0, t - first)
        return since_prev, since_first

    def to_json(self) -> dict:
        phases = None
        if self.phases_ms is not None:
            phases = {p: self.phases_ms.get(p) for p in PHASES}
        return {
            "batch": self.batch, "status": self.status, "transfers": self.transfers, "worker": self.worker,
            "node": self.node, "attempt": self.attempt, "times": dict(self.times), "stage_s": dict(self.stage_s),
            "phases_ms": phases, "gas": self.gas, "error": self.error, "failures": self.failures,
            "retries": self.retries,
        }


class BatchHistory:
    def __init__(self, capacity: int = 10_000):
        if capacity < 1:
            raise InvalidInput(f"capacity must be at least 1, got {capacity!r}")
        self.capacity = int(capacity)
        self._records: dict[int, BatchRecord] = {}
        self._ids: list[int] = []  # sorted; batches mostly arrive in order, so insort appends
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._records)

    def record_for(self, batch: int) -> BatchRecord | None:
        """The batch's record, made if new; None for a batch older than everything kept in a
        full history (it would only push out a newer one)."""
        rec = self._records.get(batch)
        if rec is not None:
            return rec
        if len(self._ids) >= self.capacity:
            if batch < self._ids[0]:
                return None
            oldest = self._ids.pop(0)
            del self._records[oldest]
            self.dropped += 1
        rec = self._records[batch] = BatchRecord(batch)
        bisect.insort(self._ids, batch)
        return rec

    def latest(self, limit: int, before: int | None = None) -> list[BatchRecord]:
        """Up to `limit` records, newest batch number first, only batches below `before` if given."""
        end = len(self._ids) if before is None else bisect.bisect_left(self._ids, before)
        start = max(0, end - limit)
        return [self._records[b] for b in reversed(self._ids[start:end])]

    def bounds(self) -> tuple[int | None, int | None]:
        return (self._ids[0], self._ids[-1]) if self._ids else (None, None)
