"""The JSON-RPC server, driven by web3.py as a real client and by raw HTTP for the protocol's
error cases. Every refused input leaves balances, nonces, the chain and the log as they were, but
for the empty blocks an idle node makes meanwhile (the node runs with idle blocks on, as it does by
default)."""

import json
import re

import pytest
import requests
import rlp
from eth_account import Account
from web3 import Web3
from web3.exceptions import TransactionNotFound

from node.blocks import MiniBatch, decode_record
from node.genesis import dev_genesis
from node.local_node import LocalNode
from node.transactions import MAX_TX_SIZE, MAX_VALUE, SECP256K1_N

CHAIN = 23115
FUNDS = 10**15


@pytest.fixture
def node(tmp_path):
    alice, bob = Account.create(), Account.create()
    genesis = dev_genesis(CHAIN, {bytes.fromhex(a.address[2:]): FUNDS for a in (alice, bob)})
    n = LocalNode(genesis, tmp_path / "wal", log2_rows=6, cut_interval=0.002, batch_deadline=60,
                  idle_block_interval=0.2).start()
    n.alice, n.bob = alice, bob
    n.sequencer.queue.wait_s = 0.3   # a nonce gap is held this long, then refused
    n.session = requests.Session()
    yield n
    n.session.close()
    n.stop()


def sign(account, nonce, to, value, kind=2, chain=CHAIN, **over):
    if kind == 2:
        tx = dict(type=2, chainId=chain, nonce=nonce, maxFeePerGas=2 * 10**9,
                  maxPriorityFeePerGas=10**9, gas=21000, to=to, value=value)
    else:
        tx = dict(chainId=chain, nonce=nonce, gasPrice=10**9, gas=21000, to=to, value=value)
    tx.update(over)
    return bytes(account.sign_transaction(tx).raw_transaction)


def post(node, body):
    r = node.session.post(node.url, data=body, headers={"Content-Type": "application/json"}, timeout=10)
    return r.status_code, (r.json() if r.content else None)


def call(node, method, *params):
    _, reply = post(node, json.dumps({"jsonrpc": "2.0", "id": 7, "method": method, "params": list(params)}))
    return reply


def test_web3_client_sends_transfers(node):
    w3 = Web3(Web3.HTTPProvider(node.url))
    alice, bob = node.alice, node.bob
    carol = Account.create().address
    assert w3.is_connected() and w3.eth.chain_id == CHAIN
    assert all(not w3.eth.get_block(n)["transactions"] for n in range(w3.eth.block_number + 1))
    assert w3.eth.get_balance(alice.address) == FUNDS
    sends = [
        (alice, bob.address, 1000, 2),
        (alice, carol, 2000, 0),
        (bob, carol, 3000, 2),
        (bob, alice.address, 4000, 0),
        (alice, carol, 5000, 2),
    ]
    nonces = {alice.address: 0, bob.address: 0}
    hashes = []
    for sender, to, value, kind in sends:
        raw = sign(sender, nonces[sender.address], to, value, kind)
        nonces[sender.address] += 1
        hashes.append(w3.eth.send_raw_transaction(raw))
        assert w3.eth.get_transaction_count(sender.address, "pending") == nonces[sender.address]
    receipts = [w3.eth.wait_for_transaction_receipt(h, timeout=10, poll_latency=0.01) for h in hashes]
    for (sender, to, value, kind), h, r in zip(sends, hashes, receipts):
        assert r["transactionHash"] == h and r["status"] == 1 and r["type"] == kind
        assert (r["from"], r["to"]) == (sender.address, to)
        assert r["blockNumber"] >= 1 and r["finality"] == "executed"
    assert w3.eth.get_balance(alice.address) == FUNDS - 1000 - 2000 - 5000 + 4000
    assert w3.eth.get_balance(bob.address) == FUNDS + 1000 - 3000 - 4000
    assert w3.eth.get_balance(carol) == 2000 + 3000 + 5000
    assert w3.eth.get_transaction_count(alice.address) == 3
    assert w3.eth.get_transaction_count(bob.address, "latest") == 2
    assert w3.eth.get_balance(alice.address, "earliest") == FUNDS
    last = max(r["blockNumber"] for r in receipts)       # and after it, idle blocks only
    assert all(not w3.eth.get_block(n)["transactions"] for n in range(last + 1, w3.eth.block_number + 1))

    # proof status arrives from the pipeline through the callbacks
    node.seal()
    batch = int(receipts[-1]["batchIndex"], 16)
    node.mark_proven(batch)
    assert w3.eth.get_transaction_receipt(hashes[-1])["finality"] == "proven"
    node.mark_verified(batch)
    assert {w3.eth.get_transaction_receipt(h)["finality"] for h in hashes} == {"verified"}
    assert call(node, "eth_getTransactionReceipt", "0x" + "00" * 32)["result"] is None
    with pytest.raises(TransactionNotFound):
        w3.eth.get_transaction_receipt("0x" + "00" * 32)


def test_bulk_path(node):
    alice = node.alice
    to = Account.create().address
    raws = [sign(alice, i, to, 1 + i) for i in range(50)]
    raws.insert(10, sign(alice, 3, to, 1))                     # a replay
    params = ["0x" + r.hex() for r in raws] + ["zz"]
    reply = call(node, "zkpipe_sendRawTransactions", params)["result"]
    assert len(reply) == 52
    assert reply[10]["error"] == {"code": -32003, "message": "nonce too low: next nonce 10, tx nonce 3"}
    assert reply[51]["error"]["code"] == -32602
    good = [x["hash"] for x in reply if "hash" in x]
    assert len(good) == 50
    # acknowledged means executed: every receipt is there without polling
    assert all(call(node, "eth_getTransactionReceipt", h)["result"]["status"] == "0x1" for h in good)
    assert int(call(node, "eth_getBalance", to, "latest")["result"], 16) == sum(range(1, 51))


def snapshot(node):
    """What a refused input must leave alone; compare with `unchanged`."""
    out = [node.executor.height, node.sequencer.wal.size, node.sequencer.pending]
    for a in (node.alice.address, node.bob.address):
        for tag in ("latest", "pending"):
            out.append(call(node, "eth_getBalance", a, tag)["result"])
            out.append(call(node, "eth_getTransactionCount", a, tag)["result"])
    return out


def unchanged(node, before) -> bool:
    """Whether the node is as `before` but for idle blocks: balances, nonces and what waits to be
    cut are the same, every block executed since is empty, and the log grew by empty blocks only."""
    after = snapshot(node)
    if after[2:] != before[2:]:
        return False
    if any(node.executor.block(n).transfers for n in range(before[0] + 1, after[0] + 1)):
        return False
    with open(node.sequencer.wal.path, "rb") as f:
        f.seek(before[1])
        grown = f.read(after[1] - before[1])
    while grown:                      # records: marker, length, checksum, payload
        length = int.from_bytes(grown[4:8], "little")
        entry = decode_record(grown[12:12 + length], bytes(32))
        if not isinstance(entry, MiniBatch) or entry.transfers:
            return False
        grown = grown[12 + length:]
    return True


def high_s(raw):
    items = rlp.decode(raw[1:])
    items[11] = SECP256K1_N - int.from_bytes(items[11], "big")
    items[9] = 1 - int.from_bytes(items[9], "big")
    return b"\x02" + rlp.encode(items)


def r_off_curve(raw):
    items = rlp.decode(raw[1:])
    p = 2**256 - 2**32 - 977
    x = 5
    while pow((x**3 + 7) % p, (p - 1) // 2, p) == 1:
        x += 1
    items[10] = x
    return b"\x02" + rlp.encode(items)


BAD_TRANSACTIONS = {
    "malformed_rlp": (lambda n: b"\x02\xf8\x05\x01", "rlp"),
    "truncated": (lambda n: sign(n.alice, 1, n.bob.address, 1)[:-3], "rlp"),
    "bad_signature": (lambda n: r_off_curve(sign(n.alice, 1, n.bob.address, 1)), "invalid sender"),
    "high_s": (lambda n: high_s(sign(n.alice, 1, n.bob.address, 1)), "invalid transaction v, r, s values"),
    "wrong_chain_id": (lambda n: sign(n.alice, 1, n.bob.address, 1, chain=1), "invalid chain id"),
    "wrong_chain_id_legacy": (lambda n: sign(n.alice, 1, n.bob.address, 1, kind=0, chain=1), "invalid chain id"),
    "replayed_nonce": (lambda n: sign(n.alice, 0, n.bob.address, 7), "nonce too low"),
    "gapped_nonce": (lambda n: sign(n.alice, 2, n.bob.address, 1), "nonce too high"),
    "insufficient_balance": (lambda n: sign(n.alice, 1, n.bob.address, FUNDS),
                             "insufficient funds for gas \\* price \\+ value"),
    "unfunded_sender": (lambda n: sign(Account.create(), 0, n.bob.address, 1), "insufficient funds"),
    "zero_value": (lambda n: sign(n.alice, 1, n.bob.address, 0), "zero-value transfer"),
    "oversize_value": (lambda n: sign(n.alice, 1, n.bob.address, MAX_VALUE + 1), "value exceeds"),
    "oversize_payload": (lambda n: sign(n.alice, 1, n.bob.address, 1, data=b"\x01" * MAX_TX_SIZE),
                         "oversized data"),
    "calldata": (lambda n: sign(n.alice, 1, n.bob.address, 1, data=b"\x01"), "data not supported"),
    "unsupported_type": (lambda n: b"\x03" + sign(n.alice, 1, n.bob.address, 1)[1:], "type not supported"),
}


@pytest.mark.parametrize("case", sorted(BAD_TRANSACTIONS))
def test_bad_transaction(node, case):
    make, message = BAD_TRANSACTIONS[case]
    call(node, "eth_sendRawTransaction", "0x" + sign(node.alice, 0, node.bob.address, 5).hex())
    before = snapshot(node)
    reply = call(node, "eth_sendRawTransaction", "0x" + make(node).hex())
    assert reply["id"] == 7 and "result" not in reply
    assert reply["error"]["code"] == -32003
    assert re.search(message, reply["error"]["message"]), reply
    assert unchanged(node, before)


@pytest.mark.parametrize("body, code, message", [
    (b'{"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"', -32700, "Parse error"),
    (b"\xff\xfe", -32700, "Parse error"),
    (b"[]", -32600, "empty batch"),
    (b'"eth_chainId"', -32600, "Invalid Request"),
    (b'{"jsonrpc": "1.0", "id": 1, "method": "eth_chainId"}', -32600, "jsonrpc"),
    (b'{"jsonrpc": "2.0", "id": 1, "method": 5}', -32600, "method"),
    (b'{"jsonrpc": "2.0", "id": {}, "method": "eth_chainId"}', -32600, "id"),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "eth_mine"}', -32601, "the method eth_mine does not exist"),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": [1]}', -32602, "too many arguments"),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": []}', -32602, "missing value"),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": {"a": 1}}', -32602, "array"),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": ["0x12"]}', -32602, "want 40"),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": ["0x' + b"11" * 20 + b'", "bogus"]}',
     -32602, "unsupported block parameter"),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": ["0x' + b"11" * 20 + b'", "0x99"]}',
     -32000, "header not found"),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": ["02f8"]}', -32602, "0x prefix"),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": ["0xzz"]}', -32602, "hex"),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionReceipt", "params": ["0x12"]}', -32602, "want 64"),
])
def test_protocol_errors(node, body, code, message):
    before = snapshot(node)
    status, reply = post(node, body)
    assert status == 200
    assert reply["jsonrpc"] == "2.0" and reply["error"]["code"] == code
    assert message in reply["error"]["message"]
    assert unchanged(node, before)


def test_batches_and_notifications(node):
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"},
        {"jsonrpc": "2.0", "method": "eth_blockNumber"},              # notification: no reply
        {"jsonrpc": "2.0", "id": "b", "method": "nope"},
        5,
        {"jsonrpc": "2.0", "id": 2, "method": "net_version", "params": []},
    ]
    status, reply = post(node, json.dumps(batch))
    assert status == 200
    assert reply[0] == {"jsonrpc": "2.0", "id": 1, "result": hex(CHAIN)}
    assert reply[1]["id"] == "b" and reply[1]["error"]["code"] == -32601
    assert reply[2]["id"] is None and reply[2]["error"]["code"] == -32600
    assert reply[3]["result"] == str(CHAIN)
    status, reply = post(node, json.dumps([{"jsonrpc": "2.0", "method": "eth_chainId"}]))
    assert status == 204 and reply is None
    assert node.session.get(node.url, timeout=5).status_code == 405
