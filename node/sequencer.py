"""The sequencer: admits signed transfers, logs them, and cuts them into mini-batches.

Admission is two steps. The first, `decode_transfers` (signature recovery included), is a pure
function of the raw bytes: it runs outside any lock, and on a batch it can run on other processes
or Ray tasks (`recover_pool`). The second checks each transfer against the pending state (nonce in
order, balance, recipient range, a free slot) under one short lock and appends it to the open
mini-batch.

Cutting is continuous: as soon as there is work and the previous cut is out, the open transfers
(at most `max_mini_batch`) become the next mini-batch, at most one cut every `cut_interval`
seconds unless the batch is full, and an idle sequencer cuts a lone transfer at once rather than
waiting for a block timer. A cut is one write-ahead-log record and one fsync (group commit);
the cut is handed to `on_cut` (the executor, for soft finality) and only then are its senders
acknowledged. Nothing is acknowledged before its fsync.

With `idle_block_interval` set, a sequencer that has made no block for that long makes an empty
one, logged and handed on like any cut: clients that wait for "the next block" or for
confirmations (ethers' `tx.wait(2)`, viem's `confirmations: 2`) see the chain move on an idle
node, as on any other chain. An empty block holds no rows and never makes a proof batch.

Deposits from the L1 (node/bridge.py) enter through `add_deposits`: the transfers admitted before
them are cut first, then the deposits, in queue order, become a deposit block of their own, logged
like a cut and applied to the pending state and then to the executor in the same place of the
order, so both reach the same outcome (credit or refund) for each. `deposits` counts those logged:
the queue index of the next one.

A restarted sequencer replays its log: the pending state is rebuilt from genesis and the logged
mini-batches (never re-admitted: a logged transfer was checked once), and `take_replayed()` gives
the mini-batches and proof-batch seals to the executor, which re-applies them in order. Given a
snapshot of the executed state (node/snapshot.py) that matches the log, it starts from the
snapshot's state instead and replays only what the log holds after the snapshot's mini-batch.

`python -m node.local_node` runs a sequencer, an executor and the JSON-RPC server in one process
(see docs/node.md).
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence, Union

from .blocks import GENESIS_HASH, MiniBatch, Seal, block_hash, decode_record, encode_record, record_number
from .bridge import Deposit
from .errors import InvalidInput, InvalidTransaction, NodeError, NodeFailed, WALCorrupt
from .genesis import Genesis
from .state import LedgerState
from .transactions import Transfer, decode_transfer, decode_transfers
from .txpool import NonceQueue
from .wal import WriteAheadLog

__all__ = ["Sequencer", "MiniBatch", "Seal", "encode_record", "decode_record", "GENESIS_HASH",
           "parse_idle_block_interval"]

log = logging.getLogger(__name__)

Result = Union[Transfer, InvalidTransaction]

_ADMIT_CHUNK = 256
MIN_IDLE_BLOCK_INTERVAL = 0.01   # seconds: the cut interval's order; below it idle blocks only load the log


# ---------------------------------------------------------------------------------------------
# The sequencer


class Sequencer:
    """Admission, write-ahead logging and mini-batch cutting for one chain.

    Plain class, no global state: `clock` (monotonic seconds) paces the cuts and `wall_clock`
    stamps them, both injectable. Drive it by hand (`submit`/`admit` then `cut`) or start its
    cutting thread with `start(on_cut=..., on_tick=...)`."""

    def __init__(self, genesis: Genesis, wal_path: Union[str, Path], *, capacity: int,
                 max_mini_batch: int = 4096, cut_interval: float = 0.010,
                 max_pending: Optional[int] = None, admit_timeout: float = 5.0,
                 recover_pool=None, recover_chunk: int = 512,
                 clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time, snapshot=None,
                 idle_block_interval: Optional[float] = None):
        if max_mini_batch < 1 or cut_interval < 0:
            raise InvalidInput("max_mini_batch must be positive and cut_interval non-negative")
        self.chain_id = genesis.chain_id
        self.max_mini_batch = max_mini_batch
        self.cut_interval = cut_interval
        self.idle_block_interval = parse_idle_block_interval(idle_block_interval)
        # Bounded backlog: admission waits (then refuses) rather than grow memory without end
        # when the log or the executor falls behind.
        self.max_pending = max_pending or 8 * max_mini_batch
        self.admit_timeout = admit_timeout
        self.recover_pool = recover_pool
        self.recover_chunk = recover_chunk
        self.clock = clock
        self.wall_clock = wall_clock

        self.state = LedgerState.from_genesis(genesis, capacity)   # pending state
        self.wal = WriteAheadLog(wal_path, genesis.digest)
        self.height = 0
        self.head_hash = GENESIS_HASH
        self.deposits = 0             # deposits logged: the queue index of the next one
        self._replayed: list[Union[MiniBatch, Seal]] = []
        self.snapshot = None          # the snapshot started from, if `snapshot` fits the log
        self.snapshot_refused: Optional[str] = None   # else why not
        try:
            self._replay(snapshot)
        except BaseException:
            self.wal.close()
            raise

        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._cut_lock = threading.RLock()   # one log writer at a time: cuts and seals
        self._open: list[Transfer] = []
        self.queue = NonceQueue()          # transfers ahead of their sender's nonce
        # Transfers ever admitted (replayed ones included), and of those how many are logged,
        # handed on and acknowledged: a ticket is a value of the first, waited for in the second.
        self._admitted = self._durable = sum(len(e.transfers) for e in self._replayed
                                             if isinstance(e, MiniBatch) and not e.is_deposits)
        self._last_cut = float("-inf")
        self._last_block = clock()     # when the last block was logged (this start counts as one)
        self._failed: Optional[BaseException] = None
        self._stopping = False
        self._woken = False
        self._thread: Optional[threading.Thread] = None
        self._on_cut: Optional[Callable[[MiniBatch], object]] = None
        self.rejected = 0

    def _replay(self, snapshot) -> None:
        start = 0
        if snapshot is not None:
            start, self.snapshot_refused = self._after(snapshot)
            if self.snapshot_refused is None:
                self.snapshot = snapshot
                self.state = LedgerState.restore(self.state.capacity, snapshot.addresses,
                                                 snapshot.balances, snapshot.nonces)
                self.height, self.head_hash = snapshot.height, snapshot.head_hash
                self.deposits = snapshot.deposits
        for payload in self.wal.records[start:]:
            entry = decode_record(payload, self.head_hash)
            if isinstance(entry, MiniBatch):
                if entry.number != self.height + 1:
                    raise WALCorrupt(f"log jumps from mini-batch {self.height} to {entry.number}")
                try:
                    if entry.is_deposits:
                        self._apply_deposits(entry.transfers)
                    else:
                        self.state.execute(entry.transfers)
                except (InvalidTransaction, NodeError) as e:
                    raise WALCorrupt(f"mini-batch {entry.number} does not apply to the state "
                                     f"before it: {e}") from None
                self.height, self.head_hash = entry.number, entry.hash
            self._replayed.append(entry)
        self.wal.records = []  # replayed: do not keep a second copy

    def _after(self, snapshot) -> tuple[int, Optional[str]]:
        """Where the log goes on after `snapshot`'s mini-batch (the index of the next record), or
        why the snapshot is not of this log: mini-batch `height` must be in the log and hash, from
        the snapshot's parent hash, to the snapshot's head hash."""
        records = self.wal.records
        for i, payload in enumerate(records):
            number = record_number(payload)
            if number is None or number < snapshot.height:
                continue
            if number == snapshot.height:
                mb = decode_record(payload, snapshot.parent_hash)
                if mb.hash == snapshot.head_hash:
                    return i + 1, None
            return 0, (f"mini-batch {snapshot.height} in the log is not the snapshot's (another "
                       f"log of this genesis)")
        return 0, f"the log ends before the snapshot's mini-batch {snapshot.height}"

    def take_replayed(self) -> list[Union[MiniBatch, Seal]]:
        """The logged mini-batches and seals, in order, for the executor to re-apply (once)."""
        out, self._replayed = self._replayed, []
        return out

    # -- admission ---------------------------------------------------------------------------

    def recover(self, raws: Sequence[bytes]) -> list[Result]:
        """Step one of admission: decode and recover senders, on the pool when there is one."""
        return [r for part in self._recovered_chunks(raws) for r in part]

    def _recovered_chunks(self, raws: Sequence[bytes]) -> Iterator[list[Result]]:
        """Recovered chunks in order, as they finish (the pool works ahead of the consumer)."""
        if self.recover_pool is None or len(raws) <= self.recover_chunk:
            yield decode_transfers(raws, self.chain_id)
            return
        chunks = [raws[i:i + self.recover_chunk] for i in range(0, len(raws), self.recover_chunk)]
        work = functools.partial(decode_transfers, chain_id=self.chain_id)
        yield from self.recover_pool.map(work, chunks)

    def admit(self, candidates: Sequence[Result]) -> tuple[list[Result], int]:
        """Step two: check recovered transfers against the pending state, in order, and queue
        the accepted ones for the next cut. Returns each one's outcome and the ticket to pass to
        `wait_durable` (acknowledge nothing before it returns).

        A transfer ahead of its sender's next nonce is held (node/txpool.py) until the ones
        before it are admitted, by this call or another, and admitted then; this call returns
        once every transfer it holds is admitted or refused."""
        return self._admit_parts([candidates])

    def _admit_parts(self, parts) -> tuple[list[Result], int]:
        results: list[Optional[Result]] = []
        held: list[tuple[int, Transfer]] = []
        for part in parts:
            # The lock is taken per chunk so that a large bulk submission does not hold off a cut.
            for start in range(0, len(part), _ADMIT_CHUNK):
                self._admit_chunk(part[start:start + _ADMIT_CHUNK], results, held)
        if held:
            self._admit_held(held, results)
        return results, self._admitted

    def _admit_chunk(self, candidates: Sequence[Result], results: list, held: list) -> None:
        with self._cond:
            for t in candidates:
                if isinstance(t, Transfer) and t.nonce > self.state.nonce(t.sender):
                    try:
                        self._hold(t)
                    except InvalidTransaction as e:
                        t = e
                    else:
                        held.append((len(results), t))
                        results.append(None)
                        continue
                results.append(self._admit_one(t))
            if self._open:
                self._cond.notify_all()

    def _admit_one(self, t: Result) -> Result:
        """Check one transfer against the pending state and open it for the next cut (the lock
        held). Returns it, or the error that refused it."""
        if isinstance(t, InvalidTransaction):
            self.rejected += 1
            return t
        try:
            self._wait_for_room()
            self.state.admit(t)
        except InvalidTransaction as e:
            self.rejected += 1
            return e
        self._open.append(t)
        self._admitted += 1
        return t

    def _hold(self, t: Transfer) -> None:
        """Queue `t`, whose nonce is ahead (the lock held). Funds are checked first, as geth's
        pool does, so that a tampered signature (which recovers some unfunded address) is
        refused at once rather than held."""
        balance = self.state.balance(t.sender)
        if balance < t.value:
            raise InvalidTransaction(f"insufficient funds for gas * price + value: address "
                                     f"0x{t.sender.hex()} have {balance} want {t.value}")
        self.queue.hold(t, self.state.nonce(t.sender))

    def _admit_held(self, held: list[tuple[int, Transfer]], results: list) -> None:
        """Admit each held transfer as soon as its sender's nonce reaches it; refuse those
        still ahead after `queue.wait_s` (or when the sequencer stops or fails)."""
        deadline = time.monotonic() + self.queue.wait_s
        with self._cond:
            try:
                while held:
                    ready = [h for h in held if h[1].nonce <= self.state.nonce(h[1].sender)]
                    if ready:
                        for i, t in sorted(ready, key=lambda h: h[1].nonce):
                            held.remove((i, t))
                            self.queue.release(t)
                            results[i] = self._admit_one(t)
                        self._cond.notify_all()   # what these admitted may unblock others
                        continue
                    now = time.monotonic()
                    if now >= deadline or self._stopping or self._failed is not None:
                        break
                    self._cond.wait(deadline - now)
            finally:
                why = ("the sequencer is stopping" if self._stopping or self._failed is not None
                       else f"the transactions before it did not arrive within {self.queue.wait_s:g} s")
                for i, t in held:
                    self.queue.release(t)
                    self.rejected += 1
                    results[i] = InvalidTransaction(f"nonce too high: next nonce "
                                                    f"{self.state.nonce(t.sender)}, tx nonce "
                                                    f"{t.nonce}; {why}")

    def _wait_for_room(self) -> None:
        """Wait (the lock released) while the backlog is at max_pending, up to admit_timeout.
        Real time, not `clock`: it bounds how long a caller is kept waiting."""
        deadline = None
        while True:
            if self._failed is not None:
                raise NodeFailed(f"sequencer stopped after a failure: {self._failed}")
            if self._stopping:
                raise NodeFailed("sequencer is stopping")
            if len(self._open) < self.max_pending:
                return
            now = time.monotonic()
            deadline = deadline if deadline is not None else now + self.admit_timeout
            if now >= deadline:
                raise InvalidTransaction("txpool is full")
            self._cond.wait(deadline - now)

    def wait_durable(self, ticket: int, timeout: Optional[float] = 30.0) -> None:
        """Block until every transfer admitted up to `ticket` is logged (fsynced) and executed."""
        with self._cond:
            ok = self._cond.wait_for(lambda: self._durable >= ticket or self._failed is not None,
                                     timeout)
            if self._durable >= ticket:
                return
            if self._failed is not None:
                raise NodeFailed(f"sequencer failed before the transaction was logged: {self._failed}")
            if not ok:
                raise NodeError("timed out waiting for the write-ahead log; the transaction is "
                                "admitted and may still be sequenced")

    def submit(self, raw: bytes, timeout: Optional[float] = 30.0) -> Transfer:
        """Admit one raw transaction and return once it is durable; InvalidTransaction if not."""
        (result,), ticket = self.admit([decode_transfer_or_error(raw, self.chain_id)])
        if isinstance(result, InvalidTransaction):
            raise result
        self.wait_durable(ticket, timeout)
        return result

    def submit_many(self, raws: Sequence[bytes], timeout: Optional[float] = 60.0) -> list[Result]:
        """The bulk path: admit many raw transactions, return once all accepted ones are durable.
        Each outcome is the Transfer or the InvalidTransaction that refused it."""
        # Admit each chunk as the pool hands it back, while the pool recovers the next ones.
        results, ticket = self._admit_parts(self._recovered_chunks(raws))
        self.wait_durable(ticket, timeout)
        return results

    # -- cutting -----------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Admitted transfers not yet cut."""
        return len(self._open)

    def cut(self) -> Optional[MiniBatch]:
        """Cut the open transfers (at most max_mini_batch) into the next mini-batch: log it,
        fsync, hand it to `on_cut`, then acknowledge its transfers. None if there is nothing."""
        with self._cut_lock:
            with self._cond:
                if not self._open or self._failed is not None:
                    return None
                self._last_cut = self.clock()
                if len(self._open) <= self.max_mini_batch:
                    taken, self._open = self._open, []
                else:
                    taken = self._open[:self.max_mini_batch]
                    del self._open[:self.max_mini_batch]
                self._cond.notify_all()  # room for waiting admissions
            return self._commit(taken)

    def idle_block(self) -> Optional[MiniBatch]:
        """Log and hand on an empty block if the sequencer has made none for
        `idle_block_interval` seconds and nothing waits to be cut; None otherwise (idle blocks
        off, not yet due, work open, stopping or failed)."""
        with self._cut_lock:
            with self._cond:
                if self.idle_delay(self.clock()) != 0.0 or self._stopping or self._failed is not None:
                    return None
            return self._commit([])

    def _commit(self, taken: list) -> MiniBatch:
        """Log `taken` as the next block, hand it to `on_cut`, then acknowledge it (the cut
        lock held)."""
        try:
            mb = self._log_next(taken)
        except NodeFailed as e:
            self._fail(e)
            raise
        number = mb.number
        self.height, self.head_hash = number, mb.hash
        consumer_error = None
        if self._on_cut is not None:
            try:
                self._on_cut(mb)
            except Exception as e:
                log.exception("consumer of mini-batch %d failed", number)
                consumer_error = e
        with self._cond:
            # Logged, so acknowledged even if the consumer failed: a restart re-applies it.
            self._durable += len(taken)
            if consumer_error is not None:
                # The executor no longer follows the log; admit nothing more until a restart.
                self._failed = consumer_error
            self._cond.notify_all()
        return mb

    def _log_next(self, entries: list) -> MiniBatch:
        """The next block, holding `entries`, written to the log and fsynced (the caller moves
        the height on)."""
        number = self.height + 1
        mb = MiniBatch(number, self.head_hash, block_hash(self.head_hash, number, entries),
                       self.wall_clock(), entries)
        self.wal.append(encode_record(mb))
        self._last_block = self.clock()
        return mb

    def add_deposits(self, deposits: Sequence[Deposit]) -> list[MiniBatch]:
        """Log deposits from the L1 as the next blocks (at most max_mini_batch each), applying
        each block after its fsync (pending state, then `on_cut`). Deposits already logged are
        skipped (a watcher may hand one on twice); the rest must follow the queue without a gap.
        Returns the deposit blocks made (none if nothing was new)."""
        fresh = [d for d in deposits if d.index >= self.deposits]
        for k, d in enumerate(fresh):
            if d.index != self.deposits + k:
                raise InvalidInput(f"deposit {d.index} arrived, but the next in the queue is "
                                   f"{self.deposits + k}")
        blocks: list[MiniBatch] = []
        with self._cut_lock:
            while True:
                # What was admitted before the deposits is cut before them: the pending state
                # then applies them in the place of the order the executor will.
                while self.cut() is not None:
                    pass
                with self._cond:
                    if self._failed is not None:
                        raise NodeFailed(f"sequencer stopped after a failure: {self._failed}")
                    fresh = [d for d in fresh if d.index >= self.deposits]
                    if not fresh:
                        break
                    if self._open:
                        continue             # admitted meanwhile: cut that first
                    # A block holds at most max_mini_batch deposits, as a cut does transfers.
                    taken = fresh[:self.max_mini_batch]
                    try:
                        mb = self._log_next(taken)
                    except NodeFailed as e:
                        self._failed = e
                        self._cond.notify_all()
                        raise
                    self._apply_deposits(taken)
                    self.height, self.head_hash = mb.number, mb.hash
                    # Admissions waiting on the lock now see the deposits' credits.
                    self._cond.notify_all()
                blocks.append(mb)
                if self._on_cut is not None:
                    try:
                        self._on_cut(mb)
                    except Exception as e:
                        log.exception("consumer of deposit block %d failed", mb.number)
                        self._fail(e)
                        raise
        return blocks

    def _apply_deposits(self, deposits: Sequence[Deposit]) -> None:
        for d in deposits:
            if d.index != self.deposits:
                raise WALCorrupt(f"deposit {d.index} follows deposit {self.deposits - 1}")
            self.state.apply_deposit(d)
            self.deposits += 1

    def record_seal(self, batch_index: int, last_block: int) -> None:
        """Log (durably) that proof batch `batch_index` ends with mini-batch `last_block`."""
        with self._cut_lock:
            try:
                self.wal.append(encode_record(Seal(batch_index, last_block)))
            except NodeFailed as e:
                self._fail(e)
                raise

    def between_blocks(self):
        """A context (`with seq.between_blocks(): ...`) in which no block is logged or handed
        on: for work on the executor from another thread, such as a seal, that must fall
        between two blocks now that an idle sequencer makes blocks of its own."""
        return self._cut_lock

    def _fail(self, error: BaseException) -> None:
        with self._cond:
            self._failed = error
            self._cond.notify_all()

    def cut_delay(self, now: float) -> Optional[float]:
        """The cutting policy: None when there is nothing to cut, else the seconds until a cut
        is due. Due at once when the open batch is full or the previous cut began at least
        `cut_interval` ago (so an idle sequencer never makes a transfer wait for a timer)."""
        if not self._open:
            return None
        if len(self._open) >= self.max_mini_batch:
            return 0.0
        return max(0.0, self._last_cut + self.cut_interval - now)

    def idle_delay(self, now: float) -> Optional[float]:
        """The idle-block policy: None when idle blocks are off or transfers wait to be cut,
        else the seconds until an empty block is due (`idle_block_interval` after the last
        block, of any kind, was logged)."""
        if self.idle_block_interval is None or self._open:
            return None
        return max(0.0, self._last_block + self.idle_block_interval - now)

    def wait_and_cut(self, timeout: float) -> Optional[MiniBatch]:
        """Wait up to `timeout` for work and then until a cut is due, and cut; or, idle, make
        an empty block if one falls due within `timeout`."""
        with self._cond:
            deadline = self.clock() + timeout
            while not self._stopping:
                if self._woken:               # wake(): cut what is open and tick now
                    self._woken = False
                    break
                now = self.clock()
                delay = self.cut_delay(now)
                if delay == 0.0:
                    break
                if delay is None:
                    idle = self.idle_delay(now)
                    if idle == 0.0:
                        break
                    if now >= deadline:
                        return None
                    # Never past the deadline: the caller's tick (proof-batch polls) goes on.
                    delay = deadline - now if idle is None else min(idle, deadline - now)
                self._cond.wait(delay)
        return self.cut() or self.idle_block()

    def wake(self) -> None:
        """End the cutting thread's wait now: it cuts what is open and runs `on_tick` at once
        (a prover became free, so the open proof batch should be sealed without waiting for
        the next tick)."""
        with self._cond:
            self._woken = True
            self._cond.notify_all()

    def start(self, on_cut: Optional[Callable[[MiniBatch], object]] = None,
              on_tick: Optional[Callable[[float], object]] = None, tick: float = 0.010) -> None:
        """Cut continuously on a background thread. `on_cut` receives each mini-batch (before
        its transfers are acknowledged); `on_tick(now)` runs after every cut or idle `tick`, between
        two blocks (the cut lock held)."""
        if self._thread is not None:
            raise NodeError("sequencer already started")
        self._on_cut = on_cut

        def run():
            while not self._stopping:
                try:
                    self.wait_and_cut(tick)
                    if on_tick is not None:
                        # Between two blocks: a seal the tick makes and logs must follow its
                        # last block, with no block (a deposit block, say) logged in between.
                        with self._cut_lock:
                            on_tick(self.clock())
                except NodeFailed:
                    return
                except Exception:
                    log.exception("sequencer loop")
        self._thread = threading.Thread(target=run, name="sequencer-cutter", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop cutting after logging what was admitted (so that it is acknowledged), then close
        the log."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        while self._open and self._failed is None:
            self.cut()
        self.wal.close()

    def set_consumer(self, on_cut: Optional[Callable[[MiniBatch], object]]) -> None:
        """Where `cut` hands mini-batches when no cutting thread is running."""
        self._on_cut = on_cut


def parse_idle_block_interval(value) -> Optional[float]:
    """An idle-block interval as given (seconds, a number or its text; 0, "off" or None: no
    idle blocks) as the sequencer keeps it: None, or a positive finite number of seconds."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "off"):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"idle block interval must be a number of seconds, 0 or off, got {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(seconds) or seconds < 0:
        raise InvalidInput(f"idle block interval must be a finite number of seconds, not negative "
                           f"(0 or off: none), got {value!r}")
    if 0 < seconds < MIN_IDLE_BLOCK_INTERVAL:
        raise InvalidInput(f"idle block interval must be at least {MIN_IDLE_BLOCK_INTERVAL} s (each idle "
                           f"block is a write and an fsync of the log), got {value!r}")
    return seconds or None


def decode_transfer_or_error(raw: bytes, chain_id: int) -> Result:
    try:
        return decode_transfer(raw, chain_id)
    except InvalidTransaction as e:
        return e
