"""A proof and its byte encoding: the EVM's ABI words, in the order of docs/protocol.md §4.

    witness commitments      num_witness     × 64 bytes   (x ‖ y, big-endian)
    interaction commitments  num_interaction × 64
    quotient chunk commits   num_chunks      × 64
    evaluations at ζ         (num_witness + num_fixed + num_interaction) × 32
    evaluations at ζω        num_zeta_omega  × 32
    opening proof at ζ       64
    opening proof at ζω      64

Every count comes from the verification key, so the length is fixed per key and the decoder
is strict: the wrong length, a scalar not below r, a coordinate not below p or a point off the
curve is an InvalidProof naming the offending field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kernels.params import CURVE_B, P_MODULUS, R_MODULUS

from .errors import InvalidProof
from .keys import VerificationKey
from .transcript import encode_point, encode_scalar

Point = tuple[int, int]


@dataclass
class Proof:
    witness_commitments: list[Point]
    interaction_commitments: list[Point]
    quotient_commitments: list[Point]
    evals_zeta: list[int]
    evals_zeta_omega: list[int]
    opening_zeta: Point
    opening_zeta_omega: Point
    timings: dict = field(default_factory=dict, compare=False)

    def to_bytes(self) -> bytes:
        out = bytearray()
        for p in self.witness_commitments + self.interaction_commitments + self.quotient_commitments:
            out += encode_point(p)
        for s in self.evals_zeta + self.evals_zeta_omega:
            out += encode_scalar(s)
        out += encode_point(self.opening_zeta) + encode_point(self.opening_zeta_omega)
        return bytes(out)

    @classmethod
    def from_bytes(cls, data: bytes, vk: VerificationKey) -> "Proof":
        return decode_proof(data, vk)


def proof_length(vk: VerificationKey) -> int:
    points = vk.num_witness + vk.num_interaction + vk.num_chunks + 2
    scalars = vk.num_witness + vk.num_fixed + vk.num_interaction + vk.num_zeta_omega
    return 64 * points + 32 * scalars


def _point(data: bytes, off: int, what: str) -> Point:
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


def decode_proof(data: bytes, vk: VerificationKey) -> Proof:
    """Parse `data` strictly against the shape recorded in `vk`."""
    if not isinstance(data, (bytes, bytearray)):
        raise InvalidProof(f"a proof is bytes, got {type(data).__name__}")
    expected = proof_length(vk)
    if len(data) != expected:
        raise InvalidProof(f"proof is {len(data)} bytes; this verification key expects {expected}")
    off = 0

    def points(count, what):
        nonlocal off
        out = []
        for i in range(count):
            out.append(_point(data, off, f"{what}[{i}]"))
            off += 64
        return out

    def scalars(count, what):
        nonlocal off
        out = []
        for i in range(count):
            out.append(_scalar(data, off, f"{what}[{i}]"))
            off += 32
        return out

    wc = points(vk.num_witness, "witness commitment")
    ic = points(vk.num_interaction, "interaction commitment")
    qc = points(vk.num_chunks, "quotient commitment")
    ez = scalars(vk.num_witness + vk.num_fixed + vk.num_interaction, "evaluation at zeta")
    ezw = scalars(vk.num_zeta_omega, "evaluation at zeta*omega")
    wz, = points(1, "opening proof at zeta")
    wzw, = points(1, "opening proof at zeta*omega")
    return Proof(wc, ic, qc, ez, ezw, wz, wzw)
