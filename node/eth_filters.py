"""Polled filters (`eth_newFilter`, `eth_newBlockFilter`, `eth_newPendingTransactionFilter`,
`eth_getFilterChanges`, `eth_uninstallFilter`), as geth keeps them: an id per filter, changes
since the last poll, and a filter not polled for `ttl` seconds is dropped.

Block filters report the hashes of the blocks executed since the last poll. Log filters are
valid and always empty (the ledger has no contracts, so no logs), and so are pending-transaction
filters (a transfer is acknowledged once executed, so none is ever seen pending).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional

__all__ = ["Filters", "Filter", "BLOCKS", "LOGS", "PENDING"]

BLOCKS, LOGS, PENDING = "blocks", "logs", "pending"
MAX_CHANGES = 10_000   # block hashes returned by one poll


@dataclass
class Filter:
    kind: str
    seen: int                 # BLOCKS: the last block reported
    polled: float
    criteria: Optional[dict] = None


class Filters:
    """At most `limit` live filters; `clock` is injectable for tests of the expiry."""

    def __init__(self, ttl: float = 300.0, limit: int = 1024,
                 clock: Callable[[], float] = time.monotonic):
        self.ttl, self.limit, self.clock = ttl, limit, clock
        self._filters: dict[str, Filter] = {}
        self._lock = threading.Lock()

    def install(self, kind: str, head: int, criteria: Optional[dict] = None) -> Optional[str]:
        """A new filter's id, or None when `limit` filters are live."""
        now = self.clock()
        with self._lock:
            self._expire(now)
            if len(self._filters) >= self.limit:
                return None
            fid = "0x" + os.urandom(16).hex()
            self._filters[fid] = Filter(kind, head, now, criteria)
            return fid

    def get(self, fid: str) -> Optional[Filter]:
        now = self.clock()
        with self._lock:
            self._expire(now)
            f = self._filters.get(fid)
            if f is not None:
                f.polled = now
            return f

    def block_range(self, fid: str, head: int) -> Optional[range]:
        """The blocks a block filter has not reported yet (now counted as reported)."""
        with self._lock:
            f = self._filters.get(fid)
            if f is None or f.kind != BLOCKS:
                return None
            first = max(f.seen + 1, head - MAX_CHANGES + 1)
            f.seen = max(f.seen, head)
            return range(first, head + 1)

    def uninstall(self, fid: str) -> bool:
        with self._lock:
            return self._filters.pop(fid, None) is not None

    def _expire(self, now: float) -> None:
        for fid in [k for k, f in self._filters.items() if now - f.polled > self.ttl]:
            del self._filters[fid]
