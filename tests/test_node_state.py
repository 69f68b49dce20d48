"""The ledger state: slots, admission checks, and all-or-nothing execution, against a plain
dictionary model of the same rules."""

import os

import pytest

from node.errors import InvalidTransaction, StateFull
from node.genesis import parse_genesis
from node.state import LedgerState
from node.transactions import MAX_VALUE, Transfer


def transfer(sender, to, value, nonce):
    return Transfer(sender, to, value, nonce, os.urandom(32), b"")


def genesis(balances):
    return parse_genesis({"chainId": 1, "alloc": {"0x" + a.hex(): {"balance": b} for a, b in balances.items()}})


def snapshot(state):
    return (dict(state.slot_of), list(state.addresses), list(state.balances), list(state.nonces))


def test_random_transfers_match_a_dictionary_model(rng):
    funded = [os.urandom(20) for _ in range(6)]
    others = [os.urandom(20) for _ in range(6)]
    g = genesis({a: int(rng.integers(0, 1000)) for a in funded})
    admitted = LedgerState.from_genesis(g, 16)
    model_bal = dict(g.alloc)
    model_nonce = {}
    order = sorted(funded)
    accepted = []
    for _ in range(400):
        s = funded[int(rng.integers(len(funded)))]
        d = (funded + others)[int(rng.integers(12))]
        t = transfer(s, d, int(rng.integers(1, 300)), model_nonce.get(s, 0))
        ok = model_bal.get(s, 0) >= t.value
        try:
            admitted.admit(t)
        except InvalidTransaction as e:
            assert not ok and "insufficient funds" in str(e)
            continue
        assert ok
        model_bal[s] -= t.value
        model_bal[d] = model_bal.get(d, 0) + t.value
        model_nonce[s] = t.nonce + 1
        if d not in order:
            order.append(d)
        accepted.append(t)
    assert admitted.addresses == order  # slots in order of first credit
    for a in funded + others:
        assert admitted.balance(a) == model_bal.get(a, 0)
        assert admitted.nonce(a) == model_nonce.get(a, 0)
    # the executor's path over the same transfers reaches the same state
    executed = LedgerState.from_genesis(g, 16)
    rows = executed.execute(accepted)
    assert snapshot(executed) == snapshot(admitted)
    assert rows == [(executed.slot_of[t.sender], executed.slot_of[t.to], t.value) for t in accepted]
    assert sum(executed.balances) == sum(g.alloc.values())


def test_admission_refusals_change_nothing():
    a, b, c = sorted(os.urandom(20) for _ in range(3))
    state = LedgerState.from_genesis(genesis({a: 100, b: MAX_VALUE - 5}), 3)
    state.admit(transfer(a, b, 5, 0))
    before = snapshot(state)
    for t, message in [
        (transfer(a, b, 1, 0), "nonce too low: next nonce 1, tx nonce 0"),
        (transfer(a, b, 1, 2), "nonce too high: next nonce 1, tx nonce 2"),
        (transfer(a, c, 96, 1), "insufficient funds for gas \\* price \\+ value"),
        (transfer(c, a, 1, 0), "insufficient funds"),
        (transfer(a, b, 1, 1), "exceed the ledger's range"),
    ]:
        with pytest.raises(InvalidTransaction, match=message):
            state.admit(t)
        assert snapshot(state) == before
    state.admit(transfer(a, c, 10, 1))            # claims the last slot
    with pytest.raises(InvalidTransaction, match="ledger full: all 3 account slots"):
        state.admit(transfer(a, os.urandom(20), 1, 2))
    state.admit(transfer(a, a, 85, 2))            # to oneself: only the nonce moves
    assert (state.balance(a), state.nonce(a)) == (85, 3)


def test_execute_is_all_or_nothing():
    a, b = os.urandom(20), os.urandom(20)
    state = LedgerState.from_genesis(genesis({a: 50}), 4)
    before = snapshot(state)
    new = os.urandom(20)
    bad_batches = [
        [transfer(a, new, 10, 0), transfer(a, b, 10, 1), transfer(a, b, 31, 2)],   # overdraft
        [transfer(a, new, 10, 0), transfer(a, b, 10, 0)],                          # nonce reused
        [transfer(a, new, 10, 0), transfer(os.urandom(20), b, 1, 0)],              # no such sender
        [transfer(a, new, 10, 0), transfer(a, b, 0, 1)],                           # zero amount
    ]
    for batch in bad_batches:
        with pytest.raises(InvalidTransaction, match="does not apply"):
            state.execute(batch)
        assert snapshot(state) == before           # including the slot `new` had claimed
    full = LedgerState.from_genesis(genesis({a: 50}), 2)
    with pytest.raises(StateFull):
        full.execute([transfer(a, b, 1, 0), transfer(a, new, 1, 1)])
    assert full.claimed == 1 and full.balance(a) == 50
    rich = LedgerState.from_genesis(genesis({a: MAX_VALUE, b: 1}), 2)
    with pytest.raises(InvalidTransaction, match="2\\^64 - 1"):
        rich.execute([transfer(b, a, 1, 0)])
    assert (rich.balance(a), rich.balance(b), rich.nonce(b)) == (MAX_VALUE, 1, 0)
