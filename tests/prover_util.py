"""Shared set-up for the prover tests: one development SRS per process, keys per circuit."""

from __future__ import annotations

import functools

from kernels import get_backend
from prover.air import compile_air
from prover.keys import setup
from prover.srs import dev_setup

from circuits.examples import Fibonacci, RangeCheck, Transfers


@functools.lru_cache(maxsize=None)
def srs_for(size: int, backend: str = "cpu"):
    return dev_setup(size, b"zkpipe tests", insecure=True, backend=get_backend(backend))


def keys_for(air, log2_n: int, backend: str = "cpu"):
    n = 1 << log2_n
    size = max(128, compile_air(air).srs_size(n))
    # One SRS serves every small size: round its length up to a power of two.
    size = 1 << (size - 1).bit_length()
    return setup(air, log2_n, srs_for(size, backend), get_backend(backend))


def example(name: str, log2_n: int, seed: int = 0):
    """(air, trace, public inputs) of an example circuit, with a non-trivial trace."""
    import random
    rnd = random.Random(seed)
    n = 1 << log2_n
    if name == "fibonacci":
        air = Fibonacci(3)
        trace, pub = air.trace(n, rnd.randrange(1, 1000), rnd.randrange(1, 1000))
    elif name == "range_check":
        air = RangeCheck(min(3, log2_n))
        trace, pub = air.trace([rnd.randrange(8) for _ in range(n)], n)
    elif name == "multiset":
        air = Transfers()
        transfers = [(rnd.randrange(n), rnd.randrange(n), rnd.randrange(1, 1 << 20)) for _ in range(n)]
        # Every row moves value, so that no cell is free to change.
        trace, pub = air.trace(transfers, n)
    else:
        raise ValueError(name)
    return air, trace, pub


EXAMPLES = ("fibonacci", "range_check", "multiset")
