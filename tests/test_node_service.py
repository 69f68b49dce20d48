"""`zkpipe node` as a service: the embedded L1's chain continues across a kill -9 and a restart on
the same data directory; an L1 reset under the node stops it at once with an error naming the
contract and the chain; a data directory refuses another chain's settings; a genesis the L1
cannot take is refused and not kept; a bad deposit confirmation depth is refused before anything
starts; an L1 that goes back past verified batches gets them again, running or restarted."""

import json
import os
import threading
import time

import pytest

pytest.importorskip("ray")
pytest.importorskip("pyrevm")

from node.l1.anvil import find_anvil, launch_anvil  # noqa: E402
from node.l1.embedded import EmbeddedL1  # noqa: E402
from node.l1.rollup import RollupContract, compile_rollup  # noqa: E402
from node.pipeline.circuit import LedgerCircuit  # noqa: E402

from .test_node_service_support import (CHAIN, LOG2_ROWS, NodeProcess, Sender, make_genesis, wait_for,  # noqa: E402
                                        wal_replay)

pytestmark = pytest.mark.slow


def test_embedded_l1_continues_after_kill9(tmp_path):
    gpath = tmp_path / "genesis.json"
    genesis, keys = make_genesis(gpath)
    sender = Sender(keys, [os.urandom(20) for _ in range(3)])
    data = tmp_path / "data"
    node = NodeProcess(data, gpath, log=tmp_path / "node.log")
    try:
        url = node.wait_running()
        stop = threading.Event()
        stream = threading.Thread(target=sender.send, args=(url, 10**6, stop))
        stream.start()
        wait_for(lambda: len(sender.acked) >= 1.5 * (1 << LOG2_ROWS), 60, "a batch and a half acknowledged")
        node.kill()                           # the L1 host dies with it: only its file remains
        stop.set()
        stream.join(30)

        node = NodeProcess(data, gpath, log=tmp_path / "node.log")
        url = node.wait_running()
        resumed = [line for line in node.printed if line.startswith(("L1:", "resumed:"))]
        assert "last batch 0" not in resumed[0] and resumed[1].startswith("resumed:"), node.printed
        sender.send(url, 5)
        wait_for(lambda: sender.all_finalized(url), 120, "every block finalized on the L1")
        assert node.stop() == 0, node.output()
    finally:
        node.kill()

    ex = wal_replay(data, genesis)
    meta = json.loads((data / "node.json").read_text())
    from prover.keys import dev_keys
    circuit = LedgerCircuit(LOG2_ROWS)
    pk, vk = dev_keys(circuit.air(), LOG2_ROWS, meta["seed"].encode())
    l1 = EmbeddedL1(journal=data / "l1" / "chain.jsonl")
    try:
        rollup = RollupContract(l1, compile_rollup(circuit.air(), vk, circuit.layout()), meta["rollup"])
        height = rollup.last_batch_index()
        assert height == ex.batch_count >= 2 and ex.open_transfers == 0
        for h in sender.acked:
            assert ex.receipt(h).batch_index < height
        submitted = [r for to, _, r in l1.replayed if to.lower() == rollup.address.lower()]
        assert len(submitted) == height and all(r.status for r in submitted)
        assert rollup.state_commitment() == circuit.state_commitment(pk, ex.state.address_column(), ex.state.balances)
    finally:
        l1.close()


@pytest.mark.skipif(find_anvil() is None, reason="anvil is not installed (scripts/setup.sh)")
def test_l1_reset_stops_the_node_at_once(tmp_path):
    gpath = tmp_path / "genesis.json"
    make_genesis(gpath)
    anvil = launch_anvil()
    node = NodeProcess(tmp_path / "data", gpath, "--l1", anvil.url, log=tmp_path / "node.log")
    try:
        node.wait_running()
        address = json.loads((tmp_path / "data" / "node.json").read_text())["rollup"]
        anvil.stop()
        anvil = launch_anvil(port=anvil.port)      # the same URL, an empty chain
        t = time.monotonic()
        rc = node.proc.wait(30)
        took = time.monotonic() - t
        out = node.output()
        assert rc == 1 and took < 15, (rc, took, out)
        assert f"no rollup contract at {address}" in out and "chain id 31337" in out, out
        assert "Traceback" not in out

        # Started again on it: the same error, before anything else runs.
        again = NodeProcess(tmp_path / "data", gpath, "--l1", anvil.url, log=tmp_path / "again.log")
        assert again.proc.wait(120) == 1
        assert f"no rollup contract at {address}" in again.output()
    finally:
        node.kill()
        anvil.stop()


def test_data_dir_refuses_other_settings(tmp_path):
    from node.datadir import DataDir, DataDirInUse, DataDirMismatch
    from node.genesis import dev_genesis

    d = DataDir(tmp_path)
    with pytest.raises(DataDirInUse):
        DataDir(tmp_path)
    assert d.genesis(dev_genesis()).chain_id == dev_genesis().chain_id
    with pytest.raises(DataDirMismatch, match="another genesis"):
        d.genesis(dev_genesis(chain_id=5))
    d.save_meta({"log2_rows": 5, "l1": "embedded"})
    with pytest.raises(DataDirMismatch, match="log2_rows 5"):
        d.check(d.meta(), log2_rows=6, l1="embedded")
    d.close()
    assert DataDir(tmp_path).meta()["log2_rows"] == 5


def test_a_genesis_too_large_for_the_deployment_is_refused_and_not_kept(tmp_path):
    """More genesis accounts than the rollup's deployment can carry (EIP-3860's init-code cap):
    the node exits with status 2 naming the room, before deploying or keeping anything, so the
    data directory still takes another genesis."""
    from node.datadir import DataDir
    from node.genesis import parse_genesis

    big = tmp_path / "big.json"
    parse_genesis({"chainId": CHAIN, "alloc": {f"0x{0x1000 + i:040x}": {"balance": 1} for i in range(1400)}}).save(big)
    data = tmp_path / "data"
    node = NodeProcess(data, big, "--log2-rows", "11", log=tmp_path / "node.log")
    try:
        rc = node.proc.wait(180)
    finally:
        node.kill()
    out = node.output()
    assert rc == 2 and "a genesis of 1400 accounts does not fit" in out and "room for 1" in out, out
    assert "Traceback" not in out and not (data / "genesis.json").exists()
    assert not (data / "node.json").exists() or "rollup" not in json.loads((data / "node.json").read_text())
    other, _ = make_genesis(tmp_path / "genesis.json")
    d = DataDir(data)
    try:
        assert d.genesis(other) == other and (data / "genesis.json").exists()
    finally:
        d.close()


def test_a_bad_confirmation_depth_is_refused_before_anything_starts(tmp_path, capsys):
    from node.cli import main
    from node.errors import InvalidInput
    from node.pipeline.devnet import DevnetConfig
    from node.pipeline.node import MAX_L1_CONFIRMATIONS, NodeConfig

    assert NodeConfig(data_dir=str(tmp_path)).l1_confirmations == 0
    assert DevnetConfig(run_dir=str(tmp_path), l1_confirmations=12).node_config(None).l1_confirmations == 12
    for bad in (-1, MAX_L1_CONFIRMATIONS + 1, 2.0, "3"):
        with pytest.raises(InvalidInput, match="l1_confirmations must be an integer in"):
            NodeConfig(data_dir=str(tmp_path), l1_confirmations=bad)
    data = tmp_path / "data"
    for bad, why in (("-1", "must lie in"), ("12345678", "must lie in"), ("six", "must be a whole number")):
        with pytest.raises(SystemExit) as refused:
            main(["node", "--data-dir", str(data), "--l1-confirmations", bad])
        assert refused.value.code == 2
        assert f"argument --l1-confirmations: {why}" in capsys.readouterr().err
    assert not data.exists()


@pytest.mark.skipif(find_anvil() is None, reason="anvil is not installed (scripts/setup.sh)")
def test_an_l1_that_goes_back_gets_its_batches_again_running_or_after_a_restart(tmp_path):
    """anvil's evm_revert takes verified batches out of the L1 with their transactions (a
    reorganisation whose transactions do not return). The running node sends them again before
    its next batch; stopped meanwhile (its snapshot counting them as verified), it resumes from
    the log instead and sends them again too."""
    from eth_utils import keccak

    from node.l1.rpc import RpcL1
    from node.transactions import sign_transfer

    gpath = tmp_path / "genesis.json"
    _, keys = make_genesis(gpath)
    anvil = launch_anvil()
    data = tmp_path / "data"
    sender = Sender(keys, [])
    to = bytes([0x99]) * 20
    node = NodeProcess(data, gpath, "--l1", anvil.url, log=tmp_path / "node.log")
    l1 = RpcL1(anvil.url)
    try:
        url = node.wait_running()
        rollup = json.loads((data / "node.json").read_text())["rollup"]

        def rpc(method, *params):
            return l1.w3.provider.make_request(method, list(params))["result"]

        def height():
            return int.from_bytes(l1.call(rollup, keccak(b"lastBatchIndex()")[:4], gas=100_000), "big")

        def transfer(nonce):
            raw = sign_transfer(keys[0], chain_id=CHAIN, nonce=nonce, to=to, value=5)
            sender.rpc(url, "eth_sendRawTransaction", "0x" + raw.hex())

        deployed = rpc("evm_snapshot")
        for n in range(2):
            transfer(n)
            wait_for(lambda: height() == n + 1, 60, f"batch {n + 1} on the L1")
        assert rpc("evm_revert", deployed) is True and height() == 0
        deployed = rpc("evm_snapshot")
        transfer(2)
        wait_for(lambda: height() == 3, 60, "batches 1, 2 and 3 on the L1 again")
        assert node.stop() == 0, node.output()

        assert rpc("evm_revert", deployed) is True and height() == 0
        node = NodeProcess(data, gpath, "--l1", anvil.url, log=tmp_path / "node.log")
        url = node.wait_running()
        assert any("snapshot skipped" in line and "the L1 went back" in line for line in node.printed), node.printed
        wait_for(lambda: height() == 3, 90, "batches 1, 2 and 3 on the L1 after the restart")
        transfer(3)
        wait_for(lambda: height() == 4, 60, "batch 4 on the L1")
        assert int(sender.rpc(url, "eth_getBalance", "0x" + to.hex(), "latest"), 16) == 20
        assert node.stop() == 0, node.output()
    finally:
        l1.close()
        node.kill()
        anvil.stop()
