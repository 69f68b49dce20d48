"""The prover, round by round as docs/protocol.md §4 describes it.

All heavy work is whole-array operations of the backend (NTT, MSM, element-wise Fr
arithmetic), so the same code runs on the CPU and the GPU. Each phase is timed; the timings
travel with the proof (`proof.timings`, milliseconds) for the dashboard and the benchmark.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Mapping, Sequence

import numpy as np

from kernels.params import MONTGOMERY_R, R_MODULUS

from .air import (EVERY_ROW, FIRST_ROW, LAST_ROW, TRANSITION, Challenge, Column, PublicInput, Air,
                  compile_air, evaluate)
from .errors import InvalidInput, InvalidTrace
from .groups import (BLINDING_COEFFICIENTS, INTERACTION, PUBLIC, QUOTIENT, WITNESS, claims,
                     commitment_groups, divide_by_power, pack)
from .keys import ProvingKey, check_circuit
from .polynomials import (COSET_SHIFT, Domain, const, inclusive_prefix_sum, linear_combination, powers,
                          synthetic_division, _xp)
from .proof import Proof
from .transcript import Transcript
PHASES = ("witness", "ntt", "msm", "quotient", "openings", "other")


class PhaseTimer:
    def __init__(self):
        self.ms = {p: 0.0 for p in PHASES}
        self.start = time.perf_counter()

    @contextmanager
    def phase(self, name: str):
        t = time.perf_counter()
        try:
            yield
        finally:
            self.ms[name] += (time.perf_counter() - t) * 1e3

    def result(self) -> dict:
        total = (time.perf_counter() - self.start) * 1e3
        out = {f"{p}_ms": round(v, 3) for p, v in self.ms.items() if p != "other"}
        out["other_ms"] = round(total - sum(v for p, v in self.ms.items() if p != "other"), 3)
        out["prove_ms"] = round(total, 3)
        return out


# ---------------------------------------------------------------------------------------------
# Inputs


def public_input_values(air: Air, public_inputs) -> list[int]:
    """Public inputs as a list in declaration order, each checked to lie in [0, r)."""
    if isinstance(public_inputs, Mapping):
        if set(public_inputs) != set(air.public_inputs):
            raise InvalidInput(f"{air.name} takes public inputs {list(air.public_inputs)}, "
                               f"got {sorted(public_inputs)}")
        values = [public_inputs[k] for k in air.public_inputs]
    else:
        values = list(public_inputs)
    if len(values) != len(air.public_inputs):
        raise InvalidInput(f"{air.name} takes {len(air.public_inputs)} public inputs, got {len(values)}")
    out = []
    for name, v in zip(air.public_inputs, values):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or not 0 <= int(v) < R_MODULUS:
            raise InvalidInput(f"public input {name!r} must be an int in [0, r), got {v!r}")
        out.append(int(v))
    return out


def column_to_field(be, values, n: int, name: str):
    """One trace column → an `(n, 4)` Fr array. Accepted: an Fr array of the backend (Montgomery
    limbs, shape (n, 4)), a numpy array of non-negative 64-bit integers, or a sequence of ints
    in [0, r)."""
    fr = be.fr
    if hasattr(values, "shape") and len(values.shape) == 2:
        if tuple(values.shape) != (n, 4):
            raise InvalidInput(f"column {name!r}: Fr array of shape {tuple(values.shape)}, expected ({n}, 4)")
        arr = be.asarray(values)
        fr.validate(arr, f"column {name!r}")
        return arr
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        if values.shape != (n,):
            raise InvalidInput(f"column {name!r} has shape {values.shape}, expected ({n},)")
        if values.dtype.kind == "i" and (values < 0).any():
            raise InvalidInput(f"column {name!r} holds negative values; reduce them mod r first")
        canonical = np.zeros((n, 4), dtype=np.uint64)
        canonical[:, 0] = values.astype(np.uint64)
    else:
        values = list(values)
        if len(values) != n:
            raise InvalidInput(f"column {name!r} has {len(values)} rows, expected {n}")
        try:
            raw = b"".join(int(v).to_bytes(32, "little") for v in values)
        except (OverflowError, TypeError, ValueError):
            raise InvalidInput(f"column {name!r} holds a value that is not an int in [0, r)") from None
        canonical = np.frombuffer(raw, dtype="<u8").reshape(n, 4).astype(np.uint64)
    canonical = be.asarray(canonical)
    fr.validate(canonical, f"column {name!r}")
    # Multiplying canonical limbs by R² in Montgomery's product gives the Montgomery form.
    return fr.mul(canonical, fr.from_ints([MONTGOMERY_R % R_MODULUS]))


# ---------------------------------------------------------------------------------------------
# Building blocks


class CosetAlgebra:
    """Fr arithmetic for the expression interpreter over arrays, with Python ints for the
    constant parts (public inputs, challenges, literals), which fold before touching arrays."""

    def __init__(self, be):
        self.be, self.fr = be, be.fr

    def const(self, v):
        return v % R_MODULUS

    def add(self, a, b):
        if isinstance(a, int) and isinstance(b, int):
            return (a + b) % R_MODULUS
        if isinstance(a, int):
            a, b = b, a
        return self.fr.add(a, const(self.be, b) if isinstance(b, int) else b)

    def sub(self, a, b):
        if isinstance(a, int) and isinstance(b, int):
            return (a - b) % R_MODULUS
        if isinstance(a, int):
            return self.fr.add(self.fr.neg(b), const(self.be, a))
        return self.fr.sub(a, const(self.be, b) if isinstance(b, int) else b)

    def mul(self, a, b):
        if isinstance(a, int) and isinstance(b, int):
            return a * b % R_MODULUS
        if isinstance(a, int):
            a, b = b, a
        return self.fr.mul(a, const(self.be, b) if isinstance(b, int) else b)

    def neg(self, a):
        return (-a) % R_MODULUS if isinstance(a, int) else self.fr.neg(a)


def blind(be, coeffs, rng, count: int = BLINDING_COEFFICIENTS):
    """P(X) + b(X)·Z_H(X) with b of `count` random coefficients: the values on H are unchanged,
    while any `count` evaluations outside H (and the commitment) become independent of the trace.
    Returns n + count coefficients."""
    fr = be.fr
    n = coeffs.shape[0]
    b = be.asarray(fr.random(count, rng))
    xp = _xp(be)
    out = xp.concatenate([coeffs, fr.zeros(count)], axis=0)
    out[:count] = fr.sub(out[:count], b)          # −b(X)
    out[n:n + count] = b                           # +X^n·b(X)
    return out


def commit(be, srs, coeffs):
    """KZG commitment Σ cᵢ·[τ^i]₁ as an affine (x, y) of ints."""
    return be.g1.to_ints(be.msm(srs[:coeffs.shape[0]], coeffs))[0]


def public_commitment(srs_g1, columns: Sequence[Sequence[int]], backend=None) -> tuple[int, int]:
    """The commitment of a public group from its columns' values (in the group's order), as
    anyone holding them recomputes it: each column interpolated over H, unblinded, packed
    (docs/protocol.md §4.1). `srs_g1` is the proving key's `srs_g1`."""
    from kernels import get_backend
    be = backend or get_backend("auto")
    n = len(columns[0]) if columns else 0
    if not columns or n < 2 or n & (n - 1) or any(len(c) != n for c in columns):
        raise InvalidInput("a public group is one or more columns of the same power-of-two length")
    values = be.asarray(np.stack([be.to_host(column_to_field(be, list(c), n, f"column {i}"))
                                  for i, c in enumerate(columns)]))
    coeffs = be.ntt(values, inverse=True)
    return commit(be, be.asarray(srs_g1), pack(be, list(coeffs), n))


def pad_rows(be, a, length: int):
    """`(M, L, 4)` → `(M, length, 4)` with zero coefficients appended."""
    xp = _xp(be)
    if a.shape[1] == length:
        return a
    pad = xp.zeros((a.shape[0], length - a.shape[1], 4), dtype=a.dtype)
    return xp.concatenate([a, pad], axis=1)


# ---------------------------------------------------------------------------------------------
# The protocol


def prove(air: Air, pk: ProvingKey, trace: Mapping[str, Sequence[int]], public_inputs,
          backend=None, rng=None, refuse_invalid: bool = True) -> Proof:
    """A proof that `trace` satisfies `air` with these public inputs. `rng` (a numpy Generator)
    draws the blinding; leave it None in production (fresh OS entropy).

    A trace that breaks a constraint is refused (InvalidTrace). `refuse_invalid=False` skips
    that refusal and commits to whatever comes out, as a cheating prover would: the soundness
    tests use it to show that the verifier, not the prover's honesty, rejects such proofs."""
    from kernels import get_backend
    be = backend or get_backend("auto")
    fr = be.fr
    xp = _xp(be)
    timer = PhaseTimer()
    vk = pk.vk
    cs = compile_air(air)
    check_circuit(cs, vk)
    dom = Domain(vk.log2_n)
    n = dom.n
    ext = cs.extension(n)
    groups = commitment_groups(cs, n)
    pub = public_input_values(air, public_inputs)
    srs = be.asarray(pk.srs_g1)
    public_idx = set(cs.public_column_indices)

    # -- witness: the trace as Fr arrays ------------------------------------------------------
    with timer.phase("witness"):
        if set(trace) != set(air.witness_columns):
            missing = set(air.witness_columns) - set(trace)
            extra = set(trace) - set(air.witness_columns)
            raise InvalidInput(f"{air.name} trace: missing columns {sorted(missing)}, unknown {sorted(extra)}")
        witness = xp.stack([column_to_field(be, trace[c], n, c) for c in air.witness_columns])

    transcript = Transcript(vk.digest)
    transcript.absorb_scalars(pub)
    polys: dict = {}     # (kind, index) → coefficients of each committed column
    packed: dict = {}    # group index → its packed polynomial
    commitments = []

    def commit_groups(kinds):
        for gi, g in enumerate(groups):
            if g.kind in kinds:
                with timer.phase("witness"):
                    packed[gi] = pack(be, [polys[key] for key in g.columns], g.length)
                with timer.phase("msm"):
                    commitments.append(commit(be, srs, packed[gi]))
                transcript.absorb_point(commitments[-1])

    # -- round 1: the public groups, unblinded, then the blinded witness packs ---------------
    with timer.phase("ntt"):
        w_coeffs = be.ntt(witness, inverse=True)
        fixed_coeffs = be.asarray(pk.fixed_coeffs)
    with timer.phase("witness"):
        for i in range(cs.num_witness):
            # A public column stays unblinded: anyone can recompute its group's commitment.
            polys[("witness", i)] = w_coeffs[i] if i in public_idx else blind(be, w_coeffs[i], rng)
        for j in range(cs.num_fixed):
            polys[("fixed", j)] = fixed_coeffs[j]
    commit_groups((PUBLIC, WITNESS))

    # -- round 2: the logUp interaction columns ----------------------------------------------
    challenges = {}
    if cs.has_interaction:
        challenges["beta"] = transcript.challenge()
        challenges["gamma"] = transcript.challenge()
        challenges["lambda"] = transcript.challenge()
        with timer.phase("ntt"):
            fixed_values = be.ntt(fixed_coeffs) if cs.num_fixed else None
        with timer.phase("witness"):
            interaction = interaction_columns(be, cs, witness, fixed_values, pub, challenges,
                                              refuse_invalid)
        with timer.phase("ntt"):
            i_coeffs = be.ntt(interaction, inverse=True)
        with timer.phase("witness"):
            for j in range(cs.num_interaction):
                polys[("interaction", j)] = blind(be, i_coeffs[j], rng)
        commit_groups((INTERACTION,))
    alpha = transcript.challenge()

    # -- round 3: the quotient on the coset 5·H_E, committed as one pack of chunks -----------
    order = list(polys)
    slot = {key: i for i, key in enumerate(order)}
    all_coeffs = xp.stack([pad_rows(be, polys[key][None], ext * n)[0] for key in order])
    with timer.phase("ntt"):
        coset = be.ntt(all_coeffs, coset=True, shift=COSET_SHIFT)
    with timer.phase("quotient"):
        q_values = quotient_on_coset(be, cs, dom, ext, coset, slot, pub, challenges, alpha)
    with timer.phase("ntt"):
        q_coeffs = be.ntt(q_values, inverse=True, coset=True, shift=COSET_SHIFT)
    with timer.phase("quotient"):
        bound = cs.quotient_degree_bound(n)
        if refuse_invalid and be.to_host(q_coeffs[bound + 1:]).any():
            raise InvalidTrace(f"the trace does not satisfy the constraints of {air.name} "
                               "(the quotient is not a polynomial)")
        for j, chunk in enumerate(split_quotient(be, q_coeffs[:bound + 1], n, vk.num_chunks, rng)):
            polys[("quotient", j)] = chunk
    commit_groups((QUOTIENT,))
    zeta = transcript.challenge()

    # -- round 4: every group's columns at ζ (and ζω): the remainders of P by X^k − c ---------
    zeta_omega = zeta * dom.omega % R_MODULUS
    with timer.phase("openings"):
        for gi, g in enumerate(groups):
            if gi not in packed:  # the fixed pack, committed in the key
                packed[gi] = pack(be, [polys[key] for key in g.columns], g.length)
        opened = []  # per claim: (group index, point, quotient by Z_t, evaluations)
        for gi, at_next in claims(groups):
            point = zeta_omega if at_next else zeta
            q, evals = divide_by_power(be, packed[gi], groups[gi].width, point)
            opened.append((gi, point, q, evals))
    evals_zeta = [e for gi, pt, q, ev in opened if pt == zeta for e in ev]
    evals_next = [e for gi, pt, q, ev in opened if pt != zeta for e in ev]
    transcript.absorb_scalars(evals_zeta)
    transcript.absorb_scalars(evals_next)
    nu = transcript.challenge()

    # -- round 5: W = [h], h = Σ_t ν^t·(P_t − r_t)/Z_t; then W' = [L/(X − z)] ---------------
    nus = [pow(nu, t, R_MODULUS) for t in range(len(opened))]
    with timer.phase("openings"):
        h_len = max(q.shape[0] for _, _, q, _ in opened)
        h = linear_combination(be, [q for _, _, q, _ in opened], nus, h_len)
    with timer.phase("msm"):
        w = commit(be, srs, h)
    transcript.absorb_point(w)
    z = transcript.challenge()
    with timer.phase("openings"):
        scalars, constant = opening_scalars(groups, opened, nus, z)
        l_len = max(p.shape[0] for p in packed.values())
        lpoly = linear_combination(be, [packed[gi] for gi in range(len(groups))], scalars, l_len)
        lpoly[:h_len] = fr.sub(lpoly[:h_len], h)
        lpoly[0:1] = fr.sub(lpoly[0:1], const(be, constant))
        w_z, l_at_z = synthetic_division(be, lpoly[:, None], z)
        if fr.to_ints(l_at_z)[0] != 0:  # an internal invariant: every division above is exact
            raise RuntimeError("the opening polynomial L does not vanish at z")
    with timer.phase("msm"):
        w_prime = commit(be, srs, w_z[:, 0])

    proof = Proof(commitments, evals_zeta, evals_next, w, w_prime)
    proof.timings = {"log2_n": vk.log2_n, "backend": be.name, **timer.result()}
    return proof


def opening_scalars(groups, opened, nus, z: int) -> tuple[list[int], int]:
    """The scalar of each group's P in L(X) = Σ_t ν^t/Z_t(z)·(P_t(X) − r_t(z)) − h(X), and the
    constant Σ_t ν^t·r_t(z)/Z_t(z) (Z_t = X^{k_t} − c_t)."""
    r = R_MODULUS
    scalars = [0] * len(groups)
    constant = 0
    for (gi, point, _, evals), nu_t in zip(opened, nus):
        zt_inv = pow((pow(z, groups[gi].width, r) - point) % r, -1, r)
        weight = nu_t * zt_inv % r
        scalars[gi] = (scalars[gi] + weight) % r
        r_at_z = 0
        for y in reversed(evals):
            r_at_z = (r_at_z * z + y) % r
        constant = (constant + weight * r_at_z) % r
    return scalars, constant


def interaction_columns(be, cs, witness, fixed_values, pub, challenges, refuse_invalid=True):
    """The helper columns h_j = λ^a·Σ w_t/(β − fingerprint_t) and the running sum S on H.
    S is exclusive (S₀ = 0); a sum that does not balance is refused here."""
    fr = be.fr
    xp = _xp(be)
    alg = CosetAlgebra(be)
    n = witness.shape[1]

    def leaf(e):
        if isinstance(e, Column):
            return witness[e.index] if e.kind == "witness" else fixed_values[e.index]
        if isinstance(e, PublicInput):
            return pub[e.index]
        return challenges[e.name]

    def full(x):
        return fr.add(fr.zeros(n), const(be, x)) if isinstance(x, int) else x

    from .air import fingerprint
    cache: dict = {}
    beta = challenges["beta"]
    dens, weights, owners = [], [], []
    for j, h in enumerate(cs.helpers):
        for w, values in h.terms:
            dens.append(full(alg.sub(beta, evaluate(fingerprint(values), alg, leaf, cache))))
            weights.append(full(evaluate(w, alg, leaf, cache)))
            owners.append(j)
    try:
        inv = fr.batch_inv(xp.stack(dens))
    except InvalidInput:
        raise InvalidTrace("a logUp denominator β − value vanished; prove again") from None
    helpers = [fr.zeros(n) for _ in cs.helpers]
    for t, j in enumerate(owners):
        helpers[j] = fr.add(helpers[j], fr.mul(weights[t], inv[t]))
    lam = challenges["lambda"]
    for j, h in enumerate(cs.helpers):
        if h.argument:
            helpers[j] = fr.mul(helpers[j], const(be, pow(lam, h.argument, R_MODULUS)))
    row_sum = helpers[0]
    for h in helpers[1:]:
        row_sum = fr.add(row_sum, h)
    inclusive = inclusive_prefix_sum(be, row_sum)
    if refuse_invalid and be.to_host(inclusive[-1]).any():
        raise InvalidTrace("a logUp argument does not balance: a looked-up value is missing from its "
                           "table, or a multiset sum is not zero")
    running = xp.concatenate([fr.zeros(1), inclusive[:-1]], axis=0)
    return xp.stack(helpers + [running])


_COSET_CACHE: dict = {}


def coset_points(be, dom: Domain, ext: int):
    """x_i = 5·ω_{En}^i for i < E·n, and 1/Z_H(x_i); computed once per backend and size."""
    key = (be.name, dom.log2_n, ext)
    if key not in _COSET_CACHE:
        _COSET_CACHE.clear()  # one size at a time: a worker proves one circuit size
        _COSET_CACHE[key] = _coset_points(be, dom, ext)
    return _COSET_CACHE[key]


def _coset_points(be, dom: Domain, ext: int):
    fr = be.fr
    from kernels.params import root_of_unity
    big = ext * dom.n
    w_big = root_of_unity(dom.log2_n + (ext.bit_length() - 1))
    x = fr.mul(powers(be, w_big, big), const(be, COSET_SHIFT))
    # Z_H(x_i) = 5^n·ω_E^i − 1 depends on i mod E only: E inversions in Python.
    w_ext = pow(w_big, dom.n, R_MODULUS)
    s_n = pow(COSET_SHIFT, dom.n, R_MODULUS)
    zh_inv_small = [pow((s_n * pow(w_ext, i, R_MODULUS) - 1) % R_MODULUS, -1, R_MODULUS) for i in range(ext)]
    zh_inv = _xp(be).tile(fr.from_ints(zh_inv_small), (dom.n, 1))
    return x, zh_inv


def quotient_on_coset(be, cs, dom: Domain, ext: int, coset, slot, pub, challenges, alpha):
    """Q(x) = [Σ_every α^j C_j + (x − ω^{n−1})·Σ_trans α^j C_j] / Z_H(x)
            + Σ_first α^j C_j / (x − 1) + Σ_last α^j C_j / (x − ω^{n−1})   on 5·H_E.
    `coset[slot[(kind, index)]]` holds each column's values there."""
    fr = be.fr
    xp = _xp(be)
    alg = CosetAlgebra(be)
    big = ext * dom.n
    shifted: dict = {}

    def leaf(e):
        if isinstance(e, Column):
            i = slot[(e.kind, e.index)]
            if not e.next:
                return coset[i]
            # P(ω·x_i) = P(x_{i+E}): the next row is E places further on the extended coset.
            if i not in shifted:
                shifted[i] = xp.ascontiguousarray(xp.roll(coset[i], -ext, axis=0))
            return shifted[i]
        if isinstance(e, PublicInput):
            return pub[e.index]
        return challenges[e.name]

    acc = {s: 0 for s in (EVERY_ROW, TRANSITION, FIRST_ROW, LAST_ROW)}
    cache: dict = {}
    a_pow = 1
    for c in cs.constraints:
        term = alg.mul(evaluate(c.expr, alg, leaf, cache), a_pow)
        acc[c.selector] = alg.add(acc[c.selector], term)
        a_pow = a_pow * alpha % R_MODULUS

    def full(v):
        return fr.add(fr.zeros(big), const(be, v)) if isinstance(v, int) else v

    x, zh_inv = coset_points(be, dom, ext)
    x_minus_last = fr.sub(x, const(be, dom.omega_last))
    q = fr.add(full(acc[EVERY_ROW]), fr.mul(full(acc[TRANSITION]), x_minus_last))
    q = fr.mul(q, zh_inv)
    boundary = [(s, r) for s, r in ((FIRST_ROW, 1), (LAST_ROW, dom.omega_last)) if not _is_zero(acc[s])]
    if boundary:
        invs = fr.batch_inv(xp.stack([fr.sub(x, const(be, r)) for _, r in boundary]))
        for (s, _), inv in zip(boundary, invs):
            q = fr.add(q, fr.mul(full(acc[s]), inv))
    return q


def _is_zero(v) -> bool:
    return isinstance(v, int) and v == 0


def split_quotient(be, q_coeffs, n: int, k: int, rng):
    """Q = Σ X^{i·n}·q_i with chunks of n coefficients, the last one taking the rest. Each
    boundary between chunks is blinded by +ρ·X^n in q_i and −ρ in q_{i+1}, which cancels in Q
    but makes every chunk's commitment independent of the trace."""
    fr = be.fr
    xp = _xp(be)
    chunks = []
    for i in range(k):
        end = (i + 1) * n if i < k - 1 else q_coeffs.shape[0]
        chunks.append(q_coeffs[i * n:end].copy())
    if q_coeffs.shape[0] < n:  # a one-chunk quotient shorter than n
        return chunks
    rho = fr.random(k - 1, rng) if k > 1 else None
    for i in range(k - 1):
        r = be.asarray(rho[i:i + 1])
        chunks[i] = xp.concatenate([chunks[i], r], axis=0)
        chunks[i + 1][0:1] = fr.sub(chunks[i + 1][0:1], r)
    return chunks
