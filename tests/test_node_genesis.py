"""Genesis files: what loads, and a clear error for each way one can be wrong."""

import json
import os

import pytest
from eth_account import Account
from eth_utils import to_checksum_address

from node.errors import InvalidGenesis, StateFull
from node.genesis import (DEV_FAUCET_ADDRESS, DEV_FAUCET_BALANCE, DEV_FAUCET_PRIVATE_KEY, dev_genesis,
                          load_genesis, parse_genesis)
from node.state import LedgerState
from node.transactions import decode_transfer


def test_round_trip_and_slot_order(tmp_path):
    addresses = [os.urandom(20) for _ in range(5)]
    doc = {"chainId": 77, "alloc": {}}
    for i, a in enumerate(addresses):
        # every accepted spelling: checksummed, lower case, no prefix; decimal, hex, JSON int
        key = [to_checksum_address(a), "0x" + a.hex(), a.hex(), "0x" + a.hex().upper(), "0X" + a.hex()][i]
        doc["alloc"][key] = {"balance": [str(i + 1), hex(i + 1), i + 1, str(i + 1), hex(i + 1)][i]}
    path = tmp_path / "genesis.json"
    path.write_text(json.dumps(doc))
    g = load_genesis(path)
    assert g.chain_id == 77
    assert g.alloc == {a: i + 1 for i, a in enumerate(addresses)}
    g.save(tmp_path / "again.json")
    again = load_genesis(tmp_path / "again.json")
    assert again == g and again.digest == g.digest
    assert g.digest != parse_genesis({**doc, "chainId": 78}).digest
    state = LedgerState.from_genesis(g, 8)
    assert state.addresses == sorted(addresses)      # slots in ascending address order
    assert state.address_column()[5:] == [0, 0, 0]


def test_dev_faucet():
    g = dev_genesis(chain_id=5)
    assert DEV_FAUCET_ADDRESS == bytes.fromhex(Account.from_key(DEV_FAUCET_PRIVATE_KEY).address[2:])
    assert g.alloc == {DEV_FAUCET_ADDRESS: DEV_FAUCET_BALANCE}
    to = os.urandom(20)
    t = decode_transfer(g.faucet_transfer(to, 10, nonce=0), 5)
    assert (t.sender, t.to, t.value) == (DEV_FAUCET_ADDRESS, to, 10)
    with pytest.raises(InvalidGenesis, match="faucet"):
        parse_genesis({"chainId": 5, "alloc": {}}).faucet_transfer(to, 1, 0)


A = "0x" + "ab" * 20


@pytest.mark.parametrize("doc, message", [
    ([], "JSON object"),
    ({"alloc": {}}, "lacks chainId"),
    ({"chainId": 0, "alloc": {}}, "chainId"),
    ({"chainId": "1", "alloc": {}}, "chainId"),
    ({"chainId": True, "alloc": {}}, "chainId"),
    ({"chainId": 1, "alloc": [], }, "alloc must be an object"),
    ({"chainId": 1, "alloc": {}, "gasLimit": 1}, "unknown genesis field"),
    ({"chainId": 1, "alloc": {"0x1234": {"balance": "1"}}}, "not 20 bytes"),
    ({"chainId": 1, "alloc": {"0x" + "zz" * 20: {"balance": "1"}}}, "not hex"),
    ({"chainId": 1, "alloc": {"0x" + "00" * 20: {"balance": "1"}}}, "zero address"),
    ({"chainId": 1, "alloc": {"0xF39fd6e51aad88F6F4ce6aB8827279cffFb92266": {"balance": "1"}}}, "EIP-55"),
    ({"chainId": 1, "alloc": {A: {"balance": "1"}, A.upper().replace("0X", "0x"): {"balance": "2"}}}, "twice"),
    ({"chainId": 1, "alloc": {A: {"balance": "-1"}}}, "range"),
    ({"chainId": 1, "alloc": {A: {"balance": str(2**64)}}}, "range"),
    ({"chainId": 1, "alloc": {A: {"balance": "ten"}}}, "not a decimal"),
    ({"chainId": 1, "alloc": {A: {"balance": 1.5}}}, "integer or a string"),
    ({"chainId": 1, "alloc": {A: {"balance": "1", "nonce": "2"}}}, "balance"),
    ({"chainId": 1, "alloc": {A: "1"}}, "balance"),
])
def test_invalid_genesis(doc, message):
    with pytest.raises(InvalidGenesis, match=message):
        parse_genesis(doc)


def test_invalid_files(tmp_path):
    with pytest.raises(InvalidGenesis, match="cannot read"):
        load_genesis(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"chainId": 1, "alloc": {')
    with pytest.raises(InvalidGenesis, match="not valid JSON"):
        load_genesis(bad)
    bad.write_text('{"chainId": 1, "chainId": 2, "alloc": {}}')
    with pytest.raises(InvalidGenesis, match="repeats the key"):
        load_genesis(bad)
    bad.write_bytes(b"\xff\xfe")
    with pytest.raises(InvalidGenesis, match="UTF-8"):
        load_genesis(bad)


def test_genesis_larger_than_the_ledger():
    g = parse_genesis({"chainId": 1, "alloc": {"0x" + os.urandom(20).hex(): {"balance": "1"} for _ in range(5)}})
    with pytest.raises(StateFull, match="5 accounts but the ledger has 4 slots"):
        LedgerState.from_genesis(g, 4)
