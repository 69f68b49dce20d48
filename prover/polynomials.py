"""Polynomial helpers over a backend's Fr arrays: the domain H, its cosets, and the few
sequential-looking operations (prefix sums, division by Y − c, evaluation at a point) written
as scans or blocked passes of whole-array operations, so that they run at the backend's vector
speed on either device."""

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


def synthetic_division(be, coeffs, c: int, block: int = 64):
    """(quotient, remainder) of A(Y) = Σ_j a_j·Y^j divided by (Y − c), along axis 0 of a
    `(M, C, 4)` array: C polynomials at once (the residue classes of a packed polynomial).
    The quotient is `(M − 1, C, 4)`, w_i = Σ_{j>i} a_j·c^{j−i−1}; the remainder `(C, 4)` is A(c).

    Horner's rule is sequential; here it runs in blocks of `block` rows, so every step is a
    whole-array operation over all blocks: a Horner pass inside each block (`block` steps)
    gives each block's local quotient and its value V_b = Σ_s a_{bS+s}·c^s; the carries
    T_b = Σ_{b' ≥ b} V_{b'}·c^{S(b'−b)} are the same division one level up (of V by Y − c^S);
    then w_{bS+s} = local_{b,s} + c^{S−1−s}·T_{b+1}. About 4 passes over the data instead of
    the log2(M) of a parallel scan."""
    fr = be.fr
    xp = be.xp
    m, cols = coeffs.shape[0], coeffs.shape[1]
    cc = const(be, c)
    if m <= block:
        out = fr.zeros(m * cols).reshape(m, cols, 4)
        acc = fr.zeros(cols)
        for j in range(m - 1, -1, -1):
            out[j] = acc
            acc = fr.add(coeffs[j], fr.mul(acc, cc))
        return out[:m - 1], acc
    s_len = block
    blocks = -(-m // s_len)
    padded = coeffs
    if blocks * s_len != m:
        padded = xp.concatenate([coeffs, fr.zeros((blocks * s_len - m) * cols).reshape(-1, cols, 4)], axis=0)
    # (S, B, C, 4): row s holds coefficient s of every block, contiguous.
    rows = xp.ascontiguousarray(padded.reshape(blocks, s_len, cols, 4).transpose(1, 0, 2, 3))
    local = xp.empty_like(rows)
    acc = fr.zeros(blocks * cols).reshape(blocks, cols, 4)
    for s in range(s_len - 1, -1, -1):
        local[s] = acc
        acc = fr.add(rows[s], fr.mul(acc, cc))
    carries, remainder = synthetic_division(be, acc, pow(c, s_len, R_MODULUS), block)
    # T_{b+1} for b = 0 … B−1 (T_B = 0).
    t_next = xp.concatenate([carries, fr.zeros(cols).reshape(1, cols, 4)], axis=0)
    pw = powers(be, c, s_len)
    for s in range(s_len):
        e = s_len - 1 - s
        local[s] = fr.add(local[s], fr.mul(t_next, pw[e:e + 1]))
    quotient = local.transpose(1, 0, 2, 3).reshape(blocks * s_len, cols, 4)[:m - 1]
    return xp.ascontiguousarray(quotient), remainder


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


def pack(be, polys, length: int):
    """The packed polynomial of a commitment group (prover.groups): coefficient j·k + i is
    coefficient j of polys[i]; each poly `(L_i, 4)` with L_i ≤ length, padded with zeros.
    Returns `(k·length, 4)`."""
    xp = be.xp
    k = len(polys)
    out = xp.zeros((length, k, 4), dtype=xp.uint64)
    for i, p in enumerate(polys):
        out[:p.shape[0], i] = p
    return out.reshape(length * k, 4)


def divide_by_power(be, packed, k: int, c: int):
    """(P(X) − r(X)) / (X^k − c) and the k values f_i(c) (the coefficients of r), for a packed
    P of k·length coefficients: residue class i of P's exponents is f_i(Y) at Y = X^k, so this
    is the division of every f_i by (Y − c) at once."""
    length = packed.shape[0] // k
    q, rem = synthetic_division(be, packed.reshape(length, k, 4), c)
    return q.reshape((length - 1) * k, 4), be.fr.to_ints(rem)
