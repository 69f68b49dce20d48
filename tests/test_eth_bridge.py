"""Real Ethereum clients read the bridge's L2 transactions: a credited and a refunded deposit
(type 0x7e, no signature) and a withdrawal (a transfer to WITHDRAWAL_ADDRESS): ethers v6 and viem
(tests/clients), foundry's cast and web3.py, each reading the receipts, the transactions and the
balances in its default flow, without error."""

from __future__ import annotations

import json
import subprocess

import pytest
from web3 import Web3

from node.bridge import WITHDRAWAL_ADDRESS, deposit_hash, make_deposit
from node.genesis import dev_genesis
from node.local_node import LocalNode
from node.transactions import address_of, sign_transfer

from .test_eth_clients import CAST, CLIENTS, needs_npm

CHAIN = 23115
KEY = bytes.fromhex("22" * 32)
USER = address_of(KEY)
L1_SENDER = bytes.fromhex("70997970c51812dc3a010c7d01b50e0d17dc79c8")
DEPOSIT = 10**15


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """A node with deposit 0 credited to USER, deposit 1 (to WITHDRAWAL_ADDRESS) refunded, and a
    withdrawal from USER: (url, {name: tx hash})."""
    genesis = dev_genesis(CHAIN, {})
    node = LocalNode(genesis, tmp_path_factory.mktemp("bridge") / "wal", log2_rows=4, cut_interval=0.002,
                     batch_deadline=0.1).start()
    node.sequencer.add_deposits([make_deposit(0, USER, DEPOSIT, L1_SENDER, 7),
                                 make_deposit(1, WITHDRAWAL_ADDRESS, 5, L1_SENDER, 7)])
    w = node.sequencer.submit(sign_transfer(KEY, chain_id=CHAIN, nonce=0, to=WITHDRAWAL_ADDRESS, value=10**14))
    hashes = {"credited": "0x" + deposit_hash(0).hex(), "refunded": "0x" + deposit_hash(1).hex(),
              "withdrawal": "0x" + w.hash.hex()}
    yield node.url, hashes
    node.stop()


BALANCE = DEPOSIT - 10**14


def node_script(body: str, url: str, hashes: dict) -> dict:
    """An ES module run by node in tests/clients (where ethers and viem are installed)."""
    code = f"const url = {json.dumps(url)}; const hashes = {json.dumps(hashes)}; " \
           f"const user = {json.dumps('0x' + USER.hex())};\n{body}"
    out = subprocess.run(["node", "--input-type=module", "-e", code], capture_output=True, text=True,
                         timeout=60, cwd=CLIENTS)
    assert out.returncode == 0 and out.stdout.strip(), out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@needs_npm
def test_ethers_reads_deposits_and_withdrawals(chain):
    url, hashes = chain
    got = node_script("""
import { JsonRpcProvider } from "ethers";
const p = new JsonRpcProvider(url);
const out = {};
for (const [name, h] of Object.entries(hashes)) {
  const r = await p.getTransactionReceipt(h);
  const t = await p.getTransaction(h);
  out[name] = { status: r.status, type: r.type, block: r.blockNumber, txType: t.type, from: t.from,
                to: t.to, value: t.value.toString() };
}
out.balance = (await p.getBalance(user)).toString();
console.log(JSON.stringify(out));
""", url, hashes)
    assert (got["credited"]["status"], got["refunded"]["status"], got["withdrawal"]["status"]) == (1, 0, 1)
    assert got["credited"]["type"] == got["credited"]["txType"] == 0x7E
    assert got["credited"]["to"].lower() == "0x" + USER.hex() and got["credited"]["value"] == str(DEPOSIT)
    assert got["credited"]["from"].lower() == "0x" + L1_SENDER.hex()
    assert got["withdrawal"]["to"].lower() == "0x" + WITHDRAWAL_ADDRESS.hex()
    assert got["balance"] == str(BALANCE)


@needs_npm
def test_viem_reads_deposits_and_withdrawals(chain):
    url, hashes = chain
    got = node_script("""
import { createPublicClient, http } from "viem";
const c = createPublicClient({ transport: http(url) });
const out = {};
for (const [name, h] of Object.entries(hashes)) {
  const r = await c.getTransactionReceipt({ hash: h });
  const t = await c.getTransaction({ hash: h });
  out[name] = { status: r.status, type: r.type, txType: t.type, to: t.to, value: t.value.toString() };
}
out.balance = (await c.getBalance({ address: user })).toString();
console.log(JSON.stringify(out));
""", url, hashes)
    assert (got["credited"]["status"], got["refunded"]["status"], got["withdrawal"]["status"]) == \
        ("success", "reverted", "success")
    assert got["credited"]["value"] == str(DEPOSIT) and got["balance"] == str(BALANCE)


@pytest.mark.skipif(not CAST.exists(), reason="cast not installed (bash scripts/setup.sh)")
def test_cast_reads_deposits_and_withdrawals(chain):
    url, hashes = chain
    for name, h in hashes.items():
        receipt = subprocess.run([str(CAST), "receipt", h, "--json", "--rpc-url", url], capture_output=True,
                                 text=True, timeout=60)
        assert receipt.returncode == 0, receipt.stderr
        assert json.loads(receipt.stdout)["status"] == ("0x0" if name == "refunded" else "0x1")
        tx = subprocess.run([str(CAST), "tx", h, "--json", "--rpc-url", url], capture_output=True, text=True,
                            timeout=60)
        assert tx.returncode == 0, tx.stderr
    balance = subprocess.run([str(CAST), "balance", "0x" + USER.hex(), "--rpc-url", url], capture_output=True,
                             text=True, timeout=60)
    assert balance.returncode == 0 and balance.stdout.strip() == str(BALANCE), balance.stderr


def test_web3py_reads_deposits_and_withdrawals(chain):
    url, hashes = chain
    w3 = Web3(Web3.HTTPProvider(url))
    statuses = {name: w3.eth.get_transaction_receipt(h)["status"] for name, h in hashes.items()}
    assert statuses == {"credited": 1, "refunded": 0, "withdrawal": 1}
    tx = w3.eth.get_transaction(hashes["credited"])
    assert (tx["type"], tx["value"], tx["to"].lower()) == (0x7E, DEPOSIT, "0x" + USER.hex())
    assert w3.eth.get_balance(Web3.to_checksum_address(USER)) == BALANCE
