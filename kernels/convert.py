"""The one place where Python ints meet limb arrays.

Layout (shared by the CPU and GPU backends): a field element is 4 little-endian uint64 limbs,
so n elements are an `(n, 4)` uint64 array and a batch of columns `(m, n, 4)`. Arrays held by a
backend are in Montgomery form (x·2^256 mod q); these helpers move between plain ints and that
form. A G1 point is `(2, 4)`: affine x then y, each in Fq Montgomery form; (0, 0) is the point at
infinity, as the EVM encodes it.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from .errors import InvalidInput
from .params import LIMBS, MONTGOMERY_R, R_MODULUS

ELEMENT_BYTES = LIMBS * 8


def ints_to_limbs(values: Iterable[int], modulus: int, reduce: bool = False) -> np.ndarray:
    """Canonical ints → `(n, 4)` uint64 limbs (not Montgomery). Values must lie in [0, modulus)
    unless `reduce` is set, in which case any int (negative too) is reduced mod `modulus`."""
    vals = list(values)
    parts = []
    for i, v in enumerate(vals):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
            raise InvalidInput(f"element {i}: expected an int, got {type(v).__name__}")
        v = int(v)
        if reduce:
            v %= modulus
        elif not 0 <= v < modulus:
            raise InvalidInput(f"element {i}: {v} is not in [0, modulus) (modulus {modulus:#x})")
        parts.append(v.to_bytes(ELEMENT_BYTES, "little"))
    if not parts:
        return np.zeros((0, LIMBS), dtype=np.uint64)
    return np.frombuffer(b"".join(parts), dtype="<u8").reshape(len(parts), LIMBS).astype(np.uint64)


def limbs_to_ints(limbs: np.ndarray) -> list[int]:
    """`(..., 4)` uint64 limbs → flat list of ints (no Montgomery conversion)."""
    flat = np.ascontiguousarray(limbs, dtype="<u8").reshape(-1, LIMBS)
    raw = flat.tobytes()
    return [int.from_bytes(raw[i:i + ELEMENT_BYTES], "little") for i in range(0, len(raw), ELEMENT_BYTES)]


def to_montgomery(values: Iterable[int], modulus: int, reduce: bool = False) -> np.ndarray:
    """Ints → `(n, 4)` Montgomery limbs for the field of `modulus`."""
    vals = list(values)
    # Validate (or reduce) first, then scale by R in Python: exact and independent of any kernel.
    canonical = limbs_to_ints(ints_to_limbs(vals, modulus, reduce))
    return ints_to_limbs([(v * MONTGOMERY_R) % modulus for v in canonical], modulus)


def from_montgomery(limbs: np.ndarray, modulus: int) -> list[int]:
    """`(..., 4)` Montgomery limbs → flat list of canonical ints."""
    r_inv = pow(MONTGOMERY_R, -1, modulus)
    return [(v * r_inv) % modulus for v in limbs_to_ints(limbs)]


def fr_const(be, value: int):
    """A one-element Fr array (Montgomery form) that a backend's binary operations broadcast.
    Converted in Python: a kernel launch per constant would cost more than the constant is worth."""
    return be.asarray(to_montgomery([value % R_MODULUS], R_MODULUS))


def check_limb_array(arr, name: str = "array", trailing: Sequence[int] = (LIMBS,)) -> np.ndarray:
    """Check dtype uint64 and trailing shape; returns the array (C-contiguous)."""
    if not isinstance(arr, np.ndarray):
        raise InvalidInput(f"{name}: expected a numpy array, got {type(arr).__name__}")
    if arr.dtype != np.uint64:
        raise InvalidInput(f"{name}: expected dtype uint64 limbs, got {arr.dtype}")
    t = tuple(trailing)
    if arr.ndim < len(t) or tuple(arr.shape[arr.ndim - len(t):]) != t:
        raise InvalidInput(f"{name}: expected shape (..., {', '.join(map(str, t))}), got {arr.shape}")
    return np.ascontiguousarray(arr)
