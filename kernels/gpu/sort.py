"""Radix sort of 32-bit keys with 32-bit indices on the GPU (the radix_* kernels of
kernels/cuda/msm.cu): LSD, 8 bits a pass over only the key bits in use, each pass a stable tile
sort with per-tile digit counts, an exclusive scan of the counts and a stable scatter."""

from __future__ import annotations

import cupy
import numpy as np

from . import loader, plan
from .launch import NULL, launch, u32, u64


def _kernel(name: str):
    return loader.kernel("msm.cu", name)


def exclusive_scan(data: cupy.ndarray) -> None:
    """data[i] ← Σ_{j<i} data[j] in place (uint32): a scan per tile, the tile totals scanned the
    same way, then added back."""
    m = data.size
    tiles = -(-m // plan.SORT_TILE)
    sums = cupy.empty(tiles, dtype=np.uint32)
    _kernel("radix_scan_tiles")((tiles,), (plan.SORT_THREADS,), (data, u64(m), sums))
    if tiles > 1:
        exclusive_scan(sums)
        launch(_kernel("radix_scan_add"), m, (data, u64(m), sums))


def sort_pairs(keys: cupy.ndarray, key_bits: int) -> tuple[cupy.ndarray, cupy.ndarray]:
    """(keys sorted, perm) with keys[perm] = keys sorted and perm uint32, stable, ordering the keys
    by their bits [0, 8·ceil(key_bits/8)) only: keys below 2^key_bits − 1 come out in order, and
    0xFFFFFFFF (all those bits set) after them all."""
    m = keys.size
    if m >= 1 << 32:
        raise ValueError("sort_pairs: more than 2^32 entries")
    idx = None  # the first pass takes the positions themselves
    if m == 0:
        return keys.copy(), cupy.empty(0, dtype=np.uint32)
    tiles = -(-m // plan.SORT_TILE)
    counts = cupy.empty(256 * tiles, dtype=np.uint32)
    tile_keys = cupy.empty(m, dtype=np.uint32)
    tile_idx = cupy.empty(m, dtype=np.uint32)
    for shift in plan.sort_shifts(key_bits):
        _kernel("radix_sort_tiles")((tiles,), (plan.SORT_THREADS,),
                                    (keys, NULL if idx is None else idx, u64(m), u32(shift), u64(tiles),
                                     tile_keys, tile_idx, counts))
        exclusive_scan(counts)
        keys_out = cupy.empty(m, dtype=np.uint32)
        idx_out = cupy.empty(m, dtype=np.uint32)
        launch(_kernel("radix_scatter"), m,
               (tile_keys, tile_idx, u64(m), u32(shift), u64(tiles), counts, keys_out, idx_out))
        keys, idx = keys_out, idx_out
    return keys, idx
