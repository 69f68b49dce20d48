"""`zkpipe node` killed with SIGKILL at every stage of a transfer's way to the L1, restarted on the
same data directory each time: every acknowledged transfer ends verified on the L1 exactly once,
the L1's state is the executor's, no batch is sent to the L1 twice and no kept proof is made
again. Real processes throughout: the node (and its Ray) in a process of its own, anvil, and an
HTTP relay between them that can hold the L1's answers."""

import os
import threading

import pytest

pytest.importorskip("ray")

from node.l1.anvil import find_anvil, launch_anvil  # noqa: E402
from node.l1.client import Log, Receipt  # noqa: E402
from node.l1.rollup import RollupContract, compile_rollup  # noqa: E402
from node.l1.rpc import RpcL1  # noqa: E402
from node.pipeline.circuit import LedgerCircuit  # noqa: E402

from .test_node_service_support import (LOG2_ROWS, HoldingRelay, NodeProcess, Sender,  # noqa: E402
                                        make_genesis, wait_for, wal_replay)

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(find_anvil() is None, reason="anvil is not installed (scripts/setup.sh)")]


def proofs(data):
    return {p.name: p.read_bytes() for p in (data / "proofs").glob("batch-*.json")}


def l1_view(data, l1_url):
    """The rollup contract the data directory names, on the L1 at `l1_url`."""
    import json

    from prover.keys import dev_keys
    meta = json.loads((data / "node.json").read_text())
    circuit = LedgerCircuit(LOG2_ROWS)
    pk, vk = dev_keys(circuit.air(), LOG2_ROWS, meta["seed"].encode())
    l1 = RpcL1(l1_url)
    return circuit, pk, l1, RollupContract(l1, compile_rollup(circuit.air(), vk, circuit.layout()), meta["rollup"])


def test_kill9_at_every_stage_then_resume(tmp_path):
    anvil = launch_anvil()
    relay = HoldingRelay(anvil.url)
    gpath = tmp_path / "genesis.json"
    genesis, keys = make_genesis(gpath)
    sender = Sender(keys, [os.urandom(20) for _ in range(3)])
    data = tmp_path / "data"
    log = tmp_path / "node.log"
    full = 1 << LOG2_ROWS
    node = None

    def start():
        n = NodeProcess(data, gpath, "--l1", relay.url, log=log)
        return n, n.wait_running()

    try:
        # 1. While admitting: transfers streaming in, some acknowledged, one under way.
        node, url = start()
        stop = threading.Event()
        stream = threading.Thread(target=sender.send, args=(url, 10**6, stop))
        stream.start()
        wait_for(lambda: len(sender.acked) >= 10, 60, "10 acknowledgements")
        node.kill()
        stop.set()
        stream.join(30)

        # 2. While a batch is being proven: a full batch is sealed at its last transfer.
        node, url = start()
        sender.send(url, full)
        node.kill()

        # 3. Between a proof and its submission: the L1 answers nothing, proofs are kept.
        node, url = start()
        relay.set("hold")
        before = set(proofs(data))
        sender.send(url, full)
        wait_for(lambda: len(set(proofs(data)) - before) >= 1, 120, "a proof made while the L1 is silent")
        node.kill()
        kept = proofs(data)

        # 4. During the submission: the transaction lands, its answer never reaches the node.
        relay.set("land")
        node, url = start()
        wait_for(lambda: relay.sent_while_landing >= 1, 120, "a submission")
        node.kill()

        # Resumed for good: some more transfers, then everything on the L1.
        relay.set("pass")
        node, url = start()
        sender.send(url, 3)
        circuit, pk, l1, rollup = l1_view(data, anvil.url)
        wait_for(lambda: sender.all_finalized(url), 120, "every block finalized on the L1")
        assert node.stop() == 0, node.output()
        node = None
    finally:
        if node is not None:
            node.kill()
        relay.close()

    try:
        ex = wal_replay(data, genesis)
        height = rollup.last_batch_index()
        assert ex.batch_count == height and ex.open_transfers == 0
        # Every acknowledged transfer executed once, in a batch the L1 verified.
        hashes = [t.hash for b in ex.blocks[1:] for t in b.transfers]
        assert len(hashes) == len(set(hashes)) >= len(sender.acked) > 2 * full
        for h in sender.acked:
            r = ex.receipt(h)
            assert r is not None and r.batch_index < height
        # The L1: each batch once, in order, not even a refused second try; its state is ours.
        logs = [Log(address=lg["address"], topics=[bytes(t) for t in lg["topics"]], data=bytes(lg["data"]))
                for lg in l1.w3.eth.get_logs({"address": l1.w3.to_checksum_address(rollup.address),
                                              "fromBlock": 0})]
        events = rollup.events(Receipt(status=True, tx_gas=0, exec_gas=0, logs=logs))
        assert [e.batch_index for e in events] == list(range(1, height + 1))
        sent = [tx for n in range(l1.block_number() + 1)
                for tx in l1.w3.eth.get_block(n, full_transactions=True)["transactions"]
                if tx["to"] and tx["to"].lower() == rollup.address.lower()]
        assert len(sent) == height
        assert rollup.state_commitment() == circuit.state_commitment(pk, ex.state.address_column(),
                                                                     ex.state.balances)
        # Proofs kept before the crashes were submitted as they were, not made again.
        after = proofs(data)
        assert all(after[name] == body for name, body in kept.items())
    finally:
        anvil.stop()
