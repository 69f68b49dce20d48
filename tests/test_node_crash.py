"""Crash safety: the node runs in its own process (`python -m node.local_node`), acknowledges
transfers, dies by SIGKILL in the middle of a stream of them, and restarts from its write-ahead
log. No acknowledged transfer is lost and none is applied twice: receipts, balances and nonces
after the restart are exactly those of the acknowledged transfers plus, per sender, possibly
the next few that were logged but whose acknowledgement the kill cut off."""

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

from node.genesis import parse_genesis
from node.transactions import address_of, decode_transfer, sign_transfer

CHAIN = 777
FUNDS = 10**12
REPO = Path(__file__).resolve().parents[1]


def start_node(tmp_path, genesis_path, wal_path, name):
    log = open(tmp_path / f"{name}.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "node.local_node", "--genesis", str(genesis_path), "--wal", str(wal_path),
         "--port", "0", "--log2-rows", "8", "--batch-deadline", "0.05", "--cut-interval-ms", "2"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=log)
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    if not ready:
        proc.kill()
        pytest.fail(f"node did not start; see {log.name}")
    line = proc.stdout.readline()
    if not line:
        proc.wait(5)
        pytest.fail(f"node exited at start: {(tmp_path / f'{name}.log').read_text()}")
    return proc, json.loads(line)


def rpc(session, url, method, *params):
    r = session.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, timeout=10)
    reply = r.json()
    if "error" in reply:
        raise RuntimeError(reply["error"])
    return reply["result"]


def test_sigkill_then_restart_from_the_log(tmp_path):
    keys = [os.urandom(32) for _ in range(4)]
    senders = [address_of(k) for k in keys]
    recipients = [os.urandom(20) for _ in range(3)]
    genesis = parse_genesis({"chainId": CHAIN, "alloc": {"0x" + a.hex(): {"balance": FUNDS} for a in senders}})
    genesis.save(tmp_path / "genesis.json")
    wal = tmp_path / "node.wal"

    # every transfer each sender will ever sign, nonce by nonce
    signed = {i: [sign_transfer(keys[i], chain_id=CHAIN, nonce=n, to=recipients[(i + n) % 3],
                                value=1000 + 17 * n + i, kind=(n % 2) * 2)
                  for n in range(400)] for i in range(4)}
    acked: set[bytes] = set()
    next_nonce = [0] * 4

    proc, info = start_node(tmp_path, tmp_path / "genesis.json", wal, "first")
    try:
        url = info["url"]
        with requests.Session() as s:
            for i in range(4):                      # one at a time
                h = rpc(s, url, "eth_sendRawTransaction", "0x" + signed[i][0].hex())
                acked.add(bytes.fromhex(h[2:]))
                next_nonce[i] = 1
            bulk = ["0x" + signed[i][n].hex() for n in range(1, 40) for i in range(4)]
            for item in rpc(s, url, "zkpipe_sendRawTransactions", bulk):
                acked.add(bytes.fromhex(item["hash"][2:]))
            next_nonce = [40] * 4
        assert len(acked) == 160

        # then four senders stream transfers while the process is killed under them
        def stream(i):
            with requests.Session() as s:
                for n in range(40, 400):
                    try:
                        h = rpc(s, url, "eth_sendRawTransaction", "0x" + signed[i][n].hex())
                    except (requests.RequestException, ValueError, RuntimeError):
                        return  # the node is gone
                    acked.add(bytes.fromhex(h[2:]))
        threads = [threading.Thread(target=stream, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while len(acked) < 300 and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        for t in threads:
            t.join(20)
        assert proc.returncode == -signal.SIGKILL
        assert len(acked) > 160, "no streamed acknowledgement before the kill"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)

    proc, info = start_node(tmp_path, tmp_path / "genesis.json", wal, "second")
    try:
        url = info["url"]
        with requests.Session() as s:
            # what the log holds, per sender: a prefix of its nonces covering all it acknowledged
            applied = []
            for i in range(4):
                count = int(rpc(s, url, "eth_getTransactionCount", "0x" + senders[i].hex(), "latest"), 16)
                mine = [decode_transfer(raw, CHAIN) for raw in signed[i]]
                acked_nonces = [t.nonce for t in mine if t.hash in acked]
                assert count >= max(acked_nonces) + 1, f"sender {i} lost an acknowledged transfer"
                assert count == int(rpc(s, url, "eth_getTransactionCount", "0x" + senders[i].hex(), "pending"), 16)
                applied += mine[:count]
            # exactly once each: balances are genesis plus the applied transfers, no more
            expected = {a: FUNDS for a in senders}
            for t in applied:
                expected[t.sender] -= t.value
                expected[t.to] = expected.get(t.to, 0) + t.value
            for a, b in expected.items():
                assert int(rpc(s, url, "eth_getBalance", "0x" + a.hex(), "latest"), 16) == b
            for h in acked:
                receipt = rpc(s, url, "eth_getTransactionReceipt", "0x" + h.hex())
                assert receipt is not None and receipt["status"] == "0x1"
            # The log's height at the restart; any block since is an idle block (empty).
            height = int(rpc(s, url, "eth_blockNumber"), 16)
            assert height >= info["height"] > 0
            for number in range(info["height"] + 1, height + 1):
                assert rpc(s, url, "eth_getBlockByNumber", hex(number), False)["transactions"] == []
            # and the node goes on from where the log ends; an old transfer is a replay
            n = int(rpc(s, url, "eth_getTransactionCount", "0x" + senders[0].hex(), "pending"), 16)
            rpc(s, url, "eth_sendRawTransaction", "0x" + signed[0][n].hex())
            with pytest.raises(RuntimeError, match="nonce too low"):
                rpc(s, url, "eth_sendRawTransaction", "0x" + signed[0][0].hex())
        proc.send_signal(signal.SIGTERM)   # an orderly stop this time
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
