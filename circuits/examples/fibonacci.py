"""A Fibonacci sequence laid out `width` values per row.

Row i holds F(iw), …, F(iw + w − 1), with F(0) = a and F(1) = b public and the trace's very
last value public as `out`. Inside a row each value is the sum of the two before it; across
rows the first two values continue from the end of the previous row (transition constraints).
"""

from __future__ import annotations

from kernels.params import R_MODULUS
from prover.air import Air, AirBuilder
from prover.errors import InvalidCircuit


class Fibonacci(Air):
    def __init__(self, width: int = 2):
        if width < 2:
            raise InvalidCircuit("a Fibonacci row holds at least two values")
        self.width = width
        self.name = "fibonacci"
        self.witness_columns = tuple(f"f{j}" for j in range(width))
        self.public_inputs = ("a", "b", "out")

    def parameters(self) -> str:
        return f"width={self.width}"

    def eval(self, b: AirBuilder) -> None:
        f = [b.cur(c) for c in self.witness_columns]
        nxt = [b.next(c) for c in self.witness_columns]
        w = self.width
        for j in range(w - 2):
            b.assert_eq(f[j + 2], f[j] + f[j + 1], f"in_row_{j}")
        b.when_transition().assert_eq(nxt[0], f[w - 2] + f[w - 1], "carry_0")
        b.when_transition().assert_eq(nxt[1], f[w - 1] + nxt[0], "carry_1")
        b.when_first_row().assert_eq(f[0], b.public("a"), "starts_with_a")
        b.when_first_row().assert_eq(f[1], b.public("b"), "then_b")
        b.when_last_row().assert_eq(f[w - 1], b.public("out"), "ends_with_out")

    def trace(self, n: int, a: int = 1, b: int = 1):
        """(trace, public inputs) for n rows starting from a, b."""
        seq = [a % R_MODULUS, b % R_MODULUS]
        while len(seq) < n * self.width:
            seq.append((seq[-1] + seq[-2]) % R_MODULUS)
        cols = {c: seq[j::self.width] for j, c in enumerate(self.witness_columns)}
        return cols, {"a": seq[0], "b": seq[1], "out": seq[-1]}
