"""Small helpers shared by the GPU modules: argument checks and one-thread-per-item launches."""

from __future__ import annotations

import cupy
import numpy as np

from ..errors import InvalidInput
from ..params import LIMBS
from . import plan

THREADS = plan.ITEM_THREADS
NULL = np.uint64(0)  # a null device pointer, for optional kernel arguments


def u64(x: int) -> np.uint64:
    return np.uint64(x)


def u32(x: int) -> np.uint32:
    return np.uint32(x)


def launch(kernel, count: int, args: tuple, threads: int = THREADS) -> None:
    """Run `kernel` with at least `count` threads (the kernel checks its own bound)."""
    if count <= 0:
        return
    kernel(((count + threads - 1) // threads,), (threads,), args)


def device_array(a, name: str, trailing: tuple[int, ...] = (LIMBS,)) -> cupy.ndarray:
    """A C-contiguous uint64 cupy array with the given trailing shape; numpy input is copied over."""
    if isinstance(a, np.ndarray):
        a = cupy.asarray(a)
    if not isinstance(a, cupy.ndarray):
        raise InvalidInput(f"{name}: expected a cupy (or numpy) array, got {type(a).__name__}")
    if a.dtype != np.uint64:
        raise InvalidInput(f"{name}: expected dtype uint64 limbs, got {a.dtype}")
    if a.ndim < len(trailing) or tuple(a.shape[a.ndim - len(trailing):]) != tuple(trailing):
        raise InvalidInput(f"{name}: expected shape (..., {', '.join(map(str, trailing))}), got {a.shape}")
    return cupy.ascontiguousarray(a)


def first_false(flags: cupy.ndarray) -> int:
    """Index of the first zero flag, or −1 when every flag is set (one device → host sync)."""
    bad = cupy.flatnonzero(flags == 0)
    return int(bad[0]) if bad.size else -1


def broadcast(*arrays: cupy.ndarray, item_dims: int = 1) -> list[cupy.ndarray]:
    """Broadcast arrays of elements (the last `item_dims` axes are one element) to one shape,
    C-contiguous; mismatched shapes raise InvalidInput."""
    try:
        shape = np.broadcast_shapes(*(a.shape[:a.ndim - item_dims] for a in arrays))
    except ValueError:
        raise InvalidInput(f"shapes {[a.shape for a in arrays]} do not broadcast") from None
    return [cupy.ascontiguousarray(cupy.broadcast_to(a, shape + a.shape[a.ndim - item_dims:]))
            for a in arrays]
