"""The executor: applies mini-batches to the ledger and groups them into proof batches.

Each mini-batch is applied the moment it arrives (soft finality: its receipts are queryable at
once). Mini-batches accumulate into the open proof batch, which is sealed when the next
mini-batch would overflow it (`max_batch_transfers`, at most the circuit's rows), when it is
exactly full, or, work-conserving, when a prover is free to take it: `poll(provers_free=n)` with
n > 0 seals whatever the open batch holds, at most one batch per `min_seal_interval` seconds (so
that several idle provers take turns on batches of a useful size instead of each taking a
sliver). Under load the batch therefore grows to what arrives during one proof: its size follows
the load, and a transfer waits for at most the proof in progress, never for a timer.
`batch_deadline` (None: none) is an optional upper bound on how long a batch stays open. A sealed batch
becomes a `ProofBatch`: the compact job a prover needs (the state before the batch, slot by slot,
one (from_slot, to_slot, amount) row per transfer, and the slots new addresses claimed), not the
expanded trace.

Deposits from the L1 arrive as deposit blocks (node/bridge.py) and are applied in queue order,
each credited or refunded; withdrawals are transfers to WITHDRAWAL_ADDRESS. Both take rows of the
proof batch, described by its `bridge` items (row, kind, address), and every batch keeps its
withdrawal leaves (`withdrawal`), so that a claim on the L1 can be answered once it is verified.

Receipts say how far a transfer has come: "executed" (applied here), "proven" (its batch has a
proof) or "verified" (the L1 accepted the proof). The pipeline reports the last two through
`mark_proven` and `mark_verified`.

Executed blocks are kept in memory only recently: the last `retain_blocks` of them, holding at
most about `retain_transfers` transfers, and every block of a proof batch the L1 has not verified
yet (what a snapshot carries). Older ones are dropped from memory and, given a `BlockArchive`
(node/blocks.py), read back from the write-ahead log when asked for; without one they are gone.
"""

from __future__ import annotations

import time
from array import array
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Callable, Iterable, Optional, Union

from .blocks import GENESIS_HASH, BlockArchive, MiniBatch, Seal
from .bridge import KIND_REFUND, KIND_WITHDRAWAL, WITHDRAWAL_ADDRESS, Deposit, WithdrawalLeaf
from .errors import HistoryUnavailable, InvalidInput, WALCorrupt
from .genesis import Genesis
from .snapshot import PendingBatch, Snapshot
from .state import LedgerState
from .transactions import Transfer

__all__ = ["Executor", "ProofBatch", "ExecutedBlock", "Receipt", "Withdrawal", "ledger_job",
           "EXECUTED", "PROVEN", "VERIFIED"]

EXECUTED, PROVEN, VERIFIED = "executed", "proven", "verified"

RETAIN_BLOCKS = 4096        # blocks kept in memory by default: the JSON-RPC state window's ...
RETAIN_TRANSFERS = 1 << 16  # ... and its transfers (Executor.HISTORY_*)
PRUNE_BLOCKS = 64           # blocks dropped at once (at most this many more are held) ...
PRUNE_TRANSFERS = 4096      # ... or as soon as the blocks to drop hold this many transfers

_hash_of = itemgetter(4)


@dataclass
class ProofBatch:
    """A sealed proof batch: mini-batches first_block..last_block and what proving them needs."""

    index: int
    log2_rows: int
    first_block: int
    last_block: int
    old_addresses: list[int]              # per slot: the address as an integer, 0 = empty
    old_balances: list[int]               # per slot, before the batch
    transfers: list[tuple[int, int, int]]  # (from_slot, to_slot, amount), in order
    claims: list[tuple[int, int]]         # (slot, address) of each slot first credited here
    opened_at: float                      # executor clock when its first mini-batch arrived
    sealed_at: float
    bridge: list[tuple[int, int, int]] = field(default_factory=list)  # (row, kind, address int)


def ledger_job(batch: ProofBatch):
    """The ledger circuit's job for a proof batch: the one place that knows its shape."""
    from circuits.ledger import LedgerJob

    return LedgerJob(batch_index=batch.index, log2_rows=batch.log2_rows,
                     old_addresses=batch.old_addresses, old_balances=batch.old_balances,
                     transfers=batch.transfers, claims=batch.claims, bridge=batch.bridge)


@dataclass(slots=True)
class ExecutedBlock:
    """An applied mini-batch and the proof batch it belongs to (slotted: a node holds thousands)."""

    number: int
    hash: bytes
    parent_hash: bytes
    cut_time: float
    batch_index: int
    transfers: list                # of Transfer, or of Deposit (a deposit block)
    _positions: Optional[dict] = field(default=None, repr=False, compare=False)   # a cache

    def position(self, tx_hash: bytes) -> int:
        # Built on the first receipt query, not in the hot path.
        if self._positions is None:
            self._positions = {t.hash: i for i, t in enumerate(self.transfers)}
        return self._positions[tx_hash]


@dataclass(frozen=True)
class Receipt:
    transfer: Transfer
    block_number: int
    block_hash: bytes
    position: int
    batch_index: int
    status: str  # EXECUTED, PROVEN or VERIFIED
    success: bool = True   # False for a deposit refunded on the L1 (receipt status 0)


@dataclass(frozen=True)
class Withdrawal:
    """A withdrawal leaf and where it is: leaf `index` of the tree of proof batch `batch_index`,
    whose leaves (recipient, amount) in order are `leaves`."""

    batch_index: int
    index: int
    recipient: bytes
    amount: int
    leaves: list[tuple[bytes, int]]
    status: str  # EXECUTED, PROVEN or VERIFIED (of its batch)


class Executor:
    """The executed ledger of one chain, its receipts, and the proof batches cut from it.

    Plain class without threads or global state; `clock` (monotonic seconds) is injectable, and
    `on_seal(batch)` is called for each proof batch sealed while running live (not in replay).
    Blocks beyond the retention (`retain_blocks`, `retain_transfers`) leave memory for `archive`
    (None: they are no longer served)."""

    def __init__(self, genesis: Genesis, *, log2_rows: int, max_batch_transfers: Optional[int] = None,
                 batch_deadline: Optional[float] = 0.5, min_seal_interval: float = 0.0,
                 clock: Callable[[], float] = time.monotonic,
                 on_seal: Optional[Callable[[ProofBatch], object]] = None,
                 retain_blocks: int = RETAIN_BLOCKS, retain_transfers: int = RETAIN_TRANSFERS,
                 archive: Optional[BlockArchive] = None):
        if type(log2_rows) is not int or not 1 <= log2_rows <= 28:
            raise InvalidInput(f"log2_rows must be an integer in [1, 28], got {log2_rows!r}")
        capacity = 1 << log2_rows
        max_batch_transfers = capacity if max_batch_transfers is None else max_batch_transfers
        if not 1 <= max_batch_transfers <= capacity:
            raise InvalidInput(f"max_batch_transfers must be in [1, {capacity}] (the circuit's rows)")
        for name, value in (("retain_blocks", retain_blocks), ("retain_transfers", retain_transfers)):
            if type(value) is not int or value < 1:
                raise InvalidInput(f"{name} must be a positive integer, got {value!r}")
        self.retain_blocks, self.retain_transfers = retain_blocks, retain_transfers
        self.archive = archive
        self.log2_rows = log2_rows
        self.max_batch_transfers = max_batch_transfers
        if batch_deadline is not None and not batch_deadline > 0:
            raise InvalidInput(f"batch_deadline must be positive or None, got {batch_deadline!r}")
        self.batch_deadline = batch_deadline
        self.min_seal_interval = min_seal_interval   # between seals for a free prover (pacing)
        self._last_seal = -float("inf")
        self.clock = clock
        self.on_seal = on_seal
        self.state = LedgerState.from_genesis(genesis, capacity)
        self.genesis_balances = dict(genesis.alloc)

        # The blocks held in memory: (number of the first, the blocks from it on), replaced whole
        # when old ones are dropped so that a reader on another thread sees one consistent view;
        # `apply` appends to the list in place.
        self._held: tuple[int, list[ExecutedBlock]] = (1, [])
        self._held_transfers = 0
        self._scanned = (1, 0, 0)   # (first held, blocks, transfers) found droppable so far
        self._tx_block: dict[bytes, int] = {}       # transaction hash → number, of blocks held
        self._block_numbers: dict[bytes, int] = {}  # block hash → number, of blocks held
        self._address_ints: list[int] = []
        self._sealed: list[ProofBatch] = []     # waiting for take_sealed()
        self.batch_count = 0                    # sealed proof batches; the open one has this index
        self._batch_last_block = array("q")     # per sealed batch
        self._proven: set[int] = set()
        self._verified_upto = -1
        # Sealed batches not yet verified, for snapshots: index → (first, last block, slots
        # claimed before, rows, bridge items).
        self._unverified: dict[int, tuple[int, int, int, list, list]] = {}
        self.deposits = 0                       # L1 deposits applied: the next queue index
        # Withdrawal leaves of every batch (the open one too), and each one's place by hash.
        self._leaves: dict[int, list[WithdrawalLeaf]] = {}
        self._leaf_at: dict[bytes, tuple[int, int]] = {}
        self._reset_open()

    def _reset_open(self) -> None:
        self._rows: list[tuple[int, int, int]] = []
        self._bridge: list[tuple[int, int, int]] = []
        self._first_block = 0
        self._opened_at = 0.0
        self._old_balances: Optional[list[int]] = None
        self._old_claimed = 0

    # -- applying ----------------------------------------------------------------------------

    @property
    def height(self) -> int:
        """The number of the last applied mini-batch (0 before any)."""
        first, blocks = self._held
        return first + len(blocks) - 1

    def attach_archive(self, archive: BlockArchive) -> None:
        """Read blocks dropped from memory back from `archive` (before any is applied)."""
        if self.height:
            raise InvalidInput("an archive is attached before the first block")
        self.archive = archive

    def close(self) -> None:
        if self.archive is not None:
            self.archive.close()

    def apply(self, mb: MiniBatch) -> list[ProofBatch]:
        """Apply a mini-batch (soft finality); returns the proof batches this sealed."""
        return self._apply(mb, live=True)

    def poll(self, now: Optional[float] = None, *, provers_free: int = 0) -> list[ProofBatch]:
        """Seal the open proof batch if a prover is free to take it (`provers_free` > 0 and the
        last seal at least `min_seal_interval` ago) or if its deadline has passed."""
        now = self.clock() if now is None else now
        if not self._rows:
            return []
        if provers_free > 0 and now - self._last_seal >= self.min_seal_interval:
            return [self._seal(now, live=True)]
        if self.batch_deadline is not None and now - self._opened_at >= self.batch_deadline:
            return [self._seal(now, live=True)]
        return []

    def seal(self) -> Optional[ProofBatch]:
        """Seal the open proof batch now (None if it is empty)."""
        return self._seal(self.clock(), live=True) if self._rows else None

    def replay(self, entries: Iterable[Union[MiniBatch, Seal]]) -> None:
        """Re-apply logged mini-batches, sealing proof batches where the log says they were
        sealed (seals for a free prover or a deadline depend on time, so they are logged; size
        seals are re-derived)."""
        for entry in entries:
            if isinstance(entry, MiniBatch):
                self._apply(entry, live=False)
            elif entry.batch_index < self.batch_count:
                if self._batch_last_block[entry.batch_index] != entry.last_block:
                    raise WALCorrupt(f"proof batch {entry.batch_index} ends at mini-batch "
                                     f"{self._batch_last_block[entry.batch_index]} on replay, "
                                     f"{entry.last_block} in the log")
            elif entry.batch_index == self.batch_count and self._rows and entry.last_block == self.height:
                self._seal(self.clock(), live=False)
            else:
                raise WALCorrupt(f"log seals proof batch {entry.batch_index} after mini-batch "
                                 f"{entry.last_block}, but the replay is at batch "
                                 f"{self.batch_count}, mini-batch {self.height}")

    def _apply(self, mb: MiniBatch, live: bool) -> list[ProofBatch]:
        n = len(mb.transfers)
        if n > self.max_batch_transfers:
            raise InvalidInput(f"mini-batch {mb.number} has {n} transfers, more than a proof "
                               f"batch holds ({self.max_batch_transfers})")
        if mb.number != self.height + 1:
            raise InvalidInput(f"mini-batch {mb.number} arrived after {self.height}")
        now = self.clock()
        sealed = []
        if self._rows and len(self._rows) + n > self.max_batch_transfers:
            sealed.append(self._seal(now, live))
        if not self._rows and n:
            # An empty (idle) block opens no batch: a batch starts at its first row, and its
            # `opened_at` (the deadline's start) is when that row arrived.
            self._open_batch(mb.number, now)
        if mb.is_deposits:
            self._apply_deposits(mb.transfers)
        else:
            burnt: list[int] = []
            rows = self.state.execute(mb.transfers, burnt)  # all or nothing
            base = len(self._rows)
            self._rows.extend(rows)
            for i in burnt:
                t = mb.transfers[i]
                self._bridge.append((base + i, KIND_WITHDRAWAL, int.from_bytes(t.sender, "big")))
                self._add_leaf(WithdrawalLeaf(t.sender, t.value, t.hash))
        # The block before its index entries: a reader on another thread that finds a hash
        # must find its block.
        self._held[1].append(ExecutedBlock(mb.number, mb.hash, mb.parent_hash, mb.cut_time, self.batch_count,
                                          mb.transfers))
        self._held_transfers += n
        self._tx_block.update(dict.fromkeys(map(_hash_of, mb.transfers), mb.number))
        self._block_numbers[mb.hash] = mb.number
        if len(self._rows) == self.max_batch_transfers:
            sealed.append(self._seal(now, live))
        self._prune()
        return sealed

    def _prune(self, at_once: bool = False) -> None:
        """Drop the oldest blocks held beyond the retention (into the archive, if any), in steps
        of PRUNE_BLOCKS blocks or PRUNE_TRANSFERS transfers (`at_once`: whatever is beyond)."""
        first, blocks = self._held
        # Never a block of a proof batch the L1 has not verified: the lowest such batch is the
        # one after the last verified (the L1 verifies in order), else the open one.
        # `_verified_upto` is read once (mark_verified may run on another thread): the first
        # block after the last verified batch is never later than the first unverified one's.
        verified = self._verified_upto
        if verified + 1 < self.batch_count:
            needed = self._batch_last_block[verified] + 1 if verified >= 0 else 1
        else:
            needed = self._first_block if self._rows else first + len(blocks)
        # The scan goes on where the last one stopped: a block found droppable stays so (blocks
        # only join the end, and `needed` only moves on, or to a block not held before).
        scanned_first, drop, moved = self._scanned
        if scanned_first != first:
            drop = moved = 0
        held = self._held_transfers
        while (first + drop < needed and (len(blocks) - drop > self.retain_blocks
                                          or held - moved > self.retain_transfers)):
            moved += len(blocks[drop].transfers)
            drop += 1
        self._scanned = (first, drop, moved)
        if not drop or (drop < PRUNE_BLOCKS and moved < PRUNE_TRANSFERS and not at_once):
            return
        dropped = blocks[:drop]
        # The archive holds them before memory lets them go: a reader finds each in one or the
        # other (`add` only queues them for its writer thread; it waits only when that is far behind).
        if self.archive is not None:
            self.archive.add(dropped)
        self._held = (first + drop, blocks[drop:])
        self._held_transfers -= moved
        for b in dropped:
            self._block_numbers.pop(b.hash, None)
            for t in b.transfers:
                self._tx_block.pop(t.hash, None)

    def _apply_deposits(self, deposits: list[Deposit]) -> None:
        for k, d in enumerate(deposits):
            if d.index != self.deposits + k:
                raise InvalidInput(f"deposit {d.index} arrived, but the next in the queue is "
                                   f"{self.deposits + k}")
        for d in deposits:
            row, kind = self.state.apply_deposit(d)
            self._bridge.append((len(self._rows), kind, int.from_bytes(d.to, "big")))
            self._rows.append(row)
            if kind == KIND_REFUND:
                self._add_leaf(WithdrawalLeaf(d.to, d.value, d.hash))
            self.deposits += 1

    def _add_leaf(self, leaf: WithdrawalLeaf) -> None:
        leaves = self._leaves.setdefault(self.batch_count, [])
        self._leaf_at[leaf.tx_hash] = (self.batch_count, len(leaves))
        leaves.append(leaf)

    def _open_batch(self, first_block: int, now: float) -> None:
        # The state before the batch; addresses only ever fill new slots, so a count suffices.
        self._first_block = first_block
        self._opened_at = now
        self._old_balances = self.state.balances.copy()
        self._old_claimed = self.state.claimed

    def _seal(self, now: float, live: bool) -> ProofBatch:
        addresses = self.state.addresses
        self._address_ints.extend(int.from_bytes(a, "big") for a in addresses[len(self._address_ints):])
        claimed = self._old_claimed
        ints = self._address_ints
        batch = ProofBatch(
            index=self.batch_count, log2_rows=self.log2_rows,
            first_block=self._first_block, last_block=self.height,
            old_addresses=ints[:claimed] + [0] * (self.state.capacity - claimed),
            old_balances=self._old_balances, transfers=self._rows,
            claims=[(slot, ints[slot]) for slot in range(claimed, len(ints))],
            opened_at=self._opened_at, sealed_at=now, bridge=self._bridge)
        # In this order for readers on other threads (`finalized_height`): a batch is counted
        # only once its blocks are known, and the open batch emptied after that.
        self._unverified[batch.index] = (batch.first_block, batch.last_block, claimed, batch.transfers,
                                         batch.bridge)
        self._batch_last_block.append(batch.last_block)
        self.batch_count += 1
        self._last_seal = now
        self._reset_open()
        self._sealed.append(batch)
        if live and self.on_seal is not None:
            self.on_seal(batch)
        return batch

    def take_sealed(self) -> list[ProofBatch]:
        """The proof batches sealed since the last call, oldest first (for the coordinator)."""
        out, self._sealed = self._sealed, []
        return out

    @property
    def open_transfers(self) -> int:
        return len(self._rows)

    # -- snapshots (node/snapshot.py) ----------------------------------------------------------

    def snapshot(self, genesis_digest: bytes) -> Snapshot:
        """What a restart needs to go on from this height as a replay of the whole log would:
        the state, the batch bookkeeping, the batches not yet verified and the open one, and the
        blocks the JSON-RPC history window and those batches reach."""
        height = self.height
        if height == 0:
            raise InvalidInput("nothing executed yet: no snapshot at genesis")
        pending = [PendingBatch(i, first, last, claimed, rows, bridge)
                   for i, (first, last, claimed, rows, bridge) in sorted(self._unverified.items())
                   if i > self._verified_upto]
        if self._rows:
            pending.append(PendingBatch(self.batch_count, self._first_block, None, self._old_claimed,
                                        list(self._rows), list(self._bridge)))
        held_first, held = self._held
        first = max(held_first, min([self.history_start()] + [p.first_block for p in pending]))
        blocks = [MiniBatch(b.number, b.parent_hash, b.hash, b.cut_time, b.transfers)
                  for b in held[first - held_first:height - held_first + 1]]
        state, claimed = self.state, self.state.claimed
        return Snapshot(genesis_digest, state.capacity, height, held[height - held_first].hash,
                        blocks[-1].parent_hash, list(state.addresses), state.balances[:claimed],
                        state.nonces[:claimed], list(self._batch_last_block), self._verified_upto,
                        pending, blocks, self.deposits,
                        {b: [tuple(leaf) for leaf in leaves] for b, leaves in self._leaves.items()})

    def restore(self, s: Snapshot) -> None:
        """Continue from snapshot `s` (on a fresh executor): state, height, blocks and batches as
        a replay of the log up to `s.height` leaves them. Its sealed batches not yet verified are
        handed out again by `take_sealed`, and its open batch stays open."""
        if self.height or self.batch_count:
            raise InvalidInput("only a fresh executor can be restored from a snapshot")
        if s.capacity != self.state.capacity or not s.blocks or s.blocks[-1].number != s.height:
            raise InvalidInput(f"snapshot at mini-batch {s.height} does not fit this executor "
                               f"({self.state.capacity} slots)")
        now = self.clock()
        self.state = state = LedgerState.restore(s.capacity, s.addresses, s.balances, s.nonces)
        self.batch_count = len(s.batch_last_block)
        self._batch_last_block = array("q", s.batch_last_block)
        self._verified_upto = s.verified_upto
        self.deposits = s.deposits
        self._leaves = {b: [WithdrawalLeaf(*leaf) for leaf in leaves] for b, leaves in s.withdrawals.items()}
        self._leaf_at = {leaf.tx_hash: (b, i) for b, leaves in self._leaves.items()
                         for i, leaf in enumerate(leaves)}
        first = s.blocks[0]
        self._held = (first.number, [ExecutedBlock(mb.number, mb.hash, mb.parent_hash, mb.cut_time,
                                                   bisect_left(self._batch_last_block, mb.number), mb.transfers)
                                     for mb in s.blocks])
        self._held_transfers = sum(len(mb.transfers) for mb in s.blocks)
        for mb in s.blocks:
            self._tx_block.update(dict.fromkeys(map(_hash_of, mb.transfers), mb.number))
            self._block_numbers[mb.hash] = mb.number
        if self.archive is not None:
            # Blocks before the snapshot's are served from the log: index any not indexed yet.
            self.archive.catch_up(first.number - 1, first.parent_hash)
        # The state before each pending batch: the rows undone from the state after them.
        balances, before = list(state.balances), []
        for p in reversed(s.pending):
            kinds = {row: kind for row, kind, _ in p.bridge}
            for i in range(len(p.rows) - 1, -1, -1):
                f, d, value = p.rows[i]
                kind = kinds.get(i, 0)
                if kind != KIND_WITHDRAWAL and kind != KIND_REFUND:
                    balances[d] -= value       # a transfer's or a deposit's credit
                if kind == 0 or kind == KIND_WITHDRAWAL:
                    balances[f] += value       # a transfer's or a withdrawal's debit
            before.append(list(balances))
        before.reverse()
        self._address_ints = ints = [int.from_bytes(a, "big") for a in state.addresses]
        claimed_after = [p.old_claimed for p in s.pending[1:]] + [state.claimed]
        for p, old, after in zip(s.pending, before, claimed_after):
            if p.last_block is None:
                self._rows, self._first_block, self._opened_at = list(p.rows), p.first_block, now
                self._old_balances, self._old_claimed = old, p.old_claimed
                self._bridge = list(p.bridge)
                continue
            self._unverified[p.index] = (p.first_block, p.last_block, p.old_claimed, p.rows, p.bridge)
            self._sealed.append(ProofBatch(
                index=p.index, log2_rows=self.log2_rows, first_block=p.first_block,
                last_block=p.last_block,
                old_addresses=ints[:p.old_claimed] + [0] * (state.capacity - p.old_claimed),
                old_balances=old, transfers=p.rows,
                claims=[(slot, ints[slot]) for slot in range(p.old_claimed, after)],
                opened_at=now, sealed_at=now, bridge=p.bridge))
        self._prune(at_once=True)    # a snapshot may hold more than this executor keeps

    # -- status from the pipeline ------------------------------------------------------------

    def mark_proven(self, batch: int) -> None:
        """A proof of proof batch `batch` exists."""
        self._check_sealed(batch)
        self._proven.add(batch)

    def mark_verified(self, batch: int) -> None:
        """The L1 accepted proof batch `batch`; it accepts batches only in order, so every
        earlier batch is verified too."""
        self._check_sealed(batch)
        # Raised before `_proven` is cleared: a reader between the two sees "verified", never
        # "executed" for a batch already proven.
        before = self._verified_upto
        self._verified_upto = max(before, batch)
        self._proven.difference_update(range(before + 1, batch + 1))
        for done in [b for b in self._unverified if b <= batch]:
            del self._unverified[done]

    def _check_sealed(self, batch: int) -> None:
        if type(batch) is not int or not 0 <= batch < self.batch_count:
            raise InvalidInput(f"no sealed proof batch {batch!r} (sealed: {self.batch_count})")

    def batch_status(self, batch: int) -> str:
        if batch <= self._verified_upto:
            return VERIFIED
        return PROVEN if batch in self._proven else EXECUTED

    # -- queries -----------------------------------------------------------------------------

    def receipt(self, tx_hash: bytes) -> Optional[Receipt]:
        """The receipt of an executed transfer, None if it is unknown or not yet executed."""
        number = self._tx_block.get(tx_hash)
        if number is not None:
            candidates = [number]
        else:
            candidates = [] if self.archive is None else self.archive.tx_blocks(tx_hash)
        for number in candidates:
            block = self.block(number)
            try:
                i = block.position(tx_hash)
            except KeyError:            # another transaction's hash with the same first bytes
                continue
            t = block.transfers[i]
            return Receipt(t, number, block.hash, i, block.batch_index,
                           self.batch_status(block.batch_index), not self._refunded(t))
        return None

    def balance(self, address: bytes) -> int:
        return self.state.balance(address)

    def nonce(self, address: bytes) -> int:
        return self.state.nonce(address)

    # -- queries for JSON-RPC: blocks, transactions, finality heights, recent history ----------
    # Read from other threads while `apply` runs: a block is complete once it is in the list, and
    # a state read that races an `apply` may already include that block's transfers (as
    # `balance` does).

    HISTORY_BLOCKS = 4096        # state queries reach this many blocks back ...
    HISTORY_TRANSFERS = 1 << 16  # ... and at most this many transfers back (and the blocks held)

    def block(self, number: int) -> Optional[ExecutedBlock]:
        """Executed block `number` (0 is genesis, with no transfers), None if not yet executed;
        HistoryUnavailable for one this node no longer has."""
        if number <= 0:
            return ExecutedBlock(0, GENESIS_HASH, bytes(32), 0.0, 0, []) if number == 0 else None
        first, blocks = self._held
        if number >= first:
            return blocks[number - first] if number - first < len(blocks) else None
        mb = None if self.archive is None else self.archive.block(number)
        if mb is None:
            a, served = self.archive, f"{self.first_served}..{self.height}"
            kept = (None, None) if a is None else a.served()
            if kept[0] is not None and kept[1] + 1 < first:
                served = f"{kept[0]}..{kept[1]} and {served}"
            why = "" if a is None or a.broken is None else f" (its index of the log stopped: {a.broken})"
            raise HistoryUnavailable(f"block {number} is not available: this node prunes block history "
                                     f"and serves blocks {served}{why}")
        if isinstance(mb, ExecutedBlock):  # still queued for the index: the block itself
            return mb
        return ExecutedBlock(mb.number, mb.hash, mb.parent_hash, mb.cut_time,
                             bisect_left(self._batch_last_block, number), mb.transfers)

    @property
    def first_served(self) -> int:
        """The oldest block this node serves: held in memory, or read back from the archive."""
        first, a = self._held[0], self.archive
        kept = (None, None) if a is None else a.served()
        if kept[0] is not None and kept[1] + 1 >= first:
            return min(kept[0], first)
        return first

    @property
    def blocks_in_memory(self) -> int:
        return len(self._held[1])

    @property
    def blocks(self) -> "_Blocks":
        """Every executed block by number, as a read-only sequence (index 0 is genesis)."""
        return _Blocks(self)

    def parent_hash(self, number: int) -> bytes:
        """The hash of executed block `number`'s parent (zero for genesis and unknown blocks)."""
        block = self.block(number)
        return bytes(32) if block is None else block.parent_hash

    def block_by_hash(self, block_hash: bytes) -> Optional[ExecutedBlock]:
        if block_hash == GENESIS_HASH:
            return self.block(0)
        number = self._block_numbers.get(block_hash)
        if number is None and self.archive is not None:
            number = self.archive.number_of(block_hash)
        block = None if number is None else self.block(number)
        return block if block is not None and block.hash == block_hash else None

    def transaction(self, tx_hash: bytes) -> Optional[Receipt]:
        """Where an executed transfer is (its block and position) and how final it is."""
        return self.receipt(tx_hash)

    def block_receipts(self, number: int) -> Optional[list[Receipt]]:
        block = self.block(number)
        if block is None:
            return None
        status = self.batch_status(block.batch_index) if number else VERIFIED
        return [Receipt(t, number, block.hash, i, block.batch_index, status, not self._refunded(t))
                for i, t in enumerate(block.transfers)]

    def _refunded(self, t) -> bool:
        return type(t) is Deposit and t.hash in self._leaf_at

    def withdrawal(self, tx_hash: bytes) -> Optional[Withdrawal]:
        """The withdrawal leaf of a withdrawal transfer or a refunded deposit, with the leaves of
        its batch (for the Merkle path); None for any other hash."""
        at = self._leaf_at.get(tx_hash)
        if at is None:
            return None
        batch, index = at
        leaves = self._leaves[batch]
        leaf = leaves[index]
        status = self.batch_status(batch) if batch < self.batch_count else EXECUTED
        return Withdrawal(batch, index, leaf.recipient, leaf.amount,
                          [(x.recipient, x.amount) for x in leaves], status)

    @property
    def safe_height(self) -> int:
        """The last block of the proof batches proven (or verified) without a gap from genesis,
        and the empty blocks after it (`_final_through`)."""
        batch = self._verified_upto
        while batch + 1 in self._proven:
            batch += 1
        return self._final_through(batch)

    @property
    def finalized_height(self) -> int:
        """The last block of the proof batches the L1 has verified, and the empty blocks after
        it (`_final_through`)."""
        return self._final_through(self._verified_upto)

    def _final_through(self, batch: int) -> int:
        """The last block whose state is the state after proof batch `batch` (-1: genesis): its
        last block and the empty (idle) blocks after it, up to the first block with rows of the
        next batch, sealed or open; with none, the latest block. An idle node's finalized block
        therefore follows its latest one once every batch is verified."""
        # Read in this order, against `apply` and `_seal` on another thread: a block counts in
        # `height` only after its rows joined the open batch, whose first block is set before
        # them and cleared only after the seal is counted.
        height = self.height
        has_rows = bool(self._rows)
        first = self._first_block
        following = batch + 1
        if following < self.batch_count:
            pending = self._unverified.get(following)
            if pending is not None:
                return pending[0] - 1
            return self._batch_last_block[batch] if batch >= 0 else 0   # verified meanwhile
        return first - 1 if has_rows else height

    def history_start(self) -> int:
        """The oldest block whose state `balance_at` and `nonce_at` can still answer."""
        first, blocks = self._held
        return self._history_start(first, blocks, first + len(blocks) - 1)

    def _history_start(self, first: int, blocks: list, height: int) -> int:
        # The state after block n is today's with blocks n+1.. undone: they must be held.
        oldest = max(first - 1, height - self.HISTORY_BLOCKS)
        transfers = 0
        for n in range(height, oldest, -1):
            transfers += len(blocks[n - first].transfers)
            if transfers > self.HISTORY_TRANSFERS:
                return n
        return oldest

    def balance_at(self, address: bytes, number: int) -> int:
        """The balance after block `number`: today's, less what the later blocks moved."""
        height, balance = self._consistent(self.state.balance, address)
        for t in self._since(number, height):
            if type(t) is Deposit:     # its sender is an L1 account; a refund credits nobody
                if t.to == address and not self._refunded(t):
                    balance -= t.value
                continue
            if t.sender == address:
                balance += t.value
            if t.to == address and address != WITHDRAWAL_ADDRESS:
                balance -= t.value
        return balance

    def nonce_at(self, address: bytes, number: int) -> int:
        height, nonce = self._consistent(self.state.nonce, address)
        return nonce - sum(1 for t in self._since(number, height)
                           if t.sender == address and type(t) is not Deposit)

    def _consistent(self, read, address: bytes) -> tuple[int, int]:
        while True:
            height = self.height
            value = read(address)
            if self.height == height:
                return height, value

    def _since(self, number: int, height: int):
        if number > height:
            raise HistoryUnavailable(f"block {number} is not executed yet (latest is {height})")
        # One view of the blocks held, taken after `height`: it holds every block up to it.
        first, blocks = self._held
        start = self._history_start(first, blocks, height)
        if number < start:
            raise HistoryUnavailable(f"historical state is not available for block {number}: "
                                     f"the node keeps the state of blocks {start}..{height}")
        for n in range(number + 1, height + 1):
            yield from blocks[n - first].transfers


class _Blocks(Sequence):
    """Executor.blocks: block n is `executor.block(n)` (from memory or the archive)."""

    def __init__(self, executor: Executor):
        self._executor = executor

    def __len__(self) -> int:
        return self._executor.height + 1

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._executor.block(n) for n in range(*i.indices(len(self)))]
        n = i + len(self) if i < 0 else i
        if not 0 <= n < len(self):
            raise IndexError(f"no block {i}")
        return self._executor.block(n)
