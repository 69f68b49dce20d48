"""The constraints folded by powers of α, one sum per selector, and the quotient identity those
sums satisfy (docs/protocol.md §4.3, §6).

Written once over an *algebra*: an object with `const`, `add`, `sub`, `mul`, `neg`, `share`
and `keep`. Three algebras interpret it: backend arrays on the prover's coset (prover.prove),
Python ints mod r at ζ (`IntAlgebra`, prover.verify) and Yul expressions (prover.solidity), so
the α powers and the selector sums are fixed in this one place.

`share(expr, value)` is called on the value of every inner node of an expression (a Yul writer
keeps a subtree used twice in memory); `keep(value, name)` on every running sum and α power (a
Yul writer stores it in the named slot, so that expressions never grow with the circuit).
"""

from __future__ import annotations

from typing import Callable, Sequence

from kernels.params import R_MODULUS

from .air import Constraint, Expr, evaluate
from .types import Selector


class IntAlgebra:
    """Arithmetic mod r on Python ints: the verifier's algebra at ζ."""

    @staticmethod
    def const(v):
        return v % R_MODULUS

    @staticmethod
    def add(a, b):
        return (a + b) % R_MODULUS

    @staticmethod
    def sub(a, b):
        return (a - b) % R_MODULUS

    @staticmethod
    def mul(a, b):
        return (a * b) % R_MODULUS

    @staticmethod
    def neg(a):
        return (-a) % R_MODULUS

    @staticmethod
    def share(e, v):
        return v

    @staticmethod
    def keep(v, name):
        return v


def fold_constraints(constraints: Sequence[Constraint], alg, leaf: Callable[[Expr], object],
                     alpha) -> dict[Selector, object]:
    """A_s = Σ_{j : selector_j = s} α^j·C_j for every selector some constraint uses (absent
    selectors sum to zero). Constraint j is weighted by α^j in declaration order."""
    acc: dict[Selector, object] = {}
    cache: dict = {}
    a_pow = None  # α^0, left out of the products
    for j, c in enumerate(constraints):
        value = evaluate(c.expr, alg, leaf, cache)
        term = value if a_pow is None else alg.mul(a_pow, value)
        total = term if c.selector not in acc else alg.add(acc[c.selector], term)
        acc[c.selector] = alg.keep(total, f"acc_{c.selector}")
        if j + 1 < len(constraints):
            a_pow = alpha if a_pow is None else alg.keep(alg.mul(a_pow, alpha), "apow")
    return acc


def horner(alg, coefficients: Sequence, x):
    """Σ_i coefficients[i]·x^i."""
    out = coefficients[-1]
    for c in reversed(coefficients[:-1]):
        out = alg.add(alg.mul(out, x), c)
    return out


def quotient_identity(alg, acc: dict, q_at_zeta, zh, d_first, d_last):
    """Both sides of the quotient identity at ζ, cross-multiplied so that nothing is inverted:
        Q(ζ)·Z_H(ζ)·(ζ−1)(ζ−ω^{n−1})
          = (A_every + A_trans·(ζ−ω^{n−1}))·(ζ−1)(ζ−ω^{n−1})
            + A_first·Z_H(ζ)·(ζ−ω^{n−1}) + A_last·Z_H(ζ)·(ζ−1),
    with zh = Z_H(ζ), d_first = ζ − 1, d_last = ζ − ω^{n−1}. Q(ζ) = Σ_j ζ^{nj}·q_j(ζ) over the
    quotient's chunks. The prover computes the same Q by dividing instead (prover.prove)."""
    lhs = alg.mul(alg.mul(q_at_zeta, zh), alg.mul(d_first, d_last))
    parts = []
    every = acc.get(Selector.EVERY_ROW)
    if Selector.TRANSITION in acc:
        trans = alg.mul(acc[Selector.TRANSITION], d_last)
        every = trans if every is None else alg.add(every, trans)
    if every is not None:
        parts.append(alg.mul(every, alg.mul(d_first, d_last)))
    if Selector.FIRST_ROW in acc:
        parts.append(alg.mul(acc[Selector.FIRST_ROW], alg.mul(zh, d_last)))
    if Selector.LAST_ROW in acc:
        parts.append(alg.mul(acc[Selector.LAST_ROW], alg.mul(zh, d_first)))
    rhs = alg.const(0)
    for i, p in enumerate(parts):
        rhs = p if i == 0 else alg.add(rhs, p)
    return lhs, rhs
