"""The prover, round by round as docs/protocol.md §4 describes it.

The order of the rounds is not written here: `prove` walks the one schedule (prover.schedule)
and computes each message when the schedule asks for it, so that the prover, the Python
verifier and the Solidity verifier cannot disagree on the transcript.

All heavy work is whole-array operations of the backend (NTT, MSM, element-wise Fr
arithmetic), so the same code runs on the CPU and the GPU. Each phase is timed; the timings
travel with the proof (`proof.timings`, milliseconds) for the dashboard and the benchmark.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Mapping, Sequence

import numpy as np

from kernels import get_backend
from kernels.backend import Backend, MSMConfig
from kernels.program import RowProgram
from kernels.params import MONTGOMERY_R, R_MODULUS, root_of_unity

from . import schedule
from .air import Air, Column, ConstraintSystem, PublicInput, compile_air, evaluate, fingerprint
from .errors import InternalError, InvalidInput, InvalidTrace
from .fold import fold_constraints
from .groups import BLINDING_COEFFICIENTS, Group, claims, commitment_groups
from .inputs import public_input_values
from .keys import ProvingKey, check_circuit
from .lagrange import basis_name, column_bit_widths, commit_terms
from .opening import nu_powers, opening_scalars
from .polynomials import COSET_SHIFT, Domain, const, divide_by_powers, pack, powers
from .proof import Proof
from .publication import data_digest, published_data
from .schedule import Message
from .transcript import Transcript
from .types import ChallengeName, ColumnKind, G1Point, GroupKind, Selector

PHASES = ("witness", "ntt", "msm", "quotient", "openings", "other")
# The SRS in a proving key was checked when the key was made or loaded.
_SRS_MSM = MSMConfig(check_points=False)


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


class ProgramAlgebra:
    """The algebra of prover.fold recording a row program (kernels.program): array values are
    program values (`_Value`); the constant parts (public inputs, challenges, literals) stay
    Python ints and fold before they reach the program."""

    def __init__(self, program: RowProgram):
        self.p = program

    def load(self, column: int, offset: int = 0) -> "_Value":
        return _Value(self.p.load(column, offset))

    def _v(self, a) -> int:
        return self.p.const(a) if isinstance(a, int) else a.id

    def compile(self, outputs):
        return self.p.compile([self._v(v) for v in outputs])

    def const(self, v):
        return v % R_MODULUS

    def add(self, a, b):
        if isinstance(a, int) and isinstance(b, int):
            return (a + b) % R_MODULUS
        return _Value(self.p.add(self._v(a), self._v(b)))

    def sub(self, a, b):
        if isinstance(a, int) and isinstance(b, int):
            return (a - b) % R_MODULUS
        return _Value(self.p.sub(self._v(a), self._v(b)))

    def mul(self, a, b):
        if isinstance(a, int) and isinstance(b, int):
            return a * b % R_MODULUS
        return _Value(self.p.mul(self._v(a), self._v(b)))

    def neg(self, a):
        return (-a) % R_MODULUS if isinstance(a, int) else _Value(self.p.neg(a.id))

    def share(self, e, v):
        return v

    def keep(self, v, name):
        return v


class _Value:
    """A value of the program being recorded (not a constant)."""

    __slots__ = ("id",)

    def __init__(self, value_id: int):
        self.id = value_id


def blind(be, coeffs, rng, count: int = BLINDING_COEFFICIENTS):
    """P(X) + b(X)·Z_H(X) with b of `count` random coefficients: the values on H are unchanged,
    while any `count` evaluations outside H (and the commitment) become independent of the trace.
    `coeffs` is `(..., n, 4)`, each column blinded by its own b; returns `(..., n + count, 4)`."""
    fr, xp = be.fr, be.xp
    *lead, n, limbs = coeffs.shape
    columns = int(np.prod(lead, dtype=np.int64))
    b = be.asarray(fr.random(columns * count, rng)).reshape(*lead, count, limbs)
    out = xp.empty((*lead, n + count, limbs), dtype=xp.uint64)   # every row written below
    out[..., :n, :] = coeffs
    out[..., :count, :] = fr.sub(out[..., :count, :], b)   # −b(X)
    out[..., n:, :] = b                                     # +X^n·b(X)
    return out


def commit(be: Backend, srs, coeffs, config: MSMConfig = _SRS_MSM) -> G1Point:
    """KZG commitment Σ cᵢ·[τ^i]₁ as an affine (x, y) of ints."""
    return be.g1.to_ints(be.msm(srs[:coeffs.shape[0]], coeffs, config))[0]


def public_commitment(srs_g1, columns: Sequence[Sequence[int]], be: Backend | None = None) -> G1Point:
    """The commitment of a public group from its columns' values (in the group's order), as
    anyone holding them recomputes it: each column interpolated over H, unblinded, packed
    (docs/protocol.md §4.1). `srs_g1` is the proving key's `srs_g1`; its points are checked."""
    be = be or get_backend("auto")
    n = len(columns[0]) if columns else 0
    if not columns or n < 2 or n & (n - 1) or any(len(c) != n for c in columns):
        raise InvalidInput("a public group is one or more columns of the same power-of-two length")
    values = be.asarray(np.stack([be.to_host(column_to_field(be, list(c), n, f"column {i}"))
                                  for i, c in enumerate(columns)]))
    coeffs = be.ntt(values, inverse=True)
    return commit(be, be.asarray(srs_g1), pack(be, list(coeffs), n), MSMConfig())


# ---------------------------------------------------------------------------------------------
# The protocol


def prove(air: Air, pk: ProvingKey, trace: Mapping[str, Sequence[int]], public_inputs,
          be: Backend | None = None, rng=None, refuse_invalid: bool = True,
          published: bytes | None = None) -> Proof:
    """A proof that `trace` satisfies `air` with these public inputs. `rng` (a numpy Generator)
    draws the blinding; leave it None in production (fresh OS entropy).

    A trace that breaks a constraint is refused (InvalidTrace). `refuse_invalid=False` skips
    that refusal and commits to whatever comes out, as a cheating prover would: the soundness
    tests use it to show that the verifier, not the prover's honesty, rejects such proofs;
    `published` then replaces the data the trace publishes (prover.publication)."""
    run = ProofInProgress(air, pk, be or get_backend("auto"), rng, refuse_invalid)
    run.load_trace(trace, public_inputs)
    if published is not None and not refuse_invalid:
        run.published = bytes(published)
    challenges = schedule.run(Transcript(pk.vk.digest), run.cs.has_interaction, run.message)
    return run.finish(challenges[ChallengeName.Z])


class ProofInProgress:
    """The prover's state between the schedule's steps: every committed column's coefficients
    by (kind, index), and each group's packed polynomial and commitment. `message` computes
    whatever the schedule asks for next from the challenges drawn so far."""

    def __init__(self, air: Air, pk: ProvingKey, be: Backend, rng, refuse_invalid: bool):
        self.air, self.be, self.refuse_invalid = air, be, refuse_invalid
        # One generator for all of the proof's blinding (fresh OS entropy unless given).
        self.rng = rng if rng is not None else np.random.default_rng()
        self.vk = pk.vk
        self.cs: ConstraintSystem = compile_air(air)
        check_circuit(self.cs, self.vk)
        self.dom = Domain(self.vk.log2_n)
        self.groups: list[Group] = commitment_groups(self.cs, self.dom.n)
        self.srs = be.asarray(pk.srs_g1)
        self.fixed_coeffs = be.asarray(pk.fixed_coeffs)
        self.lagrange = {name: be.asarray(basis) for name, basis in pk.lagrange.items()}
        self.canonical = None         # the witness values as canonical limbs, for `commit_terms`
        self.timer = PhaseTimer()
        self.polys: dict = {}         # (ColumnKind, index) → coefficients
        self.packed: dict = {}        # group index → packed polynomial
        self.commitments: dict = {}   # group index → its commitment
        self.opened: list = []        # per claim: (group index, point, quotient by Z_t, evaluations)
        self.h = None                 # Σ_t ν^t·(P_t − r_t)/Z_t
        self.w = None

    # -- round 1: the public groups, unblinded, and the blinded witness packs -----------------
    def load_trace(self, trace, public_inputs) -> None:
        be, cs, air, n = self.be, self.cs, self.air, self.dom.n
        self.pub = public_input_values(air, public_inputs)
        with self.timer.phase("witness"):
            if set(trace) != set(air.witness_columns):
                missing = set(air.witness_columns) - set(trace)
                extra = set(trace) - set(air.witness_columns)
                raise InvalidInput(f"{air.name} trace: missing columns {sorted(missing)}, unknown {sorted(extra)}")
            self.witness = be.xp.stack([column_to_field(be, trace[c], n, c) for c in air.witness_columns])
            # The published data is the trace's own (prover.publication): a trace whose rows do
            # not fit the encoding cannot be published, and an honest prover refuses it.
            self.published = None
            if air.publication is not None:
                try:
                    self.published = published_data(air.publication, trace, n, wrap=not self.refuse_invalid)
                except InvalidInput as e:
                    raise InvalidTrace(f"{air.name}: the trace's published rows do not encode: {e}") from None
        with self.timer.phase("ntt"):
            w_coeffs = be.ntt(self.witness, inverse=True)
        public = set(cs.public_column_indices)
        with self.timer.phase("witness"):
            # A public column stays unblinded: anyone can recompute its group's commitment.
            secret = [i for i in range(cs.num_witness) if i not in public]
            blinded = dict(zip(secret, blind(be, w_coeffs[secret], self.rng))) if secret else {}
            for i in range(cs.num_witness):
                self.polys[(ColumnKind.WITNESS, i)] = blinded.get(i, w_coeffs[i])
            for j in range(cs.num_fixed):
                self.polys[(ColumnKind.FIXED, j)] = self.fixed_coeffs[j]

    def message(self, step: schedule.Absorb, challenges: dict) -> list:
        """The values of one absorption of the schedule."""
        if step.message == Message.PUBLIC_INPUTS:
            return self.pub
        if step.message == Message.PUBLISHED:
            return [] if self.published is None else [data_digest(self.published)]
        if step.message == Message.COMMITMENTS:
            return [self.commit_group(gi, challenges) for gi, g in enumerate(self.groups) if g.kind in step.kinds]
        if step.message in (Message.EVALS_ZETA, Message.EVALS_ZETA_OMEGA):
            self.open_at(challenges[ChallengeName.ZETA])
            at_next = step.message == Message.EVALS_ZETA_OMEGA
            return [y for gi, point, _, evals in self.opened if (point != self.zeta) == at_next
                    and self.groups[gi].kind != GroupKind.BOUND for y in evals]
        if step.message == Message.OPENING:
            return [self.combined_quotient(challenges[ChallengeName.NU])]
        raise InvalidInput(f"the schedule asks for an unknown message {step.message!r}")

    def commit_group(self, gi: int, challenges: dict) -> G1Point:
        g = self.groups[gi]
        if g.kind == GroupKind.INTERACTION:
            self.interaction(challenges)
        elif g.kind == GroupKind.QUOTIENT:
            self.quotient(challenges)
        if g.kind == GroupKind.BOUND:
            return self.commit_bound(gi)
        with self.timer.phase("witness"):
            self.packed[gi] = pack(self.be, [self.polys[key] for key in g.columns], g.length)
        basis = self.lagrange.get(basis_name(g.width, 0)) if g.kind in (GroupKind.PUBLIC, GroupKind.WITNESS) else None
        with self.timer.phase("msm"):
            if basis is None:
                self.commitments[gi] = commit(self.be, self.srs, self.packed[gi])
            else:
                self.commitments[gi] = self.commit_from_values(g, basis, blinded=g.kind == GroupKind.WITNESS)
        return self.commitments[gi]

    def commit_bound(self, gi: int) -> G1Point:
        """[X^s·P_source] from the top powers of the SRS: only a P_source of at most k·n
        coefficients fits below the SRS's end (docs/protocol.md §1, degree bounds)."""
        g, be = self.groups[gi], self.be
        source = self.packed[g.source]
        with self.timer.phase("witness"):
            self.packed[gi] = be.xp.concatenate([be.fr.zeros(g.shift), source], axis=0)
        basis = self.lagrange.get(basis_name(g.width, g.shift))
        with self.timer.phase("msm"):
            if basis is None:
                self.commitments[gi] = be.g1.to_ints(be.msm(self.srs[g.shift:g.shift + source.shape[0]],
                                                            source, _SRS_MSM))[0]
            else:
                self.commitments[gi] = self.commit_from_values(g, basis, blinded=False)
        return self.commitments[gi]

    def commit_from_values(self, g: Group, basis, blinded: bool) -> G1Point:
        """The group's commitment from its columns' values on H and the key's Lagrange basis
        (prover.lagrange): the point `commit` gives from the packed coefficients. A blinded
        column adds b(X)·Z_H(X) = Σ_c b_c·(X^(n+c) − X^c), which packed at width k is
        Σ_c b_c·([τ^(k(n+c)+i)]₁ − [τ^(kc+i)]₁) for column i: 6k more points."""
        be, fr, n, k = self.be, self.be.fr, self.dom.n, g.width
        if self.canonical is None:
            # A Montgomery product with the raw limbs of 1 takes a·R to a.
            self.canonical = fr.mul(self.witness, be.asarray(np.array([[1, 0, 0, 0]], dtype=np.uint64)))
        values = self.canonical[[i for _, i in g.columns]]
        terms = commit_terms(be, basis, values, column_bit_widths(be, values))
        if blinded:
            b = be.xp.stack([self.polys[key][n:n + BLINDING_COEFFICIENTS] for key in g.columns], axis=1)  # (3, k, 4)
            at = [(n + c) * k + i for c in range(BLINDING_COEFFICIENTS) for i in range(k)]
            below = [c * k + i for c in range(BLINDING_COEFFICIENTS) for i in range(k)]
            flat = b.reshape(-1, 4)
            terms.insert(0, (self.srs[at + below], be.xp.concatenate([flat, fr.neg(flat)], axis=0), _SRS_MSM))
        # One backend call for the whole sum (the CPU joins the terms into as few MSMs as pay).
        return be.g1.to_ints(be.asarray(be.msm_sum(terms))[None])[0]

    # -- round 2: the logUp interaction columns, after β, γ, λ --------------------------------
    def interaction(self, challenges: dict) -> None:
        be, cs = self.be, self.cs
        if (ColumnKind.INTERACTION, 0) in self.polys:
            return
        with self.timer.phase("ntt"):
            fixed_values = be.ntt(self.fixed_coeffs) if cs.num_fixed else None
        with self.timer.phase("witness"):
            columns = interaction_columns(be, cs, self.witness, fixed_values, self.pub, challenges,
                                          self.refuse_invalid)
        with self.timer.phase("ntt"):
            coeffs = be.ntt(columns, inverse=True)
        with self.timer.phase("witness"):
            for j, column in enumerate(blind(be, coeffs, self.rng)):
                self.polys[(ColumnKind.INTERACTION, j)] = column

    # -- round 3: the quotient on the coset 5·H_E, after α, as chunks of one pack -------------
    def quotient(self, challenges: dict) -> None:
        be, cs, dom = self.be, self.cs, self.dom
        if (ColumnKind.QUOTIENT, 0) in self.polys:
            return
        if cs.has_interaction:
            self.interaction(challenges)
        n, ext = dom.n, cs.extension(dom.n)
        order = list(self.polys)
        slot = {key: i for i, key in enumerate(order)}
        all_coeffs = be.stack_padded([self.polys[key] for key in order], ext * n)
        with self.timer.phase("ntt"):
            coset = be.ntt(all_coeffs, coset=True, shift=COSET_SHIFT)
        with self.timer.phase("quotient"):
            q_values = quotient_on_coset(be, cs, dom, ext, coset, slot, self.pub, challenges,
                                         challenges[ChallengeName.ALPHA])
        with self.timer.phase("ntt"):
            q_coeffs = be.ntt(q_values, inverse=True, coset=True, shift=COSET_SHIFT)
        with self.timer.phase("quotient"):
            bound = cs.quotient_degree_bound(n)
            if self.refuse_invalid and be.to_host(q_coeffs[bound + 1:]).any():
                raise InvalidTrace(f"the trace does not satisfy the constraints of {self.air.name} "
                                   "(the quotient is not a polynomial)")
            for j, chunk in enumerate(split_quotient(be, q_coeffs[:bound + 1], n, self.vk.num_chunks, self.rng)):
                self.polys[(ColumnKind.QUOTIENT, j)] = chunk

    # -- round 4: every group's columns at ζ (and ζω): the remainders of P by X^k − c ---------
    def open_at(self, zeta: int) -> None:
        if self.opened:
            return
        self.zeta = zeta
        zeta_omega = zeta * self.dom.omega % R_MODULUS
        with self.timer.phase("openings"):
            for gi, g in enumerate(self.groups):
                if gi not in self.packed:  # the fixed pack, committed in the key
                    self.packed[gi] = pack(self.be, [self.polys[key] for key in g.columns], g.length)
            opened = [(gi, zeta_omega if at_next else zeta) for gi, at_next in claims(self.groups)]
            divided = divide_by_powers(self.be, [(self.packed[gi], self.groups[gi].width, point) for gi, point in opened])
            self.opened = [(gi, point, q, evals) for (gi, point), (q, evals) in zip(opened, divided)]

    # -- round 5: W = [h], h = Σ_t ν^t·(P_t − r_t)/Z_t; then W' = [L/(X − z)] ---------------
    def combined_quotient(self, nu: int) -> G1Point:
        self.nu = nu
        with self.timer.phase("openings"):
            h_len = max(q.shape[0] for _, _, q, _ in self.opened)
            self.h = self.be.linear_combination([q for _, _, q, _ in self.opened],
                                                nu_powers(nu, len(self.opened)), h_len)
        with self.timer.phase("msm"):
            self.w = commit(self.be, self.srs, self.h)
        return self.w

    def finish(self, z: int) -> Proof:
        be, fr = self.be, self.be.fr
        with self.timer.phase("openings"):
            scalars, constant = opening_scalars(self.groups, [(gi, pt, ev) for gi, pt, _, ev in self.opened],
                                                self.nu, z)
            l_len = max(p.shape[0] for p in self.packed.values())
            lpoly = be.linear_combination([self.packed[gi] for gi in range(len(self.groups))] + [self.h],
                                          scalars + [R_MODULUS - 1], l_len)
            lpoly[0:1] = fr.sub(lpoly[0:1], const(be, constant))
            w_z, l_at_z = be.synthetic_division(lpoly[:, None], z)
            if fr.to_ints(l_at_z)[0] != 0:  # every division above is exact: a fault, not bad input
                raise InternalError("the opening polynomial L does not vanish at z")
        with self.timer.phase("msm"):
            w_prime = commit(be, self.srs, w_z[:, 0])
        commitments = [self.commitments[gi] for gi, g in enumerate(self.groups) if g.kind != GroupKind.FIXED]
        claimed = [(pt, ev) for gi, pt, _, ev in self.opened if self.groups[gi].kind != GroupKind.BOUND]
        evals_zeta = [y for pt, ev in claimed if pt == self.zeta for y in ev]
        evals_next = [y for pt, ev in claimed if pt != self.zeta for y in ev]
        proof = Proof(commitments, evals_zeta, evals_next, self.w, w_prime, self.published or b"")
        proof.timings = {"log2_n": self.vk.log2_n, "backend": be.name, **self.timer.result()}
        return proof
def interaction_columns(be: Backend, cs: ConstraintSystem, witness, fixed_values, pub, challenges,
                        refuse_invalid: bool = True):
    """The helper columns h_j = λ^a·Σ w_t/(β − fingerprint_t) and the running sum S on H.
    S is exclusive (S₀ = 0); a sum that does not balance is refused here. The denominators and
    weights are one row program, the sums per helper another (kernels.program)."""
    fr = be.fr
    xp = be.xp
    num_witness = witness.shape[0]
    alg = ProgramAlgebra(RowProgram())

    def leaf(e):
        if isinstance(e, Column):
            column = e.index if e.kind == ColumnKind.WITNESS else num_witness + e.index
            return alg.load(column, 1 if e.next else 0)
        if isinstance(e, PublicInput):
            return pub[e.index]
        return challenges[e.name]

    cache: dict = {}
    beta = challenges[ChallengeName.BETA]
    dens, weights, spans = [], [], []     # spans[j]: helper j's terms
    for h in cs.helpers:
        start = len(dens)
        for w, values in h.terms:
            dens.append(alg.sub(beta, evaluate(fingerprint(values), alg, leaf, cache)))
            weights.append(evaluate(w, alg, leaf, cache))
        spans.append(range(start, len(dens)))
    terms = len(dens)
    rows = be.run_program(alg.compile(dens + weights), witness, fixed_values)
    try:
        inv = fr.batch_inv(rows[:terms])
    except InvalidInput:
        raise InvalidTrace("a logUp denominator β − value vanished; prove again") from None
    # Second program: columns = the weights, aux = their inverted denominators.
    sums = ProgramAlgebra(RowProgram())
    lam = challenges[ChallengeName.LAMBDA]
    helpers = []
    for h, span in zip(cs.helpers, spans):
        total = 0
        for t in span:
            total = sums.add(total, sums.mul(sums.load(t), sums.load(terms + t)))
        helpers.append(sums.mul(total, pow(lam, h.argument, R_MODULUS)) if h.argument else total)
    row_sum = 0
    for h in helpers:
        row_sum = sums.add(row_sum, h)
    out = be.run_program(sums.compile(helpers + [row_sum]), rows[terms:], inv)
    inclusive = fr.prefix_sum(out[-1])
    if refuse_invalid and be.to_host(inclusive[-1]).any():
        raise InvalidTrace("a logUp argument does not balance: a looked-up value is missing from its "
                           "table, or a multiset sum is not zero")
    running = xp.concatenate([fr.zeros(1), inclusive[:-1]], axis=0)
    return xp.concatenate([out[:-1], running[None]], axis=0)


_COSET_CACHE: dict = {}


def coset_points(be, dom: Domain, ext: int):
    """`(4, E·n, 4)`: on the coset x_i = 5·ω_{En}^i, the columns x, 1/Z_H(x), 1/(x − 1) and
    1/(x − ω^{n−1}); computed once per backend and size."""
    key = (be.name, dom.log2_n, ext)
    if key not in _COSET_CACHE:
        _COSET_CACHE.clear()  # one size at a time: a worker proves one circuit size
        _COSET_CACHE[key] = _coset_points(be, dom, ext)
    return _COSET_CACHE[key]


def _coset_points(be, dom: Domain, ext: int):
    fr = be.fr
    big = ext * dom.n
    w_big = root_of_unity(dom.log2_n + (ext.bit_length() - 1))
    x = fr.mul(powers(be, w_big, big), const(be, COSET_SHIFT))
    # Z_H(x_i) = 5^n·ω_E^i − 1 depends on i mod E only: E inversions in Python.
    w_ext = pow(w_big, dom.n, R_MODULUS)
    s_n = pow(COSET_SHIFT, dom.n, R_MODULUS)
    zh_inv_small = [pow((s_n * pow(w_ext, i, R_MODULUS) - 1) % R_MODULUS, -1, R_MODULUS) for i in range(ext)]
    zh_inv = be.xp.tile(fr.from_ints(zh_inv_small), (dom.n, 1))
    boundary_inv = fr.batch_inv(be.xp.stack([fr.sub(x, const(be, 1)), fr.sub(x, const(be, dom.omega_last))]))
    return be.xp.stack([x, zh_inv, boundary_inv[0], boundary_inv[1]])


def quotient_on_coset(be: Backend, cs: ConstraintSystem, dom: Domain, ext: int, coset, slot, pub,
                      challenges, alpha: int):
    """Q(x) = [A_every + (x − ω^{n−1})·A_trans] / Z_H(x) + A_first / (x − 1) + A_last / (x − ω^{n−1})
    on 5·H_E, with the selector sums A_s of prover.fold. `coset[slot[(kind, index)]]` holds each
    column's values there. The whole expression is one row program (kernels.program): one pass
    over the rows instead of an array operation per node of every constraint."""
    program = RowProgram()
    alg = ProgramAlgebra(program)
    aux = coset.shape[0]            # the coset_points columns follow the committed ones

    def leaf(e):
        if isinstance(e, Column):
            # P(ω·x_i) = P(x_{i+E}): the next row is E places further on the extended coset.
            return alg.load(slot[(e.kind, e.index)], ext if e.next else 0)
        if isinstance(e, PublicInput):
            return pub[e.index]
        return challenges[e.name]

    acc = fold_constraints(cs.constraints, alg, leaf, alpha)
    x, zh_inv, inv_first, inv_last = (alg.load(aux + i) for i in range(4))
    x_minus_last = alg.sub(x, dom.omega_last)
    q = alg.add(acc.get(Selector.EVERY_ROW, 0), alg.mul(acc.get(Selector.TRANSITION, 0), x_minus_last))
    q = alg.mul(q, zh_inv)
    for s, inv in ((Selector.FIRST_ROW, inv_first), (Selector.LAST_ROW, inv_last)):
        if not _is_zero(acc.get(s, 0)):
            q = alg.add(q, alg.mul(acc[s], inv))
    return be.run_program(alg.compile([q]), coset, coset_points(be, dom, ext))[0]


def _is_zero(v) -> bool:
    return isinstance(v, int) and v == 0


def split_quotient(be, q_coeffs, n: int, k: int, rng):
    """Q = Σ X^{i·n}·q_i with chunks of n coefficients, the last one taking the rest. Each
    boundary between chunks is blinded by +ρ·X^n in q_i and −ρ in q_{i+1}, which cancels in Q
    but makes every chunk's commitment independent of the trace."""
    fr = be.fr
    xp = be.xp
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
