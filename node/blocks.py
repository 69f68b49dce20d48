"""The chain of mini-batches as the write-ahead log holds it: the record types (a mini-batch of
transfers, a mini-batch of deposits from the L1, a proof-batch seal), the mini-batch hash, and the
record codec. The sequencer writes these records, the executor replays them; neither needs the
other to read them.

A block holds transfers or deposits (node/bridge.py), never both: a deposit block is logged on its
own, with the deposits in queue order, before either side applies it. A block may also hold
nothing: the empty block an idle sequencer makes (a mini-batch record of count 0).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Sequence, Union

from eth_hash.auto import keccak

from .bridge import Deposit, deposit_hash
from .errors import WALCorrupt
from .transactions import Transfer

__all__ = ["MiniBatch", "Seal", "block_hash", "encode_record", "decode_record", "record_number",
           "GENESIS_HASH"]

GENESIS_HASH = bytes(32)  # the parent of mini-batch 1


@dataclass(frozen=True)
class MiniBatch:
    """A cut: transfers with their place in the order. `number` is the block number clients see
    (mini-batch 1 follows genesis, block 0)."""

    number: int
    parent_hash: bytes
    hash: bytes
    cut_time: float  # unix seconds
    transfers: list  # of Transfer, or (a deposit block) of Deposit

    @property
    def is_deposits(self) -> bool:
        return bool(self.transfers) and isinstance(self.transfers[0], Deposit)


@dataclass(frozen=True)
class Seal:
    """Proof batch `batch_index` closed after mini-batch `last_block`: logged so that a restart
    groups the same mini-batches into the same proof batches."""

    batch_index: int
    last_block: int


def block_hash(parent_hash: bytes, number: int, transfers: Sequence[Transfer]) -> bytes:
    """The mini-batch hash: the chain of parents, the number and the transaction hashes."""
    return keccak(parent_hash + number.to_bytes(8, "big") + b"".join(t.hash for t in transfers))


_MINI_BATCH, _SEAL, _DEPOSITS = 1, 2, 3
_MB_HEAD = struct.Struct("<BQdI")        # kind, number, cut_time, count
_TX = struct.Struct("<20s20sQQ32sH")     # sender, to, value, nonce, hash, raw length
_DEPOSIT = struct.Struct("<20s20sQQQ")   # L1 sender, L2 address, value, queue index, L1 block
_SEAL_REC = struct.Struct("<BQQ")        # kind, batch_index, last_block


def encode_record(entry: Union[MiniBatch, Seal]) -> bytes:
    """The log record of a mini-batch or a seal. A transfer is logged with its recovered sender
    and hash, so that replay does not repeat signature recovery."""
    if isinstance(entry, Seal):
        return _SEAL_REC.pack(_SEAL, entry.batch_index, entry.last_block)
    if entry.is_deposits:
        return b"".join([_MB_HEAD.pack(_DEPOSITS, entry.number, entry.cut_time, len(entry.transfers))]
                        + [_DEPOSIT.pack(d.sender, d.to, d.value, d.index, d.l1_block)
                           for d in entry.transfers])
    parts = [_MB_HEAD.pack(_MINI_BATCH, entry.number, entry.cut_time, len(entry.transfers))]
    pack = _TX.pack
    for sender, to, value, nonce, h, raw in entry.transfers:
        parts.append(pack(sender, to, value, nonce, h, len(raw)))
        parts.append(raw)
    return b"".join(parts)


def record_number(payload: bytes):
    """The number of the mini-batch a log record holds, without decoding it; None for a seal."""
    if payload[0] in (_MINI_BATCH, _DEPOSITS) and len(payload) >= _MB_HEAD.size:
        return _MB_HEAD.unpack_from(payload)[1]
    return None


def decode_record(payload: bytes, parent_hash: bytes) -> Union[MiniBatch, Seal]:
    """Inverse of encode_record; a mini-batch's hash is recomputed from `parent_hash`."""
    kind = payload[0]
    if kind == _SEAL and len(payload) == _SEAL_REC.size:
        _, index, last = _SEAL_REC.unpack(payload)
        return Seal(index, last)
    if kind not in (_MINI_BATCH, _DEPOSITS) or len(payload) < _MB_HEAD.size:
        raise WALCorrupt(f"unknown log record (kind {kind}, {len(payload)} bytes)")
    _, number, cut_time, count = _MB_HEAD.unpack_from(payload)
    if kind == _DEPOSITS:
        return _decode_deposits(payload, parent_hash, number, cut_time, count)
    offset = _MB_HEAD.size
    transfers = []
    unpack = _TX.unpack_from
    try:
        for _ in range(count):
            sender, to, value, nonce, h, n = unpack(payload, offset)
            offset += _TX.size
            transfers.append(Transfer(sender, to, value, nonce, h, payload[offset:offset + n]))
            offset += n
    except struct.error:
        raise WALCorrupt(f"mini-batch {number} record is cut short") from None
    if offset != len(payload):
        raise WALCorrupt(f"mini-batch {number} record has {len(payload) - offset} stray bytes")
    return MiniBatch(number, parent_hash, block_hash(parent_hash, number, transfers), cut_time,
                     transfers)


def _decode_deposits(payload: bytes, parent_hash: bytes, number: int, cut_time: float,
                     count: int) -> MiniBatch:
    if len(payload) != _MB_HEAD.size + count * _DEPOSIT.size or count == 0:
        raise WALCorrupt(f"deposit block {number} record has {len(payload)} bytes for {count} deposits")
    deposits = []
    for k in range(count):
        sender, to, value, index, l1_block = _DEPOSIT.unpack_from(payload, _MB_HEAD.size + k * _DEPOSIT.size)
        deposits.append(Deposit(sender, to, value, index, deposit_hash(index), l1_block))
    return MiniBatch(number, parent_hash, block_hash(parent_hash, number, deposits), cut_time, deposits)
