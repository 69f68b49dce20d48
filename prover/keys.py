"""Proving and verification keys: what `setup` derives from a circuit, a trace size and an SRS.

The verification key is small and has one canonical byte encoding (docs/protocol.md §2); its
Keccak-256 digest is the first thing the transcript absorbs, and a Solidity verifier carries it
as a constant. The proving key adds the SRS powers and the fixed columns' coefficients.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kernels import get_backend
from kernels.backend import Backend
from kernels.params import CURVE_B, P_MODULUS, R_MODULUS

from .air import Air, ConstraintSystem, compile_air
from .errors import InvalidCircuit, InvalidInput, InvalidSetup
from .groups import KIND_CODES, commitment_groups, degree_bounded_groups, srs_size
from .keccak import keccak256
from .lagrange import basis_from_powers, basis_from_trapdoor, basis_name
from .polynomials import pack
from .srs import SRS, dev_setup
from .transcript import encode_point
from .types import G1Point, G2Point, GroupKind

VK_VERSION = 3
# Trace sizes 2^3 … 2^26: the smallest domain the protocol's boundary selectors need, and the
# largest whose quotient coset still fits Fr's 2^28 roots of unity at every circuit degree here.
MIN_LOG2_N = 3
MAX_LOG2_N = 26
_HEADER = 8 * 32 + 32          # eight words, then the circuit digest
_GROUP_BYTES = 3 * 32          # kind, width, opened at ζω


@dataclass
class VerificationKey:
    log2_n: int
    num_witness: int
    num_fixed: int
    num_interaction: int
    num_chunks: int
    num_public_inputs: int
    circuit_digest: bytes
    groups: list[tuple[int, int, int]]        # (kind code, width, opened at ζω), commitment order
    fixed_commitment: G1Point | None  # the packed fixed columns; None without any
    g2_tau: G2Point

    @property
    def n(self) -> int:
        return 1 << self.log2_n

    def to_bytes(self) -> bytes:
        """Eight 32-byte words (version, log2_n, #witness, #fixed, #interaction, #chunks,
        #public inputs, #groups), the circuit digest, three words per group (kind, width,
        opened at ζω), the fixed pack's commitment (64 bytes, only with fixed columns) and [τ]₂
        in the EVM pairing precompile's order (x.c1, x.c0, y.c1, y.c0)."""
        words = [VK_VERSION, self.log2_n, self.num_witness, self.num_fixed, self.num_interaction,
                 self.num_chunks, self.num_public_inputs, len(self.groups)]
        for g in self.groups:
            words += list(g)
        out = b"".join(w.to_bytes(32, "big") for w in words[:8]) + self.circuit_digest
        out += b"".join(w.to_bytes(32, "big") for w in words[8:])
        if self.fixed_commitment is not None:
            out += encode_point(self.fixed_commitment)
        (x0, x1), (y0, y1) = self.g2_tau
        out += b"".join(v.to_bytes(32, "big") for v in (x1, x0, y1, y0))
        return out

    @classmethod
    def from_bytes(cls, data: bytes) -> "VerificationKey":
        if len(data) < _HEADER + 128:
            raise InvalidInput("verification key too short")

        def word(off):
            return int.from_bytes(data[off:off + 32], "big")

        version, log2_n, nw, nf, ni, nc, npub, ng = (word(32 * i) for i in range(8))
        if version != VK_VERSION:
            raise InvalidInput(f"verification key version {version}; expected {VK_VERSION}")
        if not MIN_LOG2_N <= log2_n <= MAX_LOG2_N:
            raise InvalidInput(f"verification key for 2^{log2_n} rows is out of range")
        if not 1 <= ng <= 1024:
            raise InvalidInput(f"verification key with {ng} commitment groups")
        expected = _HEADER + _GROUP_BYTES * ng + (64 if nf else 0) + 128
        if len(data) != expected:
            raise InvalidInput(f"verification key is {len(data)} bytes; its header says {expected}")
        digest = data[256:288]
        off = _HEADER
        groups = []
        for _ in range(ng):
            groups.append((word(off), word(off + 32), word(off + 64)))
            off += _GROUP_BYTES
        _check_group_shape(groups, nw, nf, ni, nc)
        fixed = None
        if nf:
            fixed = (word(off), word(off + 32))
            if fixed[0] >= P_MODULUS or fixed[1] >= P_MODULUS or (
                    fixed != (0, 0) and (fixed[1] ** 2 - fixed[0] ** 3 - CURVE_B) % P_MODULUS):
                raise InvalidInput("verification key's fixed commitment is not a curve point")
            off += 64
        x1, x0, y1, y0 = (word(off + 32 * i) for i in range(4))
        return cls(log2_n, nw, nf, ni, nc, npub, digest, groups, fixed, ((x0, x1), (y0, y1)))

    @property
    def digest(self) -> bytes:
        return keccak256(self.to_bytes())

    def save(self, path: str) -> None:
        with open(path, "wb") as f:
            f.write(self.to_bytes())

    @classmethod
    def load(cls, path: str) -> "VerificationKey":
        with open(path, "rb") as f:
            return cls.from_bytes(f.read())


def _check_group_shape(groups, nw: int, nf: int, ni: int, nc: int) -> None:
    """The groups are in commitment order and account for every column exactly once."""
    order = [KIND_CODES[k] for k in GroupKind]
    kinds = [g[0] for g in groups]
    if any(k not in order for k in kinds) or kinds != sorted(kinds):
        raise InvalidInput("verification key groups are not in commitment order")
    width = {k: 0 for k in order}
    for kind, w, nxt in groups:
        if w < 1 or nxt not in (0, 1):
            raise InvalidInput("verification key holds an empty group or a bad ζω flag")
        width[kind] += w
    count = {k: kinds.count(k) for k in order}
    fixed, public, bound, witness, interaction, quotient = (KIND_CODES[k] for k in GroupKind)
    if (count[bound] > count[public] or count[fixed] != (1 if nf else 0) or count[interaction] != (1 if ni else 0)
            or count[quotient] != 1 or kinds[-1] != quotient or groups[-1][2]
            or width[fixed] != nf or width[public] + width[witness] != nw
            or width[interaction] != ni or width[quotient] != nc):
        raise InvalidInput("verification key groups do not match its column counts")


@dataclass
class ProvingKey:
    vk: VerificationKey
    srs_g1: np.ndarray           # (D, 2, 4) host array: [τ^i]₁
    fixed_coeffs: np.ndarray     # (F, n, 4) host array: the fixed columns' coefficients
    # Lagrange bases by `prover.lagrange.basis_name(width, shift)`, each (width, n, 2, 4): the
    # prover commits the public groups and witness packs from their values with them. A key
    # without them proves the same proofs, committing coefficients instead.
    lagrange: dict = field(default_factory=dict)

    def __post_init__(self):
        # Read-only wherever the key lives: a key that Ray hands to a prover arrives read-only
        # from its object store, and numba compiles (and caches) a kernel once per argument
        # type, writability included; one type everywhere means one compiled kernel, which a
        # warm-up in any process also readies for the provers.
        for array in (self.srs_g1, self.fixed_coeffs, *self.lagrange.values()):
            if isinstance(array, np.ndarray):
                array.flags.writeable = False

    def save(self, path: str) -> None:
        np.savez(path, vk=np.frombuffer(self.vk.to_bytes(), dtype=np.uint8),
                 srs_g1=self.srs_g1, fixed_coeffs=self.fixed_coeffs, **self.lagrange)

    @classmethod
    def load(cls, path: str, be: Backend | None = None) -> "ProvingKey":
        """The key saved at `path`. Its SRS points and Lagrange bases are checked once here
        (InvalidSetup for a point off the curve), so that the prover's MSMs need not check
        them again."""
        be = be or get_backend("cpu")
        with np.load(path, allow_pickle=False) as z:
            vk = VerificationKey.from_bytes(z["vk"].tobytes())
            lagrange = {k: z[k].astype(np.uint64) for k in z.files if k.startswith("lagrange_")}
            pk = cls(vk, z["srs_g1"].astype(np.uint64), z["fixed_coeffs"].astype(np.uint64), lagrange)
        try:
            be.g1.validate(be.asarray(pk.srs_g1), f"{path}: SRS")
            for name, basis in pk.lagrange.items():
                if basis.ndim != 4 or basis.shape[1:] != (vk.n, 2, 4):
                    raise InvalidInput(f"{name} has shape {basis.shape}")
                be.g1.validate(be.asarray(basis), f"{path}: {name}")
        except InvalidInput as e:
            raise InvalidSetup(str(e)) from None
        return pk


def check_circuit(cs: ConstraintSystem, vk: VerificationKey) -> None:
    """The circuit in hand is the one the key was made for, packed the same way."""
    if cs.digest != vk.circuit_digest:
        raise InvalidCircuit(f"circuit {cs.air.name!r} does not match the key's circuit digest")
    if [g.shape for g in commitment_groups(cs, vk.n)] != [tuple(g) for g in vk.groups]:
        raise InvalidCircuit(f"circuit {cs.air.name!r} packs its columns unlike the key")


def setup(air: Air, log2_n: int, srs: SRS, be: Backend | None = None,
          lagrange: bool = True) -> tuple[ProvingKey, VerificationKey]:
    """Derive the keys of `air` at n = 2^log2_n rows from an SRS: commit the fixed columns as
    one pack (unblinded: they are public) and record the circuit's packing shape. With
    `lagrange`, the proving key also carries the Lagrange bases of the groups committed from
    trace values (`lagrange_bases`)."""
    be = be or get_backend("auto")
    cs = compile_air(air)
    if not isinstance(log2_n, int) or not MIN_LOG2_N <= log2_n <= MAX_LOG2_N:
        raise InvalidInput(f"log2_n must lie in [{MIN_LOG2_N}, {MAX_LOG2_N}], got {log2_n}")
    n = 1 << log2_n
    if n < air.min_rows():
        raise InvalidCircuit(f"{air.name} needs at least {air.min_rows()} rows, got {n}")
    if cs.extension(n) * n > 1 << 28:
        raise InvalidCircuit("the quotient's coset exceeds Fr's 2^28 roots of unity")
    groups = commitment_groups(cs, n)
    held = srs.size
    srs = srs.truncate(srs_size(cs, n))
    if held > srs.size and degree_bounded_groups(cs):
        # The degree bound holds against a prover without [τ^i]₁ for i ≥ D; a ceremony's file
        # publishes those, so the keys are made under one more contribution (§2 of the protocol).
        srs = srs.contribute(be)
    values = air.fixed_values(n)
    if set(values) != set(air.fixed_columns):
        raise InvalidCircuit(f"{air.name}.fixed_values must give exactly the fixed columns")
    fr = be.fr
    fixed_commitment = None
    if air.fixed_columns:
        evals = []
        for name in air.fixed_columns:
            col = list(values[name])
            if len(col) != n:
                raise InvalidCircuit(f"fixed column {name!r} has {len(col)} rows, expected {n}")
            evals.append(fr.from_ints([int(v) % R_MODULUS for v in col]))
        stacked = be.asarray(np.stack([be.to_host(e) for e in evals]))
        coeffs = be.ntt(stacked, inverse=True)
        packed = pack(be, list(coeffs), n)
        points = be.asarray(srs.g1_powers)
        fixed_commitment = be.g1.to_ints(be.msm(points[:packed.shape[0]], packed))[0]
        fixed_coeffs = be.to_host(coeffs)
    else:
        fixed_coeffs = np.zeros((0, n, 4), dtype=np.uint64)
    vk = VerificationKey(log2_n, cs.num_witness, cs.num_fixed, cs.num_interaction,
                         cs.quotient_chunks(n), len(air.public_inputs), cs.digest,
                         [g.shape for g in groups], fixed_commitment, srs.g2_tau)
    bases = lagrange_bases(groups, n, srs, be) if lagrange else {}
    return ProvingKey(vk, srs.g1_powers, fixed_coeffs, bases), vk


def lagrange_bases(groups, n: int, srs: SRS, be: Backend) -> dict:
    """The bases of every public group, degree bound and witness pack (one per distinct width
    and shift): from τ for the development setup, else by a DFT over the powers, which costs
    about (log2 n)/2 scalar multiplications per basis point, once."""
    out = {}
    for g in groups:
        if g.kind not in (GroupKind.PUBLIC, GroupKind.BOUND, GroupKind.WITNESS):
            continue
        name = basis_name(g.width, g.shift)
        if name not in out:
            out[name] = (basis_from_trapdoor(be, srs.trapdoor, g.width, n, g.shift) if srs.trapdoor is not None
                         else basis_from_powers(be, be.asarray(srs.g1_powers), g.width, n, g.shift))
    return out


def dev_keys(air: Air, log2_n: int, seed: bytes | str, be: Backend | None = None) -> tuple[ProvingKey, VerificationKey]:
    """Keys of `air` at 2^log2_n rows over the INSECURE development SRS of `seed` (prover.srs:
    anyone who knows the seed can forge proofs), sized for the circuit."""
    be = be or get_backend("auto")
    if not isinstance(log2_n, int) or not MIN_LOG2_N <= log2_n <= MAX_LOG2_N:
        raise InvalidInput(f"log2_n must lie in [{MIN_LOG2_N}, {MAX_LOG2_N}], got {log2_n}")
    srs = dev_setup(srs_size(compile_air(air), 1 << log2_n), seed, insecure=True, be=be)
    return setup(air, log2_n, srs, be)
