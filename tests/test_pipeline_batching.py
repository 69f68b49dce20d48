"""Work-conserving batching between the coordinator and the executor actor (plain classes, no
Ray cluster): the coordinator's demand (free provers, batches given, pace) and the executor
actor sealing one batch per free prover, not one per tick."""

import asyncio
import os
import threading
import time

from node.pipeline.coordinator import Coordinator
from node.pipeline.node_actors import BatchRoom, ExecutorActor
from node.sequencer import Sequencer

from tests.test_node_executor import Chain
from tests.test_node_sequencer import Accounts


def test_coordinator_demand_counts_free_workers_batches_given_and_pace():
    c = Coordinator({"w0": None, "w1": None}, submitter=None)
    assert c.demand() == (0, 0, 0.0)                   # not started: no worker idle
    asyncio.run(c.enqueue(1, 5, [None]))               # queued, nobody to take it
    assert c.demand() == (0, 1, 0.0)
    c.idle = ["w0", "w1"]
    assert c.demand() == (1, 1, 0.0)                   # one of the two idle has batch 1 queued
    c.proof_s.extend([0.4, 0.6, 0.5])
    assert c.demand() == (1, 1, 0.25)                  # median proof ÷ two workers
    c.dead.add("w1")
    assert c.demand()[2] == 0.0                        # one live worker: no pacing


def test_executor_actor_seals_once_per_free_prover(rng):
    chain = Chain(rng)
    ex = ExecutorActor(chain.genesis, log2_rows=4, batch_deadline=None)
    assert ex.apply(chain.mini_batch(2), [0.0, 0.0]) == []      # no prover free: stays open
    ex.provers_free(1, 0, 0.0)
    assert ex.poll() == [(0, 1)]                                # L1 batch 1: executor index 0
    assert ex.apply(chain.mini_batch(3), [0.0] * 3) == []       # batch 1 not given yet: no sliver
    assert ex.provers_waiting() == 0
    ex.provers_free(1, 1, 0.0)                                  # given, and the prover still free
    assert ex.poll() == [(1, 2)]
    ex.provers_free(2, 2, 0.0)
    assert ex.apply(chain.mini_batch(1), [0.0]) == [(2, 3)]     # sealed on arrival
    assert ex.apply(chain.mini_batch(1), [0.0]) == [(3, 4)]     # the second free prover's
    assert ex.apply(chain.mini_batch(1), [0.0]) == []           # both served


def test_wake_cuts_and_ticks_at_once(tmp_path):
    """A free prover wakes the sequencer's cutting thread: what is open is cut and the executor
    polled now, not after the cut interval or the idle tick (both 5 s here)."""
    acc = Accounts(1)
    seq = Sequencer(acc.genesis, tmp_path / "wal", capacity=64, cut_interval=5.0)
    cuts, ticked = [], threading.Event()
    seq.start(on_cut=cuts.append, on_tick=lambda now: ticked.set(), tick=5.0)
    try:
        seq.submit(acc.transfer(0, os.urandom(20)))          # the first cut is due at once
        ticked.clear()
        t = time.monotonic()
        seq.wake()
        assert ticked.wait(2.0) and time.monotonic() - t < 2.0  # idle: the tick runs now
        seq.admit(seq.recover([acc.transfer(0, os.urandom(20))]))
        ticked.clear()
        seq.wake()
        assert ticked.wait(2.0) and len(cuts) == 2             # open: cut now, within the interval
    finally:
        seq.stop()


def test_batch_room_cuts_mini_batches_to_fill_the_open_batch(rng):
    """Mini-batches cut to the open batch's room fill it exactly: the executor seals it full,
    never short before a mini-batch that would overflow it."""
    chain = Chain(rng)
    ex = ExecutorActor(chain.genesis, log2_rows=4, batch_deadline=None)   # 16 rows a batch
    room = BatchRoom(16)
    sizes, waiting = [], 40                     # 40 transfers arrive at once (a heavy load)
    while waiting:
        n = min(waiting, room.room())
        mb = chain.mini_batch(n)
        room.cut(mb.number, n)
        for _, last_block in ex.apply(mb, [0.0] * n):
            room.sealed_through(last_block)
        sizes.append(n)
        waiting -= n
    assert sizes == [16, 16, 8] and room.room() == 8
    assert [len(b.transfers) for b in ex.held.values()] == [16, 16]
    assert BatchRoom(16, open_rows=5, height=3).room() == 11    # resumed with an open batch
    full = BatchRoom(4)
    full.cut(1, 4)
    assert full.room() == 1                                    # full: sealed at once, never 0
