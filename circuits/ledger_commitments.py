"""The ledger's public commitments: the state the L1 holds, and each batch's data.

Anyone holding a public group's values can recompute its commitment (the columns are committed
unblinded, packed per group: docs/protocol.md). Callers see, per group, a tuple of points (one
packed commitment per group), and the L1's state commitment is keccak of the old_state tuple.

Because old_state and new_state list their columns in the same order (address, balance) and a
state has one row per slot, equal states commit equally: batch k's new state commitment is
batch k+1's old state commitment.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from kernels.backend import Backend
from prover.air import compile_air
from prover.groups import commitment_groups
from prover.proof import decode_proof
from prover.prove import public_commitment
from prover.types import G1Point, GroupKind

from .ledger_air import Ledger


def group_commitment(srs_g1, columns: Sequence[Sequence[int]], be: Backend | None = None) -> tuple[G1Point, ...]:
    """The commitment of one public group from its columns' values, in the group's order."""
    return (public_commitment(srs_g1, [_ints(c) for c in columns], be),)


def state_commitment(srs_g1, log2_rows: int, addresses: Sequence[int], balances: Sequence[int],
                     be: Backend | None = None) -> tuple[G1Point, ...]:
    """The commitment of a ledger state (slot a holds addresses[a], balances[a]; slots past the
    lists are empty), as the L1 stores it: a genesis state, or any batch's new state."""
    n = 1 << log2_rows
    addr = [int(a) for a in addresses] + [0] * (n - len(addresses))
    bal = [int(b) for b in balances] + [0] * (n - len(balances))
    return group_commitment(srs_g1, [addr, bal], be)


def trace_commitments(air: Ledger, srs_g1, trace: Mapping[str, Sequence[int]], be: Backend | None = None) -> dict:
    """group name → commitment, for every public group of a trace."""
    return {name: group_commitment(srs_g1, [trace[c] for c in cols], be)
            for name, cols in air.public_groups.items()}


def proof_commitments(air: Ledger, vk, proof: bytes) -> dict:
    """group name → the commitment a proof carries for it (the proof is decoded strictly)."""
    p = decode_proof(proof, vk, publishes=air.publication is not None)
    groups = [g for g in commitment_groups(compile_air(air), vk.n) if g.kind != GroupKind.FIXED]
    return {g.name: (pt,) for g, pt in zip(groups, p.commitments) if g.kind == GroupKind.PUBLIC}


def pinned(groups: Mapping[str, tuple[G1Point, ...]]) -> dict:
    """The `public_commitments` argument of prover.verify.verify that pins these groups."""
    return {name: pts[0] for name, pts in groups.items()}


def _ints(col) -> list[int]:
    return col.tolist() if isinstance(col, np.ndarray) else [int(v) for v in col]
