"""The write-ahead log: records come back in order, a torn tail is cut off, damage before the
tail and a foreign genesis are refused."""

import os

import pytest

from node.errors import InvalidInput, WALCorrupt, WALInUse
from node.wal import HEADER_SIZE, WriteAheadLog

GENESIS = bytes(range(32))


def fill(path, payloads, **kw):
    with WriteAheadLog(path, GENESIS) as wal:
        assert len(wal.records) == 0
        for p in payloads:
            wal.append(p, **kw)
        wal.sync()
        return wal.size


def reopen(path, digest=GENESIS):
    """The log at `path` opened and closed again, with its records as a list."""
    wal = WriteAheadLog(path, digest)
    wal.records = list(wal.records)
    wal.close()
    return wal


def test_records_come_back_in_order(tmp_path):
    payloads = [os.urandom(int(n)) for n in (1, 100, 5000, 3)]
    fill(tmp_path / "log", payloads[:2])
    with WriteAheadLog(tmp_path / "log", GENESIS) as wal:
        assert list(wal.records) == payloads[:2] and wal.records[1:][0] == payloads[1]
        for p in payloads[2:]:
            wal.append(p, sync=False)   # group commit: one fsync for both
        wal.sync()
    again = reopen(tmp_path / "log")
    assert again.records == payloads and again.truncated_bytes == 0
    with pytest.raises(InvalidInput):
        WriteAheadLog(tmp_path / "log", GENESIS).append(b"")


@pytest.mark.parametrize("keep", [1, 5, 11, 12, 40, 99])
def test_torn_tail_is_cut_off(tmp_path, keep):
    path = tmp_path / "log"
    payloads = [os.urandom(64) for _ in range(3)]
    good = fill(path, payloads)
    # what a crash in the middle of the fourth append leaves: a prefix of its frame
    fill(tmp_path / "whole", payloads + [os.urandom(88)])
    frame = (tmp_path / "whole").read_bytes()[good:]
    with open(path, "ab") as f:
        f.write(frame[:keep])
    wal = reopen(path)
    assert wal.records == payloads and wal.truncated_bytes == keep
    assert path.stat().st_size == good
    with WriteAheadLog(path, GENESIS) as wal:   # and the log goes on from there
        wal.append(b"next")
    assert reopen(path).records == payloads + [b"next"]


def test_tail_of_zeros_is_cut_off(tmp_path):
    # a file extended by the crash but whose last block never reached the disk
    path = tmp_path / "log"
    good = fill(path, [b"a" * 10, b"b" * 10])
    with open(path, "ab") as f:
        f.write(b"\x00" * 300)
    assert reopen(path).records == [b"a" * 10, b"b" * 10]
    assert path.stat().st_size == good


@pytest.mark.parametrize("where", ["payload", "length", "marker"])
def test_damage_before_the_tail_is_refused(tmp_path, where):
    path = tmp_path / "log"
    payloads = [os.urandom(50) for _ in range(3)]
    fill(path, payloads)
    data = bytearray(path.read_bytes())
    second = HEADER_SIZE + 12 + 50
    offset = {"payload": second + 12 + 7, "length": second + 5, "marker": second}[where]
    data[offset] ^= 0x40
    path.write_bytes(bytes(data))
    with pytest.raises(WALCorrupt, match=f"damaged at byte {second} with a valid record after it"):
        reopen(path)
    assert path.read_bytes() == bytes(data)  # nothing cut off


def test_foreign_or_unreadable_logs_are_refused(tmp_path):
    path = tmp_path / "log"
    fill(path, [b"x"])
    with pytest.raises(WALCorrupt, match="different genesis"):
        reopen(path, bytes(32))
    (tmp_path / "other").write_bytes(b"not a log at all, but long enough to have a header")
    with pytest.raises(WALCorrupt, match="not a zkpipe write-ahead log"):
        reopen(tmp_path / "other")
    (tmp_path / "short").write_bytes(b"ZKP")
    with pytest.raises(WALCorrupt, match="shorter than its header"):
        reopen(tmp_path / "short")


def test_one_writer_at_a_time(tmp_path):
    with WriteAheadLog(tmp_path / "log", GENESIS):
        with pytest.raises(WALInUse):
            WriteAheadLog(tmp_path / "log", GENESIS)
    reopen(tmp_path / "log")  # released on close


def test_records_are_read_from_the_open_log(tmp_path):
    fill(tmp_path / "log", [b"x" * 7, b"y" * 9])
    wal = WriteAheadLog(tmp_path / "log", GENESIS)
    records = wal.records
    assert len(records) == 2 and records[-1] == b"y" * 9 and list(records[:1]) == [b"x" * 7]
    wal.close()
    with pytest.raises(InvalidInput, match="is closed"):
        records[0]
