"""The project's circuits by name, for the command line (`zkpipe export-verifier --circuit
NAME`) and the benchmarks.

Each entry is "module:Class"; its module is imported only when the circuit is asked for, so
naming a circuit costs nothing until it is used. A circuit is constructed without arguments,
except one whose class sets `sized_by_rows` (the ledger: its limb width is log2 of its rows),
which takes the trace size, e.g. a verification key's `log2_n`.
"""

from __future__ import annotations

import importlib

CIRCUITS: dict[str, str] = {
    "fibonacci": "circuits.examples.fibonacci:Fibonacci",
    "range_check": "circuits.examples.range_check:RangeCheck",
    "transfers": "circuits.examples.multiset:Transfers",
    "state_update": "circuits.examples.state_update:StateUpdate",
    "ledger": "circuits.ledger:Ledger",
}


def load_circuit(name: str, log2_rows: int | None = None):
    """The circuit registered as `name` (an instance of prover.air.Air); `log2_rows` is used
    (and required) by circuits built for one trace size."""
    from kernels.errors import InvalidInput

    if name not in CIRCUITS:
        raise InvalidInput(f"unknown circuit {name!r}; known: {', '.join(sorted(CIRCUITS))}")
    module, cls = CIRCUITS[name].split(":")
    air_class = getattr(importlib.import_module(module), cls)
    if not getattr(air_class, "sized_by_rows", False):
        return air_class()
    if log2_rows is None:
        raise InvalidInput(f"circuit {name!r} is built for one trace size: give log2_rows (the key's log2_n)")
    return air_class(log2_rows)
