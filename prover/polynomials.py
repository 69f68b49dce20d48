"""Polynomial helpers over a backend's Fr arrays: the domain H, its cosets, and the few
sequential-looking operations (prefix sums, division by X − z, evaluation at a point) written
as log-depth scans of whole-array operations, so that they run at the backend's vector speed
on either device."""

from __future__ import annotations

from kernels.convert import to_montgomery
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


def const(be, value: int):
    """A one-element array that the backend's binary operations broadcast. Converted in Python:
    a kernel launch per constant would cost more than the constant is worth."""
    return be.asarray(to_montgomery([value % R_MODULUS], R_MODULUS))


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
    xp = _xp(be)
    return xp.concatenate([a, b], axis=0)


def _xp(be):
    """The array module of the backend (numpy or cupy), for shape-only operations."""
    mod = type(be.fr.zeros(1)).__module__.split(".")[0]
    if mod == "cupy":
        import cupy
        return cupy
    import numpy
    return numpy


def tree_sum(be, a):
    """Σ along axis −2 of `(..., L, 4)`, by halving: log2 L vector additions."""
    fr = be.fr
    xp = _xp(be)
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
    xp = _xp(be)
    m, length = coeffs.shape[0], coeffs.shape[1]
    pw = powers(be, x, length)
    terms = be.fr.mul(coeffs, xp.ascontiguousarray(xp.broadcast_to(pw, (m, length, 4))))
    return be.fr.to_ints(tree_sum(be, terms))


def inclusive_prefix_sum(be, values):
    """out[i] = values[0] + … + values[i] (Hillis–Steele scan, log2 n additions)."""
    fr = be.fr
    out = values.copy()
    step, n = 1, values.shape[0]
    while step < n:
        moved = fr.add(out[step:], out[:n - step])
        out[step:] = moved
        step *= 2
    return out


def divide_by_linear(be, coeffs, z: int):
    """Coefficients of (P(X) − P(z)) / (X − z) for P given by `(L, 4)` coefficients.

    The quotient's coefficients are w_i = Σ_{j>i} p_j·z^{j−i−1}, a suffix scan with weights:
    after the step of stride s, w_i holds the terms j ∈ (i, i + 2s]."""
    fr = be.fr
    length = coeffs.shape[0]
    w = coeffs[1:].copy()
    zs = z % R_MODULUS
    step = 1
    while step < length - 1:
        moved = fr.mul(w[step:], const(be, zs))
        w[:length - 1 - step] = fr.add(w[:length - 1 - step], moved)
        zs = zs * zs % R_MODULUS
        step *= 2
    return w


def linear_combination(be, polys, scalars: list[int], length: int):
    """Σ scalars[k]·polys[k], each poly a `(L_k, 4)` array with L_k ≤ length."""
    fr = be.fr
    acc = fr.zeros(length)
    for p, s in zip(polys, scalars):
        if s % R_MODULUS == 0:
            continue
        term = p if s % R_MODULUS == 1 else fr.mul(p, const(be, s))
        acc[:term.shape[0]] = fr.add(acc[:term.shape[0]], term)
    return acc
