"""The scalars of the combined opening (docs/protocol.md §4.5, §6 step 3), computed once for the
prover and the Python verifier; the Solidity verifier writes the same sums in Yul, claim by
claim in the order of `groups.claims`.

Claim t opens group P_t at the point c_t ∈ {ζ, ζω}: P_t ≡ r_t mod Z_t = X^{k_t} − c_t, with
k_t the group's width and r_t the polynomial whose coefficients are the claimed evaluations.
With weights w_t = ν^t / Z_t(z), the opening polynomial is
    L(X) = Σ_g s_g·P_g(X) − e − h(X),   s_g = Σ_{t of g} w_t,   e = Σ_t w_t·r_t(z).
"""

from __future__ import annotations

from typing import Sequence

from kernels.params import R_MODULUS

from .errors import InvalidProof
from .fold import IntAlgebra, horner
from .groups import Group


def bound_scale(group: Group, zeta: int) -> int:
    """ζ^(s/k): a degree bound's group X^s·P ≡ ζ^(s/k)·r_ζ mod X^k − ζ, where r_ζ is its source
    group's remainder (s is a multiple of k), so it claims the source's evaluations scaled."""
    return pow(zeta, group.shift // group.width, R_MODULUS)


def batch_inverse(values: Sequence[int]) -> list[int]:
    """Every value's inverse mod r with one modular exponentiation (Montgomery's trick), as
    the Solidity verifier computes them. The values must be nonzero."""
    r = R_MODULUS
    prefix = [1]
    for v in values:
        prefix.append(prefix[-1] * v % r)
    inv = pow(prefix[-1], r - 2, r)
    out = [0] * len(values)
    for i in range(len(values) - 1, -1, -1):
        out[i] = inv * prefix[i] % r
        inv = inv * values[i] % r
    return out


def nu_powers(nu: int, count: int) -> list[int]:
    """[1, ν, ν², …]: claim t is weighted by ν^t."""
    out = [1] * count
    for t in range(1, count):
        out[t] = out[t - 1] * nu % R_MODULUS
    return out


def opening_scalars(groups: Sequence[Group], claims: Sequence[tuple[int, int, Sequence[int]]],
                    nu: int, z: int) -> tuple[list[int], int]:
    """(s_g for every group, e) for claims given as (group index, point c_t, evaluations r_t),
    in transcript order. A z on a root of some Z_t leaves L undefined: InvalidProof."""
    r = R_MODULUS
    z_values = [(pow(z, groups[gi].width, r) - point) % r for gi, point, _ in claims]
    if any(v == 0 for v in z_values):
        raise InvalidProof("z fell on a root of some X^k − c: the opening is undefined")
    scalars = [0] * len(groups)
    e = 0
    for (gi, _, evals), inv, nu_t in zip(claims, batch_inverse(z_values), nu_powers(nu, len(claims))):
        weight = nu_t * inv % r
        scalars[gi] = (scalars[gi] + weight) % r
        e = (e + weight * horner(IntAlgebra, list(evals), z)) % r
    return scalars, e
