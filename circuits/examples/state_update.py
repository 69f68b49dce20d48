"""A state of n slots moved by one batch: the shape the rollup contract binds on the L1.

Row i holds slot i's value before the batch (`old`), its change (`delta`) and its value after
(`new`), each its own public group: committed without blinding, so that anyone holding the values
recomputes the commitments the L1 stores (old and new state) and the batch's data commitment
(delta). `acc` sums the deltas and ends at the public input `net`.
"""

from __future__ import annotations

from kernels.params import R_MODULUS
from prover.air import Air, AirBuilder
from prover.errors import InvalidInput
from prover.state_layout import StateLayout


class StateUpdate(Air):
    name = "state_update"
    witness_columns = ("old", "new", "delta", "acc")
    public_groups = {"old_state": ("old",), "new_state": ("new",), "data": ("delta",)}
    public_inputs = ("net",)
    # Which public groups the rollup contract reads as old state, new state and batch data.
    state_layout = StateLayout(old_state="old_state", new_state="new_state", data="data")

    def eval(self, b: AirBuilder) -> None:
        b.assert_eq(b.cur("new"), b.cur("old") + b.cur("delta"), "moves")
        b.when_first_row().assert_eq(b.cur("acc"), b.cur("delta"), "acc_starts")
        b.when_transition().assert_eq(b.next("acc"), b.cur("acc") + b.next("delta"), "acc_sums")
        b.when_last_row().assert_eq(b.cur("acc"), b.public("net"), "acc_ends")

    def trace(self, old, delta):
        """(trace, public inputs) moving state `old` by `delta` (one value per row each)."""
        if len(old) != len(delta):
            raise InvalidInput(f"{len(old)} slots but {len(delta)} deltas")
        new = [(o + d) % R_MODULUS for o, d in zip(old, delta)]
        acc, total = [], 0
        for d in delta:
            total = (total + d) % R_MODULUS
            acc.append(total)
        return {"old": list(old), "new": new, "delta": list(delta), "acc": acc}, {"net": total}
