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
from collections import OrderedDict
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
from eth_hash.auto import keccak

from .bridge import Deposit, deposit_hash
from .errors import HistoryUnavailable, WALCorrupt
from .transactions import Transfer
from .wal import HEADER_SIZE, LogReader, record_end

__all__ = ["MiniBatch", "Seal", "block_hash", "encode_record", "decode_record", "record_number",
           "GENESIS_HASH", "BlockArchive", "index_path", "parent_path"]

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


_INDEX_FORMAT = 2
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (number INTEGER PRIMARY KEY, offset INTEGER NOT NULL, hash BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS runs (run INTEGER PRIMARY KEY, level INTEGER NOT NULL, rows INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS hashes (run INTEGER NOT NULL, key INTEGER NOT NULL, number INTEGER NOT NULL,
                                   PRIMARY KEY (run, key, number)) WITHOUT ROWID;
"""
# The hash lookups (block and transaction hashes alike: each candidate is checked) are kept in
# runs, LSM-style: new keys go into the newest run, of at most RUN_ROWS keys, whose pages stay in
# SQLite's cache; FANOUT full runs of a level are merged, in key order, into one of the next level
# (up to MAX_LEVEL). A key written at random into one B-tree of the whole history would dirty a
# page of its own once the tree outgrows the cache: disk writes per transfer would grow with history.
RUN_ROWS = 1 << 14
FANOUT = 16
MAX_LEVEL = 2
# The writer waits for this many hashes (or blocks) before it commits, unless asked to `flush`:
# a commit of k keys into a run of P pages writes about min(k, P) pages, so k well above a
# run's page count (about 100) keeps the bytes written per hash small, for idle blocks too.
COMMIT_KEYS = 4096
COMMIT_BLOCKS = 1024
_CHUNK_BLOCKS = 4096        # a rebuild commits (and can resume) after this many blocks ...
_CHUNK_KEYS = 1 << 17       # ... or this many hashes
MAX_PENDING_BLOCKS = 1 << 16        # blocks waiting for the index before `add` waits (backpressure) ...
MAX_PENDING_TRANSFERS = 1 << 18     # ... or transfers
_DECODED = 8                # old blocks kept decoded: one request often reads a block twice
_BUSY_MS = 5000             # how long a connection waits for a lock another process holds
_LOOKUP = "SELECT h.number FROM runs r CROSS JOIN hashes h WHERE h.run = r.run AND h.key = ?"


def _key(h: bytes) -> int:
    # A hash's first 8 bytes: an integer key is a fraction of a 32-byte one, in the table and its
    # B-tree; a rare shared prefix only makes two candidates, each checked.
    return int.from_bytes(h[:8], "big", signed=True)


def parent_path(log_path: Union[str, Path]) -> Path:
    """Where the parent hash of a log's first block is kept when that block is not block 1 (a
    log written by `zkpipe sync`): `<log>.parent`, 32 bytes."""
    log_path = Path(log_path)
    return log_path.with_name(log_path.name + ".parent")


class BlockArchive:
    """Executed blocks read back from the write-ahead log at `log_path`, through its index
    (`index_path`, SQLite): block number → the record's offset and the block's hash; block or
    transaction hash → block number (in runs, see RUN_ROWS). A block's parent is the block before
    it (the first one's parent is kept on its own).

    The index covers blocks `first`..`last` of the log without a gap. The executor hands over
    the blocks it drops from memory (`add`, cheap: it only queues them); a writer thread indexes
    them (the record found in the log must be that block, byte for byte, so it keeps the hash it
    had when executed), in large transactions, and serves them from the queue until then, so a
    block is always in memory or in the index. Blocks of the log before them that memory never
    held (a node restored from a snapshot) are decoded from their parents' hashes up to one whose
    hash is known (`catch_up`), committed every _CHUNK_BLOCKS blocks so that an interrupted
    rebuild resumes. A block read back is decoded from its parent's hash and checked against its
    own. The index repeats only what the log holds: absent, damaged, of another genesis or not
    matching the log, it is emptied and built again from the log. In WAL mode, a crash loses at
    most the last additions, which the replay after it makes again.

    An index that cannot be written (disk full, I/O error) or that finds the log disagree stops
    (`broken`, logged): what it holds is still served, blocks leaving memory afterwards are not,
    and the node goes on; the next start resumes indexing where the index stopped.

    Thread-safe: one writer (the executor) and any number of readers (JSON-RPC)."""

    def __init__(self, log_path: Union[str, Path], genesis_digest: bytes):
        self.log = LogReader(log_path, genesis_digest)
        self.path = index_path(log_path)
        self.genesis_digest = genesis_digest
        self.broken: Optional[str] = None     # why the index stopped following the log, if it did
        self._range: tuple = (None, None)     # (first, last) indexed, published as one
        self._first_parent: Optional[bytes] = None
        self._read_lock = threading.Lock()    # the reading connection's and `_decoded`'s
        self._decoded: OrderedDict[int, MiniBatch] = OrderedDict()
        self._cond = threading.Condition()    # the queue's
        self._pending: dict[int, object] = {}         # number → block waiting for the index
        self._pending_tx: dict[bytes, int] = {}       # their transaction hashes → number
        self._pending_hash: dict[bytes, int] = {}     # their hashes → number
        self._pending_transfers = 0
        self._pending_span: Optional[tuple[int, int]] = None   # (first, last) queued
        self._target: Optional[tuple[int, bytes]] = None   # a catch_up waiting for the writer
        self._busy = False
        self._flushing = 0                    # callers of `flush` waiting
        self._closed = False
        self._db = self._reader = None
        self._run: Optional[int] = None       # the newest run, while it has room
        self._run_rows = 0
        try:
            self._connect()
        except sqlite3.OperationalError as e:   # locked by another process, I/O error: not damage
            self._range = (None, None)
            self._disconnect()
            self._stop(f"the index cannot be opened: {e}")
        except sqlite3.DatabaseError as e:
            log.warning("block index %s is damaged (%s): building it again from the log", self.path, e)
            self._disconnect()
            for suffix in ("", "-wal", "-shm"):
                Path(str(self.path) + suffix).unlink(missing_ok=True)
            self._connect()
        self._writer = threading.Thread(target=self._write_loop, name="block-index", daemon=True)
        self._writer.start()

    @property
    def first(self) -> Optional[int]:
        return self._range[0]

    @property
    def last(self) -> Optional[int]:
        return self._range[1]

    def served(self) -> tuple:
        """(first, last) of the blocks this archive answers for, indexed or queued, without a gap
        ((None, None): none)."""
        first, last = self._range
        span = self._pending_span
        if span is not None:
            if first is None:
                return span
            if span[0] <= last + 1:
                return first, max(last, span[1])
        return first, last

    def _connect(self) -> None:
        self._db = self._open()
        self._load()
        self._reader = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._reader.execute(f"PRAGMA busy_timeout = {_BUSY_MS}")

    def _disconnect(self) -> None:
        for db in (self._db, self._reader):
            if db is not None:
                db.close()
        self._db = self._reader = None

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            db.execute(f"PRAGMA busy_timeout = {_BUSY_MS}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")   # durable enough: the log can rebuild it
            if db.execute("PRAGMA user_version").fetchone()[0] != _INDEX_FORMAT:
                db.executescript("DROP TABLE IF EXISTS meta; DROP TABLE IF EXISTS blocks; DROP TABLE IF EXISTS txs;"
                                 "DROP TABLE IF EXISTS runs; DROP TABLE IF EXISTS hashes;")
                db.execute(f"PRAGMA user_version = {_INDEX_FORMAT}")
            db.executescript(_SCHEMA)
        except BaseException:
            db.close()          # before its files are removed, if damaged
            raise
        return db

    def _load(self) -> None:
        db = self._db
        kept = db.execute("SELECT value FROM meta WHERE key = 'genesis'").fetchone()
        if kept is not None and kept[0] != self.genesis_digest:
            self._empty("it indexes another genesis")
        first, last = db.execute("SELECT min(number), max(number) FROM blocks").fetchone()
        parent = db.execute("SELECT value FROM meta WHERE key = 'first_parent'").fetchone()
        self._first_parent = None if parent is None else parent[0]
        self._range = (first, last)
        self._next, self._last_hash = HEADER_SIZE, None
        if last is not None:
            found = self._read(last)
            if found is None:
                self._empty(f"its block {last} is not the log's")
            else:
                self._last_hash, self._next = found[0].hash, found[1]
        run = db.execute("SELECT run, rows FROM runs WHERE level = 0 ORDER BY run DESC LIMIT 1").fetchone()
        if run is not None and run[1] < RUN_ROWS:
            self._run, self._run_rows = run
        db.execute("INSERT OR REPLACE INTO meta VALUES ('genesis', ?)", (self.genesis_digest,))

    def _empty(self, why: str) -> None:
        log.warning("block index %s: %s; building it again from the log", self.path, why)
        self._range = (None, None)
        self._db.execute("BEGIN")
        for table in ("blocks", "hashes", "runs"):
            self._db.execute(f"DELETE FROM {table}")
        self._db.execute("DELETE FROM meta WHERE key = 'first_parent'")
        self._db.execute("COMMIT")
        self._next, self._last_hash, self._first_parent = HEADER_SIZE, None, None
        self._run, self._run_rows = None, 0
        with self._read_lock:
            self._decoded.clear()

    # -- adding ----------------------------------------------------------------------------------

    def add(self, blocks: Sequence) -> None:
        """Queue consecutive executed `blocks` (each with `number`, `hash`, `parent_hash`,
        `cut_time` and `transfers`) for the index, with any blocks of the log before them not yet
        indexed; they are served from the queue until indexed. Blocks indexed already (a replay
        after a restart) are checked, not added again. Waits while the writer is far behind."""
        if not blocks:
            return
        with self._cond:
            while (self.broken is None and not self._closed and (len(self._pending) >= MAX_PENDING_BLOCKS
                                                                 or self._pending_transfers >= MAX_PENDING_TRANSFERS)):
                self._cond.wait()
            if self.broken is not None or self._closed:
                return                  # no index to wait for: they leave memory unserved
            for b in blocks:
                self._pending[b.number] = b
                self._pending_hash[b.hash] = b.number
                self._pending_tx.update(dict.fromkeys(map(_tx_hash, b.transfers), b.number))
                self._pending_transfers += len(b.transfers)
            span = self._pending_span
            self._pending_span = (blocks[0].number if span is None else span[0], blocks[-1].number)
            self._cond.notify_all()

    def catch_up(self, number: int, block_hash: bytes) -> None:
        """Index the log up to block `number`, whose hash is `block_hash` (the parent of the
        oldest block an executor restored from a snapshot holds); returns once done."""
        last = self.last
        if number < 1 or self.broken is not None or (last is not None and last >= number):
            return
        with self._cond:
            self._target = (number, block_hash)
            self._cond.notify_all()
        self.flush()

    def flush(self) -> None:
        """Wait until every block queued is indexed (or the index stopped)."""
        with self._cond:
            self._flushing += 1
            self._cond.notify_all()
            try:
                while not self._closed and (self._busy or self.broken is None and (
                        self._pending or self._target is not None)):
                    self._cond.wait()
            finally:
                self._flushing -= 1

    @property
    def queued(self) -> int:
        """Blocks waiting for the writer."""
        return len(self._pending)

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                while not self._closed and self._target is None and not (
                        self._pending and (self._flushing or self._pending_transfers + len(self._pending) >= COMMIT_KEYS
                                           or len(self._pending) >= COMMIT_BLOCKS)):
                    self._cond.wait()
                if self._closed:
                    return
                given, target, self._busy = dict(self._pending), self._target, True
            try:
                if self.broken is None:
                    self._index(given, target)
            except (sqlite3.Error, OSError) as e:
                try:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                self._stop(f"writing the index failed ({e}); it resumes at the next start")
            except Exception as e:      # never silently: readers must not wait forever
                self._stop(f"indexing failed: {e!r}")
            with self._cond:
                last = self.last
                for n in list(self._pending) if self.broken is not None else given:
                    if self.broken is not None or (last is not None and n <= last):
                        b = self._pending.pop(n, None)
                        if b is not None:
                            self._pending_transfers -= len(b.transfers)
                            self._pending_hash.pop(b.hash, None)
                            for t in b.transfers:
                                self._pending_tx.pop(t.hash, None)
                self._pending_span = (min(self._pending), max(self._pending)) if self._pending else None
                if self._target is target:
                    self._target = None
                self._busy = False
                self._cond.notify_all()

    def _index(self, given: dict, target: Optional[tuple[int, bytes]]) -> None:
        if given:
            low, high = min(given), max(given)
            last = self.last
            if last is not None and low <= last:
                ours = dict(self._db.execute("SELECT number, hash FROM blocks WHERE number BETWEEN ? AND ?",
                                             (low, min(last, high))))
                if any(ours.get(n) != b.hash for n, b in given.items() if n <= last):
                    self._empty("it holds other blocks than the executor's")
            self._index_through(high, given)
        if target is not None and self.broken is None:
            self._index_through(target[0], {}, target)

    def _known_parent(self, number: int, offset: int, given: dict, anchor) -> Optional[bytes]:
        if number == 1:
            return GENESIS_HASH
        if number in given:
            return given[number].parent_hash
        if anchor is not None and anchor[0] == number - 1:
            return anchor[1]
        if offset == HEADER_SIZE:       # the log's first block, after blocks it does not hold
            if self._first_parent is not None:
                return self._first_parent
            try:
                kept = parent_path(self.log.path).read_bytes()
            except FileNotFoundError:
                return None
            return kept if len(kept) == 32 else None
        return None

    def _index_through(self, upto: int, given: dict, anchor: Optional[tuple[int, bytes]] = None) -> None:
        """Index the log's blocks after `last` up to `upto`, in chunks. A block in `given`
        (executed, held until now) must be logged as exactly that block; any other is decoded
        from its parent's hash, and block `upto` must then have the `anchor`'s hash. Before
        the index's first block, blocks whose parent is not known are passed over (a log written
        by `zkpipe sync` whose parent file is lost): the index then starts at the first block
        whose parent is known."""
        last = self.last
        if last is not None and last >= upto:
            return
        parent, expected = self._last_hash, None if last is None else last + 1
        rows, hashes, counts, end, why = [], [], [], self._next, None
        for offset, payload in self.log.records_from(self._next):
            number = record_number(payload)
            if number is None:          # a seal
                continue
            if parent is None:          # no block indexed yet
                if number > upto:       # a log that starts later (rebuilt from the L1): none before
                    return
                parent = self._known_parent(number, offset, given, anchor)
                if parent is None:
                    self._next = record_end(offset, payload)    # cannot be decoded, ever
                    if number == upto:
                        return
                    continue
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
                if b is not None and anchor is not None and number == anchor[0] and b.hash != anchor[1]:
                    b = None
            if b is None:
                why = f"block {number} in the log is not the one executed"
                break
            rows.append((number, offset, b.hash, parent))
            hashes.append(b.hash)
            hashes.extend(map(_tx_hash, b.transfers))
            counts.append(1 + len(b.transfers))
            parent, expected, end = b.hash, number + 1, record_end(offset, payload)
            if number == upto:
                break
            if len(rows) >= _CHUNK_BLOCKS or len(hashes) >= _CHUNK_KEYS:
                self._commit(rows, hashes, counts, parent, end)
                rows, hashes, counts = [], [], []
        else:
            why = f"the log ends before block {upto}"
        if rows:                        # what was found good is kept, even when a later block is not
            self._commit(rows, hashes, counts, parent, end)
        if why is not None:
            self._stop(why)

    def _commit(self, rows: list, hashes: list, counts: list, parent: bytes, end: int) -> None:
        """Write one chunk of blocks (number, offset, hash, parent) and the keys of `hashes`
        (each block's, then its transactions': `counts` of them a block)."""
        db, first = self._db, self.first
        # Keys (_key) of all at once, in key order: the run's pages are visited once each.
        keys = np.frombuffer(b"".join(hashes), dtype=">i8")[::4].astype(np.int64)
        numbers = np.repeat(np.fromiter((r[0] for r in rows), np.int64, len(rows)), counts)
        order = np.lexsort((numbers, keys))
        db.execute("BEGIN")
        try:
            if first is None:
                db.execute("INSERT OR REPLACE INTO meta VALUES ('first_parent', ?)", (rows[0][3],))
            db.executemany("INSERT INTO blocks VALUES (?, ?, ?)", [row[:3] for row in rows])
            run, had = self._run, self._run_rows
            if run is None:
                run = db.execute("SELECT coalesce(max(run), -1) + 1 FROM runs").fetchone()[0]
                had = 0
            db.executemany("INSERT OR IGNORE INTO hashes VALUES (?, ?, ?)",
                           zip(repeat(run), keys[order].tolist(), numbers[order].tolist()))
            db.execute("INSERT OR REPLACE INTO runs VALUES (?, 0, ?)", (run, had + len(keys)))
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        if first is None:
            self._first_parent = rows[0][3]
        self._last_hash, self._next = parent, end
        self._range = (rows[0][0] if first is None else first, rows[-1][0])
        self._run, self._run_rows = (run, had + len(keys)) if had + len(keys) < RUN_ROWS else (None, 0)
        if self._run is None:
            self._merge()

    def _merge(self) -> None:
        """Merge FANOUT full runs of a level into one of the next, in key order (appended)."""
        db = self._db
        for level in range(MAX_LEVEL):
            runs = [r for (r,) in db.execute("SELECT run FROM runs WHERE level = ? ORDER BY run", (level,))]
            if len(runs) < FANOUT:
                return
            runs = runs[:FANOUT]
            marks = ",".join("?" * len(runs))
            db.execute("BEGIN")
            try:
                new = db.execute("SELECT max(run) + 1 FROM runs").fetchone()[0]
                db.execute(f"INSERT OR IGNORE INTO hashes SELECT ?, key, number FROM hashes WHERE run IN ({marks}) "
                           f"ORDER BY key, number", (new, *runs))
                db.execute(f"DELETE FROM hashes WHERE run IN ({marks})", runs)
                db.execute(f"DELETE FROM runs WHERE run IN ({marks})", runs)
                db.execute("INSERT INTO runs VALUES (?, ?, (SELECT count(*) FROM hashes WHERE run = ?))",
                           (new, level + 1, new))
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    def _stop(self, why: str) -> None:
        with self._cond:
            self.broken = why
            self._cond.notify_all()
        log.error("block index %s stops at block %s: %s", self.path, self.last, why)

    # -- reading ---------------------------------------------------------------------------------

    def block(self, number: int):
        """Block `number` (as the executor handed it over, or as logged), None if the archive
        does not hold it."""
        b = self._pending.get(number)
        if b is not None:
            return b
        first, last = self._range
        if first is None or not first <= number <= last:
            return None
        with self._read_lock:
            mb = self._decoded.get(number)
            if mb is not None:
                self._decoded.move_to_end(number)
                return mb
        found = self._read(number, self._read_lock)
        if found is None:
            raise HistoryUnavailable(f"block {number}: the log does not hold the block its index names "
                                     f"(damaged on disk)")
        with self._read_lock:
            self._decoded[number] = found[0]
            while len(self._decoded) > _DECODED:
                self._decoded.popitem(last=False)
        return found[0]

    def _read(self, number: int, lock: Optional[threading.Lock] = None) -> Optional[tuple[MiniBatch, int]]:
        """Block `number` decoded from the log and checked against its hash, and the offset of
        the record after it; None where the log does not hold it. Only the lookup holds `lock`
        (the reading connection's; None: the writer's connection, on the writer's thread)."""
        if lock is None:
            rows = self._rows_near(self._db, number)
        else:
            with lock:
                rows = self._rows_near(self._reader, number)
        if number not in rows:
            return None
        offset, h = rows[number]
        parent = rows[number - 1][1] if number - 1 in rows else self._first_parent
        found = self.log.record_at(offset)
        mb = None if found is None or parent is None else _decoded(found[0], parent)
        if mb is None or mb.number != number or mb.hash != h:
            return None
        return mb, found[1]

    @staticmethod
    def _rows_near(db, number: int) -> dict:
        return {n: (offset, h) for n, offset, h in db.execute(
            "SELECT number, offset, hash FROM blocks WHERE number IN (?, ?)", (number - 1, number))}

    def number_of(self, block_hash_: bytes) -> Optional[int]:
        n = self._pending_hash.get(block_hash_)
        if n is not None or self._reader is None:
            return n
        with self._read_lock:
            for (n,) in self._reader.execute(_LOOKUP, (_key(block_hash_),)).fetchall():
                row = self._reader.execute("SELECT hash FROM blocks WHERE number = ?", (n,)).fetchone()
                if row is not None and row[0] == block_hash_:
                    return n
        return None

    def tx_blocks(self, tx_hash: bytes) -> list[int]:
        """The blocks that may hold transaction `tx_hash` (almost always one, or none)."""
        n = self._pending_tx.get(tx_hash)
        if n is not None:
            return [n]
        if self._reader is None:
            return []
        with self._read_lock:
            return sorted({n for (n,) in self._reader.execute(_LOOKUP, (_key(tx_hash),))})

    def close(self) -> None:
        """Stop the writer (what it has not indexed is indexed again from the log at the next
        start) and close the files."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._writer.join()
        with self._read_lock:
            self._disconnect()
        self.log.close()


def _tx_hash(t) -> bytes:
    return t.hash


def _decoded(payload: bytes, parent: bytes) -> Optional[MiniBatch]:
    try:
        mb = decode_record(payload, parent)
    except WALCorrupt:
        return None
    return mb if isinstance(mb, MiniBatch) else None
