"""Division of polynomials by (Y − c), many at once: the one sequential step of a KZG opening.

`synthetic_division_arrays` is the backend-independent form, written as whole-array operations
of a backend (the default of `Backend.synthetic_division`); a backend may override it with a
kernel of its own, which must return the same arrays.
"""

from __future__ import annotations

from .convert import fr_const
from .errors import InvalidInput
from .params import R_MODULUS


def check_division(coeffs, c) -> int:
    """`coeffs` must be `(M, C, 4)` with M ≥ 1 and `c` an int; returns c mod r."""
    if coeffs.ndim != 3 or coeffs.shape[-1] != 4 or coeffs.shape[0] < 1:
        raise InvalidInput(f"synthetic_division: coefficients must be (M ≥ 1, C, 4), got {coeffs.shape}")
    if not isinstance(c, int) or isinstance(c, bool):
        raise InvalidInput(f"synthetic_division: the point must be an int, got {type(c).__name__}")
    return c % R_MODULUS


def synthetic_division_arrays(be, coeffs, c: int, block: int = 64):
    """(quotient, remainder) of A(Y) = Σ_j a_j·Y^j divided by (Y − c), along axis 0 of a
    `(M, C, 4)` array: C polynomials at once (the residue classes of a packed polynomial).
    The quotient is `(M − 1, C, 4)`, w_i = Σ_{j>i} a_j·c^{j−i−1}; the remainder `(C, 4)` is A(c).

    Horner's rule is sequential; here it runs in blocks of `block` rows, so every step is a
    whole-array operation over all blocks: a Horner pass inside each block (`block` steps)
    gives each block's local quotient and its value V_b = Σ_s a_{bS+s}·c^s; the carries
    T_b = Σ_{b' ≥ b} V_{b'}·c^{S(b'−b)} are the same division one level up (of V by Y − c^S);
    then w_{bS+s} = local_{b,s} + c^{S−1−s}·T_{b+1}. About 4 passes over the data instead of
    the log2(M) of a parallel scan."""
    c = check_division(coeffs, c)
    fr = be.fr
    xp = be.xp
    m, cols = coeffs.shape[0], coeffs.shape[1]
    cc = fr_const(be, c)
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
    carries, remainder = synthetic_division_arrays(be, acc, pow(c, s_len, R_MODULUS), block)
    # T_{b+1} for b = 0 … B−1 (T_B = 0).
    t_next = xp.concatenate([carries, fr.zeros(cols).reshape(1, cols, 4)], axis=0)
    pw = fr.from_ints([pow(c, e, R_MODULUS) for e in range(s_len)])
    for s in range(s_len):
        e = s_len - 1 - s
        local[s] = fr.add(local[s], fr.mul(t_next, pw[e:e + 1]))
    quotient = local.transpose(1, 0, 2, 3).reshape(blocks * s_len, cols, 4)[:m - 1]
    return xp.ascontiguousarray(quotient), remainder
