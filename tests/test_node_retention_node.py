"""Block retention as clients see it: a node holding only a few recent blocks in memory answers
the JSON-RPC block, transaction, receipt and log queries for every older block from its log,
the same as a node holding them all; killed with SIGKILL and restarted, it answers the same."""

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from web3 import Web3

from node.executor import PRUNE_BLOCKS
from node.genesis import dev_genesis
from node.local_node import LocalNode
from node.pipeline.loadgen import dev_keys, presign
from node.transactions import address_of

CHAIN = 23119
KEYS = dev_keys(4, "retention")
RETAIN = 8
REPO = Path(__file__).resolve().parents[1]


def genesis():
    return dev_genesis(CHAIN, {address_of(k): 10**15 for k in KEYS})


def rpc_batch(session, url, calls):
    r = session.post(url, json=[{"jsonrpc": "2.0", "id": i, "method": m, "params": p}
                                for i, (m, p) in enumerate(calls)], timeout=30)
    return [reply.get("result", reply.get("error")) for reply in sorted(r.json(), key=lambda x: x["id"])]


def answers(url, height):
    """What the node at `url` answers about each block up to `height` and each transaction in
    them, by number, by hash and by position, with receipts, logs and fee history."""
    out = {}
    with requests.Session() as s:
        for start in range(0, height + 1, 100):
            numbers = range(start, min(start + 100, height + 1))
            blocks = rpc_batch(s, url, [("eth_getBlockByNumber", [hex(n), True]) for n in numbers])
            calls = []
            for n, b in zip(numbers, blocks):
                out["block", n] = b
                calls += [("eth_getBlockByHash", [b["hash"], False]), ("eth_getBlockReceipts", [hex(n)]),
                          ("eth_getBlockTransactionCountByHash", [b["hash"]]),
                          ("eth_getLogs", [{"blockHash": b["hash"]}])]
                for i, tx in enumerate(b["transactions"]):
                    calls += [("eth_getTransactionByHash", [tx["hash"]]),
                              ("eth_getTransactionReceipt", [tx["hash"]]),
                              ("eth_getTransactionByBlockHashAndIndex", [b["hash"], hex(i)])]
            for call, reply in zip(calls, rpc_batch(s, url, calls)):
                out[call[0], json.dumps(call[1])] = reply
        out["fees"] = rpc_batch(s, url, [("eth_feeHistory", ["0x40", hex(height), [50]])])
    return out


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_small_retention_answers_old_blocks_as_a_node_holding_them(tmp_path):
    node = None
    early = []

    def verified(batch):           # a prover and an L1 that accept every batch at once
        early.append(batch) if node is None else node.mark_verified(batch.index)

    def start(retain):
        nonlocal node
        node = None
        n = LocalNode(genesis(), tmp_path / "wal", log2_rows=5, cut_interval=0.002, batch_deadline=0.05,
                      idle_block_interval=0.01, retain_blocks=retain, on_batch=verified)
        node = n
        for b in early:
            n.mark_verified(b.index)
        early.clear()
        return n.start()

    live = start(RETAIN)
    try:
        raws = presign(KEYS, 60, CHAIN)
        most = 0
        for k in range(0, 60, 6):           # transfers spread over many blocks, idle ones between
            live.sequencer.submit_many(raws[k:k + 6])
            for _ in range(5):
                most = max(most, live.executor.blocks_in_memory)
                time.sleep(0.01)
        wait_for(lambda: live.executor.height >= 200 and live.executor.finalized_height == live.executor.height,
                 30, "200 blocks, every batch verified")
        most = max(most, live.executor.blocks_in_memory)
        # Memory holds the retention, a pruning step and the few blocks of a batch not yet sealed
        # (its 50 ms deadline: about 5 idle blocks, more on a loaded machine).
        assert most <= RETAIN + PRUNE_BLOCKS + 16 and live.executor.first_served == 1
        height = live.executor.height
        w3 = Web3(Web3.HTTPProvider(live.url))
        first = w3.eth.get_block(1, full_transactions=True)
        tx = next(t for n in range(1, height) for t in w3.eth.get_block(n, full_transactions=True).transactions)
        live.executor.archive.flush()       # the queue of blocks waiting for the index, written
        assert live.executor.archive.last >= tx.blockNumber and first.number == 1
        assert w3.eth.get_transaction_receipt(tx.hash).status == 1
        assert w3.eth.get_transaction(tx.hash).blockHash == w3.eth.get_block(tx.blockNumber).hash
        from_log = answers(live.url, height)
    finally:
        live.stop()
    assert sum(len(from_log["block", n]["transactions"]) for n in range(height + 1)) == 60

    held = start(10**6)                     # the same log, every block in memory
    try:
        assert held.executor.blocks_in_memory == held.executor.height >= height
        assert answers(held.url, height) == from_log
    finally:
        held.stop()


HARNESS = """
import json, signal, sys, threading
from node.genesis import load_genesis
from node.local_node import LocalNode
node, early = None, []
def verified(batch):  # a prover and an L1 that accept every batch at once
    early.append(batch) if node is None else node.mark_verified(batch.index)
node = LocalNode(load_genesis(sys.argv[1]), sys.argv[2], log2_rows=5, cut_interval=0.002, batch_deadline=0.05,
                 idle_block_interval=0.01, retain_blocks=int(sys.argv[3]), on_batch=verified)
for b in early:
    node.mark_verified(b.index)
node.start()
print(json.dumps({"url": node.url}), flush=True)
threading.Event().wait()
"""


def start_process(tmp_path, name):
    log = open(tmp_path / f"{name}.log", "wb")
    proc = subprocess.Popen([sys.executable, "-c", HARNESS, str(tmp_path / "genesis.json"), str(tmp_path / "wal"),
                             str(RETAIN)], cwd=REPO, stdout=subprocess.PIPE, stderr=log)
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    line = proc.stdout.readline() if ready else b""
    if not line:
        proc.kill()
        pytest.fail(f"node did not start: {(tmp_path / f'{name}.log').read_text()}")
    return proc, json.loads(line)["url"]


def test_sigkill_and_restart_answer_the_same(tmp_path):
    genesis().save(tmp_path / "genesis.json")
    proc, url = start_process(tmp_path, "first")
    try:
        with requests.Session() as s:
            raws = presign(KEYS, 30, CHAIN)
            for k in range(0, 30, 5):
                rpc_batch(s, url, [("zkpipe_sendRawTransactions", [["0x" + r.hex() for r in raws[k:k + 5]]])])
                time.sleep(0.05)
            wait_for(lambda: int(rpc_batch(s, url, [("eth_getBlockByNumber", ["finalized", False])])[0]["number"], 16)
                     >= 150, 30, "150 blocks, every batch verified")
            height = int(rpc_batch(s, url, [("eth_blockNumber", [])])[0], 16) - 1
        before = answers(url, height)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    assert sum(len(before["block", n]["transactions"]) for n in range(height + 1)) == 30
    proc, url = start_process(tmp_path, "again")
    try:
        assert answers(url, height) == before
        # Pruning resumed: the node went on far enough that blocks up to `height` left its memory
        # again (for the archive: its queue, then the index).
        with requests.Session() as s:
            wait_for(lambda: int(rpc_batch(s, url, [("eth_blockNumber", [])])[0], 16)
                     > height + RETAIN + PRUNE_BLOCKS + 40, 30, "blocks beyond the retention again")
        assert answers(url, height) == before
    finally:
        proc.terminate()
        proc.wait(10)
