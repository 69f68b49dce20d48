"""`zkpipe node --retain-blocks N` reaches the service's executor: a node holding two recent
blocks lets the older ones leave memory (its state window shrinks to them) and serves them over
JSON-RPC from its log, as the log holds them; a count below 1 is refused before anything starts."""

import os

import pytest
import requests

pytest.importorskip("ray")
pytest.importorskip("pyrevm")

from node.cli import main  # noqa: E402
from node.errors import InvalidInput  # noqa: E402
from node.executor import PRUNE_BLOCKS  # noqa: E402
from node.pipeline.node import NodeConfig  # noqa: E402

from .test_node_service_support import NodeProcess, Sender, make_genesis, wait_for, wal_replay  # noqa: E402

RETAIN = 2


def rpc(url, method, *params):
    """The reply's result, or its error object."""
    reply = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)},
                          timeout=30).json()
    return reply.get("result", reply.get("error"))


@pytest.mark.slow
def test_small_retention_serves_old_blocks_from_the_log(tmp_path):
    gpath = tmp_path / "genesis.json"
    genesis, keys = make_genesis(gpath)
    sender = Sender(keys, [os.urandom(20) for _ in range(3)])
    data = tmp_path / "data"
    node = NodeProcess(data, gpath, "--retain-blocks", str(RETAIN), "--idle-block-interval", "0.01",
                       log=tmp_path / "node.log")
    try:
        url = node.wait_running()
        assert sender.send(url, 6) == 6
        wait_for(lambda: all(rpc(url, "eth_getTransactionReceipt", "0x" + h.hex()) for h in sender.acked),
                 60, "the transfers executed")
        last = max(int(rpc(url, "eth_getTransactionReceipt", "0x" + h.hex())["blockNumber"], 16)
                   for h in sender.acked)
        owner = "0x" + next(iter(sender.acked.values()))[0].hex()

        # Once their batch is verified, idle blocks push the transfers' blocks out of memory: the
        # state at them is no longer held (with the default retention it would be, for 4096 blocks).
        def dropped():
            answer = rpc(url, "eth_getBalance", owner, hex(last))
            return isinstance(answer, dict) and "historical state is not available" in answer["message"]
        wait_for(dropped, 60, f"block {last} out of memory")
        message = rpc(url, "eth_getBalance", owner, hex(last))["message"]
        start, height = map(int, message.rsplit("blocks ", 1)[1].split(".."))
        assert height - start <= RETAIN + PRUNE_BLOCKS + 2, message

        served = {n: rpc(url, "eth_getBlockByNumber", hex(n), True) for n in range(1, last + 1)}
        by_hash = {n: rpc(url, "eth_getBlockByHash", b["hash"], False) for n, b in served.items()}
        receipts = {h: rpc(url, "eth_getTransactionReceipt", "0x" + h.hex()) for h in sender.acked}
        assert node.stop() == 0, node.output()
    finally:
        node.kill()

    ex = wal_replay(data, genesis)                   # the blocks as the log holds them
    for n, b in served.items():
        logged = ex.block(n)
        assert b["hash"] == "0x" + logged.hash.hex() and b["parentHash"] == "0x" + logged.parent_hash.hex()
        assert [t["hash"] for t in b["transactions"]] == ["0x" + t.hash.hex() for t in logged.transfers]
        assert by_hash[n]["number"] == hex(n) and by_hash[n]["transactions"] == [t["hash"] for t in b["transactions"]]
    assert sorted(t["hash"] for b in served.values() for t in b["transactions"]) == \
        sorted("0x" + h.hex() for h in sender.acked)
    for h, r in receipts.items():
        logged = ex.receipt(h)
        assert (r["blockNumber"], r["blockHash"], r["transactionIndex"]) == \
            (hex(logged.block_number), "0x" + logged.block_hash.hex(), hex(logged.position))
        assert r["status"] == "0x1" and r["finality"] == "verified"


@pytest.mark.parametrize("command", ["node", "devnet"])
def test_retain_blocks_option(command, tmp_path, capsys):
    with pytest.raises(SystemExit) as shown:
        main([command, "--help"])
    assert shown.value.code == 0 and "--retain-blocks N" in capsys.readouterr().out

    data = tmp_path / "data"
    for bad, why in (("0", "must be at least 1"), ("-3", "must be at least 1"), ("two", "must be a whole number")):
        place = ["--data-dir", str(data)] if command == "node" else ["--run-dir", str(data)]
        with pytest.raises(SystemExit) as refused:
            main([command, *place, "--retain-blocks", bad])
        assert refused.value.code == 2
        assert f"argument --retain-blocks: {why}" in capsys.readouterr().err
    assert not data.exists()


def test_node_config_checks_retention(tmp_path):
    assert NodeConfig(data_dir=str(tmp_path)).retain_blocks == 4096
    for bad in (0, -1, 2.5, "8"):
        with pytest.raises(InvalidInput, match="retain_blocks must be a positive integer"):
            NodeConfig(data_dir=str(tmp_path), retain_blocks=bad)
    from node.pipeline.devnet import DevnetConfig
    assert DevnetConfig(run_dir=str(tmp_path)).node_config(None).retain_blocks == 4096
    assert DevnetConfig(run_dir=str(tmp_path), retain_blocks=8).node_config(None).retain_blocks == 8
    with pytest.raises(InvalidInput, match="retain_blocks must be a positive integer"):
        DevnetConfig(run_dir=str(tmp_path), retain_blocks=0)
