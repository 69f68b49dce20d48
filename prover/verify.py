"""The verifier, step by step as docs/protocol.md §6 describes it: replay the transcript,
check the constraints at ζ against the quotient chunks' claimed values, and check every claimed
evaluation with one SHPLONK opening: one pairing equation of two pairings. Python ints and
py_ecc only, so that it mirrors the Solidity verifier line for line."""

from __future__ import annotations

from typing import Mapping, Optional

from py_ecc import optimized_bn128 as bn
from py_ecc.optimized_bn128 import optimized_pairing as _pairing

from kernels.params import R_MODULUS

from .air import (EVERY_ROW, FIRST_ROW, LAST_ROW, TRANSITION, Air, Column, IntAlgebra, PublicInput,
                  compile_air, evaluate)
from .errors import InvalidCircuit, InvalidInput, InvalidProof
from .groups import FIXED, INTERACTION, PUBLIC, QUOTIENT, WITNESS, claims, commitment_groups, evaluation_slots
from .keys import VerificationKey, check_circuit
from .polynomials import Domain
from .proof import Proof, decode_proof
from .prove import public_input_values
from .srs import G2_GENERATOR, g1_to_py_ecc, g2_to_py_ecc
from .transcript import Transcript

Point = tuple[int, int]


def verify(air: Air, vk: VerificationKey, public_inputs, proof: bytes | Proof,
           public_commitments: Optional[Mapping[str, Point]] = None) -> bool:
    """True when `proof` shows a trace satisfying `air` under `vk` with these public inputs;
    raises InvalidProof otherwise (never returns False). `public_commitments` pins the
    commitments of public groups (by group name) to values the caller knows (the L1's state)."""
    r = R_MODULUS
    cs = compile_air(air)
    try:
        check_circuit(cs, vk)
    except InvalidCircuit:
        raise InvalidProof(f"the verification key is not for circuit {air.name!r}") from None
    if isinstance(proof, Proof):
        proof = proof.to_bytes()
    p = decode_proof(proof, vk)
    try:
        pub = public_input_values(air, public_inputs)
    except InvalidInput as e:
        raise InvalidProof(str(e)) from None
    dom = Domain(vk.log2_n)
    groups = commitment_groups(cs, dom.n)
    committed = iter(p.commitments)
    points = [vk.fixed_commitment if g.kind == FIXED else next(committed) for g in groups]
    if public_commitments:
        names = {g.name: i for i, g in enumerate(groups) if g.kind == PUBLIC}
        for name, point in public_commitments.items():
            if name not in names:
                raise InvalidInput(f"{name!r} is not a public group of {air.name}")
            if points[names[name]] != tuple(point):
                raise InvalidProof(f"the commitment to public group {name!r} is not the expected one")

    # 1. Replay the transcript.
    t = Transcript(vk.digest)
    t.absorb_scalars(pub)

    def of_kind(*kinds):
        return [pt for g, pt in zip(groups, points) if g.kind in kinds]

    t.absorb_points(of_kind(PUBLIC, WITNESS))
    challenges = {}
    if cs.has_interaction:
        challenges["beta"] = t.challenge()
        challenges["gamma"] = t.challenge()
        challenges["lambda"] = t.challenge()
        t.absorb_points(of_kind(INTERACTION))
    alpha = t.challenge()
    t.absorb_points(of_kind(QUOTIENT))
    zeta = t.challenge()
    t.absorb_scalars(p.evals_zeta)
    t.absorb_scalars(p.evals_zeta_omega)
    nu = t.challenge()
    t.absorb_point(p.opening)
    z = t.challenge()

    # 2. The constraints at ζ against the quotient chunks: Σ_j ζ^{nj}·q_j(ζ) = Q(ζ).
    check_constraints_at_zeta(cs, dom, groups, p, pub, challenges, alpha, zeta)

    # 3. Every claim t = (P_t, Z_t = X^{k_t} − c_t, r_t) into one polynomial L, opened at z.
    zeta_omega = zeta * dom.omega % r
    evals = {False: iter(p.evals_zeta), True: iter(p.evals_zeta_omega)}
    per_group = {gi: {} for gi in range(len(groups))}
    for gi, g in enumerate(groups):
        per_group[gi][False] = [next(evals[False]) for _ in range(g.width)]
    for gi, g in enumerate(groups):
        if g.next_row:
            per_group[gi][True] = [next(evals[True]) for _ in range(g.width)]
    order = claims(groups)
    z_values = [(pow(z, groups[gi].width, r) - (zeta_omega if nxt else zeta)) % r for gi, nxt in order]
    if any(v == 0 for v in z_values):
        raise InvalidProof("z fell on a root of some X^k − c: the opening is undefined")
    inverses = batch_inverse(z_values)
    scalars = [0] * len(groups)
    e = 0
    nu_t = 1
    for (gi, nxt), inv in zip(order, inverses):
        weight = nu_t * inv % r
        scalars[gi] = (scalars[gi] + weight) % r
        r_at_z = 0
        for y in reversed(per_group[gi][nxt]):
            r_at_z = (r_at_z * z + y) % r
        e = (e + weight * r_at_z) % r
        nu_t = nu_t * nu % r

    # 4. [L] = Σ_g s_g·[P_g] − e·G1 − W;  e([L] + z·W', [1]₂)·e(−W', [τ]₂) = 1.
    acc = bn.neg(bn.add(bn.multiply(bn.G1, e), g1_to_py_ecc(p.opening)))
    for pt, sc in zip(points, scalars):
        acc = bn.add(acc, bn.multiply(g1_to_py_ecc(pt), sc))
    w_z = g1_to_py_ecc(p.opening_at_z)
    lhs = bn.add(acc, bn.multiply(w_z, z))
    if not pairing_check([(lhs, g2_to_py_ecc(G2_GENERATOR)), (bn.neg(w_z), g2_to_py_ecc(vk.g2_tau))]):
        raise InvalidProof("the opening proof does not verify (pairing check failed)")
    return True


def batch_inverse(values: list[int]) -> list[int]:
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


def check_constraints_at_zeta(cs, dom: Domain, groups, p: Proof, pub, challenges, alpha: int,
                              zeta: int) -> None:
    """The constraint identity at ζ from the claimed evaluations, by the same expressions the
    prover used on its coset, cross-multiplied so that no inversion is needed:
        Σ_j ζ^{nj}·q_j(ζ) · Z_H(ζ)(ζ−1)(ζ−ω^{n−1})
          = (A_every + A_trans·(ζ−ω^{n−1}))·(ζ−1)(ζ−ω^{n−1})
            + A_first·Z_H(ζ)·(ζ−ω^{n−1}) + A_last·Z_H(ζ)·(ζ−1)."""
    r = R_MODULUS
    zh = dom.vanishing(zeta)
    if zh == 0:
        raise InvalidProof("ζ fell on the trace domain")
    at_zeta, at_next = evaluation_slots(groups)

    def leaf(e):
        if isinstance(e, Column):
            key = (e.kind, e.index)
            return p.evals_zeta_omega[at_next[key]] if e.next else p.evals_zeta[at_zeta[key]]
        if isinstance(e, PublicInput):
            return pub[e.index]
        return challenges[e.name]

    acc = {s: 0 for s in (EVERY_ROW, TRANSITION, FIRST_ROW, LAST_ROW)}
    cache: dict = {}
    a_pow = 1
    for c in cs.constraints:
        acc[c.selector] = (acc[c.selector] + a_pow * evaluate(c.expr, IntAlgebra, leaf, cache)) % r
        a_pow = a_pow * alpha % r
    d_first, d_last = (zeta - 1) % r, (zeta - dom.omega_last) % r
    zn = pow(zeta, dom.n, r)
    q_zeta, zn_j = 0, 1
    for j in range(len(groups[-1].columns)):
        q_zeta = (q_zeta + zn_j * p.evals_zeta[at_zeta[("quotient", j)]]) % r
        zn_j = zn_j * zn % r
    lhs = q_zeta * zh % r * d_first % r * d_last % r
    rhs = ((acc[EVERY_ROW] + acc[TRANSITION] * d_last) * d_first % r * d_last
           + acc[FIRST_ROW] * zh % r * d_last + acc[LAST_ROW] * zh % r * d_first) % r
    if lhs != rhs:
        raise InvalidProof("the constraints do not hold at ζ (quotient identity failed)")


def pairing_check(pairs) -> bool:
    """Π e(P_i, Q_i) = 1, as the EVM's pairing precompile (0x08) decides it."""
    acc = None
    for g1, g2 in pairs:
        if bn.is_inf(g1):
            continue
        m = _pairing.pairing(g2, g1, final_exponentiate=False)
        acc = m if acc is None else acc * m
    if acc is None:
        return True
    return _pairing.final_exponentiate(acc) == bn.FQ12.one()
