"""Snapshots of the executed state, so that a restart replays only the log written after one.

A snapshot is the executor at one height H, with everything a restart from it needs to continue
exactly as a replay of the whole log would:

- the ledger state (address, balance and nonce of each claimed slot);
- the height H, the hash of mini-batch H and of its parent (which ties the snapshot to the log:
  mini-batch H of the log must hash to the same value from that parent);
- the proof-batch bookkeeping: the last mini-batch of every sealed batch, the last batch the L1
  verified, and for each sealed batch not yet verified and for the open one, its first and last
  mini-batch, the slots claimed before it and its (from_slot, to_slot, amount) rows (the state
  before each is recovered by undoing the rows from the state after them);
- the recent mini-batches (those the JSON-RPC history window reaches, and those of the batches
  not yet verified), which the restored executor holds in memory; older blocks are read back
  from the log (node/blocks.py, BlockArchive);
- the bridge: how many L1 deposits were applied, each pending batch's bridge rows (row, kind,
  address), and the withdrawal leaves of every batch (claims on the L1 are answered for ever).

File layout (`DIR/snapshots/executed-<H>.snap`):

    "ZKPSNAP\\0" (8) · version u32 LE · sha256(body) (32) · body
    body     u32 LE header length · header (JSON) · sections, each u64 LE length · bytes:
             addresses (20 bytes each) · balances (u64 LE each) · nonces (u64 LE each) ·
             rows (u32 from, u32 to, u64 amount, LE, each) · blocks (u32 LE length · log record)

Written under a temporary name, fsynced, renamed, and the directory fsynced: a crash leaves the
old snapshot or the new one, never part of one. The newest two are kept. On load a snapshot
whose checksum fails, or that belongs to another genesis or circuit size, is skipped (with the
reason) for the one before it, and without any the log is replayed whole: the log is never cut,
so it always holds everything a snapshot does.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import numpy as np

from .blocks import MiniBatch, decode_record, encode_record
from .errors import NodeError
from .wal import fsync_dir

__all__ = ["Snapshot", "SnapshotInvalid", "PendingBatch", "write_snapshot", "read_snapshot",
           "load_newest", "snapshot_paths", "KEEP"]

MAGIC = b"ZKPSNAP\x00"
VERSION = 1
KEEP = 2
_PREFIX, _SUFFIX = "executed-", ".snap"
_ROW = np.dtype([("f", "<u4"), ("d", "<u4"), ("v", "<u8")])


class SnapshotInvalid(NodeError, ValueError):
    """A snapshot file that cannot be used: damaged, or of another chain or log."""


@dataclass(frozen=True)
class PendingBatch:
    """A proof batch a restart must hand on again: sealed and not verified, or the open one
    (`last_block` None)."""

    index: int
    first_block: int
    last_block: Optional[int]
    old_claimed: int                        # slots claimed before the batch
    rows: list[tuple[int, int, int]]
    bridge: list[tuple[int, int, int]] = field(default_factory=list)   # (row, kind, address)


@dataclass
class Snapshot:
    genesis_digest: bytes
    capacity: int
    height: int
    head_hash: bytes
    parent_hash: bytes                      # of mini-batch `height`
    addresses: list[bytes]                  # by slot, the claimed ones
    balances: list[int]                     # by claimed slot
    nonces: list[int]
    batch_last_block: list[int]             # per sealed proof batch
    verified_upto: int                      # the last batch the L1 verified, -1 for none
    pending: list[PendingBatch]             # oldest first; the open batch last, if any
    blocks: list[MiniBatch]                 # the recent mini-batches, oldest first, up to `height`
    deposits: int = 0                       # L1 deposits applied: the queue index of the next
    # per batch (the open one too): its withdrawal leaves (recipient, amount, transaction hash)
    withdrawals: dict[int, list[tuple[bytes, int, bytes]]] = field(default_factory=dict)

    @property
    def transfers(self) -> int:
        """Transfers executed up to `height` (withdrawals included): each one advanced its
        sender's nonce by one."""
        return sum(self.nonces)


def encode_snapshot(s: Snapshot) -> bytes:
    header = {"genesis": s.genesis_digest.hex(), "capacity": s.capacity, "height": s.height,
              "head": s.head_hash.hex(), "parent": s.parent_hash.hex(),
              "batch_last_block": s.batch_last_block, "verified_upto": s.verified_upto,
              "pending": [[p.index, p.first_block, p.last_block, p.old_claimed, len(p.rows)]
                          for p in s.pending],
              "first_block_parent": s.blocks[0].parent_hash.hex() if s.blocks else None,
              "deposits": s.deposits,
              "bridge": [[[row, kind, hex(address)] for row, kind, address in p.bridge] for p in s.pending],
              "withdrawals": {str(b): [[r.hex(), amount, h.hex()] for r, amount, h in leaves]
                              for b, leaves in s.withdrawals.items()}}
    rows = np.array([r for p in s.pending for r in p.rows], dtype=_ROW) if any(p.rows for p in s.pending) \
        else np.zeros(0, dtype=_ROW)
    blocks = b"".join(struct.pack("<I", len(rec)) + rec for rec in map(encode_record, s.blocks))
    sections = [b"".join(s.addresses), np.array(s.balances, dtype="<u8").tobytes(),
                np.array(s.nonces, dtype="<u8").tobytes(), rows.tobytes(), blocks]
    head = json.dumps(header, separators=(",", ":")).encode()
    body = b"".join([struct.pack("<I", len(head)), head]
                    + [struct.pack("<Q", len(x)) + x for x in sections])
    return MAGIC + struct.pack("<I", VERSION) + hashlib.sha256(body).digest() + body


def decode_snapshot(data: bytes) -> Snapshot:
    """The snapshot in `data`; SnapshotInvalid if it is not one, or is damaged."""
    if data[:8] != MAGIC:
        raise SnapshotInvalid("not a zkpipe snapshot")
    if len(data) < 44 or struct.unpack_from("<I", data, 8)[0] != VERSION:
        raise SnapshotInvalid("another snapshot version")
    body = memoryview(data)[44:]
    if hashlib.sha256(body).digest() != data[12:44]:
        raise SnapshotInvalid("checksum mismatch (damaged)")
    try:
        (n,) = struct.unpack_from("<I", body, 0)
        h = json.loads(bytes(body[4:4 + n]))
        offset, sections = 4 + n, []
        for _ in range(5):
            (size,) = struct.unpack_from("<Q", body, offset)
            sections.append(bytes(body[offset + 8:offset + 8 + size]))
            offset += 8 + size
        addr, bal, non, rows_raw, blocks_raw = sections
        addresses = [addr[i:i + 20] for i in range(0, len(addr), 20)]
        rows = [tuple(map(int, r)) for r in np.frombuffer(rows_raw, dtype=_ROW).tolist()]
        pending, at = [], 0
        bridge = h.get("bridge") or [[] for _ in h["pending"]]
        for (index, first, last, old_claimed, count), items in zip(h["pending"], bridge):
            pending.append(PendingBatch(index, first, last, old_claimed, rows[at:at + count],
                                        [(row, kind, int(a, 16)) for row, kind, a in items]))
            at += count
        withdrawals = {int(b): [(bytes.fromhex(r), amount, bytes.fromhex(t)) for r, amount, t in leaves]
                       for b, leaves in h.get("withdrawals", {}).items()}
        blocks, parent, pos = [], bytes.fromhex(h["first_block_parent"] or "00" * 32), 0
        while pos < len(blocks_raw):
            (size,) = struct.unpack_from("<I", blocks_raw, pos)
            mb = decode_record(blocks_raw[pos + 4:pos + 4 + size], parent)
            blocks.append(mb)
            parent, pos = mb.hash, pos + 4 + size
        return Snapshot(bytes.fromhex(h["genesis"]), h["capacity"], h["height"], bytes.fromhex(h["head"]),
                        bytes.fromhex(h["parent"]), addresses,
                        np.frombuffer(bal, dtype="<u8").tolist(), np.frombuffer(non, dtype="<u8").tolist(),
                        h["batch_last_block"], h["verified_upto"], pending, blocks,
                        h.get("deposits", 0), withdrawals)
    except (ValueError, KeyError, TypeError, struct.error, NodeError) as e:
        raise SnapshotInvalid(f"malformed body: {e}") from None


def snapshot_paths(directory: Union[str, Path]) -> list[Path]:
    """The snapshot files in `directory`, newest (highest) first."""
    d = Path(directory)
    if not d.is_dir():
        return []
    found = []
    for p in d.iterdir():
        stem = p.name[len(_PREFIX):-len(_SUFFIX)]
        if p.name.startswith(_PREFIX) and p.name.endswith(_SUFFIX) and stem.isdigit():
            found.append((int(stem), p))
    return [p for _, p in sorted(found, reverse=True)]


def write_snapshot(directory: Union[str, Path], s: Snapshot, keep: int = KEEP) -> Path:
    """Write `s` atomically (temporary name, fsync, rename, fsync of the directory), then
    delete all but the newest `keep`."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    for stale in d.glob(f".{_PREFIX}*{_SUFFIX}.tmp"):   # left by a crash while writing
        stale.unlink(missing_ok=True)
    path = d / f"{_PREFIX}{s.height:012d}{_SUFFIX}"
    tmp = d / ("." + path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(encode_snapshot(s))
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(d)
    for old in snapshot_paths(d)[keep:]:
        old.unlink(missing_ok=True)
    return path


def read_snapshot(path: Union[str, Path], genesis_digest: bytes, capacity: int) -> Snapshot:
    """The snapshot at `path` if it is whole and of this chain; SnapshotInvalid otherwise."""
    s = decode_snapshot(Path(path).read_bytes())
    if s.genesis_digest != genesis_digest:
        raise SnapshotInvalid("it belongs to another genesis")
    if s.capacity != capacity:
        raise SnapshotInvalid(f"it has {s.capacity} slots, this ledger {capacity}")
    return s


def load_newest(directory: Union[str, Path], genesis_digest: bytes, capacity: int,
                verified_at_most: Optional[int] = None) -> tuple[Optional[Snapshot], list[str]]:
    """The newest usable snapshot in `directory` (None if there is none), and why each newer
    one was skipped. With `verified_at_most` (the L1's last batch, in the executor's numbering),
    a snapshot that counts later batches as verified is skipped: it no longer holds their rows,
    which must then be proven or sent again (the L1 went back since, by a reorganisation)."""
    skipped = []
    for path in snapshot_paths(directory):
        try:
            snapshot = read_snapshot(path, genesis_digest, capacity)
        except (OSError, SnapshotInvalid) as e:
            skipped.append(f"{path.name}: {e}")
            continue
        if verified_at_most is not None and snapshot.verified_upto > verified_at_most:
            skipped.append(f"{path.name}: it counts {snapshot.verified_upto - verified_at_most} more batches "
                           f"as verified than the L1 now holds (the L1 went back); they are replayed from the log")
            continue
        return snapshot, skipped
    return None, skipped
