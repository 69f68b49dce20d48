"""Snapshots of the executed state: a restart from one plus the log after it ends exactly where a
replay of the whole log does; damaged, foreign and mismatched snapshots are skipped for a full
replay."""

from dataclasses import replace

import numpy as np
import pytest

from node.blocks import BlockArchive, Seal, encode_record
from node.errors import HistoryUnavailable
from node.executor import Executor, ledger_job
from node.sequencer import Sequencer
from node.snapshot import load_newest, snapshot_paths, write_snapshot
from node.wal import WriteAheadLog

from .test_node_executor import Chain, FakeClock

LOG2_ROWS = 5


def make_log(tmp_path, rng, blocks=60, verified_at=None):
    """A log as the node writes it (mini-batches, and a seal for every proof batch), and the
    live executor that produced it, snapshotted (with a batch open) after `verified_at` blocks
    or soon after, if given."""
    chain = Chain(rng, n_funded=6, n_new=10)
    clock = FakeClock()
    ex = Executor(chain.genesis, log2_rows=LOG2_ROWS, batch_deadline=1.0, clock=clock)
    snap = None
    with WriteAheadLog(tmp_path / "sequencer.wal", chain.genesis.digest) as wal:
        for n in range(1, blocks + 1):
            mb = chain.mini_batch(int(rng.integers(0, 7)))
            wal.append(encode_record(mb))
            clock.t += 0.3
            sealed = ex.apply(mb) + ex.poll()
            for b in sealed:
                wal.append(encode_record(Seal(b.index, b.last_block)))
            ex.take_sealed()
            if snap is None and verified_at is not None and n >= verified_at and ex.open_transfers:
                if ex.batch_count > 2:
                    ex.mark_verified(ex.batch_count - 3)   # some sealed, not verified
                snap = ex.snapshot(chain.genesis.digest)
    return chain, ex, snap


def jobs(batches):
    return [vars(ledger_job(b)) for b in batches]


def full_replay(tmp_path, genesis):
    seq = Sequencer(genesis, tmp_path / "sequencer.wal", capacity=1 << LOG2_ROWS)
    ex = Executor(genesis, log2_rows=LOG2_ROWS, batch_deadline=float("inf"))
    ex.replay(seq.take_replayed())
    seq.wal.close()
    return ex


def test_restart_from_a_snapshot_equals_a_full_replay(tmp_path, monkeypatch):
    monkeypatch.setattr(Executor, "HISTORY_BLOCKS", 8)   # so that the snapshot leaves blocks out
    rng = np.random.default_rng(7)
    chain, live, snap = make_log(tmp_path, rng, blocks=60, verified_at=41)
    path = write_snapshot(tmp_path / "snapshots", snap)
    assert snapshot_paths(tmp_path / "snapshots") == [path]
    loaded, skipped = load_newest(tmp_path / "snapshots", chain.genesis.digest, 1 << LOG2_ROWS)
    assert skipped == [] and 41 <= loaded.height < 60 and loaded.verified_upto == snap.verified_upto

    seq = Sequencer(chain.genesis, tmp_path / "sequencer.wal", capacity=1 << LOG2_ROWS, snapshot=loaded)
    assert seq.snapshot is loaded and seq.snapshot_refused is None
    after = seq.take_replayed()
    assert [e.number for e in after if not isinstance(e, Seal)] == list(range(loaded.height + 1, 61))
    resumed = Executor(chain.genesis, log2_rows=LOG2_ROWS, batch_deadline=float("inf"))
    resumed.restore(loaded)
    restored = resumed.take_sealed()
    resumed.replay(after)
    replayed_after = resumed.take_sealed()
    seq.wal.close()

    full = full_replay(tmp_path, chain.genesis)
    everything = full.take_sealed()
    for ex in (resumed, full):
        assert (ex.height, ex.batch_count, ex.open_transfers) == (live.height, live.batch_count,
                                                                   live.open_transfers)
        assert ex.state.balances == live.state.balances and ex.state.nonces == live.state.nonces
        assert ex.state.addresses == live.state.addresses
        assert ex.blocks[-1].hash == live.blocks[-1].hash == chain.head
    # The sealed batches not verified at the snapshot come out again, with the same jobs as a
    # full replay makes; those verified do not.
    verified = snap.verified_upto
    assert len(restored) >= 2 and loaded.pending[-1].last_block is None   # sealed ones and an open one
    assert [b.index for b in restored] == list(range(verified + 1, loaded.pending[-1].index))
    assert jobs(restored + replayed_after) == jobs(everything[verified + 1:])
    # The open batch goes on as it would have: sealing it now gives the same batch.
    assert jobs([resumed.seal()]) == jobs([full.seal()])
    # The JSON-RPC reads within the history window are the same.
    for n in range(max(1, full.history_start()), full.height + 1):
        assert resumed.block(n).hash == full.block(n).hash
        assert resumed.block_by_hash(full.block(n).hash).number == n
        for t in full.block(n).transfers:
            a, b = resumed.receipt(t.hash), full.receipt(t.hash)
            # The snapshot remembers what the L1 verified; a replay learns it again from the L1.
            assert (a.block_number, a.position, a.batch_index) == (b.block_number, b.position, b.batch_index)
            assert a.status == ("verified" if a.batch_index <= verified else "executed")
            assert resumed.balance_at(t.to, n) == full.balance_at(t.to, n)
    assert resumed.finalized_height == live.finalized_height > 0
    # Older blocks are not held after a restore: without the log to read them from, a clear
    # error, not a wrong answer.
    first = loaded.blocks[0].number
    assert first > 1 and full.block(first - 1) is not None
    with pytest.raises(HistoryUnavailable, match=f"prunes block history and serves blocks {first}..60"):
        resumed.block(first - 1)
    older = [t.hash for n in range(1, first) for t in full.block(n).transfers]
    assert older and all(resumed.receipt(h) is None for h in older)
    assert resumed.block_by_hash(full.block(first - 1).hash) is None
    # With it, they are read back from the log, the same as a full replay holds them.
    archived = Executor(chain.genesis, log2_rows=LOG2_ROWS, batch_deadline=float("inf"),
                        archive=BlockArchive(tmp_path / "sequencer.wal", chain.genesis.digest))
    archived.restore(loaded)
    archived.replay(Sequencer(chain.genesis, tmp_path / "sequencer.wal", capacity=1 << LOG2_ROWS,
                              snapshot=loaded).take_replayed())
    assert archived.first_served == 1 and archived.archive.last == first - 1
    for n in range(1, first):
        assert archived.block(n) == full.block(n)
        assert archived.block_by_hash(full.block(n).hash) == full.block(n)
        for t in full.block(n).transfers:   # verified: before the snapshot's pending batches
            assert archived.receipt(t.hash) == replace(full.receipt(t.hash), status="verified")
    archived.close()


def test_snapshot_of_the_restored_executor_round_trips(tmp_path):
    rng = np.random.default_rng(3)
    chain, live, snap = make_log(tmp_path, rng, blocks=30, verified_at=25)
    ex = Executor(chain.genesis, log2_rows=LOG2_ROWS)
    ex.restore(snap)
    again = ex.snapshot(chain.genesis.digest)
    assert vars(again) == vars(snap)


def test_damaged_foreign_and_mismatched_snapshots_are_skipped(tmp_path):
    rng = np.random.default_rng(11)
    chain, live, snap = make_log(tmp_path, rng, blocks=20, verified_at=12)
    d = tmp_path / "snapshots"
    older = write_snapshot(d, snap)
    # A newer one, damaged on disk: the older one is used, and the reason given.
    newer = d / f"executed-{snap.height + 1:012d}.snap"
    data = bytearray(older.read_bytes())
    data[-5] ^= 1
    newer.write_bytes(bytes(data))
    loaded, skipped = load_newest(d, chain.genesis.digest, 1 << LOG2_ROWS)
    assert loaded.height == snap.height and len(skipped) == 1 and "checksum" in skipped[0]
    # Another genesis, another ledger size: none usable.
    assert load_newest(d, bytes(32), 1 << LOG2_ROWS)[0] is None
    none, why = load_newest(d, chain.genesis.digest, 1 << (LOG2_ROWS + 1))
    assert none is None and "slots" in why[-1]
    # A snapshot of the same genesis but another log: the sequencer replays the whole log.
    other = tmp_path / "other"
    other.mkdir()
    chain2, _, _ = make_log(other, np.random.default_rng(12), blocks=15)
    foreign, _ = load_newest(d, chain.genesis.digest, 1 << LOG2_ROWS)
    foreign.genesis_digest = chain2.genesis.digest
    seq = Sequencer(chain2.genesis, other / "sequencer.wal", capacity=1 << LOG2_ROWS, snapshot=foreign)
    try:
        assert seq.snapshot is None and "not the snapshot's" in seq.snapshot_refused
        assert seq.height == 15 and len([e for e in seq.take_replayed() if not isinstance(e, Seal)]) == 15
    finally:
        seq.wal.close()
    # A crash while writing leaves only a temporary file: never read, removed by the next write.
    newer.unlink()
    torn = d / f".executed-{snap.height + 5:012d}.snap.tmp"
    torn.write_bytes(older.read_bytes()[:100])
    assert load_newest(d, chain.genesis.digest, 1 << LOG2_ROWS)[0].height == snap.height
    # Only the newest two are kept.
    for h in (30, 40):
        snap.height = h
        write_snapshot(d, snap)
    assert [p.name for p in snapshot_paths(d)] == ["executed-000000000040.snap", "executed-000000000030.snap"]
    assert not torn.exists()
