"""The structured reference string (SRS) of KZG: [τ^i]₁ for i < D, and [1]₂, [τ]₂.

Two sources:
- `dev_setup`: τ derived from a seed. Anyone who knows the seed can forge proofs, so it runs
  only when the caller passes `insecure=True`.
- `load_ptau`: the `.ptau` files of the Perpetual Powers of Tau ceremony, as snarkjs writes them
  (`snarkjs powersoftau new bn128 …`, contributions, optionally a beacon and `prepare phase2`).

The G1 powers are kept as a host array in the kernels' layout `(D, 2, 4)` (Fq Montgomery limbs),
which is exactly the byte layout of the `.ptau` file (snarkjs also stores little-endian
Montgomery limbs with R = 2^256), so a file's section is read without any conversion.
"""

from __future__ import annotations

import os
import struct
import warnings
from dataclasses import dataclass

import numpy as np
from py_ecc import optimized_bn128 as bn

from kernels import get_backend
from kernels.backend import Backend
from kernels.convert import to_montgomery
from kernels.errors import InvalidInput
from kernels.params import G1_GENERATOR, MONTGOMERY_R, P_MODULUS, R_MODULUS

from .errors import InsecureSetup, InvalidSetup
from .keccak import keccak256
from .types import G1Point, G2Point

G2_GENERATOR: G2Point = (
    (int(bn.G2[0].coeffs[0]), int(bn.G2[0].coeffs[1])),
    (int(bn.G2[1].coeffs[0]), int(bn.G2[1].coeffs[1])),
)


@dataclass
class SRS:
    """Powers of τ. `g1_powers[i]` is [τ^i]₁; `g2_tau` is [τ]₂ (the verifier's only G2 point
    besides the generator)."""

    g1_powers: np.ndarray
    g2_tau: G2Point
    source: str
    # τ itself, known only for the insecure development setup: `prover.lagrange` then derives
    # the Lagrange bases by scalar multiplications instead of a group DFT.
    trapdoor: int | None = None

    @property
    def size(self) -> int:
        return int(self.g1_powers.shape[0])

    def truncate(self, size: int) -> "SRS":
        if size > self.size:
            raise InvalidSetup(f"the SRS holds {self.size} powers, {size} are needed")
        return SRS(np.ascontiguousarray(self.g1_powers[:size]), self.g2_tau, self.source, self.trapdoor)

    def contribute(self, be: Backend | None = None, secret: int | None = None) -> "SRS":
        """One more contribution: τ' = x·τ for a fresh secret x (drawn here unless given, and
        not kept): [τ'^i]₁ = x^i·[τ^i]₁ for the powers held, [τ']₂ = x·[τ]₂. Made after
        truncating a ceremony's powers to the D a circuit needs, it leaves nobody knowing
        [τ'^i]₁ for i ≥ D, which the degree bounds rely on (docs/protocol.md §2)."""
        be = be or get_backend("cpu")
        x = secret if secret is not None else 1 + int.from_bytes(os.urandom(40), "big") % (R_MODULUS - 1)
        if not 0 < x < R_MODULUS:
            raise InvalidSetup("a contribution's secret lies in [1, r)")
        scalars, acc = [], 1
        for _ in range(self.size):
            scalars.append(acc)
            acc = acc * x % R_MODULUS
        g1 = be.to_host(be.g1.scalar_mul(be.asarray(self.g1_powers),
                                          be.asarray(to_montgomery(scalars, R_MODULUS))))
        g2 = bn.normalize(bn.multiply(g2_to_py_ecc(self.g2_tau), x))
        g2_tau: G2Point = ((int(g2[0].coeffs[0]), int(g2[0].coeffs[1])), (int(g2[1].coeffs[0]), int(g2[1].coeffs[1])))
        trapdoor = self.trapdoor * x % R_MODULUS if self.trapdoor is not None else None
        return SRS(np.ascontiguousarray(g1), g2_tau, f"{self.source} + one contribution", trapdoor)


def g2_to_py_ecc(p: G2Point):
    """Our affine G2 tuple → py_ecc's optimized (Jacobian-like) point."""
    (x0, x1), (y0, y1) = p
    return (bn.FQ2([x0, x1]), bn.FQ2([y0, y1]), bn.FQ2.one())


def g1_to_py_ecc(p: G1Point):
    x, y = p
    if x == 0 and y == 0:
        return bn.Z1
    return (bn.FQ(x), bn.FQ(y), bn.FQ.one())


def g1_from_py_ecc(p) -> G1Point:
    if bn.is_inf(p):
        return (0, 0)
    x, y = bn.normalize(p)
    return (int(x), int(y))


def dev_setup(size: int, seed: bytes | str, *, insecure: bool = False, be: Backend | None = None) -> SRS:
    """An SRS of `size` G1 powers for development and tests, with τ = keccak(seed) mod r.

    The seed *is* the trapdoor: whoever knows it can prove anything. Refused unless
    `insecure=True` says the caller knows this."""
    if not insecure:
        raise InsecureSetup("dev_setup derives τ from a seed, so anyone who knows the seed can forge "
                            "proofs; pass insecure=True to use it for development, or load a .ptau file")
    if size < 2:
        raise InvalidSetup("an SRS needs at least two powers")
    if isinstance(seed, str):
        seed = seed.encode()
    tau = int.from_bytes(keccak256(b"zkpipe.dev_setup" + seed), "big") % R_MODULUS
    if tau == 0:
        raise InvalidSetup("this seed gives τ = 0; choose another")
    powers = [1] * size
    for i in range(1, size):
        powers[i] = powers[i - 1] * tau % R_MODULUS
    be = be or get_backend("cpu")
    scalars = be.asarray(to_montgomery(powers, R_MODULUS))
    points = be.g1.scalar_mul(be.g1.generator(1)[0], scalars)
    g2 = bn.multiply(bn.G2, tau)
    return SRS(be.to_host(points), _g2_affine(g2), f"dev_setup(insecure, seed={seed!r})", tau)


def _g2_affine(p) -> G2Point:
    x, y = bn.normalize(p)
    return ((int(x.coeffs[0]), int(x.coeffs[1])), (int(y.coeffs[0]), int(y.coeffs[1])))


# ---------------------------------------------------------------------------------------------
# snarkjs .ptau import

_PTAU_HEADER = 1
_PTAU_TAU_G1 = 2
_PTAU_TAU_G2 = 3


def _read_sections(data: bytes) -> dict[int, list[tuple[int, int]]]:
    """The file's sections: type → [(offset, size)]. Layout: "ptau", u32 version, u32 count,
    then per section u32 type, u64 size, payload (little-endian throughout)."""
    if len(data) < 12 or data[:4] != b"ptau":
        raise InvalidSetup("not a .ptau file (magic 'ptau' missing)")
    version, count = struct.unpack_from("<II", data, 4)
    if version != 1:
        raise InvalidSetup(f".ptau version {version} is not supported (expected 1)")
    sections: dict[int, list[tuple[int, int]]] = {}
    off = 12
    for _ in range(count):
        if off + 12 > len(data):
            raise InvalidSetup(".ptau file truncated in a section header")
        kind, size = struct.unpack_from("<IQ", data, off)
        off += 12
        if off + size > len(data):
            raise InvalidSetup(f".ptau section {kind} runs past the end of the file")
        sections.setdefault(kind, []).append((off, size))
        off += size
    return sections


def _fq_from_montgomery_le(raw: bytes) -> int:
    v = int.from_bytes(raw, "little")
    if v >= P_MODULUS:
        raise InvalidSetup(".ptau holds a coordinate that is not below p")
    return v * pow(MONTGOMERY_R, -1, P_MODULUS) % P_MODULUS


def load_ptau(path: str, size: int | None = None, *, check: bool = True, be: Backend | None = None,
              allow_no_contribution: bool = False) -> SRS:
    """Read [τ^i]₁ (the first `size` of them, all by default) and [τ]₂ from a snarkjs `.ptau`.

    With `check`, the powers are verified to be consecutive powers of the τ in [τ]₂:
    e(Σρ^i[τ^{i+1}]₁, [1]₂) = e(Σρ^i[τ^i]₁, [τ]₂) for a random ρ (two MSMs and two pairings).

    A file nobody contributed to (`snarkjs powersoftau new` alone) has τ = 1: every power is the
    generator and anyone can forge proofs. It is refused (InvalidSetup) unless
    `allow_no_contribution=True`, which loads it with a warning, for tests of the import only."""
    with open(path, "rb") as f:
        data = f.read()
    sections = _read_sections(data)
    for kind in (_PTAU_HEADER, _PTAU_TAU_G1, _PTAU_TAU_G2):
        if len(sections.get(kind, [])) != 1:
            raise InvalidSetup(f".ptau file needs exactly one section {kind}")
    off, hsize = sections[_PTAU_HEADER][0]
    (n8,) = struct.unpack_from("<I", data, off)
    if n8 != 32:
        raise InvalidSetup(f".ptau field elements of {n8} bytes; BN254 needs 32")
    q = int.from_bytes(data[off + 4:off + 36], "little")
    if q != P_MODULUS:
        raise InvalidSetup(".ptau file is not for BN254 (bn128)")
    power, _ceremony_power = struct.unpack_from("<II", data, off + 36)
    available = (1 << (power + 1)) - 1  # snarkjs keeps 2^(power+1) − 1 G1 powers
    size = available if size is None else size
    if size > available:
        raise InvalidSetup(f".ptau of power {power} holds {available} G1 powers; {size} are needed")

    off, gsize = sections[_PTAU_TAU_G1][0]
    if gsize != available * 64:
        raise InvalidSetup(f".ptau tauG1 section has {gsize} bytes; expected {available * 64}")
    g1 = np.frombuffer(data, dtype="<u8", count=size * 8, offset=off).reshape(size, 2, 4).astype(np.uint64)

    off, g2size = sections[_PTAU_TAU_G2][0]
    if g2size < 2 * 128:
        raise InvalidSetup(".ptau tauG2 section holds fewer than two points")
    c = [_fq_from_montgomery_le(data[off + 128 + 32 * i: off + 160 + 32 * i]) for i in range(4)]
    g2_tau: G2Point = ((c[0], c[1]), (c[2], c[3]))
    g2_one = [_fq_from_montgomery_le(data[off + 32 * i: off + 32 * i + 32]) for i in range(4)]
    if ((g2_one[0], g2_one[1]), (g2_one[2], g2_one[3])) != G2_GENERATOR:
        raise InvalidSetup(".ptau tauG2[0] is not the G2 generator")
    if not bn.is_on_curve(g2_to_py_ecc(g2_tau), bn.b2):
        raise InvalidSetup(".ptau [τ]₂ is not on the curve")

    be = be or get_backend("cpu")
    try:
        be.g1.validate(be.asarray(g1), "ptau tauG1")
    except InvalidInput as e:  # a corrupted file, not a bad argument
        raise InvalidSetup(f".ptau {e}") from None
    srs = SRS(g1, g2_tau, f"ptau:{path} (power {power})")
    if be.g1.to_ints(be.asarray(g1[:1]))[0] != G1_GENERATOR:
        raise InvalidSetup(".ptau tauG1[0] is not the G1 generator")
    if g2_tau == G2_GENERATOR:
        if not allow_no_contribution:
            raise InvalidSetup(f"{path} has no contribution (τ = 1: [τ]₂ is the generator), so anyone can "
                               "forge proofs; contribute to it first")
        warnings.warn(f"{path} has no contribution (τ = 1): proofs under it can be forged", stacklevel=2)
    if check:
        check_srs(srs, be)
    return srs


def check_srs(srs: SRS, be: Backend) -> None:
    """Verify that g1_powers are consecutive powers of the τ in g2_tau (random linear check)."""
    rng = np.random.default_rng()
    d = srs.size
    rho = int.from_bytes(rng.bytes(32), "big") % R_MODULUS
    weights = [1] * (d - 1)
    for i in range(1, d - 1):
        weights[i] = weights[i - 1] * rho % R_MODULUS
    w = be.asarray(to_montgomery(weights, R_MODULUS))
    pts = be.asarray(srs.g1_powers)
    lo = be.g1.to_ints(be.msm(pts[:-1], w))[0]
    hi = be.g1.to_ints(be.msm(pts[1:], w))[0]
    lhs = bn.pairing(bn.G2, g1_to_py_ecc(hi))
    rhs = bn.pairing(g2_to_py_ecc(srs.g2_tau), g1_to_py_ecc(lo))
    if lhs != rhs:
        raise InvalidSetup("the SRS powers are not consecutive powers of the τ in [τ]₂")
