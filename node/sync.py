"""Rebuilding the ledger from the L1 alone, and a data directory a node continues from.

What the L1 holds is enough to rebuild every account (docs/node.md, "Rebuilding from the L1"):

- the genesis accounts, in slot order, and the genesis state commitment (the `Genesis` event);
- every verified batch's published data: its rows (from_slot, to_slot, amount), the slots it
  claims (slot, address) and its bridge rows (row, kind, address) (circuits.ledger_data);
- each batch's new state commitment (the `BatchVerified` event).

`replay_batch` applies one batch's data to a state as the ledger circuit reads it: a plain row
moves `amount` from one slot to another, a deposit credits its slot, a withdrawal debits its slot,
a refund moves nothing. Only the net effect of a batch is proven (every balance ends in
[0, 2^64)), so balances are checked at the end of the batch, not row by row. Nonces are not
published: each account's nonce is the number of rows it sent (plain transfers and withdrawals,
each a signed transaction of its sender); deposits and refunds are not its transactions.

`rebuild` replays every batch from the genesis accounts and checks each state it reaches against
the L1's commitment; the first that differs stops it with `SyncMismatch` naming the batch.

`continue_data_dir` then writes a data directory `zkpipe node` starts from: a snapshot of the
rebuilt state (node/snapshot.py) at one empty block after the batches, and a log holding only that
block. The L1 publishes no blocks, transactions or signatures, so the node rebuilt this way
numbers blocks as if each verified batch had been one block (block k holds batch k, its contents
not kept), then block k + 1, empty, which closes batch k: the finalized block. It serves no
history before it.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from .blocks import MiniBatch, block_hash, encode_record
from .bridge import KIND_DEPOSIT, KIND_REFUND, KIND_WITHDRAWAL
from .datadir import DataDir, DataDirMismatch
from .errors import NodeError
from .genesis import Genesis
from .snapshot import Snapshot, write_snapshot
from .state import LedgerState
from .transactions import MAX_VALUE
from .wal import WriteAheadLog, fsync_dir

__all__ = ["SyncMismatch", "L1Batch", "Rebuilt", "genesis_state", "replay_batch", "rebuild",
           "genesis_of", "continue_data_dir"]


class SyncMismatch(NodeError, ValueError):
    """What the L1 holds does not rebuild to the state it commits to (or to a state this ledger
    can hold): the message names the batch, or the genesis."""


@dataclass(frozen=True)
class L1Batch:
    """One verified batch as the L1 holds it."""

    index: int                                  # its L1 batch index (1, 2, …)
    transfers: list[tuple[int, int, int]]       # (from_slot, to_slot, amount), row by row
    claims: list[tuple[int, int]]               # (slot, address as an integer)
    bridge: list[tuple[int, int, int]]          # (row, kind, address as an integer)
    state_commitment: bytes                     # the new state commitment of its BatchVerified


@dataclass
class Rebuilt:
    """The state after the last batch, and what it took to reach it."""

    state: LedgerState
    state_commitment: bytes                     # the last commitment checked (genesis's if none)
    batches: int = 0                            # the L1 index of the last batch replayed
    rows: int = 0                               # rows of every kind replayed
    deposits: int = 0                           # deposits consumed (credited or refunded)
    withdrawals: int = 0


def _address(value: int, what: str) -> bytes:
    if type(value) is not int or not 0 < value < 1 << 160:
        raise SyncMismatch(f"{what}: {value!r} is not a non-zero 20-byte address")
    return value.to_bytes(20, "big")


def genesis_state(accounts: Sequence[tuple[int, int]], capacity: int) -> LedgerState:
    """The state whose slots 0, 1, … hold the genesis accounts (address as an integer, balance)."""
    if len(accounts) > capacity:
        raise SyncMismatch(f"genesis: {len(accounts)} accounts do not fit the ledger's {capacity} slots")
    state = LedgerState(capacity)
    for slot, (address, balance) in enumerate(accounts):
        a = _address(address, f"genesis slot {slot}")
        if a in state.slot_of:
            raise SyncMismatch(f"genesis: address 0x{a.hex()} holds slots {state.slot_of[a]} and {slot}")
        if type(balance) is not int or not 0 <= balance <= MAX_VALUE:
            raise SyncMismatch(f"genesis slot {slot}: balance {balance!r} outside [0, 2^64)")
        state.balances[state.claim(a)] = balance
    return state


def replay_batch(state: LedgerState, batch: L1Batch) -> tuple[int, int]:
    """Apply one batch's published data to `state` (in place, all or nothing); returns the
    deposits and withdrawals it held. SyncMismatch, naming the batch, for data that no state of
    this ledger follows from (a batch the L1 verified never has any)."""
    where = f"batch {batch.index}"
    work = state.copy()
    for slot, address in batch.claims:
        a = _address(address, f"{where}: claim of slot {slot}")
        if slot != work.claimed:
            # The circuit lets any empty slot be claimed; this ledger fills its slots in order.
            raise SyncMismatch(f"{where} claims slot {slot}, but the next free slot is {work.claimed}")
        if a in work.slot_of:
            raise SyncMismatch(f"{where} claims slot {slot} for 0x{a.hex()}, which holds slot {work.slot_of[a]}")
        work.claim(a)
    kinds = {row: (kind, address) for row, kind, address in batch.bridge}
    if len(kinds) != len(batch.bridge):
        raise SyncMismatch(f"{where} has two bridge records for one row")
    balances, nonces, claimed = work.balances, work.nonces, work.claimed
    deposits = withdrawals = 0
    for row, (f, d, amount) in enumerate(batch.transfers):
        kind, address = kinds.pop(row, (0, 0))
        if kind == 0 and amount == 0:
            continue                            # an unused row: moves nothing, no one sent it
        if kind == KIND_REFUND:
            if f or d:
                raise SyncMismatch(f"{where} row {row}: a refund names slots {f} and {d}")
            deposits += 1
            continue
        if not (0 <= f < claimed and 0 <= d < claimed):
            raise SyncMismatch(f"{where} row {row}: slots {f} → {d} are not both claimed ({claimed} are)")
        if kind == KIND_DEPOSIT:
            if f != d:
                raise SyncMismatch(f"{where} row {row}: a deposit names slots {f} and {d}")
            if work.addresses[d] != _address(address, f"{where} row {row}: deposit"):
                raise SyncMismatch(f"{where} row {row}: a deposit to slot {d} names "
                                   f"0x{address:040x}, not the slot's address")
            balances[d] += amount
            deposits += 1
        elif kind == KIND_WITHDRAWAL:
            if f != d:
                raise SyncMismatch(f"{where} row {row}: a withdrawal names slots {f} and {d}")
            _address(address, f"{where} row {row}: withdrawal recipient")
            balances[f] -= amount
            nonces[f] += 1
            withdrawals += 1
        elif kind == 0:
            balances[f] -= amount
            balances[d] += amount
            nonces[f] += 1
        else:
            raise SyncMismatch(f"{where} row {row}: unknown bridge kind {kind}")
    if kinds:
        raise SyncMismatch(f"{where}: bridge records for rows {sorted(kinds)}, past its "
                           f"{len(batch.transfers)} rows")
    for slot in range(claimed):
        if not 0 <= balances[slot] <= MAX_VALUE:
            raise SyncMismatch(f"{where} leaves slot {slot} with balance {balances[slot]}, outside [0, 2^64)")
    state.addresses, state.slot_of = work.addresses, work.slot_of
    state.balances, state.nonces = balances, nonces
    return deposits, withdrawals


def rebuild(accounts: Sequence[tuple[int, int]], genesis_commitment: bytes, batches: Iterable[L1Batch],
            capacity: int, commit: Callable[[LedgerState], bytes],
            on_batch: Callable[[L1Batch, Rebuilt], object] | None = None) -> Rebuilt:
    """The state the L1's batches lead to from its genesis accounts, each step checked against
    the L1: the genesis accounts must commit to `genesis_commitment`, and each batch's new state
    to its `state_commitment` (`commit(state)` is the L1's commitment of a state). Batches come
    in L1 order, from batch 1, without a gap. `on_batch(batch, so_far)` after each."""
    state = genesis_state(accounts, capacity)
    mine = commit(state)
    if mine != bytes(genesis_commitment):
        raise SyncMismatch(f"genesis: the L1's genesis accounts commit to 0x{mine.hex()}, but its genesis "
                           f"state commitment is 0x{bytes(genesis_commitment).hex()} (another circuit size "
                           f"or setup, or accounts that are not the genesis state)")
    out = Rebuilt(state, mine)
    for batch in batches:
        if batch.index != out.batches + 1:
            raise SyncMismatch(f"batch {batch.index} follows batch {out.batches}")
        deposits, withdrawals = replay_batch(state, batch)
        mine = commit(state)
        if mine != bytes(batch.state_commitment):
            raise SyncMismatch(f"batch {batch.index}: the rebuilt state commits to 0x{mine.hex()}, the L1's "
                               f"BatchVerified to 0x{bytes(batch.state_commitment).hex()}")
        out.state_commitment, out.batches = mine, batch.index
        out.rows += len(batch.transfers)
        out.deposits += deposits
        out.withdrawals += withdrawals
        if on_batch is not None:
            on_batch(batch, out)
    return out


# -- continuing as a node ----------------------------------------------------------------------

def genesis_of(chain_id: int, accounts: Sequence[tuple[int, int]]) -> Genesis:
    """The genesis file of the L1's genesis accounts. A genesis file puts its accounts in slots
    by ascending address; accounts the L1 lists in another order have no genesis file."""
    alloc = {_address(a, "genesis"): b for a, b in accounts}
    genesis = Genesis(chain_id, alloc)
    if [int.from_bytes(a, "big") for a, _ in genesis.accounts()] != [a for a, _ in accounts]:
        raise SyncMismatch("genesis: the L1 lists its genesis accounts in another order than ascending "
                           "address, which a node's genesis gives them: a node cannot continue this chain")
    return genesis


def continue_data_dir(path: str | Path, genesis: Genesis, rebuilt: Rebuilt, meta: dict) -> Path:
    """Write a new data directory that `zkpipe node --data-dir path` continues from: node.json
    (`meta`: the L1, the rollup's address, the circuit size and key seed), genesis.json, a
    snapshot of the rebuilt state at block `rebuilt.batches + 1` and a log holding that block
    (empty). It is written beside `path` and renamed into place, so it appears whole or not at
    all. DataDirMismatch if `path` is not an empty directory or absent. Returns its path."""
    target = Path(path)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise DataDirMismatch(f"{target} is not empty; rebuild into a new directory")
    staging = target.with_name(f".{target.name}.sync-tmp")
    shutil.rmtree(staging, ignore_errors=True)          # left by a sync that did not finish
    data = DataDir(staging)
    try:
        state, b = rebuilt.state, rebuilt.batches
        # The one block kept: empty, after the b blocks that stand for the batches, and the last
        # of batch b, so that the finalized block is one the node serves. Its parent "hash" is
        # the L1 state commitment it was rebuilt to.
        parent = bytes(rebuilt.state_commitment)
        number = b + 1
        block = MiniBatch(number, parent, block_hash(parent, number, []), time.time(), [])
        snapshot = Snapshot(genesis.digest, state.capacity, number, block.hash, parent, list(state.addresses),
                            state.balances[:state.claimed], state.nonces[:state.claimed],
                            list(range(1, b)) + [number] * (b > 0), b - 1, [], [block],
                            deposits=rebuilt.deposits)
        write_snapshot(data.snapshots, snapshot)
        data.genesis(genesis)
        with WriteAheadLog(data.wal, genesis.digest) as wal:
            wal.append(encode_record(block))
        data.save_log_parent(parent)          # the block index decodes the log from it
        data.save_meta(meta)
    finally:
        data.close()
    os.replace(staging, target)                         # onto an empty directory, or none
    fsync_dir(target.parent)
    return target
