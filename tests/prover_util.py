"""Shared set-up for the prover tests: one development SRS per process, keys per circuit."""

from __future__ import annotations

import functools
import random

from kernels import get_backend
from kernels.params import R_MODULUS
from prover.air import compile_air
from prover.groups import srs_size
from prover.keys import setup
from prover.srs import dev_setup

from circuits.examples import Fibonacci, RangeCheck, Transfers


@functools.lru_cache(maxsize=None)
def srs_for(size: int, backend: str = "cpu"):
    return dev_setup(size, b"zkpipe tests", insecure=True, be=get_backend(backend))


def keys_for(air, log2_n: int, backend: str = "cpu"):
    """Keys of `air` at 2^log2_n rows over an SRS that also fits every example circuit at that
    size, so that the examples share one development setup (the slowest part of a small test).
    Every small size shares one SRS of 2^14 powers."""
    n = 1 << log2_n
    size = max(srs_size(compile_air(a), n) for a in [air] + [example_air(e, log2_n) for e in EXAMPLES])
    size = max(size, 1 << 14)
    # Cut to this circuit's D first: `setup` given more powers than D makes one more
    # contribution for a degree-bounded circuit (random, so the keys would differ per call).
    srs = srs_for(size, backend).truncate(srs_size(compile_air(air), n))
    return setup(air, log2_n, srs, get_backend(backend))


def example_air(name: str, log2_n: int):
    if name == "fibonacci":
        return Fibonacci(3)
    if name == "range_check":
        return RangeCheck(min(3, log2_n))
    if name == "multiset":
        return Transfers()
    raise ValueError(name)


def example(name: str, log2_n: int, seed: int = 0):
    """(air, trace, public inputs) of an example circuit, with a non-trivial trace."""
    import random
    rnd = random.Random(seed)
    n = 1 << log2_n
    air = example_air(name, log2_n)
    if name == "fibonacci":
        trace, pub = air.trace(n, rnd.randrange(1, 1000), rnd.randrange(1, 1000))
    elif name == "range_check":
        trace, pub = air.trace([rnd.randrange(8) for _ in range(n)], n)
    elif name == "multiset":
        transfers = [(rnd.randrange(n), rnd.randrange(n), rnd.randrange(1, 1 << 20)) for _ in range(n)]
        # Every row moves value, so that no cell is free to change.
        trace, pub = air.trace(transfers, n)
    else:
        raise ValueError(name)
    return air, trace, pub


EXAMPLES = ("fibonacci", "range_check", "multiset")


def with_one_cell_changed(air, trace, rnd: random.Random, rows: int) -> dict:
    """A copy of `trace` with one random witness cell (among the first `rows` rows) moved by a
    nonzero amount."""
    col = rnd.choice(air.witness_columns)
    row = rnd.randrange(rows)
    bad = {c: list(v) for c, v in trace.items()}
    bad[col][row] = (bad[col][row] + rnd.randrange(1, R_MODULUS)) % R_MODULUS
    return bad
