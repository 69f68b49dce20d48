"""Real Ethereum clients against the node, each in its default flow: ethers v6 and viem (node
scripts in tests/clients, pinned by its package-lock.json), foundry's cast (npm) and web3.py; the
same ethers script against anvil for a field-by-field comparison; a page in headless Chromium
calling the node from another origin."""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3
from web3.middleware import SignAndSendRawMiddlewareBuilder

from node.genesis import dev_genesis
from node.local_node import LocalNode
from node.transactions import address_of

from .dashboard_util import CHROMIUM, CHROMIUM_FLAGS, browser_missing

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = ROOT / "tests" / "clients"
CAST = CLIENTS / "node_modules" / ".bin" / "cast"
ANVIL = ROOT / "contracts" / "node_modules" / ".bin" / "anvil"
CHAIN = 23115
# anvil's second development account: funded by anvil itself and by the node's test genesis.
KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
ADDRESS = "0x" + address_of(bytes.fromhex(KEY[2:])).hex()
FUNDS = 10**18

needs_npm = pytest.mark.skipif(not (CLIENTS / "node_modules" / "ethers").exists() or shutil.which("node") is None,
                               reason="tests/clients not installed (bash scripts/setup.sh)")


@pytest.fixture
def node(tmp_path):
    genesis = dev_genesis(CHAIN, {bytes.fromhex(ADDRESS[2:]): FUNDS})
    n = LocalNode(genesis, tmp_path / "wal", log2_rows=10, cut_interval=0.002, batch_deadline=0.1).start()
    yield n
    n.stop()


def script(name: str, step: str, url: str, *args: str, timeout: float = 60) -> dict:
    out = subprocess.run(["node", str(CLIENTS / name), step, url, KEY, *args], capture_output=True,
                         text=True, timeout=timeout, cwd=CLIENTS)
    assert out.stdout.strip(), out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert "failed" not in result, (result, out.stderr[-2000:])
    return result


def prove_and_verify(node: LocalNode, batch: int, stage: str) -> None:
    """Drive a transfer's proof batch (and every earlier one) to `stage`, as the pipeline would."""
    deadline = time.monotonic() + 10
    while node.executor.batch_count <= batch:
        assert time.monotonic() < deadline, "the proof batch was never sealed"
        time.sleep(0.02)
    for b in range(batch + 1):
        node.mark_proven(b) if stage == "proven" else node.mark_verified(b)


# ---------------------------------------------------------------------------------------------
# ethers


@needs_npm
def test_ethers_default_flow_and_finality(node):
    sent = {kind: script("ethers_flow.mjs", "send", node.url, kind) for kind in ("default", "legacy", "eip1559")}
    assert [sent[k]["type"] for k in ("default", "legacy", "eip1559")] == [2, 0, 2]
    for s in sent.values():
        assert s["status"] == 1 and s["block"]["hash"] == s["receipt"]["blockHash"]
        assert s["hash"] in s["block"]["transactions"] and s["fullBlockTxs"] == s["block"]["transactions"]
        assert s["tx"]["from"].lower() == ADDRESS and s["tx"]["to"] == s["to"] and s["tx"]["value"] == "1"
    last = sent["eip1559"]
    balances = functools.partial(script, "ethers_flow.mjs", "balances", node.url, last["to"])
    assert balances() == {"latest": "1", "safe": "0", "finalized": "0"}
    batch = int(last["raw"]["receipt"]["batchIndex"], 16)
    prove_and_verify(node, batch, "proven")
    assert balances() == {"latest": "1", "safe": "1", "finalized": "0"}
    prove_and_verify(node, batch, "verified")
    assert balances() == {"latest": "1", "safe": "1", "finalized": "1"}
    assert node.executor.receipt(bytes.fromhex(last["hash"][2:])).status == "verified"


@needs_npm
def test_ethers_200_concurrent_transfers_with_explicit_nonces(node):
    out = script("ethers_flow.mjs", "many", node.url, "200", timeout=120)
    assert out["accepted"] == 200 and out["refused"] == [] and out["lastStatus"] == 1
    assert out["nonceAfter"] == out["base"] + 200


# ---------------------------------------------------------------------------------------------
# Confirmations on an idle node: the block after a transaction's is one the node makes itself


CONFIRM_TIMEOUT_S = 20     # each client's own timeout: a node that never moves fails, not hangs


def _only_idle_after(node: LocalNode, number: int) -> None:
    head = node.executor.height
    assert head >= number + 1 and all(not node.executor.block(n).transfers for n in range(number + 1, head + 1))


@needs_npm
def test_two_confirmations_on_an_idle_node(node):
    # cast 1.7.1 is left out: its `--confirmations N` returns the receipt at once, against anvil
    # as well as this node, so it could not tell a node that moves from one that does not.
    assert node.sequencer.idle_block_interval == 1.0          # the node's default
    out = script("ethers_flow.mjs", "confirm", node.url, str(CONFIRM_TIMEOUT_S))
    assert out["status"] == 1 and out["confirmations"] >= 2 and out["head"] >= out["blockNumber"] + 1
    assert out["headTxs"] == 0 and out["waitedMs"] < CONFIRM_TIMEOUT_S * 1000
    _only_idle_after(node, out["blockNumber"])
    out = script("viem_flow.mjs", "confirm", node.url, str(CONFIRM_TIMEOUT_S))
    assert out["status"] == "success" and int(out["head"]) >= int(out["blockNumber"]) + 1
    _only_idle_after(node, int(out["blockNumber"]))


# What each client must report for each refused transaction: (JSON-RPC code, message prefix).
REFUSALS = {
    "wrongChainId": (-32003, "invalid chain id: have 23116, want 23115"),
    "reusedNonce": (-32003, "nonce too low"),
    "insufficientFunds": (-32000, "insufficient funds for gas * price + value"),   # by eth_estimateGas
    "corruptedSignature": (-32003, "insufficient funds for gas * price + value"),  # another sender
    "gasTooLow": (-32003, "intrinsic gas too low: have 20000, want 21000"),
}


@needs_npm
def test_ethers_bad_transactions(node):
    script("ethers_flow.mjs", "send", node.url, "default")
    out = script("ethers_flow.mjs", "bad", node.url)
    for case, (code, message) in REFUSALS.items():
        assert out[case]["rpcCode"] == code and out[case]["rpcMessage"].startswith(message), (case, out[case])
    # ethers' own classification of the node's messages
    assert out["reusedNonce"]["code"] == "NONCE_EXPIRED"
    assert out["insufficientFunds"]["code"] == "INSUFFICIENT_FUNDS"
    assert out["corruptedSignature"]["code"] == "INSUFFICIENT_FUNDS"


# ---------------------------------------------------------------------------------------------
# viem


@needs_npm
def test_viem_default_flow_and_bad_transactions(node):
    for kind, want in (("default", "eip1559"), ("legacy", "legacy")):
        s = script("viem_flow.mjs", "send", node.url, kind)
        assert s["type"] == want and s["status"] == "success" and s["blockTxs"] == [s["hash"]]
        assert s["txFrom"] == ADDRESS and s["balances"] == {"latest": "1", "safe": "0", "finalized": "0"}
    batch = node.executor.receipt(bytes.fromhex(s["hash"][2:])).batch_index
    for stage, want in (("proven", {"latest": "1", "safe": "1", "finalized": "0"}),
                        ("verified", {"latest": "1", "safe": "1", "finalized": "1"})):
        prove_and_verify(node, batch, stage)
        assert script("viem_flow.mjs", "balances", node.url, s["to"]) == want
    out = script("viem_flow.mjs", "bad", node.url)
    for case, (code, message) in REFUSALS.items():
        assert out[case]["code"] == code and out[case]["details"].startswith(message), (case, out[case])
    assert out["reusedNonce"]["shortMessage"].startswith("Nonce provided for the transaction is lower")
    assert out["insufficientFunds"]["shortMessage"].startswith("The total cost")
    assert out["gasTooLow"]["shortMessage"].startswith("The amount of gas (20000) provided")


@needs_npm
def test_viem_watches_blocks_over_websocket(node):
    out = script("viem_flow.mjs", "watch", node.url, node.server.ws_url)
    first, second = map(int, out["numbers"])            # idle blocks among them or not: in order
    assert second == first + 1 and out["parentLinked"] is True


# ---------------------------------------------------------------------------------------------
# cast


def cast(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run([str(CAST), *args], capture_output=True, text=True, timeout=60)
    assert (out.returncode == 0) == ok, (args, out.stdout, out.stderr)
    return out


@pytest.mark.skipif(not CAST.exists(), reason="cast not installed (bash scripts/setup.sh)")
def test_cast_send_and_reads(node):
    to = Account.create().address
    for extra in ([], ["--legacy"]):
        out = cast("send", "--rpc-url", node.url, "--private-key", KEY, to, "--value", "1", "--json", *extra)
        receipt = json.loads(out.stdout)
        assert receipt["status"] == "0x1" and receipt["type"] == ("0x0" if extra else "0x2")
        block = json.loads(cast("block", "--rpc-url", node.url, receipt["blockHash"], "--json").stdout)
        assert receipt["transactionHash"] in block["transactions"]
        tx = json.loads(cast("tx", "--rpc-url", node.url, receipt["transactionHash"], "--json").stdout)
        assert tx["from"].lower() == ADDRESS and tx["to"].lower() == to.lower()
    def balances():
        return [cast("balance", "--rpc-url", node.url, "--block", tag, to).stdout.strip()
                for tag in ("latest", "safe", "finalized")]
    assert balances() == ["2", "0", "0"]
    raw = json.loads(cast("rpc", "--rpc-url", node.url, "eth_getTransactionReceipt", receipt["transactionHash"]).stdout)
    batch = int(raw["batchIndex"], 16)   # the node's own field, which cast's receipt type drops
    prove_and_verify(node, batch, "proven")
    assert balances() == ["2", "2", "0"]
    prove_and_verify(node, batch, "verified")
    assert balances() == ["2", "2", "2"]
    # A transaction signed for another chain, then a reused nonce: refused with the node's words.
    signed = Account.sign_transaction(dict(type=2, chainId=1, nonce=2, maxFeePerGas=3, maxPriorityFeePerGas=1,
                                           gas=21000, to=to, value=1), KEY).raw_transaction.hex()
    err = cast("publish", "--rpc-url", node.url, "0x" + signed.removeprefix("0x"), ok=False).stderr
    assert "invalid chain id: have 1, want 23115" in err and "-32003" in err
    err = cast("send", "--rpc-url", node.url, "--private-key", KEY, to, "--value", "1", "--nonce", "0",
               ok=False).stderr
    assert "nonce too low" in err


# ---------------------------------------------------------------------------------------------
# web3.py


def test_web3py_sign_and_send_middleware(node):
    w3 = Web3(Web3.HTTPProvider(node.url))
    account = Account.from_key(KEY)
    w3.middleware_onion.inject(SignAndSendRawMiddlewareBuilder.build(account), layer=0)
    w3.eth.default_account = account.address
    to = Account.create().address
    for extra in ({}, {"gasPrice": w3.eth.gas_price}):
        tx_hash = w3.eth.send_transaction({"to": to, "value": 1, **extra})
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10, poll_latency=0.05)
        assert receipt.status == 1 and receipt.type == (0 if extra else 2)
        block = w3.eth.get_block(receipt.blockHash, full_transactions=True)
        assert block.transactions[receipt.transactionIndex].hash == tx_hash
        assert w3.eth.get_transaction(tx_hash)["from"] == account.address
    def balances():
        return [w3.eth.get_balance(to, tag) for tag in ("latest", "safe", "finalized")]
    assert balances() == [2, 0, 0]
    batch = int(receipt["batchIndex"], 16)   # the node's own field, passed through unformatted
    prove_and_verify(node, batch, "proven")
    assert balances() == [2, 2, 0]
    prove_and_verify(node, batch, "verified")
    assert balances() == [2, 2, 2]
    with pytest.raises(Exception, match="nonce too low"):
        w3.eth.send_transaction({"to": to, "value": 1, "nonce": 0})
    with pytest.raises(Exception, match="insufficient funds"):
        w3.eth.send_transaction({"to": to, "value": FUNDS})


# ---------------------------------------------------------------------------------------------
# The same script against anvil


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _shape(value):
    """A JSON value's type as a client sees it (hex quantities and data told apart)."""
    if isinstance(value, str) and value.startswith("0x"):
        return "hex"
    return type(value).__name__


# Fields anvil reports and the node does not, with the reason (docs/node.md, JSON-RPC).
ANVIL_ONLY = {"requestsHash"}   # EIP-7685 execution-layer requests: none on this chain
# anvil 1.7.1 writes a receipt's blockTimestamp as a JSON number; the node, like every other
# quantity, as hex.
ANVIL_NUMBER = {("receipt", "blockTimestamp")}


@needs_npm
@pytest.mark.skipif(not ANVIL.exists(), reason="anvil not installed (bash scripts/setup.sh)")
def test_differential_against_anvil(node):
    port = _free_port()
    anvil = subprocess.Popen([str(ANVIL), "--port", str(port), "--silent"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "anvil did not start"
                time.sleep(0.1)
        theirs = script("ethers_flow.mjs", "send", url, "default")
    finally:
        anvil.terminate()
        anvil.wait(10)
    ours = script("ethers_flow.mjs", "send", node.url, "default")
    compared = 0
    for part in ("block", "tx", "receipt"):          # what ethers makes of the replies
        assert {k: _shape(v) for k, v in theirs[part].items()} == {k: _shape(v) for k, v in ours[part].items()}, part
        compared += len(theirs[part])
    for part in ("block", "fullBlock", "tx", "receipt"):   # the raw JSON-RPC objects
        a, b = theirs["raw"][part], ours["raw"][part]
        missing = set(a) - set(b) - ANVIL_ONLY
        assert not missing, (part, missing)
        common = {k for k in set(a) & set(b) if (part, k) not in ANVIL_NUMBER}
        assert {k: _shape(a[k]) for k in common} == {k: _shape(b[k]) for k in common}, part
        compared += len(a)
    a_tx, b_tx = theirs["raw"]["fullBlock"]["transactions"][0], ours["raw"]["fullBlock"]["transactions"][0]
    assert set(a_tx) <= set(b_tx) and all(_shape(a_tx[k]) == _shape(b_tx[k]) for k in a_tx)
    assert compared > 80


# ---------------------------------------------------------------------------------------------
# A web page on another origin


PAGE = """<!doctype html><meta charset="utf-8"><title>transfer</title><pre id="out">waiting</pre>
<script src="ethers.umd.min.js"></script><script>
(async () => {
  const q = new URLSearchParams(location.search);
  const out = document.getElementById("out");
  try {
    const provider = new ethers.JsonRpcProvider(q.get("rpc"));
    const wallet = new ethers.Wallet(q.get("key"), provider);
    const tx = await wallet.sendTransaction({ to: q.get("to"), value: 1n });
    const r = await tx.wait();
    out.textContent = JSON.stringify({ hash: r.hash, status: r.status, block: r.blockNumber, from: r.from });
  } catch (e) { out.textContent = "error: " + e.message; }
})();
</script>"""


@needs_npm
@pytest.mark.skipif(browser_missing() is not None, reason=str(browser_missing()))
def test_browser_page_on_another_origin(node, tmp_path):
    from playwright.sync_api import sync_playwright

    (tmp_path / "index.html").write_text(PAGE)
    shutil.copy(CLIENTS / "node_modules" / "ethers" / "dist" / "ethers.umd.min.js", tmp_path)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    to = Account.create().address
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            page = browser.new_page()
            page.goto(f"http://localhost:{site.server_address[1]}/index.html?rpc={node.url}&key={KEY}&to={to}")
            page.wait_for_function("document.getElementById('out').textContent !== 'waiting'", timeout=30_000)
            shown = page.text_content("#out")
            browser.close()
    finally:
        site.shutdown()
        site.server_close()
    assert not shown.startswith("error"), shown
    receipt = json.loads(shown)
    assert receipt["status"] == 1 and receipt["from"].lower() == ADDRESS
    assert node.executor.receipt(bytes.fromhex(receipt["hash"][2:])) is not None
    assert node.executor.balance(bytes.fromhex(to[2:])) == 1
