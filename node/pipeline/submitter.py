"""The in-order L1 submitter: proofs arrive in any order, batches go to the rollup contract in
order, each exactly once.

What the L1 holds is the only truth it trusts. It reads the contract's last batch index before
each round of submissions, so a batch already there (sent by a predecessor that died before it
heard back, or by an attempt whose answer was lost with the connection) is never sent again.
A transaction that fails without an answer (the L1 down, a timeout) is ambiguous: it may or
may not have landed, so the next round reads the index again before sending anything. An L1 that
answers but has no code at the contract's address was reset: that is RollupMissing, for good.
An L1 that holds fewer batches than were seen on it went back (a reorganisation whose
transactions did not return): the batches it lost are sent again from the proofs kept
(KEEP_VERIFIED), or, where they are not kept, the submitter waits for the L1 to get them back.
"""

from __future__ import annotations

import threading
import time

from kernels.errors import InvalidInput
from node.l1.errors import L1Unavailable, TransactionReverted

from .errors import L1Behind, RollupMissing, SubmissionRejected
from .events import Sink, batch_event, counter, discard
from .jobs import ProofResult, Verified

# Batches a submitter keeps after putting them on the L1, to send again if a reorganisation of
# the L1 takes them back (a few proofs with their published data: kilobytes each).
KEEP_VERIFIED = 64


class InOrderSubmitter:
    """Submits offered proofs to a `RollupContract` in batch order. offer() may be called from
    another thread while step() runs."""

    def __init__(self, rollup=None, sink: Sink = discard, connect=None, keep: int = KEEP_VERIFIED):
        if rollup is None and connect is None:
            raise InvalidInput("give a rollup contract or a way to connect to one")
        self.rollup = rollup
        self.connect = connect                # makes the contract when first needed (the L1 may
                                              # be down when the submitter starts)
        self.sink = sink
        self.pending: dict[int, ProofResult] = {}
        self.height: int | None = None        # the L1's last batch index, as last read
        self.sent = 0                         # transactions this submitter sent
        self._height_settled = False          # `height` is what this submitter's own last
                                              # receipt made it (nothing failed since)
        self.seen_height = 0                  # the highest batch seen on the L1
        # The last `keep` batches this submitter put on the L1, to send again if the L1 goes back.
        self.keep = keep
        self.recent: dict[int, ProofResult] = {}
        self._lock = threading.Lock()         # offers may arrive while a round is sending

    def offer(self, result: ProofResult) -> bool:
        """Keep `result` for submission; False when its batch is already on the L1 (as last
        read) or already waiting here (the first proof offered is the one sent)."""
        with self._lock:
            if (self.height is not None and result.batch <= self.height) or result.batch in self.pending:
                return False
            self.pending[result.batch] = result
            return True

    def contract(self):
        if self.rollup is None:
            self.rollup = self.connect()
        return self.rollup

    def read_height(self) -> int:
        try:
            self.height = int(self.contract().last_batch_index())
            self.seen_height = max(self.seen_height, self.height)
        except L1Unavailable:
            raise                         # no answer: nothing to learn about the contract
        except Exception:
            self.check_contract()         # an answer that is no index: is the contract still there?
            raise
        return self.height

    def check_contract(self) -> None:
        """RollupMissing if the L1 answers without the contract's code; an error reaching the
        L1 passes through."""
        rollup = self.contract()
        if not rollup.l1.code_at(rollup.address):
            raise RollupMissing(rollup.address, describe_chain(rollup.l1))

    def step(self) -> list[Verified]:
        """One round: read the L1's height, then send every waiting batch that extends it, in
        order. Returns the batches now known to be on the L1 (those found there included).
        Raises SubmissionRejected when the contract refuses a batch for good (it is dropped:
        sending it again would be refused again); any other error means the L1 did not answer
        (or is behind: L1Behind), and nothing is lost: call step() again later."""
        try:
            return self._round()
        except BaseException:
            self._height_settled = False      # whatever failed, the next round reads the L1
            raise

    def _round(self) -> list[Verified]:
        done = []
        # The height read costs a call to the L1 per round. It can be skipped only after a round
        # that ended with this submitter's own receipt: then the L1 is at that batch unless
        # someone else submits, and a batch sent on a stale height is refused as
        # UnexpectedBatchIndex, which _send resolves by reading the height.
        height = self.height if self._height_settled else self.read_height()
        with self._lock:
            for b in sorted(b for b in self.pending if b <= height):
                self.pending.pop(b)
                done.append(Verified(b, time.time(), found_on_l1=True))
            self._follow_back(height)
        while True:
            with self._lock:
                result = self.pending.get(height + 1)
            if result is None:
                return done
            try:
                done.append(self._send(result))
            except SubmissionRejected:
                with self._lock:
                    self.pending.pop(result.batch, None)
                raise
            except L1Behind:
                height = self.height          # as _send read it: the batches lost wait again
                with self._lock:
                    self._follow_back(height)
                continue
            with self._lock:
                self.pending.pop(result.batch, None)
                self.recent[result.batch] = result
                for b in [b for b in self.recent if b <= result.batch - self.keep]:
                    del self.recent[b]
            height = self.height = result.batch
            self.seen_height = max(self.seen_height, height)
            self._height_settled = True

    def _follow_back(self, height: int) -> None:
        """When the L1 holds fewer batches than were seen on it (a reorganisation of the L1 took
        some back, their transactions gone) and a waiting batch lies past the gap: the gap's
        batches go back to waiting, from the proofs kept, to be sent again in order; L1Behind
        when some are not kept here (the round is tried again: the L1 may get them back, or
        another sender may send them). Called with the lock held."""
        first = min(self.pending, default=None)
        if first is None or first <= height + 1 or first - 1 > self.seen_height:
            return                         # nothing waits past a gap the L1 opened
        gap = range(height + 1, first)
        if any(b not in self.recent for b in gap):
            raise L1Behind(first, height)
        for b in gap:
            self.pending[b] = self.recent.pop(b)
            self.sink(batch_event(b, "retried", error=f"L1 behind: at batch {height}; sent again"))

    def _send(self, result: ProofResult) -> Verified:
        b = result.batch
        self.sink(batch_event(b, "l1_submitted", transfers=result.transfers))
        self.sent += 1
        receipt = self.contract().submit_batch(b, result.proof, result.public_inputs)
        if receipt.status:
            return Verified(b, time.time(), gas=int(receipt.tx_gas), block=receipt.block_number)
        reason = receipt.revert_reason or receipt.revert_data.hex() or "reverted"
        if reason.startswith("UnexpectedBatchIndex"):
            height = self.read_height()
            # Another transaction for this batch landed first (an earlier attempt whose answer
            # was lost): the L1 is past it, which is all that was asked.
            if height >= b:
                return Verified(b, time.time(), found_on_l1=True)
            # This batch is sent only on a batch b − 1 seen verified: the L1 went back.
            if height < b - 1:
                raise L1Behind(b, height)
        raise SubmissionRejected(b, reason)

    def run(self, until_idle: bool = True, retry_delay: float = 0.2, max_delay: float = 5.0,
            stop=lambda: False) -> list[Verified]:
        """Call step() until nothing waits that can go (or `stop()`), waiting between rounds
        when the L1 does not answer (doubling from `retry_delay` up to `max_delay`)."""
        out, delay = [], retry_delay
        while not stop():
            try:
                out += self.step()
                delay = retry_delay
                if until_idle:
                    return out
            except (SubmissionRejected, TransactionReverted, RollupMissing):
                raise
            except Exception as e:  # the L1 did not answer: nothing was decided, try again
                self.unreachable(e)
                time.sleep(delay)
                delay = min(2 * delay, max_delay)
        return out

    def unreachable(self, error: Exception) -> None:
        """Report a round that failed because the L1 did not answer (or is behind)."""
        first = min(self.pending) if self.pending else None
        if first is not None:
            what = "L1 behind" if isinstance(error, L1Behind) else "L1 unreachable"
            self.sink(batch_event(first, "retried", error=f"{what}: {type(error).__name__}: {error}"[:300]))
        self.sink(counter("retries"))


def describe_chain(l1) -> str:
    """The chain an L1 client is on, for error messages: its id and where it is reached."""
    where = getattr(l1, "url", None) or getattr(l1, "name", "L1")
    try:
        return f"chain id {l1.chain_id} at {where}"
    except Exception:  # noqa: BLE001 - a description must not fail
        return f"{where}"
