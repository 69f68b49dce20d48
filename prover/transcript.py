"""The Fiat–Shamir transcript: Keccak-256 over the EVM encoding of every absorbed value.

The state is one 32-byte word. Absorbed values are appended to a pending buffer; a challenge is
    h = keccak256(state ‖ pending),  state ← h,  pending ← empty,  challenge = h mod r.
A Solidity verifier reproduces it with one `keccak256` over a memory slice per challenge. The
reduction mod r is biased (2^256 / r ≈ 5.3), but every challenge keeps more than 251 bits of
min-entropy, which is all the Schwartz–Zippel arguments of the protocol need.
"""

from __future__ import annotations

from kernels.params import R_MODULUS

from .errors import InvalidInput
from .keccak import keccak256
from .types import G1Point

DOMAIN_SEPARATOR = b"zkpipe.plonk-air.v2"


def encode_scalar(value: int) -> bytes:
    """A scalar in [0, r) as 32 big-endian bytes (a uint256 word)."""
    return int(value).to_bytes(32, "big")


def encode_point(point: G1Point) -> bytes:
    """An affine G1 point (x, y) as 64 bytes, x then y big-endian; (0, 0) is infinity."""
    x, y = point
    return int(x).to_bytes(32, "big") + int(y).to_bytes(32, "big")


class Transcript:
    """The prover's and the verifier's shared view of the interaction."""

    def __init__(self, vk_digest: bytes):
        if len(vk_digest) != 32:
            raise InvalidInput("the verification key digest is 32 bytes")
        # Binding the key first means a proof made for one circuit, size or SRS derives
        # unrelated challenges under any other key.
        self.state = keccak256(DOMAIN_SEPARATOR + vk_digest)
        self.pending = bytearray()

    def absorb_scalar(self, value: int) -> None:
        self.pending += encode_scalar(value)

    def absorb_scalars(self, values) -> None:
        for v in values:
            self.absorb_scalar(v)

    def absorb_point(self, point: G1Point) -> None:
        self.pending += encode_point(point)

    def absorb_points(self, points) -> None:
        for p in points:
            self.absorb_point(p)

    def challenge(self) -> int:
        """The next challenge in [0, r), bound to everything absorbed so far."""
        self.state = keccak256(bytes(self.state) + bytes(self.pending))
        self.pending = bytearray()
        return int.from_bytes(self.state, "big") % R_MODULUS
