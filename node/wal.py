"""An append-only write-ahead log of checksummed records, replayed on start.

File layout:

    header   "ZKPWAL\\0\\1" (8 bytes) · genesis digest (32 bytes)
    record*  "\\xf7ZKW" (4) · length (u32 LE) · crc32(length ‖ payload) (u32 LE) · payload

Guarantees:

- `append(..., sync=True)` returns only after the record is on disk (write, then fsync), so a caller
  acknowledges nothing that a crash could take back. Several records may share one fsync
  (`sync=False`, then `sync()`): group commit.
- Each record is written by one write call, and the next one starts only after the previous
  fsync, so a crash can damage only the last record: the torn tail. On open, a bad record with no
  valid record after it is that tail; it was never synced, so never acknowledged, and it is cut
  off. A bad record followed by a valid one is damage, not a tear: opening raises WALCorrupt
  rather than drop acknowledged records. The marker before each record is what lets the check
  find a later record behind a damaged length field.
- The header binds the log to one genesis; a log opened with another genesis is refused.
- One process at a time: the file is locked while open (the lock dies with the process).
  `LogReader` reads records back by their place in the file, beside the writer (in another
  thread or process): the file only grows, so a record once durable stays where it is.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
import zlib
from array import array
from collections.abc import Sequence
from pathlib import Path
from typing import Iterator, Optional, Union

from .errors import InvalidInput, NodeFailed, WALCorrupt, WALInUse

__all__ = ["WriteAheadLog", "LogReader", "MAX_RECORD", "HEADER_SIZE", "record_end", "fsync_dir"]

MAGIC = b"ZKPWAL\x00\x01"
HEADER_SIZE = len(MAGIC) + 32
MARKER = b"\xf7ZKW"
_FRAME = struct.Struct("<4sII")
# A record is one mini-batch; the bound keeps a damaged length from asking for gigabytes.
MAX_RECORD = 1 << 28


def _checksum(length: bytes, payload: bytes) -> int:
    return zlib.crc32(payload, zlib.crc32(length))


class WriteAheadLog:
    """Open (creating if needed) the log at `path` for `genesis_digest`; `records` holds the
    payloads replayed from it, in order (read from the file as they are asked for: a log of
    months is not held in memory). Then `append` new ones."""

    def __init__(self, path: Union[str, Path], genesis_digest: bytes):
        if len(genesis_digest) != 32:
            raise InvalidInput("genesis digest must be 32 bytes")
        self.path = Path(path)
        self.truncated_bytes = 0  # size of the torn tail cut off on open
        if not self.path.exists():
            self._create(genesis_digest)
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise WALInUse(f"write-ahead log {self.path} is in use by another process") from None
        try:
            self.records: Sequence[bytes] = self._replay(genesis_digest)
        except BaseException:
            os.close(self._fd)
            raise
        self._failed = False

    def _create(self, digest: bytes) -> None:
        # Written whole under a temporary name, then renamed: a log either has its header or
        # does not exist.
        tmp = self.path.with_name(self.path.name + ".new")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, MAGIC + digest)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        fsync_dir(self.path.parent)

    def _replay(self, digest: bytes) -> "Records":
        size = os.fstat(self._fd).st_size
        if size < HEADER_SIZE:
            raise WALCorrupt(f"write-ahead log {self.path} is shorter than its header")
        with mmap.mmap(self._fd, size, prot=mmap.PROT_READ) as data:
            if data[:len(MAGIC)] != MAGIC:
                raise WALCorrupt(f"{self.path} is not a zkpipe write-ahead log (or another version)")
            if data[len(MAGIC):HEADER_SIZE] != digest:
                raise WALCorrupt(f"write-ahead log {self.path} extends a different genesis")
            offsets, lengths = array("q"), array("I")
            offset = HEADER_SIZE
            while offset < size:
                payload = _record_at(data, offset, size)
                if payload is None:
                    later = _next_record(data, offset + 1, size)
                    if later is not None:
                        raise WALCorrupt(f"write-ahead log {self.path} is damaged at byte {offset} "
                                         f"with a valid record after it at byte {later}")
                    break
                offsets.append(offset)
                lengths.append(len(payload))
                offset += _FRAME.size + len(payload)
        if offset < size:
            self.truncated_bytes = size - offset
            os.ftruncate(self._fd, offset)
            os.fsync(self._fd)
        return Records(self, offsets, lengths)

    def append(self, payload: bytes, sync: bool = True) -> None:
        """Append one record; with `sync`, return only once it is durable."""
        if self._failed:
            raise NodeFailed(f"write-ahead log {self.path} failed earlier; refusing to write")
        if not 0 < len(payload) <= MAX_RECORD:
            raise InvalidInput(f"record size {len(payload)} outside (0, {MAX_RECORD}]")
        length = struct.pack("<I", len(payload))
        frame = _FRAME.pack(MARKER, len(payload), _checksum(length, payload)) + payload
        try:
            view = memoryview(frame)
            while view:
                view = view[os.write(self._fd, view):]
            if sync:
                os.fsync(self._fd)
        except OSError as e:
            # After a failed write or fsync the file's contents are unknown (and Linux may drop
            # the dirty pages): the only safe course is to stop, never to retry and acknowledge.
            self._failed = True
            raise NodeFailed(f"write-ahead log {self.path}: {e}") from e

    def sync(self) -> None:
        if self._failed:
            raise NodeFailed(f"write-ahead log {self.path} failed earlier")
        try:
            os.fsync(self._fd)
        except OSError as e:
            self._failed = True
            raise NodeFailed(f"write-ahead log {self.path}: {e}") from e

    @property
    def size(self) -> int:
        return os.fstat(self._fd).st_size

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Records(Sequence):
    """The payloads of the records at `offsets` (of `lengths`) of the open log `wal`, read when
    asked for (the log only grows, so each stays where it is: 12 bytes of memory a record); a
    slice is another such sequence."""

    def __init__(self, wal: "WriteAheadLog", offsets: array, lengths: array):
        self._wal, self._offsets, self._lengths = wal, offsets, lengths

    def __len__(self) -> int:
        return len(self._offsets)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return Records(self._wal, self._offsets[i], self._lengths[i])
        fd, offset = self._wal._fd, self._offsets[i]
        if fd < 0:
            raise InvalidInput(f"write-ahead log {self._wal.path} is closed: its records are read from it")
        return os.pread(fd, self._lengths[i], offset + _FRAME.size)


class LogReader:
    """Read-only access to the log at `path` of `genesis_digest`, by record offset, while its
    writer goes on appending. Only records already durable should be asked for: a record cut
    short or failing its checksum reads as absent (the end of the log as far as a reader knows)."""

    def __init__(self, path: Union[str, Path], genesis_digest: bytes):
        self.path = Path(path)
        self._fd = os.open(self.path, os.O_RDONLY)
        if os.pread(self._fd, HEADER_SIZE, 0) != MAGIC + genesis_digest:
            os.close(self._fd)
            raise WALCorrupt(f"{self.path} is not a zkpipe write-ahead log of this genesis")

    def record_at(self, offset: int) -> Optional[tuple[bytes, int]]:
        """The payload of the record at `offset` and the offset of the next one; None where no
        whole record starts there."""
        frame = os.pread(self._fd, _FRAME.size, offset)
        if len(frame) < _FRAME.size:
            return None
        marker, length, crc = _FRAME.unpack(frame)
        if marker != MARKER or not 0 < length <= MAX_RECORD:
            return None
        payload = os.pread(self._fd, length, offset + _FRAME.size)
        if len(payload) != length or _checksum(frame[4:8], payload) != crc:
            return None
        return payload, offset + _FRAME.size + length

    def records_from(self, offset: int = HEADER_SIZE) -> Iterator[tuple[int, bytes]]:
        """(offset, payload) of each record from `offset` on, up to the end of what is whole."""
        while (found := self.record_at(offset)) is not None:
            yield offset, found[0]
            offset = found[1]

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def record_end(offset: int, payload: bytes) -> int:
    """The offset after the record at `offset` holding `payload`: where the next one starts."""
    return offset + _FRAME.size + len(payload)


def _record_at(data, offset: int, size: int):
    """The payload of the record at `offset` if it is whole and its checksum holds, else None."""
    if offset + _FRAME.size > size:
        return None
    marker, length, crc = _FRAME.unpack_from(data, offset)
    start = offset + _FRAME.size
    if marker != MARKER or not 0 < length <= MAX_RECORD or start + length > size:
        return None
    payload = data[start:start + length]
    if _checksum(struct.pack("<I", length), payload) != crc:
        return None
    return payload


def _next_record(data, offset: int, size: int):
    """Offset of the first valid record at or after `offset`, or None."""
    while True:
        offset = data.find(MARKER, offset)
        if offset < 0:
            return None
        if _record_at(data, offset, size) is not None:
            return offset
        offset += 1


def fsync_dir(path: Path) -> None:
    """Make the creation, rename or removal of a file in the directory `path` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
