"""Transaction decoding and sender recovery, checked against eth-account (the reference signer)
and eth-keys (the reference recovery), on fresh keys each run."""

import os
import pickle

import pytest
import rlp
from eth_account import Account
from eth_keys import keys as eth_keys
from eth_utils import to_checksum_address

from node.errors import InvalidTransaction
from node.transactions import (DYNAMIC_FEE, LEGACY, MAX_TX_SIZE, MAX_VALUE, SECP256K1_N, Transfer,
                               address_of, decode_transfer, decode_transfers, sign_transfer)

CHAIN = 23115


def tx_fields(kind, **over):
    to = to_checksum_address(over.pop("to", "0x" + "ab" * 20))
    if kind == DYNAMIC_FEE:
        tx = dict(type=2, chainId=CHAIN, nonce=7, maxFeePerGas=3 * 10**9, maxPriorityFeePerGas=10**9,
                  gas=21000, to=to, value=10**15, data=b"")
    else:
        tx = dict(chainId=CHAIN, nonce=7, gasPrice=2 * 10**9, gas=21000, to=to, value=10**15, data=b"")
    tx.update(over)
    return tx


def signed(kind, key=None, **over):
    account = Account.from_key(key or os.urandom(32))
    return account, bytes(account.sign_transaction(tx_fields(kind, **over)).raw_transaction)


def rebuild(raw, **fields):
    """Re-encode `raw` with some fields replaced (by index), keeping the rest byte for byte."""
    typed = raw[0] == DYNAMIC_FEE
    items = rlp.decode(raw[1:] if typed else raw)
    for index, value in fields.items():
        items[int(index[1:])] = value
    body = rlp.encode(items)
    return (b"\x02" + body) if typed else body


@pytest.mark.parametrize("kind", [LEGACY, DYNAMIC_FEE])
def test_decode_matches_eth_account(kind):
    for _ in range(5):
        account, raw = signed(kind)
        t = decode_transfer(raw, CHAIN)
        assert t.sender == bytes.fromhex(account.address[2:])
        assert t.to == bytes.fromhex("ab" * 20)
        assert (t.value, t.nonce, t.raw) == (10**15, 7, raw)
        assert t.hash == bytes(Account.from_key(account.key).sign_transaction(tx_fields(kind)).hash)
        # eth-account's recovery (eth-keys underneath) agrees on the sender
        assert Account.recover_transaction(raw) == account.address


@pytest.mark.parametrize("kind", [LEGACY, DYNAMIC_FEE])
def test_sign_transfer_matches_eth_account(kind):
    key = os.urandom(32)
    to = os.urandom(20)
    ours = sign_transfer(key, chain_id=CHAIN, nonce=7, to=to, value=10**15, kind=kind,
                         gas_price=2 * 10**9, max_fee_per_gas=3 * 10**9, max_priority_fee_per_gas=10**9)
    _, theirs = signed(kind, key, to="0x" + to.hex())
    assert ours == theirs
    assert address_of(key) == bytes.fromhex(eth_keys.PrivateKey(key).public_key.to_address()[2:])


def test_transfer_is_a_plain_tuple_that_pickles():
    results = decode_transfers([signed(LEGACY)[1], b"\x01\x02", signed(DYNAMIC_FEE)[1]], CHAIN)
    assert isinstance(results[0], Transfer) and isinstance(results[2], Transfer)
    assert isinstance(results[1], InvalidTransaction)
    again = pickle.loads(pickle.dumps(results))
    assert again[0] == results[0] and str(again[1]) == str(results[1])


def refused(raw, match):
    with pytest.raises(InvalidTransaction, match=match):
        decode_transfer(raw, CHAIN)


def quadratic_non_residue_x():
    """An r that is no point's x coordinate: recovery from it must fail."""
    p = 2**256 - 2**32 - 977
    x = 1
    while pow((x**3 + 7) % p, (p - 1) // 2, p) == 1:
        x += 1
    return x


@pytest.mark.parametrize("kind", [LEGACY, DYNAMIC_FEE])
def test_refusals(kind):
    _, raw = signed(kind)
    n_fields = 9 if kind == LEGACY else 12
    r_i, s_i = f"f{n_fields - 2}", f"f{n_fields - 1}"
    refused(raw[:-5], "rlp")                                          # truncated
    refused(raw + b"\x00", "rlp")                                     # trailing bytes
    refused(b"\x02\x80" if kind else b"\x85hello", "rlp")            # not a list
    refused(rebuild(raw, **{r_i: 0}), "invalid transaction v, r, s values")
    refused(rebuild(raw, **{r_i: SECP256K1_N}), "invalid transaction v, r, s values")
    refused(rebuild(raw, **{r_i: quadratic_non_residue_x()}), "invalid sender")
    # the same signature with s flipped to n - s (and the parity with it) is valid ECDSA but
    # malleable: EIP-2 refuses it
    items = rlp.decode(raw[1:] if kind else raw)
    s = int.from_bytes(items[-1], "big")
    v = int.from_bytes(items[-3], "big")
    other_v = (v ^ 1) if kind == DYNAMIC_FEE else (v + 1 if (v - 35) % 2 == 0 else v - 1)
    flipped = rebuild(raw, **{s_i: SECP256K1_N - s, f"f{n_fields - 3}": other_v})
    refused(flipped, "EIP-2")
    _, other_chain = signed(kind, chainId=CHAIN + 1)
    refused(other_chain, "invalid chain id")
    refused(signed(kind, data=b"\x01")[1], "data not supported")
    refused(rebuild(raw, **{"f3" if kind == LEGACY else "f5": b""}), "contract creation not supported")
    refused(signed(kind, to="0x" + "00" * 20)[1], "zero address")
    refused(signed(kind, value=0)[1], "zero-value")
    refused(signed(kind, value=MAX_VALUE + 1)[1], "range")
    refused(signed(kind, gas=20999)[1], "intrinsic gas too low")
    refused(signed(kind, nonce=2**64 - 1)[1], "nonce has max value")
    refused(raw + b"\x00" * MAX_TX_SIZE, "oversized data")
    assert decode_transfer(signed(kind, value=MAX_VALUE)[1], CHAIN).value == MAX_VALUE


def test_legacy_without_replay_protection_is_refused():
    account = Account.create()
    tx = tx_fields(LEGACY)
    del tx["chainId"]
    refused(bytes(account.sign_transaction(tx).raw_transaction), "EIP-155")


def test_dynamic_fee_specific_refusals():
    _, raw = signed(DYNAMIC_FEE)
    refused(signed(DYNAMIC_FEE, maxPriorityFeePerGas=4 * 10**9)[1], "max priority fee")
    refused(signed(DYNAMIC_FEE, accessList=[{"address": to_checksum_address("0x" + "11" * 20),
                                                   "storageKeys": []}])[1],
            "access lists not supported")
    refused(rebuild(raw, f9=2), "invalid transaction v, r, s values")
    refused(rebuild(raw, f1=b"\x00\x07"), "non-canonical integer")


def test_unsupported_types():
    account = Account.create()
    access_list_tx = dict(type=1, chainId=CHAIN, nonce=0, gasPrice=1, gas=21000,
                          to=to_checksum_address("0x" + "ab" * 20), value=1, data=b"",
                          accessList=[])
    refused(bytes(account.sign_transaction(access_list_tx).raw_transaction), "type not supported")
    refused(b"\x03" + signed(DYNAMIC_FEE)[1][1:], "type not supported")
    refused(b"", "empty")
    refused("0x02", "must be bytes")
