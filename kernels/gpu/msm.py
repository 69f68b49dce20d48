"""Multi-scalar multiplication on the GPU (kernels/cuda/msm.cu): Pippenger with signed digits,
bucket grouping by a device radix sort, chunked accumulation, parallel bucket reduction."""

from __future__ import annotations

from collections import OrderedDict
from typing import Optional

import cupy
import numpy as np

from ..backend import MSMConfig
from ..errors import InvalidInput
from ..params import LIMBS
from . import loader, plan
from .curve import POINT, GpuG1
from .field import GpuField
from .launch import device_array, first_false, launch, u32, u64

EMPTY_KEY = 0xFFFFFFFF
BASE_CACHE_SIZE = 4


def _kernel(name: str):
    return loader.kernel("msm.cu", name)


class GpuMsm:
    """Σ k_i·P_i. Host (numpy) base arrays are copied to the device and validated once, then kept
    resident, keyed by the array object: an SRS passed again costs no transfer. Callers treat
    such arrays as immutable."""

    def __init__(self, fr: GpuField, g1: GpuG1):
        self._fr = fr
        self._g1 = g1
        self._bases: OrderedDict[int, tuple[np.ndarray, cupy.ndarray]] = OrderedDict()

    def _device_bases(self, points) -> cupy.ndarray:
        if isinstance(points, np.ndarray):
            hit = self._bases.get(id(points))
            if hit is not None and hit[0] is points:
                self._bases.move_to_end(id(points))
                return hit[1]
            dev = self._g1.validate(points, "points")
            self._bases[id(points)] = (points, dev)  # holding the array keeps its id unique
            if len(self._bases) > BASE_CACHE_SIZE:
                self._bases.popitem(last=False)
            return dev
        return self._g1.validate(points, "points")

    def __call__(self, points, scalars, config: Optional[MSMConfig] = None) -> cupy.ndarray:
        config = config or MSMConfig()
        bases = self._device_bases(points).reshape(-1, *POINT)
        scalars = device_array(scalars, "scalars").reshape(-1, LIMBS)
        n = bases.shape[0]
        if scalars.shape[0] != n:
            raise InvalidInput(f"msm: {n} points but {scalars.shape[0]} scalars")
        infinity = cupy.zeros(POINT, dtype=np.uint64)
        if n == 0:
            return infinity
        bad = first_false(self._fr.reduced_flags(scalars))
        if bad >= 0:
            raise InvalidInput(f"scalars: element {bad} is not below the Fr modulus")

        canonical = cupy.empty_like(scalars)
        bits = cupy.empty(n, dtype=np.uint32)
        launch(_kernel("msm_prepare_scalars"), n,
               (scalars, u64(n), np.int32(1 if config.scalars_montgomery else 0), canonical, bits))
        widest = int(bits.max())
        if config.scalar_bits is not None:
            if widest > config.scalar_bits:
                raise InvalidInput(f"msm: a scalar has {widest} bits, above scalar_bits={config.scalar_bits}")
            scalar_bits = config.scalar_bits
        else:
            scalar_bits = widest
        if scalar_bits == 0:
            return infinity

        c = config.window_bits or plan.msm_window_bits(n, scalar_bits)
        if not 2 <= c <= plan.MSM_MAX_WINDOW_BITS:
            raise InvalidInput(f"msm: window_bits must be in [2, {plan.MSM_MAX_WINDOW_BITS}], got {c}")
        windows = plan.msm_windows(scalar_bits, c)
        per_window = 1 << (c - 1)

        # Digits and the sort that groups every bucket's pairs together.
        pairs = windows * n
        keys = cupy.empty(pairs, dtype=np.uint32)
        digits = cupy.empty(pairs, dtype=np.int32)
        launch(_kernel("msm_digits"), n, (canonical, u64(n), u32(c), u32(windows), keys, digits))
        perm = cupy.argsort(keys).astype(np.int64, copy=False)
        sorted_keys = keys[perm]
        m = int(cupy.count_nonzero(sorted_keys != EMPTY_KEY))  # zero digits sort last; drop them
        if m == 0:
            return infinity

        # Accumulation: finished buckets land in `buckets`; cut runs go round again.
        buckets = cupy.zeros((windows * per_window, 16), dtype=np.uint64)
        chunks = -(-m // plan.MSM_CHUNK_AFFINE)
        level_keys = cupy.empty(2 * chunks, dtype=np.uint32)
        level_values = cupy.empty((2 * chunks, 16), dtype=np.uint64)
        launch(_kernel("msm_accumulate_affine"), chunks,
               (u32(plan.MSM_CHUNK_AFFINE), u64(m), sorted_keys, perm, digits, bases, u64(n),
                buckets, level_keys, level_values))
        while chunks > 1:
            level_m = 2 * chunks
            chunks = -(-level_m // plan.MSM_CHUNK_PARTIAL)
            next_keys = cupy.empty(2 * chunks, dtype=np.uint32)
            next_values = cupy.empty((2 * chunks, 16), dtype=np.uint64)
            launch(_kernel("msm_accumulate_xyzz"), chunks,
                   (u32(plan.MSM_CHUNK_PARTIAL), u64(level_m), level_keys, level_values, buckets,
                    next_keys, next_values))
            level_keys, level_values = next_keys, next_values

        # Bucket reduction per window, then the windows combined.
        seg_len = plan.msm_segment_length(per_window)
        total = windows * (per_window // seg_len)
        partial = cupy.empty((total, 16), dtype=np.uint64)
        launch(_kernel("msm_bucket_segments"), total,
               (buckets, u32(per_window), u32(seg_len), u64(total), partial))
        width = per_window // seg_len
        while width > 1:
            width_out = (width + 1) // 2
            out_total = windows * width_out
            nxt = cupy.empty((out_total, 16), dtype=np.uint64)
            launch(_kernel("xyzz_sum_pairs"), out_total, (partial, nxt, u64(width), u64(out_total)))
            partial, width = nxt, width_out
        result = cupy.empty(POINT, dtype=np.uint64)
        _kernel("msm_combine")((1,), (1,), (partial, u32(windows), u32(c), result))
        return result
