"""The verifier, step by step as docs/protocol.md §6 describes it: replay the transcript along
the one schedule (prover.schedule), check the constraints at ζ against the quotient chunks'
claimed values (prover.fold), and check every claimed evaluation with one SHPLONK opening
(prover.opening): one pairing equation of two pairings. Python ints and py_ecc only, so that it
mirrors the Solidity verifier line for line."""

from __future__ import annotations

from typing import Mapping, Optional

from py_ecc import optimized_bn128 as bn
from py_ecc.optimized_bn128 import optimized_pairing as _pairing

from kernels.params import R_MODULUS

from . import schedule
from .air import Air, Column, ConstraintSystem, PublicInput, compile_air
from .errors import InvalidCircuit, InvalidInput, InvalidProof
from .fold import IntAlgebra, fold_constraints, horner, quotient_identity
from .groups import Group, claims, commitment_groups, evaluation_slots
from .inputs import public_input_values
from .keys import VerificationKey, check_circuit
from .opening import bound_scale, opening_scalars
from .polynomials import Domain
from .proof import Proof, decode_proof
from .publication import data_digest, published_values_at
from .schedule import Message
from .srs import G2_GENERATOR, g1_to_py_ecc, g2_to_py_ecc
from .transcript import Transcript
from .types import ChallengeName, ColumnKind, G1Point, GroupKind


def verify(air: Air, vk: VerificationKey, public_inputs, proof: bytes | Proof,
           public_commitments: Optional[Mapping[str, G1Point]] = None) -> bool:
    """True when `proof` shows a trace satisfying `air` under `vk` with these public inputs;
    raises InvalidProof otherwise (never returns False). `public_commitments` pins the
    commitments of public groups (by group name) to values the caller knows (the L1's state).
    A circuit with a publication (prover.publication) has its data in the proof, after W':
    the proof must open the public groups to exactly those rows."""
    r = R_MODULUS
    cs = compile_air(air)
    try:
        check_circuit(cs, vk)
    except InvalidCircuit:
        raise InvalidProof(f"the verification key is not for circuit {air.name!r}") from None
    if isinstance(proof, Proof):
        proof = proof.to_bytes()
    p = decode_proof(proof, vk, publishes=air.publication is not None)
    data = p.published if air.publication is not None else None
    # The published data is parsed in full with the rest of the proof, before any check on it.
    records = air.publication.decode(bytes(data), 1 << vk.log2_n) if data is not None else None
    try:
        pub = public_input_values(air, public_inputs)
    except InvalidInput as e:
        raise InvalidProof(str(e)) from None
    dom = Domain(vk.log2_n)
    groups = commitment_groups(cs, dom.n)
    committed = iter(p.commitments)
    points = [vk.fixed_commitment if g.kind == GroupKind.FIXED else next(committed) for g in groups]
    if public_commitments:
        names = {g.name: i for i, g in enumerate(groups) if g.kind == GroupKind.PUBLIC}
        for name, point in public_commitments.items():
            if name not in names:
                raise InvalidInput(f"{name!r} is not a public group of {air.name}")
            if points[names[name]] != tuple(point):
                raise InvalidProof(f"the commitment to public group {name!r} is not the expected one")

    # 1. Replay the transcript: every message is read from the proof.
    def message(step: schedule.Absorb, _challenges) -> list:
        if step.message == Message.PUBLIC_INPUTS:
            return pub
        if step.message == Message.PUBLISHED:
            return [] if data is None else [data_digest(data)]
        if step.message == Message.COMMITMENTS:
            return [pt for g, pt in zip(groups, points) if g.kind in step.kinds]
        if step.message == Message.EVALS_ZETA:
            return p.evals_zeta
        if step.message == Message.EVALS_ZETA_OMEGA:
            return p.evals_zeta_omega
        return [p.opening]

    ch = schedule.run(Transcript(vk.digest), cs.has_interaction, message)
    zeta, z = ch[ChallengeName.ZETA], ch[ChallengeName.Z]

    # 2. The constraints at ζ against the quotient chunks: Σ_j ζ^{nj}·q_j(ζ) = Q(ζ).
    check_constraints_at_zeta(cs, dom, groups, p, pub, ch)
    if air.publication is not None:
        check_published_at_zeta(air, dom, groups, p, records, zeta)

    # 3. Every claim t = (P_t, Z_t = X^{k_t} − c_t, r_t) into one polynomial L, opened at z.
    zeta_omega = zeta * dom.omega % r
    evals = {False: iter(p.evals_zeta), True: iter(p.evals_zeta_omega)}
    per_group: dict = {}
    for at_next in (False, True):
        for gi, g in enumerate(groups):
            if (g.next_row or not at_next) and g.kind != GroupKind.BOUND:
                per_group[(gi, at_next)] = [next(evals[at_next]) for _ in range(g.width)]
    for gi, g in enumerate(groups):
        if g.kind == GroupKind.BOUND:
            scale = bound_scale(g, zeta)
            per_group[(gi, False)] = [y * scale % r for y in per_group[(g.source, False)]]
    scalars, e = opening_scalars(groups, [(gi, zeta_omega if nxt else zeta, per_group[(gi, nxt)])
                                          for gi, nxt in claims(groups)], ch[ChallengeName.NU], z)

    # 4. [L] = Σ_g s_g·[P_g] − e·G1 − W;  e([L] + z·W', [1]₂)·e(−W', [τ]₂) = 1.
    acc = bn.neg(bn.add(bn.multiply(bn.G1, e), g1_to_py_ecc(p.opening)))
    for pt, sc in zip(points, scalars):
        acc = bn.add(acc, bn.multiply(g1_to_py_ecc(pt), sc))
    w_z = g1_to_py_ecc(p.opening_at_z)
    lhs = bn.add(acc, bn.multiply(w_z, z))
    if not pairing_check([(lhs, g2_to_py_ecc(G2_GENERATOR)), (bn.neg(w_z), g2_to_py_ecc(vk.g2_tau))]):
        raise InvalidProof("the opening proof does not verify (pairing check failed)")
    return True


def check_constraints_at_zeta(cs: ConstraintSystem, dom: Domain, groups: list[Group], p: Proof, pub,
                              challenges: dict) -> None:
    """The quotient identity of prover.fold at ζ, from the claimed evaluations, with the
    constraints folded exactly as the prover folded them on its coset."""
    r = R_MODULUS
    zeta = challenges[ChallengeName.ZETA]
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

    acc = fold_constraints(cs.constraints, IntAlgebra, leaf, challenges[ChallengeName.ALPHA])
    chunks = [p.evals_zeta[at_zeta[(ColumnKind.QUOTIENT, j)]] for j in range(len(groups[-1].columns))]
    q_zeta = horner(IntAlgebra, chunks, pow(zeta, dom.n, r))
    lhs, rhs = quotient_identity(IntAlgebra, acc, q_zeta, zh, (zeta - 1) % r, (zeta - dom.omega_last) % r)
    if lhs != rhs:
        raise InvalidProof("the constraints do not hold at ζ (quotient identity failed)")


def check_published_at_zeta(air: Air, dom: Domain, groups: list[Group], p: Proof, records, zeta: int) -> None:
    """Every published field's rows (`records`, the decoded data), interpolated at ζ, equal the
    combination of the public columns the proof opens there (prover.publication)."""
    r = R_MODULUS
    at_zeta, _ = evaluation_slots(groups)
    public = {i for g in groups if g.kind == GroupKind.PUBLIC for _, i in g.columns}
    values = published_values_at(air.publication, records, dom.n, dom.omega, zeta)
    w = air.witness_columns
    for part, sums in zip(air.publication.parts, values):
        for f, v in zip(part.fields, sums):
            if any(w.index(col) not in public for col, _ in f.terms):
                raise InvalidCircuit(f"{air.name}: published field {f.name} reads a column outside the public groups")
            opened = sum(c * p.evals_zeta[at_zeta[(ColumnKind.WITNESS, w.index(col))]] for col, c in f.terms) % r
            if opened != v:
                raise InvalidProof(f"the published {part.name}.{f.name} differ from the proven ones")


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
