"""Polynomial helpers over a backend's Fr arrays: the domain H, its cosets, and the few
sequential-looking operations (prefix sums, evaluation at a point) written as scans of
whole-array operations, so that they run at the backend's vector speed on either device; the
division by Y − c is the backend's own (`Backend.synthetic_division`)."""

from __future__ import annotations

from kernels.convert import fr_const as const
from kernels.params import R_GENERATOR, R_MODULUS, root_of_unity

COSET_SHIFT = R_GENERATOR  # the quotient is computed on the coset 5·H_E (5 generates Fr*)


class Domain:
    """H = ⟨ω⟩ of size n = 2^log2_n, with the few constants the protocol uses."""

    def __init__(self, log2_n: int):
        self.log2_n = log2_n
        self.n = 1 << log2_n
        self.omega = root_of_unity(log2_n)
        self.omega_last = pow(self.omega, self.n - 1, R_MODULUS)  # ω^{n−1}, the last row

    def vanishing(self, x: int) -> int:
        """Z_H(x) = x^n − 1."""
        return (pow(x, self.n, R_MODULUS) - 1) % R_MODULUS


def powers(be, x: int, count: int):
    """[1, x, x², …, x^{count−1}] as an array, by doubling: each step multiplies the block
    computed so far by x^{len}."""
    fr = be.fr
    out = fr.from_ints([1])
    xp = x % R_MODULUS
    while out.shape[0] < count:
        out = be.asarray(_concat(be, out, fr.mul(out, const(be, xp))))
        xp = xp * xp % R_MODULUS
    return out[:count]


def _concat(be, a, b):
    return be.xp.concatenate([a, b], axis=0)


def tree_sum(be, a):
    """Σ along axis −2 of `(..., L, 4)`, by halving: log2 L vector additions."""
    fr = be.fr
    xp = be.xp
    while a.shape[-2] > 1:
        length = a.shape[-2]
        if length % 2:
            pad = xp.zeros(a.shape[:-2] + (1, 4), dtype=a.dtype)
            a = xp.concatenate([a, pad], axis=-2)
            length += 1
        half = length // 2
        a = fr.add(xp.ascontiguousarray(a[..., :half, :]), xp.ascontiguousarray(a[..., half:, :]))
    return a[..., 0, :]


def evaluate_many(be, coeffs, x: int) -> list[int]:
    """Each polynomial of `(M, L, 4)` coefficients evaluated at x."""
    xp = be.xp
    m, length = coeffs.shape[0], coeffs.shape[1]
    pw = powers(be, x, length)
    terms = be.fr.mul(coeffs, xp.ascontiguousarray(xp.broadcast_to(pw, (m, length, 4))))
    return be.fr.to_ints(tree_sum(be, terms))


def pack(be, polys, length: int):
    """The packed polynomial of a commitment group (prover.groups): coefficient j·k + i is
    coefficient j of polys[i]; each poly `(L_i, 4)` with L_i ≤ length, padded with zeros.
    Returns `(k·length, 4)`."""
    return be.stack_padded(polys, length, axis=1).reshape(length * len(polys), 4)


def divide_by_power(be, packed, k: int, c: int):
    """(P(X) − r(X)) / (X^k − c) and the k values f_i(c) (the coefficients of r), for a packed
    P of k·length coefficients: residue class i of P's exponents is f_i(Y) at Y = X^k, so this
    is the division of every f_i by (Y − c) at once."""
    return divide_by_powers(be, [(packed, k, c)])[0]


def divide_by_powers(be, claims):
    """`divide_by_power` of each (packed, k, c) of `claims`, all in one backend call."""
    shaped = [packed.reshape(packed.shape[0] // k, k, 4) for packed, k, _ in claims]
    done = be.synthetic_divisions([(a, c) for a, (_, _, c) in zip(shaped, claims)])
    return [(q.reshape(-1, 4), be.fr.to_ints(rem)) for q, rem in done]
