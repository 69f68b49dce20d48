"""Batched NTT over Fr on the GPU (kernels/cuda/ntt.cu), twiddles resident per domain."""

from __future__ import annotations

import cupy
import numpy as np

from .. import convert
from ..errors import InvalidInput
from ..params import LIMBS, R_MODULUS, R_TWO_ADICITY
from . import loader, plan
from .launch import NULL, device_array, launch, u32, u64

MAX_COLUMNS_PER_LAUNCH = 65535  # gridDim.y


def _kernel(name: str):
    return loader.kernel("ntt.cu", name)


def _pass_kernel(shared_bytes: int):
    """ntt_dif_pass, its dynamic shared-memory limit raised (once) when a pass block with its
    staged twiddles needs more than the default 48 KiB."""
    kernel = _kernel("ntt_dif_pass")
    if shared_bytes > plan.SHARED_DEFAULT_LIMIT and getattr(kernel, "_zk_shared_limit", 0) < shared_bytes:
        kernel.max_dynamic_shared_size_bytes = shared_bytes
        kernel._zk_shared_limit = shared_bytes
    return kernel


def _constant(value: int) -> cupy.ndarray:
    return cupy.asarray(convert.to_montgomery([value], R_MODULUS))


class GpuNtt:
    """Transforms along axis −2 of `(..., n, 4)` Fr arrays. Tables (twiddles ω^j for j < n/2 per
    domain and direction; coset scales per shift) are built on the device on first use and kept."""

    def __init__(self):
        self._twiddles: dict[tuple[int, bool], cupy.ndarray] = {}
        self._scales: dict[tuple[int, int, int], cupy.ndarray] = {}
        self._constants: dict[int, cupy.ndarray] = {}  # 1/n and such: copied to the device once

    def constant(self, value: int) -> cupy.ndarray:
        if value not in self._constants:
            self._constants[value] = _constant(value)
        return self._constants[value]

    def _powers(self, base: int, c: int, count: int) -> cupy.ndarray:
        """c·base^i for i < count, each element computed independently on the device."""
        bits = max(1, (count - 1).bit_length())
        pow2 = cupy.asarray(convert.to_montgomery([pow(base, 1 << j, R_MODULUS) for j in range(bits)],
                                                  R_MODULUS))
        out = cupy.empty((count, LIMBS), dtype=np.uint64)
        launch(_kernel("fr_powers"), count, (pow2, _constant(c), out, u64(count)))
        return out

    def twiddles(self, log_n: int, omega: int, inverse: bool) -> cupy.ndarray:
        key = (log_n, inverse)
        if key not in self._twiddles:
            self._twiddles[key] = self._powers(omega, 1, max(1, (1 << log_n) // 2))
        return self._twiddles[key]

    def scale_table(self, log_n: int, c: int, base: int) -> cupy.ndarray:
        key = (log_n, c, base)
        if key not in self._scales:
            self._scales[key] = self._powers(base, c, 1 << log_n)
        return self._scales[key]

    def __call__(self, a, inverse: bool = False, coset: bool = False, shift: int = 5):
        a = device_array(a, "a")
        if a.ndim < 2:
            raise InvalidInput(f"ntt: expected shape (..., n, 4), got {a.shape}")
        n = a.shape[-2]
        if n < 1 or n & (n - 1):
            raise InvalidInput(f"ntt: length {n} is not a power of two")
        log_n = n.bit_length() - 1
        if log_n > R_TWO_ADICITY:
            raise InvalidInput(f"ntt: length 2^{log_n} exceeds Fr's two-adicity 2^{R_TWO_ADICITY}")
        if coset:
            if not isinstance(shift, (int, np.integer)) or isinstance(shift, bool):
                raise InvalidInput(f"ntt: the coset shift must be an int, got {shift!r}")
            if int(shift) % R_MODULUS == 0:
                raise InvalidInput("ntt: the coset shift must be nonzero in Fr")
        cols = a.size // (n * LIMBS)
        if cols == 0 or n == 1:
            return a.copy()  # a length-1 transform (of any kind) is the identity

        scales = plan.ntt_scales(log_n, inverse, coset, int(shift) % R_MODULUS if coset else 1)
        tw = self.twiddles(log_n, scales.omega, inverse)
        pre = self.scale_table(log_n, 1, scales.pre_base) if scales.pre_base else None
        post_table, post_const = NULL, NULL
        if scales.post_c:
            if scales.post_base == 1:
                post_const = self.constant(scales.post_c)
            else:
                post_table = self.scale_table(log_n, scales.post_c, scales.post_base)

        src = a.reshape(cols, n, LIMBS)
        tmp = cupy.empty_like(src)
        out = cupy.empty_like(src)
        for c0 in range(0, cols, MAX_COLUMNS_PER_LAUNCH):
            c1 = min(cols, c0 + MAX_COLUMNS_PER_LAUNCH)
            self._columns(src[c0:c1], tmp[c0:c1], out[c0:c1], log_n, tw, pre, post_table, post_const)
        return out.reshape(a.shape)

    def _columns(self, src, tmp, out, log_n, tw, pre, post_table, post_const):
        cols = src.shape[0]
        total = cols << log_n
        if pre is not None:
            launch(_kernel("ntt_scale_columns"), total, (src, tmp, pre, u32(log_n), u64(total)))
            src = tmp
        passes = plan.ntt_passes(log_n)
        for k, p in enumerate(passes):
            last = k == len(passes) - 1
            dst = out if last else tmp  # the last pass scatters to bit-reversed slots: never in place
            _pass_kernel(plan.ntt_shared_bytes(p))((1 << (log_n - p.log_block), cols), (plan.ntt_threads(p),),
                                    (src, dst, tw, u32(log_n), u32(p.lo), u32(p.t), u32(p.g),
                                     np.int32(last), post_table if last else NULL,
                                     post_const if last else NULL),
                                    shared_mem=plan.ntt_shared_bytes(p))
            src = dst
