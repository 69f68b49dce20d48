"""The ledger's public commitments: the state the L1 holds, and each batch's data.

Anyone holding a public group's values can recompute its commitment (the columns are committed
unblinded). Protocol v1 commits each public column on its own; protocol v2 packs each public
group (old_state, new_state, data) into one commitment. This module is the one place that knows
which protocol the prover speaks: callers see, per group, a tuple of points (two for a v1 state,
one under v2), and the L1's state commitment is the old_state tuple.

Because old_state and new_state list their columns in the same order (address, balance) and a
state has one row per slot, equal states commit equally: batch k's new state commitment is
batch k+1's old state commitment.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

import prover.prove as _prove
from prover.proof import decode_proof

from .ledger_air import Ledger

Point = tuple[int, int]

# Protocol v2 exposes the packed commitment of a public group; v1 has one commitment per column.
PACKED_GROUPS = hasattr(_prove, "public_commitment")


def group_commitment(srs_g1, columns: Sequence[Sequence[int]], backend=None) -> tuple[Point, ...]:
    """The commitment of one public group from its columns' values, in the group's order."""
    from kernels import get_backend
    be = backend or get_backend("auto")
    if PACKED_GROUPS:
        return (_prove.public_commitment(srs_g1, [_ints(c) for c in columns], be),)
    srs = be.asarray(srs_g1)
    out = []
    for i, col in enumerate(columns):
        values = _prove.column_to_field(be, col, len(col), f"column {i}")
        out.append(_prove.commit(be, srs, be.ntt(values, inverse=True)))
    return tuple(out)


def state_commitment(srs_g1, log2_rows: int, addresses: Sequence[int], balances: Sequence[int],
                     backend=None) -> tuple[Point, ...]:
    """The commitment of a ledger state (slot a holds addresses[a], balances[a]; slots past the
    lists are empty), as the L1 stores it: a genesis state, or any batch's new state."""
    n = 1 << log2_rows
    addr = [int(a) for a in addresses] + [0] * (n - len(addresses))
    bal = [int(b) for b in balances] + [0] * (n - len(balances))
    return group_commitment(srs_g1, [addr, bal], backend)


def trace_commitments(air: Ledger, srs_g1, trace: Mapping[str, Sequence[int]], backend=None) -> dict:
    """group name → commitment, for every public group of a trace."""
    return {name: group_commitment(srs_g1, [trace[c] for c in cols], backend)
            for name, cols in air.public_groups.items()}


def proof_commitments(air: Ledger, vk, proof: bytes) -> dict:
    """group name → the commitment a proof carries for it (the proof is decoded strictly)."""
    p = decode_proof(proof, vk)
    if PACKED_GROUPS:
        from prover.air import compile_air
        from prover.groups import PUBLIC, commitment_groups
        groups = [g for g in commitment_groups(compile_air(air), vk.n) if g.kind != "fixed"]
        return {g.name: (pt,) for g, pt in zip(groups, p.commitments) if g.kind == PUBLIC}
    return {name: tuple(p.witness_commitments[air.witness_columns.index(c)] for c in cols)
            for name, cols in air.public_groups.items()}


def pinned(air: Ledger, groups: Mapping[str, tuple[Point, ...]]) -> dict:
    """The `public_commitments` argument of prover.verify.verify that pins these groups."""
    if PACKED_GROUPS:
        return {name: pts[0] for name, pts in groups.items()}
    out = {}
    for name, pts in groups.items():
        cols = air.public_groups[name]
        out.update(zip(cols, pts))
    return out


def _ints(col) -> list[int]:
    return col.tolist() if isinstance(col, np.ndarray) else [int(v) for v in col]
