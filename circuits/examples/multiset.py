"""Transfers between slots balance the slots' changes: a weighted multiset sum.

Each row is one transfer (src, dst, amount) and one slot (the row index, a fixed column) with
its net change `delta`. The argument Σ amount/(β − dst) − amount/(β − src) − delta/(β − slot) = 0
holds exactly when every slot's delta is what the transfers move in and out of it: the shape of
the ledger circuit's balance argument.
"""

from __future__ import annotations

from kernels.params import R_MODULUS
from prover.air import Air, AirBuilder


class Transfers(Air):
    name = "transfers"
    witness_columns = ("src", "dst", "amount", "delta")
    fixed_columns = ("slot",)
    public_inputs = ()

    def fixed_values(self, n: int):
        return {"slot": list(range(n))}

    def eval(self, b: AirBuilder) -> None:
        amount = b.cur("amount")
        b.multiset_sum([(amount, b.cur("dst")),
                        (-amount, b.cur("src")),
                        (-b.cur("delta"), b.cur("slot"))], "value_moves")

    def trace(self, transfers, n: int):
        """(trace, public inputs) for [(src, dst, amount), …] padded with empty transfers."""
        transfers = list(transfers) + [(0, 0, 0)] * (n - len(transfers))
        delta = [0] * n
        for s, d, a in transfers:
            delta[d] += a
            delta[s] -= a
        return ({"src": [t[0] for t in transfers], "dst": [t[1] for t in transfers],
                 "amount": [t[2] for t in transfers], "delta": [x % R_MODULUS for x in delta]}, {})
