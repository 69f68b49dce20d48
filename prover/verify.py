"""The verifier, step by step as docs/protocol.md §5 describes it: replay the transcript,
evaluate the constraints at ζ to get Q(ζ), and check both batched openings with one pairing
equation of two pairings. Python ints and py_ecc only, so that it mirrors the Solidity verifier
line for line."""

from __future__ import annotations

from typing import Mapping, Optional

from py_ecc import optimized_bn128 as bn
from py_ecc.optimized_bn128 import optimized_pairing as _pairing

from kernels.params import R_MODULUS

from .air import (EVERY_ROW, FIRST_ROW, LAST_ROW, TRANSITION, Air, Column, IntAlgebra, PublicInput,
                  compile_air, evaluate)
from .errors import InvalidInput, InvalidProof
from .keys import VerificationKey
from .polynomials import Domain
from .proof import Proof, decode_proof
from .prove import public_input_values
from .srs import G2_GENERATOR, g1_to_py_ecc, g2_to_py_ecc

Point = tuple[int, int]


def verify(air: Air, vk: VerificationKey, public_inputs, proof: bytes | Proof,
           public_commitments: Optional[Mapping[str, Point]] = None) -> bool:
    """True when `proof` shows a trace satisfying `air` under `vk` with these public inputs;
    raises InvalidProof otherwise (never returns False). `public_commitments` pins the
    commitments of public columns to values the caller knows (the L1's state commitment)."""
    cs = compile_air(air)
    if cs.digest != vk.circuit_digest:
        raise InvalidProof(f"the verification key is not for circuit {air.name!r}")
    if isinstance(proof, Proof):
        proof = proof.to_bytes()
    p = decode_proof(proof, vk)
    try:
        pub = public_input_values(air, public_inputs)
    except InvalidInput as e:
        raise InvalidProof(str(e)) from None
    if public_commitments:
        for name, point in public_commitments.items():
            if name not in air.public_columns:
                raise InvalidInput(f"{name!r} is not a public column of {air.name}")
            if p.witness_commitments[air.witness_columns.index(name)] != tuple(point):
                raise InvalidProof(f"the commitment to public column {name!r} is not the expected one")

    # 1. Replay the transcript.
    from .transcript import Transcript
    t = Transcript(vk.digest)
    t.absorb_scalars(pub)
    t.absorb_points(p.witness_commitments)
    challenges = {}
    if cs.has_interaction:
        challenges["beta"] = t.challenge()
        challenges["gamma"] = t.challenge()
        challenges["lambda"] = t.challenge()
        t.absorb_points(p.interaction_commitments)
    alpha = t.challenge()
    t.absorb_points(p.quotient_commitments)
    zeta = t.challenge()
    t.absorb_scalars(p.evals_zeta)
    t.absorb_scalars(p.evals_zeta_omega)
    v = t.challenge()
    t.absorb_points([p.opening_zeta, p.opening_zeta_omega])
    u = t.challenge()

    # 2. The constraints at ζ determine Q(ζ).
    dom = Domain(vk.log2_n)
    q_zeta = quotient_at_zeta(cs, dom, p, pub, challenges, alpha, zeta)

    # 3. Fold every opened commitment and claimed value into one pair (F, E).
    r = R_MODULUS
    n = dom.n
    zeta_omega = zeta * dom.omega % r
    commitments = p.witness_commitments + list(vk.fixed_commitments) + p.interaction_commitments
    coeff: dict[int, int] = {}  # index into `points` → scalar
    points: list[Point] = []

    def add(point: Point, scalar: int):
        points.append(point)
        coeff[len(points) - 1] = scalar % r

    zn = pow(zeta, n, r)
    for i, q in enumerate(p.quotient_commitments):
        add(q, pow(zn, i, r))                                   # [Q_ζ] = Σ ζ^{in}·[q_i]
    e = q_zeta
    next_keys = cs.opened_at_zeta_omega()
    next_pos = {key: j for j, key in enumerate(next_keys)}
    for j, key in enumerate(cs.opened_at_zeta()):
        scalar = pow(v, j + 1, r)
        e += scalar * p.evals_zeta[j]
        if key in next_pos:
            jj = next_pos[key]
            scalar += u * pow(v, jj, r)
            e += u * pow(v, jj, r) * p.evals_zeta_omega[jj]
        add(commitments[j], scalar)
    e %= r

    # 4. One pairing equation:
    #    e(W_ζ + u·W_ζω, [τ]₂) = e(F − [E]₁ + ζ·W_ζ + u·ζω·W_ζω, [1]₂)
    f = bn.Z1
    for i, pt in enumerate(points):
        f = bn.add(f, bn.multiply(g1_to_py_ecc(pt), coeff[i]))
    wz, wzw = g1_to_py_ecc(p.opening_zeta), g1_to_py_ecc(p.opening_zeta_omega)
    lhs_g1 = bn.add(wz, bn.multiply(wzw, u))
    rhs_g1 = bn.add(bn.add(f, bn.neg(bn.multiply(bn.G1, e))),
                    bn.add(bn.multiply(wz, zeta), bn.multiply(wzw, u * zeta_omega % r)))
    if not pairing_check([(lhs_g1, g2_to_py_ecc(vk.g2_tau)), (bn.neg(rhs_g1), g2_to_py_ecc(G2_GENERATOR))]):
        raise InvalidProof("the opening proofs do not verify (pairing check failed)")
    return True


def quotient_at_zeta(cs, dom: Domain, p: Proof, pub, challenges, alpha: int, zeta: int) -> int:
    """Q(ζ) from the claimed evaluations, by the same expressions the prover used on its coset."""
    r = R_MODULUS
    zh = dom.vanishing(zeta)
    if zh == 0 or zeta == 1 or zeta == dom.omega_last:
        raise InvalidProof("ζ fell on the trace domain")
    slot = {key: i for i, key in enumerate(cs.opened_at_zeta())}
    next_slot = {key: i for i, key in enumerate(cs.opened_at_zeta_omega())}

    def leaf(e):
        if isinstance(e, Column):
            key = (e.kind, e.index)
            return p.evals_zeta_omega[next_slot[key]] if e.next else p.evals_zeta[slot[key]]
        if isinstance(e, PublicInput):
            return pub[e.index]
        return challenges[e.name]

    acc = {s: 0 for s in (EVERY_ROW, TRANSITION, FIRST_ROW, LAST_ROW)}
    cache: dict = {}
    a_pow = 1
    for c in cs.constraints:
        acc[c.selector] = (acc[c.selector] + a_pow * evaluate(c.expr, IntAlgebra, leaf, cache)) % r
        a_pow = a_pow * alpha % r
    # One inversion of the product, as the Solidity verifier does (a single modexp).
    d_first, d_last = (zeta - 1) % r, (zeta - dom.omega_last) % r
    inv_all = pow(zh * d_first * d_last % r, -1, r)
    inv_zh = inv_all * d_first * d_last % r
    inv_first = inv_all * zh * d_last % r
    inv_last = inv_all * zh * d_first % r
    return ((acc[EVERY_ROW] + acc[TRANSITION] * d_last) * inv_zh
            + acc[FIRST_ROW] * inv_first + acc[LAST_ROW] * inv_last) % r


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
