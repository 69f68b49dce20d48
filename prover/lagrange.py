"""Lagrange bases of packed groups: committing a group from its columns' values on H.

A group of k columns packs them into P(X) = Σ_i f_i(X^k)·X^i (prover.groups) and commits
[X^s·P] (s = 0 but for a degree-bound group). With f_i = Σ_j v_ij·L_j (L_j the Lagrange
polynomials of H, v_ij the column's values),

    [X^s·P] = Σ_i Σ_j v_ij·B_ij,    B_ij = [τ^(s+i)·L_j(τ^k)]₁,

the same point as the MSM over the packed coefficients, but with the values as scalars. Trace
columns are mostly narrow (k-bit limbs, bits, 64-bit amounts, zeros), and the MSM's cost
follows its scalars' bit width (kernels: the width is measured from the data), while the
coefficients of even a 1-bit column are full 254-bit field elements. So a key that carries B
lets the prover commit narrow columns for a fraction of the cost; nothing in the protocol, the
proof or the verifier changes.

B_ij comes from the powers alone: L_j(Y) = (1/n)·Σ_m ω^(−jm)·Y^m, so B_i· is the inverse DFT
over H of the strided powers S_m = [τ^(s+i+k·m)]₁ (a DFT whose butterflies multiply points by
twiddles). The development setup knows τ and computes each B_ij as one multiple of the
generator instead, which is what makes it cheap at 2^16 and beyond.
"""

from __future__ import annotations

import numpy as np

from kernels.backend import Backend, MSMConfig
from kernels.convert import to_montgomery
from kernels.params import R_MODULUS, root_of_unity

from .errors import InvalidSetup


def basis_name(width: int, shift: int) -> str:
    """The key's name for the basis of a group of `width` columns committed times X^shift."""
    return f"lagrange_{width}_{shift}"


def basis_scalars(tau: int, width: int, n: int, shift: int) -> list[int]:
    """τ^(s+i)·L_j(τ^k) for i < width, j < n, row-major: the discrete logs of B."""
    omega = root_of_unity(n.bit_length() - 1)
    y = pow(tau, width, R_MODULUS)
    roots = [1] * n
    for j in range(1, n):
        roots[j] = roots[j - 1] * omega % R_MODULUS
    zh = (pow(y, n, R_MODULUS) - 1) % R_MODULUS
    if zh == 0:  # τ^k ∈ H: L_j(τ^k) is 1 at that root and 0 elsewhere
        lag = [int(y == w) for w in roots]
    else:
        # L_j(y) = Z_H(y)/n · ω^j/(y − ω^j), all n inversions in one (Montgomery's trick).
        dens = [(y - w) % R_MODULUS for w in roots]
        prefix = [1] * (n + 1)
        for j, d in enumerate(dens):
            prefix[j + 1] = prefix[j] * d % R_MODULUS
        inv = pow(prefix[n], -1, R_MODULUS)
        scale = zh * pow(n, -1, R_MODULUS) % R_MODULUS
        lag = [0] * n
        for j in range(n - 1, -1, -1):
            lag[j] = scale * roots[j] % R_MODULUS * inv % R_MODULUS * prefix[j] % R_MODULUS
            inv = inv * dens[j] % R_MODULUS
    out = []
    t = pow(tau, shift, R_MODULUS)
    for _ in range(width):
        out.extend(t * v % R_MODULUS for v in lag)
        t = t * tau % R_MODULUS
    return out


def basis_from_trapdoor(be: Backend, tau: int, width: int, n: int, shift: int) -> np.ndarray:
    """B as a `(width, n, 2, 4)` host array, from τ (the development setup only)."""
    scalars = be.asarray(to_montgomery(basis_scalars(tau, width, n, shift), R_MODULUS))
    points = be.g1.scalar_mul(be.asarray(be.g1.generator(1)[0]), scalars)
    return be.to_host(points).reshape(width, n, 2, 4)


def basis_from_powers(be: Backend, g1_powers, width: int, n: int, shift: int) -> np.ndarray:
    """B as a `(width, n, 2, 4)` host array, from the powers [τ^i]₁ alone: per residue class i,
    the inverse DFT over H of S_m = [τ^(s+i+k·m)]₁, radix 2 with every butterfly of a stage
    in one array operation of the backend."""
    need = shift + width * n
    if g1_powers.shape[0] < need:
        raise InvalidSetup(f"a Lagrange basis needs {need} powers; the SRS holds {g1_powers.shape[0]}")
    log2_n = n.bit_length() - 1
    g1, fr = be.g1, be.fr
    # S[i, m] = [τ^(s+i+k·m)]: the packed layout read as (m, i), transposed.
    strided = np.ascontiguousarray(np.asarray(be.to_host(g1_powers[shift:need])).reshape(n, width, 2, 4)
                                   .transpose(1, 0, 2, 3))
    rev = np.zeros(n, dtype=np.int64)
    for b in range(log2_n):
        rev |= ((np.arange(n) >> b) & 1) << (log2_n - 1 - b)
    x = be.asarray(np.ascontiguousarray(strided[:, rev]))
    omega_inv = pow(root_of_unity(log2_n), -1, R_MODULUS)
    half = 1
    while half < n:
        w = pow(omega_inv, n // (2 * half), R_MODULUS)
        tw = fr.from_ints([pow(w, j, R_MODULUS) for j in range(half)])
        blocks = x.reshape(width, n // (2 * half), 2, half, 2, 4)
        even = be.xp.ascontiguousarray(blocks[:, :, 0])
        odd = be.xp.ascontiguousarray(blocks[:, :, 1])
        t = g1.scalar_mul(odd, be.xp.ascontiguousarray(be.xp.broadcast_to(tw, odd.shape[:-2] + (4,))))
        x = be.xp.stack([g1.add(even, t), g1.add(even, g1.neg(t))], axis=2).reshape(width, n, 2, 4)
        half *= 2
    n_inv = fr.from_ints([pow(n, -1, R_MODULUS)])
    x = g1.scalar_mul(x, be.xp.ascontiguousarray(be.xp.broadcast_to(n_inv, x.shape[:-2] + (4,))))
    return be.to_host(x)


def commit_terms(be: Backend, basis, canonical, bit_widths: list[int]) -> list:
    """The MSM terms (Backend.msm_sum) of Σ_i Σ_j v_ij·B_ij for the `(width, n, 4)` canonical
    values `canonical`: one per distinct bit width, since an MSM's cost follows its widest
    scalar and a 254-bit column must not share one with a column of limbs (a backend that
    measures every scalar's width joins them again). Columns of zeros cost nothing."""
    xp = be.xp
    terms = []
    for bits in sorted(set(bit_widths) - {0}, reverse=True):
        cols = [i for i, b in enumerate(bit_widths) if b == bits]
        pts = basis[cols].reshape(-1, 2, 4) if len(cols) > 1 else basis[cols[0]]
        sc = canonical[cols].reshape(-1, 4) if len(cols) > 1 else canonical[cols[0]]
        # The scalars are the trace's canonical values; the basis was checked with the key.
        terms.append((xp.ascontiguousarray(pts), xp.ascontiguousarray(sc),
                      MSMConfig(scalars_montgomery=False, check_points=False, scalar_bits=bits)))
    return terms


def column_bit_widths(be: Backend, canonical) -> list[int]:
    """The bit length of the largest value of each column of a `(width, n, 4)` canonical array."""
    acc = np.bitwise_or.reduce(np.asarray(be.to_host(canonical)), axis=1)  # (width, 4)
    out = []
    for limbs in acc:
        top = max((k for k in range(4) if limbs[k]), default=-1)
        out.append(0 if top < 0 else 64 * top + int(limbs[top]).bit_length())
    return out
