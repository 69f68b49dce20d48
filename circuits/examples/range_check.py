"""Every value lies in [0, 2^bits): a lookup into a fixed table column holding 0 … 2^bits − 1.

The table has one entry per row (rows past 2^bits repeat the largest value), so the circuit
needs n ≥ 2^bits. `mult` counts how often each table row is used; the first value is public.
"""

from __future__ import annotations

from prover.air import Air, AirBuilder, lookup_multiplicities


class RangeCheck(Air):
    witness_columns = ("value", "mult")
    fixed_columns = ("table",)
    public_inputs = ("first",)

    def __init__(self, bits: int = 3):
        self.bits = bits
        self.name = "range_check"

    def parameters(self) -> str:
        return f"bits={self.bits}"

    def min_rows(self) -> int:
        return max(8, 1 << self.bits)

    def fixed_values(self, n: int):
        top = (1 << self.bits) - 1
        return {"table": [min(i, top) for i in range(n)]}

    def eval(self, b: AirBuilder) -> None:
        b.lookup(b.cur("value"), b.cur("table"), b.cur("mult"), "value_in_range")
        b.when_first_row().assert_eq(b.cur("value"), b.public("first"))

    def trace(self, values, n: int):
        """(trace, public inputs) for these values, padded with zeros to n rows."""
        values = list(values) + [0] * (n - len(values))
        mult = lookup_multiplicities(values, self.fixed_values(n)["table"])
        return {"value": values, "mult": mult}, {"first": values[0]}
