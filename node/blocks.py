"""The chain of mini-batches as the write-ahead log holds it: the record types (a mini-batch of
transfers, a mini-batch of deposits from the L1, a proof-batch seal), the mini-batch hash, and the
record codec. The sequencer writes these records, the executor replays them; neither needs the
other to read them.

A block holds transfers or deposits (node/bridge.py), never both: a deposit block is logged on its
own, with the deposits in queue order, before either side applies it. A block may also hold
nothing: the empty block an idle sequencer makes (a mini-batch record of count 0).

The log is never cut, so it holds every block the node executed; `BlockArchive` reads the old
ones back from it (those an executor no longer keeps in memory), through an index beside the log.
"""

from __future__ import annotations

import logging
import sqlite3
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

from eth_hash.auto import keccak

from .bridge import Deposit, deposit_hash
from .errors import HistoryUnavailable, WALCorrupt
from .transactions import Transfer
from .wal import HEADER_SIZE, LogReader, record_end

__all__ = ["MiniBatch", "Seal", "block_hash", "encode_record", "decode_record", "record_number",
           "GENESIS_HASH", "BlockArchive", "index_path"]

log = logging.getLogger(__name__)

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


# -- old blocks, read back from the log ----------------------------------------------------------

def index_path(log_path: Union[str, Path]) -> Path:
    """Where the index of the log at `log_path` lives: beside it, `<log>.index`."""
    log_path = Path(log_path)
    return log_path.with_name(log_path.name + ".index")


_INDEX_FORMAT = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (number INTEGER PRIMARY KEY, offset INTEGER NOT NULL,
                                   hash BLOB NOT NULL, key INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS blocks_by_key ON blocks (key);
CREATE TABLE IF NOT EXISTS txs (key INTEGER NOT NULL, number INTEGER NOT NULL,
                                PRIMARY KEY (key, number)) WITHOUT ROWID;
"""


def _key(h: bytes) -> int:
    # A hash's first 8 bytes: an integer key is a fraction of a 32-byte one, in the table and its
    # B-tree; a rare shared prefix only makes two candidates, each checked.
    return int.from_bytes(h[:8], "big", signed=True)


class BlockArchive:
    """Executed blocks read back from the write-ahead log at `log_path`, through its index
    (`index_path`, SQLite): block number → the record's offset and the block's hash; block
    hash → number; transaction hash → block number. A block's parent is the block before it
    (the first one's parent is kept on its own).

    The index covers blocks `first`..`last` of the log without a gap. The executor adds the
    blocks it drops from memory (`add`: the record found in the log must be that block, byte for
    byte, so it keeps the hash it had when executed); blocks of the log before them that memory
    never held (a node restored from a snapshot) are decoded from their parents' hashes up to one
    whose hash is known (`catch_up`). A block read back is decoded from its parent's hash and
    checked against its own. The index repeats only what the log holds: absent, damaged, of
    another genesis or not matching the log, it is emptied and built again from the log. In WAL
    mode, a crash loses at most the last additions, which the replay after it makes again.

    Thread-safe: one writer (the executor) and any number of readers (JSON-RPC)."""

    def __init__(self, log_path: Union[str, Path], genesis_digest: bytes):
        self.log = LogReader(log_path, genesis_digest)
        self.path = index_path(log_path)
        self.genesis_digest = genesis_digest
        self.broken: Optional[str] = None     # why the index stopped following the log, if it did
        self._lock = threading.Lock()
        try:
            self._db = self._open()
            self._load()
        except sqlite3.DatabaseError as e:
            log.warning("block index %s is damaged (%s): building it again from the log", self.path, e)
            for suffix in ("", "-wal", "-shm"):
                Path(str(self.path) + suffix).unlink(missing_ok=True)
            self._db = self._open()
            self._load()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")   # durable enough: the log can rebuild it
        if db.execute("PRAGMA user_version").fetchone()[0] != _INDEX_FORMAT:
            db.executescript("DROP TABLE IF EXISTS meta; DROP TABLE IF EXISTS blocks; DROP TABLE IF EXISTS txs;")
            db.execute(f"PRAGMA user_version = {_INDEX_FORMAT}")
        db.executescript(_SCHEMA)
        return db

    def _load(self) -> None:
        db = self._db
        kept = db.execute("SELECT value FROM meta WHERE key = 'genesis'").fetchone()
        if kept is not None and kept[0] != self.genesis_digest:
            self._empty("it indexes another genesis")
        first, last = db.execute("SELECT min(number), max(number) FROM blocks").fetchone()
        self.first, self.last = first, last
        self._next, self._last_hash = HEADER_SIZE, None
        if last is not None:
            found = self._read(last)
            if found is None:
                self._empty(f"its block {last} is not the log's")
            else:
                self._last_hash, self._next = found[0].hash, found[1]
        db.execute("INSERT OR REPLACE INTO meta VALUES ('genesis', ?)", (self.genesis_digest,))

    def _empty(self, why: str) -> None:
        log.warning("block index %s: %s; building it again from the log", self.path, why)
        self._db.execute("BEGIN")
        self._db.execute("DELETE FROM blocks")
        self._db.execute("DELETE FROM txs")
        self._db.execute("COMMIT")
        self.first = self.last = None
        self._next, self._last_hash = HEADER_SIZE, None

    # -- adding ----------------------------------------------------------------------------------

    def add(self, blocks: Sequence) -> None:
        """Index consecutive executed `blocks` (each with `number`, `hash`, `parent_hash`,
        `cut_time` and `transfers`), and any blocks of the log before them not yet indexed.
        Blocks indexed already (a replay after a restart) are checked, not added again."""
        if not blocks or self.broken is not None:
            return
        with self._lock:
            given = {b.number: b for b in blocks}
            if self.last is not None and blocks[0].number <= self.last:
                ours = dict(self._db.execute(
                    "SELECT number, hash FROM blocks WHERE number BETWEEN ? AND ?",
                    (blocks[0].number, min(self.last, blocks[-1].number))))
                if any(ours.get(n) != b.hash for n, b in given.items() if n <= self.last):
                    self._empty("it holds other blocks than the executor's")
            self._index_through(blocks[-1].number, given)

    def catch_up(self, number: int, block_hash: bytes) -> None:
        """Index the log up to block `number`, whose hash is `block_hash` (the parent of the
        oldest block an executor restored from a snapshot holds)."""
        if number < 1 or self.broken is not None or (self.last is not None and self.last >= number):
            return
        with self._lock:
            self._index_through(number, {}, block_hash)

    def _index_through(self, upto: int, given: dict, upto_hash: Optional[bytes] = None) -> None:
        """Index the log's blocks after `last` up to `upto`. A block in `given` (executed, held
        until now) must be logged as exactly that block; any other is decoded from its parent's
        hash, and block `upto` must then have `upto_hash`."""
        if self.last is not None and self.last >= upto:
            return
        parent, expected = self._last_hash, None if self.last is None else self.last + 1
        rows, txs, end, why = [], [], self._next, None
        for offset, payload in self.log.records_from(self._next):
            number = record_number(payload)
            if number is None:          # a seal
                continue
            if parent is None:          # the log's first block
                if number > upto:       # a log that starts later (rebuilt from the L1): none before
                    return
                parent = GENESIS_HASH if number == 1 else given[number].parent_hash if number in given else None
                if parent is None:
                    why = f"the log starts at block {number}, whose parent is not known"
                    break
            elif number != expected:
                why = f"block {number} follows block {expected - 1} in the log"
                break
            b = given.get(number)
            if b is not None:
                # The record is the executed block's, byte for byte: no need to hash it again.
                if b.parent_hash != parent or payload != encode_record(
                        MiniBatch(number, parent, b.hash, b.cut_time, b.transfers)):
                    b = None
            else:
                b = _decoded(payload, parent)
                if b is not None and number == upto and upto_hash is not None and b.hash != upto_hash:
                    b = None
            if b is None:
                why = f"block {number} in the log is not the one executed"
                break
            rows.append((number, offset, b.hash, parent))
            txs.extend((_key(t.hash), number) for t in b.transfers)
            parent, expected, end = b.hash, number + 1, record_end(offset, payload)
            if number == upto:
                break
        else:
            why = f"the log ends before block {upto}"
        if rows:                        # what was found good is kept, even when a later block is not
            db = self._db
            db.execute("BEGIN")
            if self.first is None:
                db.execute("INSERT OR REPLACE INTO meta VALUES ('first_parent', ?)", (rows[0][3],))
            db.executemany("INSERT INTO blocks VALUES (?, ?, ?, ?)",
                           [(number, offset, h, _key(h)) for number, offset, h, _ in rows])
            db.executemany("INSERT OR IGNORE INTO txs VALUES (?, ?)", txs)
            db.execute("COMMIT")
            if self.first is None:
                self.first = rows[0][0]
            self.last, self._last_hash, self._next = rows[-1][0], parent, end
        if why is not None:
            self._stop(why)

    def _stop(self, why: str) -> None:
        self.broken = why
        log.error("block index %s stops at block %s: %s", self.path, self.last, why)

    # -- reading ---------------------------------------------------------------------------------

    def block(self, number: int) -> Optional[MiniBatch]:
        """Block `number` as logged, None if the index does not hold it."""
        with self._lock:
            if self.first is None or not self.first <= number <= self.last:
                return None
            found = self._read(number)
        if found is None:
            raise HistoryUnavailable(f"block {number}: the log does not hold the block its index names "
                                     f"(damaged on disk)")
        return found[0]

    def _read(self, number: int) -> Optional[tuple[MiniBatch, int]]:
        """Block `number` decoded from the log and checked against its hash, and the offset of
        the record after it; None where the log does not hold it."""
        rows = dict((n, (offset, h)) for n, offset, h in self._db.execute(
            "SELECT number, offset, hash FROM blocks WHERE number IN (?, ?)", (number - 1, number)))
        if number not in rows:
            return None
        offset, h = rows[number]
        if number - 1 in rows:
            parent = rows[number - 1][1]
        else:
            parent = self._db.execute("SELECT value FROM meta WHERE key = 'first_parent'").fetchone()
            parent = None if parent is None else parent[0]
        found = self.log.record_at(offset)
        mb = None if found is None or parent is None else _decoded(found[0], parent)
        if mb is None or mb.number != number or mb.hash != h:
            return None
        return mb, found[1]

    def number_of(self, block_hash_: bytes) -> Optional[int]:
        with self._lock:
            rows = self._db.execute("SELECT number, hash FROM blocks WHERE key = ?", (_key(block_hash_),))
            return next((n for n, h in rows if h == block_hash_), None)

    def tx_blocks(self, tx_hash: bytes) -> list[int]:
        """The blocks that may hold transaction `tx_hash` (almost always one, or none)."""
        with self._lock:
            return [n for (n,) in self._db.execute("SELECT number FROM txs WHERE key = ?", (_key(tx_hash),))]

    def close(self) -> None:
        with self._lock:
            self._db.close()
            self.log.close()


def _decoded(payload: bytes, parent: bytes) -> Optional[MiniBatch]:
    try:
        mb = decode_record(payload, parent)
    except WALCorrupt:
        return None
    return mb if isinstance(mb, MiniBatch) else None
