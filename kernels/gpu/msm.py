"""Multi-scalar multiplication on the GPU (kernels/cuda/msm.cu): Pippenger with signed digits,
bucket grouping by a device radix sort, chunked accumulation, a block-tree bucket reduction, and
the windows combined on the host with the CPU backend's compiled curve formulas."""

from __future__ import annotations

from typing import Optional

import cupy
import numpy as np

from ..backend import MSMConfig
from ..errors import InvalidInput
from ..cpu import msm as host_msm
from ..params import LIMBS
from . import loader, plan, sort
from .curve import POINT, GpuG1
from .field import GpuField
from .launch import device_array, first_false, launch, u32, u64

EMPTY_KEY = 0xFFFFFFFF
INVALID_BITS = 0xFFFFFFFF  # msm_prepare_scalars' bit length of a scalar not below the modulus


def _kernel(name: str):
    return loader.kernel("msm.cu", name)


class ResidentBases:
    """MSM base points copied to the device and validated once, owned by this object (as sppark's
    `msm_t` owns its points): pass it to `msm` instead of an array to skip the copy and the
    on-curve check on every call. `points[:k]` of it is the first k bases, still resident."""

    def __init__(self, g1: GpuG1, points, _validated: Optional[cupy.ndarray] = None):
        self.points = _validated if _validated is not None else g1.validate(points, "points").reshape(-1, *POINT)
        self._g1 = g1

    def __len__(self) -> int:
        return self.points.shape[0]

    def __getitem__(self, index: slice) -> "ResidentBases":
        if not isinstance(index, slice) or index.step not in (None, 1):
            raise InvalidInput("ResidentBases: only contiguous slices [a:b] are supported")
        return ResidentBases(self._g1, None, self.points[index])


def combine_windows(window_sums: np.ndarray, c: int) -> np.ndarray:
    """Σ_w 2^(c·w)·R_w on the host from the (W, 16) XYZZ window sums, as one affine point (2, 4):
    Horner's rule with the CPU backend's compiled formulas (kernels/cpu/msm.py, the same step of
    its own MSM), a few hundred doublings and one inversion, instead of a one-thread kernel."""
    sums = np.ascontiguousarray(window_sums).reshape(-1, 4, LIMBS)
    return host_msm.combine_windows(sums, sums.shape[0], 1, c)


class GpuMsm:
    """Σ k_i·P_i. Bases come as a ResidentBases (no copy, no check: checked when made resident)
    or as an array, checked to be on the curve on every call unless `config.check_points` is
    False (a caller's SRS, validated once). Host synchronizations per call: the on-curve check
    (when it runs) and the result (the W window sums, with the widest scalar's bit length that
    validates the scalars); the window plan never reads device data."""

    def __init__(self, fr: GpuField, g1: GpuG1):
        self._fr = fr
        self._g1 = g1

    def resident(self, points) -> ResidentBases:
        return ResidentBases(self._g1, points)

    def check_points(self, bases: cupy.ndarray) -> None:
        """InvalidInput naming the first base off the curve (or with a coordinate not below p),
        worded as the CPU backend's MSM words it; one host synchronization."""
        bad = first_false(self._g1.is_on_curve(bases))
        if bad >= 0:
            raise InvalidInput(f"points[{bad}] has a coordinate not below p or is not on the curve")

    def __call__(self, points, scalars, config: Optional[MSMConfig] = None) -> cupy.ndarray:
        config = config or MSMConfig()
        if isinstance(points, ResidentBases):
            bases = points.points  # checked once, when they were made resident
        else:
            bases = device_array(points, "points", POINT).reshape(-1, *POINT)
            if config.check_points:
                self.check_points(bases)
        scalars = device_array(scalars, "scalars").reshape(-1, LIMBS)
        n = bases.shape[0]
        if scalars.shape[0] != n:
            raise InvalidInput(f"msm: {n} points but {scalars.shape[0]} scalars")
        infinity = cupy.zeros(POINT, dtype=np.uint64)
        if n == 0:
            return infinity

        canonical = cupy.empty_like(scalars)
        bits = cupy.empty(n, dtype=np.uint32)
        launch(_kernel("msm_prepare_scalars"), n,
               (scalars, u64(n), np.int32(1 if config.scalars_montgomery else 0), canonical, bits))
        # The plan depends only on n and the bit width the caller states, never on the data:
        # without `scalar_bits` it covers the widest valid scalar (254 bits), and windows above a
        # scalar's top bit hold zero digits, whose pairs sort last and are skipped by the kernels,
        # so nothing is read back before the result.
        if config.scalar_bits is not None and not 1 <= config.scalar_bits <= plan.MSM_SCALAR_BITS:
            raise InvalidInput(f"msm: scalar_bits must be in [1, {plan.MSM_SCALAR_BITS}], got {config.scalar_bits}")
        scalar_bits = config.scalar_bits if config.scalar_bits is not None else plan.MSM_SCALAR_BITS
        widest = bits.max()  # checked with the result: invalid or too wide scalars raise then

        c = plan.msm_window_bits(n, scalar_bits, config.window_bits)
        windows = plan.msm_windows(scalar_bits, c)
        per_window = 1 << (c - 1)

        # Digits and the sort that groups every bucket's pairs together; zero digits sort last
        # and the kernels skip them, so the count of nonzero ones is never needed on the host.
        pairs = windows * n
        keys = cupy.empty(pairs, dtype=np.uint32)
        digits = cupy.empty(pairs, dtype=np.int32)
        launch(_kernel("msm_digits"), n, (canonical, u64(n), u32(c), u32(windows), keys, digits))
        sorted_keys, perm = sort.sort_pairs(keys, plan.msm_key_bits(windows, c))

        # Accumulation: finished buckets land in `buckets` (marked in `filled`, so the buckets
        # themselves need no clearing); cut runs go round again.
        buckets = cupy.empty((windows * per_window, 16), dtype=np.uint64)
        filled = cupy.zeros(windows * per_window, dtype=np.uint8)
        chunks = -(-pairs // plan.MSM_CHUNK_AFFINE)
        level_keys = cupy.empty(2 * chunks, dtype=np.uint32)
        level_values = cupy.empty((2 * chunks, 16), dtype=np.uint64)
        launch(_kernel("msm_accumulate_affine"), chunks,
               (u32(plan.MSM_CHUNK_AFFINE), u64(pairs), sorted_keys, perm, digits, bases, u64(n),
                buckets, filled, level_keys, level_values), plan.MSM_POINT_THREADS)
        while chunks > 1:
            level_m = 2 * chunks
            chunks = -(-level_m // plan.MSM_CHUNK_PARTIAL)
            next_keys = cupy.empty(2 * chunks, dtype=np.uint32)
            next_values = cupy.empty((2 * chunks, 16), dtype=np.uint64)
            launch(_kernel("msm_accumulate_xyzz"), chunks,
                   (u32(plan.MSM_CHUNK_PARTIAL), u64(level_m), level_keys, level_values, buckets,
                    filled, next_keys, next_values), plan.MSM_POINT_THREADS)
            level_keys, level_values = next_keys, next_values

        # Bucket reduction: segments, then a block tree per window until one sum is left.
        seg_len = plan.msm_segment_length(per_window)
        width = per_window // seg_len
        total = windows * width
        partial = cupy.empty((total, 16), dtype=np.uint64)
        launch(_kernel("msm_bucket_segments"), total,
               (buckets, filled, u32(per_window), u32(seg_len), u64(total), partial), plan.MSM_POINT_THREADS)
        while width > 1:
            width_out = -(-width // (2 * plan.MSM_SUM_THREADS))
            nxt = cupy.empty((windows * width_out, 16), dtype=np.uint64)
            _kernel("xyzz_tree_sum")((width_out, windows), (plan.MSM_SUM_THREADS,),
                                     (partial, nxt, u64(width), u64(width_out)))
            partial, width = nxt, width_out

        window_sums = cupy.asnumpy(partial)  # the one copy back: W points
        widest = int(widest)  # computed on the device before the copy; ready with the sums
        if widest == INVALID_BITS:
            raise InvalidInput(f"scalars: element {first_false(bits != INVALID_BITS)} is not below the Fr modulus")
        if widest > scalar_bits:
            raise InvalidInput(f"msm: a scalar has {widest} bits, above scalar_bits={scalar_bits}")
        return cupy.asarray(combine_windows(window_sums, c))
