"""Keccak-256, as the EVM's KECCAK256 opcode computes it (the original Keccak padding, not SHA-3's).

The prover hashes a batch's published data (16 bytes per transfer) into its transcript, tens of
kilobytes per proof: pycryptodome's C Keccak does 64 KB in about 0.1 ms, where the plain-Python
permutation below took about 150 ms of a 2^10 ledger proof. The plain-Python one stays as the
fallback for a machine without pycryptodome (a GPU worker needs only NumPy, numba and CuPy), and
as the reference the tests check the C one against.
"""

try:
    from Crypto.Hash import keccak as _c_keccak
except ImportError:          # pragma: no cover - exercised where pycryptodome is absent
    _c_keccak = None

_MASK = (1 << 64) - 1
_RATE = 136  # bytes: 1600-bit state minus 2·256 bits of capacity

_ROUND_CONSTANTS = [
    0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
    0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
    0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
    0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
    0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
    0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
]

# Rotation offset of lane (x, y), indexed x + 5y.
_ROTATIONS = [
    0, 1, 62, 28, 27,
    36, 44, 6, 55, 20,
    3, 10, 43, 25, 39,
    41, 45, 15, 21, 8,
    18, 2, 61, 56, 14,
]


def _rotl(v: int, n: int) -> int:
    return ((v << n) | (v >> (64 - n))) & _MASK if n else v


def _permute(a: list[int]) -> None:
    """Keccak-f[1600] on 25 lanes, in place."""
    for rc in _ROUND_CONSTANTS:
        # θ: mix each column's parity into its neighbours.
        c = [a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20] for x in range(5)]
        d = [c[(x - 1) % 5] ^ _rotl(c[(x + 1) % 5], 1) for x in range(5)]
        for i in range(25):
            a[i] ^= d[i % 5]
        # ρ and π: rotate each lane and move (x, y) to (y, 2x + 3y).
        b = [0] * 25
        for x in range(5):
            for y in range(5):
                b[y + 5 * ((2 * x + 3 * y) % 5)] = _rotl(a[x + 5 * y], _ROTATIONS[x + 5 * y])
        # χ: the only non-linear step, along rows.
        for y in range(0, 25, 5):
            row = b[y:y + 5]
            for x in range(5):
                a[y + x] = row[x] ^ ((~row[(x + 1) % 5]) & row[(x + 2) % 5])
        # ι
        a[0] ^= rc


def keccak256(data: bytes) -> bytes:
    """The 32-byte Keccak-256 digest of `data`."""
    if _c_keccak is not None:
        return _c_keccak.new(digest_bits=256, data=bytes(data)).digest()
    return keccak256_python(data)


def keccak256_python(data: bytes) -> bytes:
    """Keccak-256 in plain Python (no dependency)."""
    msg = bytearray(data)
    # Keccak's pad10*1 with domain byte 0x01 (SHA-3 would use 0x06).
    msg.append(0x01)
    msg.extend(b"\x00" * ((-len(msg)) % _RATE))
    msg[-1] |= 0x80
    state = [0] * 25
    for off in range(0, len(msg), _RATE):
        block = msg[off:off + _RATE]
        for i in range(_RATE // 8):
            state[i] ^= int.from_bytes(block[8 * i:8 * i + 8], "little")
        _permute(state)
    return b"".join(state[i].to_bytes(8, "little") for i in range(4))
