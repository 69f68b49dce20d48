"""Shared set-up for the L1 tests: a small state-transition circuit with the shape of the
ledger's (old state, new state, batch data as public columns), and proofs of chained batches."""

from __future__ import annotations

import functools
import random

from circuits.examples.state_update import StateUpdate
from kernels import get_backend
from prover.prove import prove, public_commitment

from .prover_util import keys_for

BE = get_backend("cpu")
LOG2_N = 3


# The state-transition example circuit: old state, new state and batch data as public columns.
ToyLedger = StateUpdate
LAYOUT = StateUpdate.state_layout


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
