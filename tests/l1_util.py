"""Shared set-up for the L1 tests: a small state-transition circuit with the shape of the
ledger's (old state, new state, batch data as public groups), and proofs of chained batches."""

from __future__ import annotations

import functools
import random

from kernels import get_backend
from kernels.params import R_MODULUS
from prover.air import Air, AirBuilder
from prover.prove import prove, public_commitment
from prover.solidity import StateLayout

from .prover_util import keys_for

BE = get_backend("cpu")
LOG2_N = 3


class ToyLedger(Air):
    """new = old + delta on every row; `acc` sums delta and ends at the public input `net`."""

    name = "l1_toy_ledger"
    witness_columns = ("old", "new", "delta", "acc")
    public_groups = {"old_state": ("old",), "new_state": ("new",), "data": ("delta",)}
    public_inputs = ("net",)

    def eval(self, b: AirBuilder) -> None:
        b.assert_eq(b.cur("new"), b.cur("old") + b.cur("delta"), "moves")
        b.when_first_row().assert_eq(b.cur("acc"), b.cur("delta"), "acc_starts")
        b.when_transition().assert_eq(b.next("acc"), b.cur("acc") + b.next("delta"), "acc_sums")
        b.when_last_row().assert_eq(b.cur("acc"), b.public("net"), "acc_ends")

    def trace(self, old, delta):
        new = [(o + d) % R_MODULUS for o, d in zip(old, delta)]
        acc, s = [], 0
        for d in delta:
            s = (s + d) % R_MODULUS
            acc.append(s)
        return {"old": list(old), "new": new, "delta": list(delta), "acc": acc}, {"net": s}


LAYOUT = StateLayout(old_state="old_state", new_state="new_state", data="data")


@functools.lru_cache(maxsize=None)
def toy_keys():
    return keys_for(ToyLedger(), LOG2_N)


def column_commitment(pk, values):
    """The commitment of a one-column public group, as anyone holding its values computes it."""
    return public_commitment(pk.srs_g1, [list(values)], BE)


@functools.lru_cache(maxsize=None)
def toy_batches(count: int = 3, seed: int = 5):
    """(genesis balances, [(proof bytes, public inputs list, new balances)] for batches 1..count)."""
    air = ToyLedger()
    pk, vk = toy_keys()
    rnd = random.Random(seed)
    n = 1 << LOG2_N
    state = [rnd.randrange(1000) for _ in range(n)]
    genesis = list(state)
    out = []
    for _ in range(count):
        delta = [rnd.randrange(100) for _ in range(n)]
        trace, pub = air.trace(state, delta)
        proof = prove(air, pk, trace, pub, BE)
        out.append((proof.to_bytes(), [pub["net"]], trace["new"]))
        state = trace["new"]
    return genesis, tuple(out)
