"""The coordinator's bookkeeping, without Ray: which batches wait, which are being proven and
where, how often each has been tried, which proofs still wait for the L1, and whether the
sequencer may admit more.

The rules it keeps, whatever the workers do:
- a batch is handed to one worker at a time, and a result counts only if it comes from the
  batch's current attempt (a late answer from an abandoned attempt is dropped);
- a batch is proven once: after its proof is accepted, no further attempt is made;
- a failed attempt is retried on another worker where one is idle, and the lowest batch goes
  first (the L1 takes batches in order, so the lowest unproven batch is the one everything else
  waits for);
- a batch is never abandoned for a failure a retry can fix (a worker lost, a timeout, memory):
  the first `max_attempts` tries follow each other at once, later ones only after a backoff
  (the caller waits, then calls `requeue`). Only an error a retry cannot fix fails the batch.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from kernels.errors import InvalidInput

from .errors import PipelineError

WAITING, PROVING, PROVEN, VERIFIED, FAILED = "waiting", "proving", "proven", "verified", "failed"


@dataclass
class Entry:
    batch: int
    transfers: int
    payload: object                   # what the worker needs (a reference to the job in the store)
    state: str = WAITING
    attempt: int = 0                  # the current (or last) attempt, counted from 1
    worker: str | None = None
    failed_on: set = field(default_factory=set)
    errors: list = field(default_factory=list)
    result: object = None


@dataclass
class Assignment:
    batch: int
    worker: str
    attempt: int
    payload: object


class JobBook:
    """Proof jobs by batch index. `max_unproven` bounds the batches not yet proven and
    `max_unverified` those not yet on the L1; past either bound admission closes."""

    def __init__(self, max_attempts: int = 3, max_unproven: int = 4, max_unverified: int = 16, height: int = 0):
        if max_attempts < 1 or max_unproven < 1 or max_unverified < max_unproven:
            raise InvalidInput("need max_attempts ≥ 1 and 1 ≤ max_unproven ≤ max_unverified")
        self.max_attempts = max_attempts
        self.max_unproven = max_unproven
        self.max_unverified = max_unverified
        self.entries: dict[int, Entry] = {}
        self._waiting: list[int] = []     # heap of batch indices
        self.retries = 0
        self.verified_height = height     # every batch ≤ this is on the L1

    # -- jobs in ------------------------------------------------------------------------------
    def add(self, batch: int, transfers: int, payload) -> None:
        """A new batch to prove. A batch index seen before is refused: accepting it again would
        prove (and later submit) the same batch twice."""
        self._check_new(batch)
        self.entries[batch] = Entry(batch, transfers, payload)
        heapq.heappush(self._waiting, batch)

    def add_proven(self, batch: int, transfers: int, result) -> None:
        """A batch whose proof already exists (kept from before a restart): not proven again."""
        self._check_new(batch)
        self.entries[batch] = Entry(batch, transfers, None, state=PROVEN, result=result)

    def _check_new(self, batch: int) -> None:
        if batch in self.entries or batch <= self.verified_height:
            raise PipelineError(f"batch {batch} was already queued")

    # -- dispatch -----------------------------------------------------------------------------
    def next_assignment(self, idle: list[str]) -> Assignment | None:
        """The lowest waiting batch on an idle worker (one that has not failed it, if any such
        is idle), or None when nothing waits or no worker is idle."""
        if not idle or not self._waiting:
            return None
        batch = heapq.heappop(self._waiting)
        e = self.entries[batch]
        fresh = [w for w in idle if w not in e.failed_on]
        e.worker = (fresh or idle)[0]
        e.attempt += 1
        e.state = PROVING
        return Assignment(batch, e.worker, e.attempt, e.payload)

    # -- outcomes -----------------------------------------------------------------------------
    def _current(self, batch: int, attempt: int) -> Entry | None:
        e = self.entries.get(batch)
        if e is None or e.state != PROVING or e.attempt != attempt:
            return None
        return e

    def proven(self, batch: int, attempt: int, result) -> bool:
        """Record the proof of `batch` from `attempt`; False (and nothing changes) when that
        attempt is no longer current or the batch is already proven."""
        e = self._current(batch, attempt)
        if e is None:
            return False
        e.state, e.result, e.payload = PROVEN, result, None   # the job is no longer needed
        return True

    def attempt_failed(self, batch: int, attempt: int, worker: str, error: str, retryable: bool = True) -> str:
        """An attempt ended without a proof. Returns "retry" (queued again), "backoff" (its
        first `max_attempts` tries are spent: `requeue` it after a wait), "failed" (an error a
        retry cannot fix) or "stale" (not the current attempt)."""
        e = self._current(batch, attempt)
        if e is None:
            return "stale"
        e.errors.append(error)
        del e.errors[:-10]                # a batch retried for hours keeps its last errors only
        e.failed_on.add(worker)
        e.worker = None
        if not retryable:
            e.state = FAILED
            return "failed"
        e.state = WAITING
        self.retries += 1
        if e.attempt < self.max_attempts:
            heapq.heappush(self._waiting, batch)
            return "retry"
        e.failed_on.clear()               # after a backoff, any healthy worker will do
        return "backoff"

    def requeue(self, batch: int) -> None:
        """A batch whose backoff is over waits for a worker again."""
        e = self.entries.get(batch)
        if e is not None and e.state == WAITING and batch not in self._waiting:
            heapq.heappush(self._waiting, batch)

    def verified(self, batch: int) -> bool:
        """Batch `batch` is on the L1; True the first time only. Entries are dropped once every
        batch up to them is verified, so the book's memory follows the backlog, not the run."""
        e = self.entries.get(batch)
        if e is None or e.state == VERIFIED:
            return False
        e.state, e.result = VERIFIED, None
        while self.verified_height + 1 in self.entries and self.entries[self.verified_height + 1].state == VERIFIED:
            self.verified_height += 1
            del self.entries[self.verified_height]
        return True

    # -- views --------------------------------------------------------------------------------
    def state(self, batch: int) -> str | None:
        if batch <= self.verified_height:
            return VERIFIED
        e = self.entries.get(batch)
        return e.state if e else None

    def count(self, *states: str) -> int:
        return sum(1 for e in self.entries.values() if e.state in states)

    @property
    def unproven(self) -> int:
        return self.count(WAITING, PROVING)

    @property
    def unverified(self) -> int:
        return self.count(WAITING, PROVING, PROVEN)

    @property
    def queue_depth(self) -> int:
        return len(self._waiting)

    def proven_height(self) -> int:
        """The highest batch h such that every batch ≤ h is proven (or verified)."""
        h = self.verified_height
        while h + 1 in self.entries and self.entries[h + 1].state in (PROVEN, VERIFIED):
            h += 1
        return h

    def admission_open(self) -> bool:
        return self.unproven < self.max_unproven and self.unverified < self.max_unverified

    def failed(self) -> list[Entry]:
        return [e for e in self.entries.values() if e.state == FAILED]

    def proofs_awaiting_l1(self) -> list:
        return [self.entries[b].result for b in sorted(self.entries) if self.entries[b].state == PROVEN]
