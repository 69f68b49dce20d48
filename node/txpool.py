"""Transfers that arrive ahead of their sender's next nonce (geth's `queued` transactions).

Clients that send several transfers at once (explicit nonces, parallel HTTP requests, batches
split over connections) cannot control the order in which they arrive. A transfer whose nonce is
ahead of its sender's next one is therefore held rather than refused, and admitted ("promoted")
as soon as the transfers before it have been admitted; if they have not arrived within `wait_s`
it is refused with `nonce too high`.

What a held transfer's acknowledgement means: nothing different. Its sender's request stays open
while it is held; it is answered with the hash only once the transfer has been promoted, logged
(fsynced) and executed, exactly like any other; if it is refused instead, nothing of it was kept.
A crash while it is held loses only what was never acknowledged.

`NonceQueue` is the bookkeeping and the bounds (per sender and in all); the waiting itself
happens in the sequencer, on its condition variable, so that an admission by another thread
wakes the held transfers it unblocks.
"""

from __future__ import annotations

from .errors import InvalidInput, InvalidTransaction
from .transactions import Transfer

__all__ = ["NonceQueue"]


class NonceQueue:
    """The held transfers, keyed by (sender, nonce), bounded like geth's queue (but larger: a
    wallet may send hundreds at once): no nonce more than `per_sender` ahead of its sender's next
    (so at most that many held per sender), at most `total` in all."""

    def __init__(self, per_sender: int = 1024, total: int = 16384, wait_s: float = 10.0):
        if per_sender < 1 or total < 1 or wait_s < 0:
            raise InvalidInput("NonceQueue bounds must be positive and wait_s non-negative")
        self.per_sender = per_sender
        self.total = total
        self.wait_s = wait_s
        self._held: dict[tuple[bytes, int], bytes] = {}   # (sender, nonce) → tx hash
        self._count: dict[bytes, int] = {}

    def __len__(self) -> int:
        return len(self._held)

    def held(self, sender: bytes) -> int:
        return self._count.get(sender, 0)

    def hold(self, t: Transfer, next_nonce: int) -> None:
        """Take `t` (nonce ahead of `next_nonce`) into the queue, or refuse it with geth's words."""
        key = (t.sender, t.nonce)
        known = self._held.get(key)
        if known is not None:
            raise InvalidTransaction("already known" if known == t.hash
                                     else "replacement transaction underpriced")
        if t.nonce - next_nonce > self.per_sender:
            raise InvalidTransaction(f"nonce too high: next nonce {next_nonce}, tx nonce {t.nonce} "
                                     f"(at most {self.per_sender} ahead are held)")
        if len(self._held) >= self.total:
            raise InvalidTransaction(f"txpool is full: {self.total} transactions wait for "
                                     f"earlier nonces")
        self._held[key] = t.hash
        self._count[t.sender] = self._count.get(t.sender, 0) + 1

    def release(self, t: Transfer) -> None:
        """`t` leaves the queue (promoted or refused)."""
        if self._held.pop((t.sender, t.nonce), None) is None:
            return
        left = self._count[t.sender] - 1
        if left:
            self._count[t.sender] = left
        else:
            del self._count[t.sender]
