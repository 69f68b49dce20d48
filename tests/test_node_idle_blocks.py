"""Idle blocks: a sequencer with nothing to cut makes an empty block every `idle_block_interval`
seconds, logged like any block, so that clients waiting for the next block go on. An empty block
opens no proof batch and seals none; finality covers the empty blocks after a batch; a restart
(after kill -9 too) replays the same heights and hashes; JSON-RPC and WebSocket serve them."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from websockets.sync.client import connect

from node.blocks import GENESIS_HASH, MiniBatch, block_hash
from node.errors import InvalidInput
from node.executor import Executor
from node.genesis import DEV_FAUCET_PRIVATE_KEY, dev_genesis
from node.local_node import LocalNode
from node.sequencer import Sequencer
from node.transactions import Transfer, sign_transfer

from .test_node_sequencer import Accounts, FakeClock

ROOT = Path(__file__).resolve().parents[1]


def node_parts(tmp_path, acc, clock, **kw):
    """A sequencer (idle blocks every second of `clock`) and the executor it feeds, as a node
    wires them: the executor re-applies what the log holds, then takes every new block."""
    seq = Sequencer(acc.genesis, tmp_path / "wal", capacity=64, clock=clock, idle_block_interval=1.0, **kw)
    ex = Executor(acc.genesis, log2_rows=6, batch_deadline=None, clock=clock)
    ex.replay(seq.take_replayed())
    seq.set_consumer(ex.apply)
    return seq, ex


def send(seq, acc, n, to):
    """Admit n transfers from account 0 and cut them into one block."""
    results, _ = seq.admit(seq.recover([acc.transfer(0, to, 1) for _ in range(n)]))
    assert all(isinstance(r, Transfer) for r in results)
    return seq.cut()


def seal_for_a_free_prover(seq, ex):
    """What the node does when a prover is free: seal the open batch and log the seal."""
    sealed = ex.poll(provers_free=1)
    for b in sealed:
        seq.record_seal(b.index, b.last_block)
    return sealed


def test_an_idle_sequencer_makes_an_empty_block_after_the_interval(tmp_path):
    acc, clock = Accounts(1), FakeClock(100.0)
    seq, ex = node_parts(tmp_path, acc, clock)
    assert seq.idle_delay(100.0) == 1.0 and seq.idle_block() is None
    clock.t = 100.999
    assert seq.idle_block() is None
    clock.t = 101.0
    mb = seq.idle_block()
    assert (mb.number, mb.parent_hash, mb.transfers) == (1, GENESIS_HASH, [])
    assert mb.hash == block_hash(GENESIS_HASH, 1, []) and ex.height == 1 and ex.block(1).hash == mb.hash
    assert seq.idle_block() is None and seq.idle_delay(101.0) == 1.0    # the next one a second on
    # While transfers flow (a block every half second), no empty block falls due.
    to = os.urandom(20)
    for step in range(6):
        clock.t = 101.5 + 0.5 * step
        send(seq, acc, 1, to)
        assert seq.idle_block() is None and seq.idle_delay(clock.t) == 1.0
    results, _ = seq.admit(seq.recover([acc.transfer(0, to, 1)]))
    clock.t += 5.0                    # admitted, not yet cut: transfers go first, never an empty block
    assert seq.idle_delay(clock.t) is None and seq.idle_block() is None
    assert seq.cut().transfers == results
    assert [len(ex.block(n).transfers) for n in range(1, ex.height + 1)] == [0, 1, 1, 1, 1, 1, 1, 1]
    seq.stop()


@pytest.mark.parametrize("off", [None, 0, 0.0, "0", "off", " Off "])
def test_idle_blocks_off(tmp_path, off):
    acc, clock = Accounts(1), FakeClock(100.0)
    seq = Sequencer(acc.genesis, tmp_path / "wal", capacity=64, clock=clock, idle_block_interval=off)
    clock.t = 1e9
    assert seq.idle_block_interval is None and seq.idle_delay(clock.t) is None and seq.idle_block() is None
    seq.stop()


def test_bad_idle_block_intervals_are_refused_clearly(tmp_path, capsys):
    from node import cli
    from node.pipeline.node import NodeConfig

    acc = Accounts(1)
    for bad in (-1, "-0.5", "nan", float("inf"), "soon", True, [1], 0.001):
        with pytest.raises(InvalidInput, match="idle block interval must be"):
            Sequencer(acc.genesis, tmp_path / "wal", capacity=64, idle_block_interval=bad)
    assert not (tmp_path / "wal").exists()             # refused before the log was opened
    with pytest.raises(InvalidInput, match="idle block interval must be a finite number of seconds"):
        NodeConfig(data_dir=str(tmp_path / "d"), idle_block_interval=-2)
    assert NodeConfig(data_dir=str(tmp_path / "d"), idle_block_interval="off").idle_block_interval is None
    assert NodeConfig(data_dir=str(tmp_path / "d")).idle_block_interval == 1.0
    for argv in (["node", "--data-dir", str(tmp_path / "d"), "--idle-block-interval", "-1"],
                 ["devnet", "--idle-block-interval", "soon"]):
        with pytest.raises(SystemExit) as stop:
            cli.main(argv)
        assert stop.value.code == 2
        assert "argument --idle-block-interval: idle block interval must be" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def test_the_cutting_thread_makes_idle_blocks_and_keeps_ticking(tmp_path):
    acc = Accounts(1)
    seq = Sequencer(acc.genesis, tmp_path / "wal", capacity=64, idle_block_interval=0.2)
    blocks, ticks = [], []
    seq.start(on_cut=blocks.append, on_tick=ticks.append, tick=0.01)
    try:
        deadline = time.monotonic() + 5
        while len(blocks) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [mb.transfers for mb in blocks[:2]] == [[], []]
        assert blocks[1].cut_time - blocks[0].cut_time >= 0.19
        # Waiting for an idle block does not hold up the tick (the executor's polls).
        assert len(ticks) >= 10
        # A transfer does not wait for the idle timer: it is cut at once.
        t = time.monotonic()
        seq.submit(acc.transfer(0, os.urandom(20), 5), timeout=5)
        assert time.monotonic() - t < 0.15 and blocks[-1].transfers
    finally:
        seq.stop()
    assert [mb.number for mb in blocks] == list(range(1, len(blocks) + 1))


def test_empty_blocks_in_proof_batches_finality_and_replay(tmp_path):
    acc, clock = Accounts(1), FakeClock(100.0)
    seq, ex = node_parts(tmp_path, acc, clock)
    to = os.urandom(20)

    def idle():
        clock.t += 1.0
        return seq.idle_block()

    assert idle().number == 1
    assert seal_for_a_free_prover(seq, ex) == [] and ex.seal() is None and ex.batch_count == 0
    assert ex.finalized_height == ex.safe_height == 1          # genesis state: final
    clock.t += 0.5
    assert send(seq, acc, 3, to).number == 2
    assert idle().number == 3                                  # inside the open batch
    assert ex.finalized_height == ex.safe_height == 1 and ex.open_transfers == 3
    (b0,) = seal_for_a_free_prover(seq, ex)
    assert (b0.index, b0.first_block, b0.last_block, len(b0.transfers)) == (0, 2, 3, 3)
    assert idle().number == 4 and idle().number == 5          # between batches: in none yet
    assert seal_for_a_free_prover(seq, ex) == [] and ex.block(4).batch_index == 1
    assert ex.block_receipts(4) == [] and ex.finalized_height == 1
    ex.mark_proven(0)
    assert (ex.safe_height, ex.finalized_height) == (5, 1)    # batch 0 and the empty blocks after it
    ex.mark_verified(0)
    assert ex.finalized_height == 5
    clock.t += 0.5
    mb6 = send(seq, acc, 2, to)
    assert ex.finalized_height == 5 and ex.receipt(mb6.transfers[0].hash).batch_index == 1
    assert idle().number == 7 and ex.finalized_height == 5
    (b1,) = seal_for_a_free_prover(seq, ex)
    assert (b1.first_block, b1.last_block, len(b1.transfers)) == (6, 7, 2)
    assert idle().number == 8
    ex.mark_verified(1)
    assert ex.finalized_height == ex.height == 8
    live = [(n, ex.block(n).hash, ex.block(n).batch_index) for n in range(1, 9)]
    batches = [(b.index, b.first_block, b.last_block) for b in (b0, b1)]
    head = seq.head_hash
    seq.wal.close()                                            # a crash: no orderly stop

    again, replayed = node_parts(tmp_path, acc, FakeClock(200.0))
    assert [(n, replayed.block(n).hash, replayed.block(n).batch_index) for n in range(1, 9)] == live
    assert [(b.index, b.first_block, b.last_block) for b in replayed.take_sealed()] == batches
    assert again.height == 8 and again.head_hash == head
    replayed.mark_verified(1)
    assert replayed.finalized_height == 8
    # A snapshot with empty blocks restores the same chain and finality.
    restored = Executor(acc.genesis, log2_rows=6, batch_deadline=None)
    restored.restore(replayed.snapshot(acc.genesis.digest))
    assert restored.finalized_height == 8 and restored.block(8).hash == live[-1][1]
    # And the chain goes on from the same head.
    again.clock.t += 1.0
    mb = again.idle_block()
    assert (mb.number, mb.parent_hash) == (9, head) and replayed.height == 9
    again.stop()


def test_a_full_batch_then_idle_blocks_seal_nothing_more(tmp_path):
    acc, clock = Accounts(1), FakeClock(100.0)
    seq = Sequencer(acc.genesis, tmp_path / "wal", capacity=64, clock=clock, idle_block_interval=1.0)
    ex = Executor(acc.genesis, log2_rows=6, max_batch_transfers=4, batch_deadline=0.5, clock=clock)
    seq.set_consumer(ex.apply)
    send(seq, acc, 4, os.urandom(20))
    assert [len(b.transfers) for b in ex.take_sealed()] == [4]
    for _ in range(3):
        clock.t += 1.0
        seq.idle_block()
    assert ex.poll(provers_free=1) == [] and ex.poll(clock.t + 10) == [] and ex.take_sealed() == []
    assert ex.height == 4 and ex.batch_count == 1
    seq.stop()


def test_rpc_and_websocket_serve_idle_blocks(tmp_path):
    node = LocalNode(dev_genesis(), tmp_path / "wal", log2_rows=6, cut_interval=0.002,
                     idle_block_interval=0.1).start()
    try:
        def rpc(method, *params):
            reply = requests.post(node.url, json={"jsonrpc": "2.0", "id": 1, "method": method,
                                                  "params": list(params)}, timeout=10).json()
            return reply["result"]

        block_filter = rpc("eth_newBlockFilter")
        heads = []
        with connect(node.server.ws_url, open_timeout=5) as ws:
            ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newHeads"]}))
            assert "result" in json.loads(ws.recv(timeout=5))
            while len(heads) < 3:
                heads.append(json.loads(ws.recv(timeout=5))["params"]["result"])
        numbers = [int(h["number"], 16) for h in heads]
        assert numbers == list(range(numbers[0], numbers[0] + 3))
        assert all(b["parentHash"] == a["hash"] for a, b in zip(heads, heads[1:]))
        assert int(rpc("eth_blockNumber"), 16) >= numbers[-1]
        block = rpc("eth_getBlockByNumber", heads[1]["number"], True)
        assert block["hash"] == heads[1]["hash"] and block["transactions"] == []
        assert rpc("eth_getBlockReceipts", heads[1]["number"]) == []
        assert rpc("eth_getBlockTransactionCountByNumber", heads[1]["number"]) == "0x0"
        assert {h["hash"] for h in heads} <= set(rpc("eth_getFilterChanges", block_filter))
        # Every block is final, none sealed: nothing to prove on an idle node.
        assert rpc("eth_getBlockByNumber", "finalized", False)["number"] != "0x0"
        assert node.executor.batch_count == 0 and node.executor.take_sealed() == []
    finally:
        node.stop()


def test_kill_9_then_the_same_heights_and_hashes(tmp_path):
    wal = tmp_path / "node.wal"
    proc = subprocess.Popen([sys.executable, "-m", "node.local_node", "--dev", "--wal", str(wal), "--port", "0",
                             "--idle-block-interval", "0.1"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        url = json.loads(proc.stdout.readline())["url"]

        def rpc(method, *params):
            return requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)},
                                 timeout=10).json()["result"]
        genesis = dev_genesis()
        raw = sign_transfer(DEV_FAUCET_PRIVATE_KEY, chain_id=genesis.chain_id, nonce=0, to=os.urandom(20), value=7)
        deadline = time.monotonic() + 20
        while int(rpc("eth_blockNumber"), 16) < 2:
            assert time.monotonic() < deadline, "no idle block"
            time.sleep(0.05)
        rpc("eth_sendRawTransaction", "0x" + raw.hex())           # a transfer among idle blocks
        height = int(rpc("eth_blockNumber"), 16)
        while int(rpc("eth_blockNumber"), 16) < height + 2:
            assert time.monotonic() < deadline, "no idle block after the transfer"
            time.sleep(0.05)
        height = int(rpc("eth_blockNumber"), 16)
        served = [rpc("eth_getBlockByNumber", hex(n), False) for n in range(1, height + 1)]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert sum(len(b["transactions"]) for b in served) == 1
    # The restart's replay: the same heights and hashes (the log may hold blocks made after the
    # last read, never fewer).
    seq = Sequencer(genesis, wal, capacity=1 << 16)
    try:
        logged = [e for e in seq.take_replayed() if isinstance(e, MiniBatch)]
        assert len(logged) >= height
        assert [("0x" + mb.hash.hex(), hex(mb.number)) for mb in logged[:height]] == \
            [(b["hash"], b["number"]) for b in served]
        assert [e for e in logged if e.transfers][0].number == next(
            int(b["number"], 16) for b in served if b["transactions"])
    finally:
        seq.wal.close()


def test_the_pipeline_keeps_nothing_for_idle_blocks(tmp_path):
    """No transaction events, no submission times kept, no room taken in the open batch and no
    snapshot for idle blocks alone; all of them again once a transfer comes."""
    from node.pipeline.node_actors import BatchRoom, ExecutorActor

    acc, clock = Accounts(1), FakeClock(100.0)
    seq = Sequencer(acc.genesis, tmp_path / "wal", capacity=64, clock=clock, idle_block_interval=1.0)
    (tmp_path / "snapshots").mkdir()
    actor = ExecutorActor(acc.genesis, log2_rows=6, batch_deadline=None, work_conserving=False,
                          snapshot_dir=str(tmp_path / "snapshots"), snapshot_s=0.0)
    events, room = [], BatchRoom(64)
    actor.sink = events.append

    def on_cut(mb):
        room.cut(mb.number, len(mb.transfers))
        actor.apply(mb, [time.time()] * len(mb.transfers))
    seq.set_consumer(on_cut)
    for _ in range(3):
        clock.t += 1.0
        seq.idle_block()
    assert actor.executor.height == 3 and actor.block_times == {} and room.room() == 64
    assert [e for e in events if e["type"] == "txs"] == [] and actor.snapshot_height == 0
    assert list((tmp_path / "snapshots").iterdir()) == []
    send(seq, acc, 2, os.urandom(20))
    assert [e["stage"] for e in events if e["type"] == "txs"] == ["executed"]
    assert list(actor.block_times) == [4] and room.room() == 62 and actor.snapshot_height == 4
    actor.save_snapshot()                                   # waits for the writer
    seq.stop()
