"""A proof and its byte encoding: the EVM's ABI words, in the order of docs/protocol.md §5.

    group commitments      64 bytes each (x ‖ y, big-endian): every group of the key but the
                           fixed one, in commitment order (public groups, witness packs,
                           interaction, quotient)
    evaluations at ζ       32 bytes each: every group's columns, group by group (fixed first)
    evaluations at ζω      32 bytes each: the columns of the groups opened at ζω, likewise
    W                      64: [h], the combined quotient of every claim
    W'                     64: [L(X)/(X − z)], the opening of L at z

Every count comes from the verification key, so the length is fixed per key and the decoder
is strict: the wrong length, a scalar not below r, a coordinate not below p or a point off the
curve is an InvalidProof naming the offending field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kernels.params import CURVE_B, P_MODULUS, R_MODULUS

from .errors import InvalidProof
from .groups import KIND_CODES
from .keys import VerificationKey
from .transcript import encode_point, encode_scalar
from .types import G1Point, GroupKind


@dataclass
class Proof:
    commitments: list[G1Point]
    evals_zeta: list[int]
    evals_zeta_omega: list[int]
    opening: G1Point            # W
    opening_at_z: G1Point       # W'
    published: bytes = b""      # a publishing circuit's data (prover.publication), after W'
    timings: dict = field(default_factory=dict, compare=False)

    def to_bytes(self) -> bytes:
        out = bytearray()
        for p in self.commitments:
            out += encode_point(p)
        for s in self.evals_zeta + self.evals_zeta_omega:
            out += encode_scalar(s)
        out += encode_point(self.opening) + encode_point(self.opening_at_z)
        return bytes(out) + bytes(self.published)

    @classmethod
    def from_bytes(cls, data: bytes, vk: VerificationKey, publishes: bool = False) -> "Proof":
        return decode_proof(data, vk, publishes)


@dataclass(frozen=True)
class ProofShape:
    """Counts and byte offsets of a proof's sections under one key."""

    commitments: int
    evals_zeta: int
    evals_zeta_omega: int

    @property
    def off_evals(self) -> int:
        return 64 * self.commitments

    @property
    def off_evals_next(self) -> int:
        return self.off_evals + 32 * self.evals_zeta

    @property
    def off_openings(self) -> int:
        return self.off_evals_next + 32 * self.evals_zeta_omega

    @property
    def length(self) -> int:
        return self.off_openings + 128


def proof_shape(vk: VerificationKey) -> ProofShape:
    committed = [g for g in vk.groups if g[0] != KIND_CODES[GroupKind.FIXED]]
    # A degree bound claims its source group's evaluations: it adds a commitment, no scalar.
    evaluated = [g for g in vk.groups if g[0] != KIND_CODES[GroupKind.BOUND]]
    return ProofShape(len(committed), sum(g[1] for g in evaluated), sum(g[1] for g in evaluated if g[2]))


def proof_length(vk: VerificationKey) -> int:
    return proof_shape(vk).length


def _point(data: bytes, off: int, what: str) -> G1Point:
    x = int.from_bytes(data[off:off + 32], "big")
    y = int.from_bytes(data[off + 32:off + 64], "big")
    if x >= P_MODULUS or y >= P_MODULUS:
        raise InvalidProof(f"{what} (byte {off}): a coordinate is not below the base field modulus p")
    if (x, y) != (0, 0) and (y * y - x * x * x - CURVE_B) % P_MODULUS != 0:
        raise InvalidProof(f"{what} (byte {off}): the point is not on the curve y² = x³ + 3")
    return (x, y)


def _scalar(data: bytes, off: int, what: str) -> int:
    v = int.from_bytes(data[off:off + 32], "big")
    if v >= R_MODULUS:
        raise InvalidProof(f"{what} (byte {off}): the scalar is not below the group order r")
    return v


def decode_proof(data: bytes, vk: VerificationKey, publishes: bool = False) -> Proof:
    """Parse `data` strictly against the shape recorded in `vk`. The proof of a circuit that
    publishes data carries it after W' (`publishes`; prover.publication decodes it)."""
    if not isinstance(data, (bytes, bytearray)):
        raise InvalidProof(f"a proof is bytes, got {type(data).__name__}")
    shape = proof_shape(vk)
    if len(data) < shape.length if publishes else len(data) != shape.length:
        raise InvalidProof(f"proof is {len(data)} bytes; this verification key expects {shape.length}")
    commitments = [_point(data, 64 * i, f"group commitment[{i}]") for i in range(shape.commitments)]
    ez = [_scalar(data, shape.off_evals + 32 * i, f"evaluation at zeta[{i}]")
          for i in range(shape.evals_zeta)]
    ezw = [_scalar(data, shape.off_evals_next + 32 * i, f"evaluation at zeta*omega[{i}]")
           for i in range(shape.evals_zeta_omega)]
    w = _point(data, shape.off_openings, "opening W")
    w_z = _point(data, shape.off_openings + 64, "opening W' at z")
    return Proof(commitments, ez, ezw, w, w_z, bytes(data[shape.length:]))
