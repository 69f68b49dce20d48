"""Which public groups of a circuit a rollup contract reads from its proofs (docs/protocol.md §8).

A circuit declares it as `Air.state_layout`; the Solidity writer turns it into the functions the
rollup calls, and the node reads it to know what the L1 holds.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class StateLayout:
    """Which public groups a rollup reads from a proof: the old state (bound to what the L1
    holds), the new state (what the L1 stores next) and the batch's data. Each is a group name
    (or a tuple of them); the L1's state commitment is keccak256 of the named groups'
    commitments, 64 bytes each, in order — for one group, of its single commitment.

    `batch_index` names the public input that carries the batch's number: the rollup then
    accepts the proof only as that batch, so that a proof can never be replayed as a later
    batch (one that leaves the state unchanged would otherwise fit again)."""

    old_state: str | tuple[str, ...]
    new_state: str | tuple[str, ...]
    data: str | tuple[str, ...] = ()
    batch_index: str | None = None

    def __post_init__(self):
        for name in ("old_state", "new_state", "data"):
            value = getattr(self, name)
            setattr(self, name, (value,) if isinstance(value, str) else tuple(value))
