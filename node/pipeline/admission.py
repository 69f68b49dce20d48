"""The admission gate: how much the sequencer may take in while proving is behind, counted per
transaction, whatever the size of the call that brings them.

The backlog is the transfers admitted and not yet proven. A call asks for room for its
transfers and gets what there is, up to `limit` in all: a bulk call is admitted up to the bound
and the rest of it refused (its caller sends that part again later). Callers are served in the
order they came (a queue of tickets), so a bulk sender that takes all the room there is cannot
keep a client that sends one transfer at a time waiting behind it again and again: each waits
at most for those ahead of it. The coordinator may also close the gate outright (too many
batches waiting for the L1). A caller that finds no room waits up to `wait_s`, then
AdmissionClosed: nothing of its call was accepted.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from kernels.errors import InvalidInput

from .errors import AdmissionClosed

FULL = "txpool is full"     # the message prefix clients (and the load generator) recognise


class AdmissionGate:
    def __init__(self, wait_s: float = 2.0, limit: int | None = None):
        if limit is not None and limit < 1:
            raise InvalidInput(f"the backlog limit must be at least 1 transfer, got {limit}")
        self.wait_s = wait_s
        self.limit = limit
        self.backlog = 0              # admitted (through this gate), not yet proven
        self.high_water = 0
        self._open = True
        self._cond = threading.Condition()
        self._queue: deque = deque()
        self.waited = 0               # calls that found no room and waited
        self.refused = 0              # of those, the ones that found none in wait_s

    def set(self, is_open: bool) -> None:
        with self._cond:
            self._open = is_open
            self._cond.notify_all()

    @property
    def is_open(self) -> bool:
        return self._open and self._room() > 0

    def _room(self) -> int:
        if not self._open:
            return 0
        return 1 << 62 if self.limit is None else self.limit - self.backlog

    def take(self, want: int) -> int:
        """Room for up to `want` transfers, in the callers' order: returns how many (at least
        one) were granted, or AdmissionClosed after waiting `wait_s` for any."""
        ticket = object()
        with self._cond:
            self._queue.append(ticket)
            try:
                deadline = None
                while True:
                    room = self._room()
                    if self._queue[0] is ticket and room > 0:
                        granted = min(want, room)
                        self.backlog += granted
                        self.high_water = max(self.high_water, self.backlog)
                        return granted
                    now = time.monotonic()
                    if deadline is None:
                        deadline = now + self.wait_s
                        self.waited += 1
                    if now >= deadline:
                        self.refused += 1
                        raise AdmissionClosed(f"{FULL}: proving is behind (backlog {self.backlog} transfers, "
                                              f"bound {self.limit}); nothing was accepted, send again later")
                    self._cond.wait(deadline - now)
            finally:
                self._queue.remove(ticket)
                self._cond.notify_all()

    def carry(self, count: int) -> None:
        """Count `count` transfers admitted before this gate existed (replayed from the log,
        not yet proven) in the backlog."""
        with self._cond:
            self.backlog += max(0, count)
            self.high_water = max(self.high_water, self.backlog)

    def give_back(self, count: int) -> None:
        """Room taken for transfers that were then refused (invalid) or never admitted."""
        self.proven(count)

    def proven(self, count: int) -> None:
        """`count` transfers were proven: their room is free again (never below zero)."""
        with self._cond:
            self.backlog = max(0, self.backlog - count)
            self._cond.notify_all()


def refusal(position: int, granted: int, limit: int | None) -> str:
    """The message for a transaction of a bulk call beyond the room it was granted."""
    return (f"{FULL}: the proof backlog is at its bound ({limit} transfers); the first {granted} "
            f"transactions of this call were taken, this one (#{position}) and the rest were not: send them again later")
