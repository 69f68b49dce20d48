"""Block retention: the executor holds a bounded number of recent blocks in memory (and every
block of a proof batch the L1 has not verified); older ones are read back from the write-ahead
log through its index, exactly as they were while held; without the log, a clear error. The
index is only a copy of what the log holds: deleted, damaged or of another log, it is rebuilt."""

import os

import numpy as np
import pytest

from node.blocks import MAX_LEVEL, BlockArchive, MiniBatch, Seal, encode_record, index_path
from node.bridge import WITHDRAWAL_ADDRESS, deposit_hash, make_deposit
from node.errors import HistoryUnavailable, InvalidInput
from node.executor import PRUNE_BLOCKS, PRUNE_TRANSFERS, Executor
from node.sequencer import Sequencer
from node.snapshot import decode_snapshot, encode_snapshot
from node.wal import WriteAheadLog

from .test_node_bridge import L1_SENDER, addr, genesis, send  # noqa: F401 (genesis: a fixture)
from .test_node_executor import Chain, FakeClock

LOG2_ROWS = 5
RETAIN = 8


def logged_chain(tmp_path, rng, blocks, *, verify=True, idle_every=3, **kw):
    """A log as the sequencer writes it (each block before the executor applies it, a seal after
    each proof batch) and an executor with a small retention reading old blocks back from it;
    with `verify`, each sealed batch is verified at once. Returns the chain, the executor and the
    most blocks it held after any block."""
    chain = Chain(rng, n_funded=5, n_new=8)
    clock = FakeClock()
    wal = WriteAheadLog(tmp_path / "sequencer.wal", chain.genesis.digest)
    ex = Executor(chain.genesis, log2_rows=LOG2_ROWS, batch_deadline=1.0, clock=clock,
                  archive=BlockArchive(wal.path, chain.genesis.digest), **kw)
    most = 0
    for n in range(1, blocks + 1):
        mb = chain.mini_batch(0 if n % idle_every == 0 else int(rng.integers(1, 6)))
        wal.append(encode_record(mb), sync=False)
        clock.t += 0.4
        for b in ex.apply(mb) + ex.poll():
            wal.append(encode_record(Seal(b.index, b.last_block)), sync=False)
            if verify:
                ex.mark_verified(b.index)
        ex.take_sealed()
        most = max(most, ex.blocks_in_memory)
    wal.close()
    ex.archive.flush()            # the index is written by the archive's own thread
    return chain, ex, most


@pytest.mark.parametrize("runs", ["one", "merged"])
def test_memory_holds_a_bounded_window_and_old_blocks_come_from_the_log(tmp_path, monkeypatch, runs):
    if runs == "merged":        # a commit per pruning step, into runs of 16 hashes, merged in pairs
        for name, value in (("RUN_ROWS", 16), ("FANOUT", 2), ("COMMIT_KEYS", 1), ("COMMIT_BLOCKS", 1)):
            monkeypatch.setattr(f"node.blocks.{name}", value)
    rng = np.random.default_rng(11)
    chain, ex, most = logged_chain(tmp_path, rng, 400, retain_blocks=RETAIN)
    levels = [level for (level,) in ex.archive._reader.execute("SELECT level FROM runs")]
    if runs == "merged":        # merged, and below the top level fewer than FANOUT runs each
        assert max(levels) >= 1 and all(levels.count(level) < 2 for level in range(MAX_LEVEL))
    # The count of blocks in memory stays bounded (the retention, a pruning step, and the blocks
    # of the batch open or waiting), however long the chain grows.
    assert most <= RETAIN + PRUNE_BLOCKS + 4
    assert ex.height == 400 and ex.first_served == 1 and ex.archive.last >= 400 - RETAIN - PRUNE_BLOCKS - 4
    assert len(ex._tx_block) <= sum(len(ex.block(n).transfers) for n in range(400 - most, 401))
    # A second executor replaying the whole log holds everything in memory: what it answers is
    # what the first read back from the log.
    full = Executor(chain.genesis, log2_rows=LOG2_ROWS, batch_deadline=float("inf"), retain_blocks=10**6)
    seq = Sequencer(chain.genesis, tmp_path / "sequencer.wal", capacity=1 << LOG2_ROWS)
    full.replay(seq.take_replayed())
    seq.wal.close()
    assert full.blocks_in_memory == 400
    for n in range(1, 401):
        old = ex.block(n)
        assert old == full.block(n)
        assert ex.block_by_hash(old.hash) == old and ex.parent_hash(n) == full.parent_hash(n)
        for i, t in enumerate(old.transfers):
            r = ex.receipt(t.hash)
            assert (r.block_number, r.position, r.transfer, r.batch_index) == (n, i, t, full.receipt(t.hash).batch_index)
    assert ex.receipt(os.urandom(32)) is None and ex.block_by_hash(os.urandom(32)) is None
    assert ex.block(401) is None
    # State queries reach the blocks held, and say so past them.
    with pytest.raises(HistoryUnavailable, match="historical state is not available for block 10"):
        ex.balance_at(chain.funded[0], 10)
    ex.close()


def test_blocks_of_unverified_batches_stay_in_memory(tmp_path):
    rng = np.random.default_rng(5)
    _, ex, most = logged_chain(tmp_path, rng, 120, verify=False, retain_blocks=RETAIN)
    # Nothing verified: every block since the first batch is needed (a snapshot carries them).
    first = ex.snapshot(bytes(32)).pending[0].first_block
    assert ex.first_served == 1 and ex.blocks_in_memory == 120 - first + 1
    # Verified: at the next block, memory keeps the retention and the open batch's blocks.
    ex.mark_verified(ex.batch_count - 1)
    wal = WriteAheadLog(tmp_path / "sequencer.wal", ex.archive.genesis_digest)
    empty = Chain(rng)         # an empty block: only its number and parent matter
    empty.height, empty.head = ex.height, ex.block(ex.height).hash
    mb = empty.mini_batch(0)
    wal.append(encode_record(mb))
    ex.apply(mb)
    wal.close()
    open_first = ex.snapshot(bytes(32)).pending[-1].first_block if ex.open_transfers else ex.height + 1
    assert ex.blocks_in_memory == max(RETAIN, ex.height - open_first + 1) < 60
    ex.archive.flush()
    assert ex.archive.last == ex.height - ex.blocks_in_memory and ex.first_served == 1
    ex.close()


def test_transfer_bound_and_settings(tmp_path, monkeypatch):
    # Pruning in steps of at most 8 transfers: the bound is tight enough to fail if broken.
    monkeypatch.setattr("node.executor.PRUNE_TRANSFERS", 8)
    rng = np.random.default_rng(8)
    _, ex, _ = logged_chain(tmp_path, rng, 200, idle_every=10**9, retain_blocks=10**6, retain_transfers=40,
                            max_batch_transfers=8)
    held = sum(len(ex.block(n).transfers) for n in range(ex.height - ex.blocks_in_memory + 1, ex.height + 1))
    # Retained, plus a step, plus the open batch's (at most 8) and one more block (5).
    assert 40 <= held <= 40 + 8 + 8 + 5 and ex.blocks_in_memory < 50
    ex.close()
    for bad in (0, -1, 1.5, None):
        with pytest.raises(InvalidInput, match="retain_blocks must be a positive integer"):
            Executor(Chain(rng).genesis, log2_rows=3, retain_blocks=bad)


def test_without_the_log_old_blocks_are_a_clear_error(rng):
    chain = Chain(rng)
    ex = Executor(chain.genesis, log2_rows=LOG2_ROWS, retain_blocks=4)
    for _ in range(100):
        ex.apply(chain.mini_batch(0))
    assert ex.blocks_in_memory <= 4 + PRUNE_BLOCKS
    first = ex.first_served
    with pytest.raises(HistoryUnavailable, match=f"block 1 is not available: this node prunes block "
                                                  f"history and serves blocks {first}..100"):
        ex.block(1)
    assert ex.block(100).number == 100 and list(ex.blocks[first:]) == [ex.block(n) for n in range(first, 101)]


def test_index_is_rebuilt_from_the_log(tmp_path):
    rng = np.random.default_rng(3)
    chain, ex, _ = logged_chain(tmp_path, rng, 150, retain_blocks=RETAIN)
    wal_path = tmp_path / "sequencer.wal"
    served = {n: ex.block(n) for n in range(1, 151)}
    snap = decode_snapshot(encode_snapshot(ex.snapshot(chain.genesis.digest)))
    ex.close()

    def restored():
        again = Executor(chain.genesis, log2_rows=LOG2_ROWS, retain_blocks=RETAIN,
                         archive=BlockArchive(wal_path, chain.genesis.digest))
        again.restore(snap)
        assert again.first_served == 1 and again.archive.broken is None
        assert {n: again.block(n) for n in range(1, 151)} == served
        again.close()

    restored()                                            # the index as left
    index_path(wal_path).unlink()                         # gone: the log indexed again at restore
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"sequencer.wal.index{suffix}").unlink(missing_ok=True)
    restored()
    index_path(wal_path).write_bytes(os.urandom(4096))     # damaged
    restored()
    # The index of another chain's log: emptied and built again.
    other = tmp_path / "other"
    other.mkdir()
    logged_chain(other, np.random.default_rng(99), 100, retain_blocks=RETAIN)[1].close()
    os.replace(index_path(other / "sequencer.wal"), index_path(wal_path))
    restored()


def test_deposit_blocks_and_refunds_are_read_back_too(tmp_path, genesis):
    # genesis: tests/test_node_bridge.py's (Alice and four fillers in 8 slots)
    clock = FakeClock(1000.0)
    wal = tmp_path / "sequencer.wal"
    seq = Sequencer(genesis, wal, capacity=8, max_mini_batch=4, idle_block_interval=1.0, clock=clock)
    ex = Executor(genesis, log2_rows=3, max_batch_transfers=4, batch_deadline=None, retain_blocks=2,
                  archive=BlockArchive(wal, genesis.digest))
    seq.set_consumer(ex.apply)
    t = send(seq, 0, addr(0xB0B), 100)
    seq.add_deposits([make_deposit(0, addr(0xC), 50, L1_SENDER),              # credited
                      make_deposit(1, WITHDRAWAL_ADDRESS, 5, L1_SENDER)])    # refunded
    ex.mark_verified(ex.seal().index)
    hashes = [t.hash, deposit_hash(0), deposit_hash(1)]
    held = [ex.block(n) for n in (1, 2)], [ex.receipt(h) for h in hashes]
    assert [r.success for r in held[1]] == [True, True, False]
    for _ in range(100):                     # idle blocks push them out of memory
        clock.t += 1.0
        seq.idle_block()
    ex.archive.flush()
    assert ex.blocks_in_memory <= 2 + PRUNE_BLOCKS and ex.archive.last >= 2
    assert ([ex.block(n) for n in (1, 2)], [ex.receipt(h) for h in hashes]) == held
    assert ex.withdrawal(deposit_hash(1)).amount == 5
    seq.stop()
    ex.close()


def _synced(tmp_path, chain):
    """What `zkpipe sync` writes (a snapshot at block B + 1 = 4 and a log holding only that
    block), and a node started on it."""
    from node.snapshot import load_newest
    from node.state import LedgerState
    from node.sync import Rebuilt, continue_data_dir
    rebuilt = Rebuilt(LedgerState.from_genesis(chain.genesis, 1 << LOG2_ROWS), os.urandom(32), batches=3)
    data = continue_data_dir(tmp_path / "data", chain.genesis, rebuilt, {})
    clock = FakeClock(1000.0)
    seq, ex = _sync_node(data, chain, load_newest(data / "snapshots", chain.genesis.digest, 1 << LOG2_ROWS)[0],
                         clock)
    return rebuilt, data, clock, seq, ex


def _sync_node(data, chain, snap, clock):
    seq = Sequencer(chain.genesis, data / "sequencer.wal", capacity=1 << LOG2_ROWS, snapshot=snap,
                    idle_block_interval=1.0, clock=clock)
    ex = Executor(chain.genesis, log2_rows=LOG2_ROWS, retain_blocks=RETAIN,
                  archive=BlockArchive(data / "sequencer.wal", chain.genesis.digest))
    ex.restore(seq.snapshot)
    ex.replay(seq.take_replayed())
    seq.set_consumer(ex.apply)
    return seq, ex


def test_a_log_that_starts_later_serves_from_its_first_block(tmp_path, rng):
    rebuilt, data, clock, seq, ex = _synced(tmp_path, Chain(rng))
    assert ex.first_served == 4 and ex.archive.broken is None
    for _ in range(200):
        clock.t += 1.0
        seq.idle_block()
    ex.archive.flush()
    assert ex.archive.first == 4 and ex.first_served == 4 and ex.blocks_in_memory <= RETAIN + PRUNE_BLOCKS
    assert ex.block(4).parent_hash == rebuilt.state_commitment and ex.block(5).parent_hash == ex.block(4).hash
    with pytest.raises(HistoryUnavailable, match=f"block 3 is not available: this node prunes block history "
                                                  f"and serves blocks 4..{ex.height}$"):
        ex.block(3)
    seq.stop()
    ex.close()


def test_a_log_that_is_not_what_was_executed_stops_the_index_not_the_node(tmp_path, rng):
    chain = Chain(rng)
    wal = WriteAheadLog(tmp_path / "sequencer.wal", chain.genesis.digest)
    ex = Executor(chain.genesis, log2_rows=LOG2_ROWS, retain_blocks=4,
                  archive=BlockArchive(wal.path, chain.genesis.digest))
    for n in range(1, 120):
        mb = chain.mini_batch(0)
        logged = mb if n != 30 else MiniBatch(mb.number, mb.parent_hash, mb.hash, 1.0, [])  # another cut time
        wal.append(encode_record(logged), sync=False)
        ex.apply(mb)
    wal.close()
    ex.archive.flush()
    assert ex.height == 119 and ex.archive.last == 29
    assert ex.archive.broken == "block 30 in the log is not the one executed"
    assert ex.block(29).number == 29 and ex.block(119).number == 119
    with pytest.raises(HistoryUnavailable, match=r"block 30 is not available: .* serves blocks 1..29 and "
                                                 r"\d+..119 \(its index of the log stopped: block 30 in the log is not"):
        ex.block(30)
    ex.close()


def test_pipeline_executor_reads_old_blocks_from_the_sequencers_log(tmp_path, rng):
    # The plain class under the Ray actor: the sequencer actor opens the archive on its log.
    pytest.importorskip("ray")
    from node.pipeline.node_actors import ExecutorActor
    chain = Chain(rng)
    wal = WriteAheadLog(tmp_path / "sequencer.wal", chain.genesis.digest)
    actor = ExecutorActor(chain.genesis, log2_rows=LOG2_ROWS, retain_blocks=RETAIN)
    actor.open_archive(str(wal.path))
    held = []
    for _ in range(150):
        mb = chain.mini_batch(0)
        wal.append(encode_record(mb), sync=False)
        actor.apply(mb, [])
        held.append(actor.query("block", mb.number))
    wal.close()
    assert actor.executor.blocks_in_memory <= RETAIN + PRUNE_BLOCKS
    assert [actor.query("block", n) for n in range(1, 151)] == held
    assert actor.query("block_by_hash", held[0].hash) == held[0]
    actor.executor.close()


def test_a_synced_log_whose_index_is_lost_is_indexed_again(tmp_path, rng):
    chain = Chain(rng)
    _, data, clock, seq, ex = _synced(tmp_path, chain)
    for _ in range(200):
        clock.t += 1.0
        seq.idle_block()
    served = {n: ex.block(n) for n in range(4, ex.height + 1)}
    later = decode_snapshot(encode_snapshot(ex.snapshot(chain.genesis.digest)))   # the snapshot a node takes
    seq.stop()
    ex.close()

    def lose_the_index():
        for suffix in ("", "-wal", "-shm"):
            (data / f"sequencer.wal.index{suffix}").unlink(missing_ok=True)

    lose_the_index()            # the log's first parent is kept beside it: indexed again from block 4
    seq, ex = _sync_node(data, chain, later, clock)
    assert ex.archive.broken is None and ex.archive.first == 4 and ex.first_served == 4
    assert {n: ex.block(n) for n in served} == served
    seq.stop()
    ex.close()
    lose_the_index()            # and that file lost too: the index starts where memory does
    (data / "sequencer.wal.parent").unlink()
    seq, ex = _sync_node(data, chain, later, clock)
    start = later.blocks[0].number
    assert ex.archive.broken is None and ex.first_served == start > 4
    for _ in range(200):        # blocks executed since still leave memory into the index
        clock.t += 1.0
        seq.idle_block()
    ex.archive.flush()
    assert ex.archive.first == start and ex.archive.last > later.height and ex.blocks_in_memory <= RETAIN + PRUNE_BLOCKS
    assert {n: ex.block(n) for n in served if n >= start} == {n: b for n, b in served.items() if n >= start}
    with pytest.raises(HistoryUnavailable, match=f"serves blocks {start}..{ex.height}$"):
        ex.block(start - 1)
    seq.stop()
    ex.close()


def test_an_index_that_cannot_be_written_stops_the_index_not_the_node(tmp_path, rng):
    chain = Chain(rng)
    wal = WriteAheadLog(tmp_path / "sequencer.wal", chain.genesis.digest)
    archive = BlockArchive(wal.path, chain.genesis.digest)
    ex = Executor(chain.genesis, log2_rows=LOG2_ROWS, retain_blocks=4, archive=archive)

    def run(blocks):
        for _ in range(blocks):
            mb = chain.mini_batch(0)
            wal.append(encode_record(mb), sync=False)
            ex.apply(mb)

    run(100)
    archive.flush()
    indexed = archive.last
    # A full disk, as SQLite meets it: the index's file may not grow by a page.
    pages = archive._db.execute("PRAGMA page_count").fetchone()[0]
    archive._db.execute(f"PRAGMA max_page_count = {pages}")
    run(300)
    archive.flush()
    assert archive.broken.startswith("writing the index failed (database or disk is full)")
    assert archive.last == indexed and not archive._db.in_transaction     # rolled back
    run(10)                     # the node goes on
    assert ex.height == 410 and ex.block(410).number == 410 and ex.block(1).number == 1
    with pytest.raises(HistoryUnavailable, match=f"serves blocks 1..{indexed} and .*its index of the log "
                                                 f"stopped: writing the index failed"):
        ex.block(indexed + 1)
    oldest_held = ex.block(ex.height - ex.blocks_in_memory + 1)
    ex.close()
    wal.close()
    again = BlockArchive(tmp_path / "sequencer.wal", chain.genesis.digest)    # the next start resumes
    assert again.last == indexed and again.broken is None
    again.catch_up(oldest_held.number - 1, oldest_held.parent_hash)
    assert again.broken is None and again.last == oldest_held.number - 1
    assert again.block(indexed + 1).number == indexed + 1
    again.close()


RESUME = """
import os, sys
import node.blocks as blocks
from node.blocks import BlockArchive
blocks._CHUNK_BLOCKS = 16
commits, commit = [], BlockArchive._commit
def killed_after_three(self, *args):
    commit(self, *args)
    commits.append(1)
    if len(commits) == 3:
        os._exit(9)            # as kill -9 would, in the middle of the rebuild
BlockArchive._commit = killed_after_three
archive = BlockArchive(sys.argv[1], bytes.fromhex(sys.argv[2]))
archive.catch_up(int(sys.argv[3]), bytes.fromhex(sys.argv[4]))
"""


def test_a_rebuild_commits_in_chunks_and_resumes_after_a_kill(tmp_path):
    import subprocess
    import sys
    from pathlib import Path
    rng = np.random.default_rng(5)
    chain, ex, _ = logged_chain(tmp_path, rng, 120, retain_blocks=10**6)
    head = ex.block(120)
    ex.close()
    wal = tmp_path / "sequencer.wal"
    for suffix in ("", "-wal", "-shm"):
        Path(str(index_path(wal)) + suffix).unlink(missing_ok=True)
    done = subprocess.run([sys.executable, "-c", RESUME, str(wal), chain.genesis.digest.hex(), "120", head.hash.hex()],
                          cwd=Path(__file__).resolve().parents[1], capture_output=True, timeout=60)
    assert done.returncode == 9, done.stderr.decode()
    again = BlockArchive(wal, chain.genesis.digest)
    assert again.last == 48                 # three chunks of 16 blocks kept
    again.catch_up(120, head.hash)          # and the rest indexed from there
    assert again.broken is None and again.last == 120
    assert [again.block(n).hash for n in (1, 48, 49, 120)] == [ex.block(n).hash for n in (1, 48, 49, 120)]
    again.close()


def test_an_index_locked_by_another_process_is_not_taken_for_damage(tmp_path, monkeypatch):
    import sqlite3
    monkeypatch.setattr("node.blocks._BUSY_MS", 50)
    chain, ex, _ = logged_chain(tmp_path, np.random.default_rng(4), 150, retain_blocks=RETAIN)
    indexed = ex.archive.last
    ex.close()
    holder = sqlite3.connect(index_path(tmp_path / "sequencer.wal"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")           # another process writing it
    locked = BlockArchive(tmp_path / "sequencer.wal", chain.genesis.digest)
    assert locked.broken.startswith("the index cannot be opened: database is locked")
    assert locked.block(1) is None and locked.tx_blocks(os.urandom(32)) == []
    locked.close()
    holder.execute("ROLLBACK")
    holder.close()
    again = BlockArchive(tmp_path / "sequencer.wal", chain.genesis.digest)    # kept, not rebuilt
    assert again.broken is None and again.last == indexed
    again.close()
