"""Fr and Fq on the GPU: cupy arrays of `(..., 4)` uint64 Montgomery limbs."""

from __future__ import annotations

from typing import Sequence

import cupy
import numpy as np

from .. import convert
from ..backend import Field
from ..errors import InvalidInput
from ..params import LIMBS, MONTGOMERY_R
from . import loader
from .launch import broadcast, device_array, first_false, launch, u32, u64

BATCH_INV_CHUNK = 16  # elements per thread in batch_inv: one inversion per chunk


class GpuField(Field):
    """A prime field whose vector operations run as CUDA kernels (kernels/cuda/elementwise.cu)."""

    def __init__(self, modulus: int, name: str, cuda_type: str):
        self.modulus = modulus
        self.name = name
        self._cuda_type = cuda_type
        one = (MONTGOMERY_R % modulus)
        self._one_limbs = np.array([(one >> (64 * i)) & (2**64 - 1) for i in range(LIMBS)], dtype=np.uint64)
        self._modulus_limbs = np.array([(modulus >> (64 * i)) & (2**64 - 1) for i in range(LIMBS)],
                                       dtype=np.uint64)

    def _kernel(self, template: str):
        return loader.kernel("elementwise.cu", f"{template}<{self._cuda_type}>")

    # Conversions --------------------------------------------------------------------------------

    def from_ints(self, values: Sequence[int], reduce: bool = False):
        return cupy.asarray(convert.to_montgomery(values, self.modulus, reduce))

    def to_ints(self, a) -> list[int]:
        return convert.from_montgomery(cupy.asnumpy(device_array(a, "a")), self.modulus)

    def from_canonical_limbs(self, a):
        """Canonical `(..., 4)` limbs (values below the modulus) → Montgomery form, on the device."""
        return self._unary("field_to_montgomery", self.validate(a, "limbs"))

    def zeros(self, n: int):
        return cupy.zeros((n, LIMBS), dtype=np.uint64)

    def ones(self, n: int):
        return cupy.tile(cupy.asarray(self._one_limbs), (n, 1))

    def random(self, n: int, rng=None):
        """Uniform elements by rejection sampling of 254-bit limb strings on the host. A uniform
        value below the modulus is also a uniform Montgomery representation, so no conversion."""
        rng = rng if rng is not None else np.random.default_rng()
        top_bits = self.modulus.bit_length() - 192
        out = np.empty((n, LIMBS), dtype=np.uint64)
        filled = 0
        while filled < n:
            want = n - filled
            draw = rng.integers(0, 2**64, size=(want + want // 2 + 8, LIMBS), dtype=np.uint64, endpoint=False)
            draw[:, 3] &= np.uint64((1 << top_bits) - 1)
            keep = draw[_below(draw, self._modulus_limbs)][:want]
            out[filled:filled + len(keep)] = keep
            filled += len(keep)
        return cupy.asarray(out)

    # Arithmetic ---------------------------------------------------------------------------------

    def _binary(self, template: str, a, b):
        a, b = broadcast(device_array(a, "a"), device_array(b, "b"))
        out = cupy.empty(a.shape, dtype=np.uint64)
        n = out.size // LIMBS
        launch(self._kernel(template), n, (a, b, out, u64(n)))
        return out

    def _unary(self, template: str, a):
        a = device_array(a, "a")
        out = cupy.empty_like(a)
        n = a.size // LIMBS
        launch(self._kernel(template), n, (a, out, u64(n)))
        return out

    def add(self, a, b):
        return self._binary("field_add", a, b)

    def sub(self, a, b):
        return self._binary("field_sub", a, b)

    def mul(self, a, b):
        return self._binary("field_mul", a, b)

    def neg(self, a):
        return self._unary("field_neg", a)

    def square(self, a):
        return self._unary("field_square", a)

    def pow(self, a, exponent: int):
        if not isinstance(exponent, (int, np.integer)) or isinstance(exponent, bool) or exponent < 0:
            raise InvalidInput(f"pow: the exponent must be a non-negative int, got {exponent!r}")
        exponent = int(exponent)
        nlimbs = max(1, -(-exponent.bit_length() // 64))
        limbs = cupy.asarray(np.array([(exponent >> (64 * i)) & (2**64 - 1) for i in range(nlimbs)],
                                      dtype=np.uint64))
        a = device_array(a, "a")
        out = cupy.empty_like(a)
        n = a.size // LIMBS
        launch(self._kernel("field_pow"), n, (a, limbs, np.int32(nlimbs), out, u64(n)))
        return out

    def _reject_zero(self, a, op: str):
        zero = cupy.all(a.reshape(-1, LIMBS) == 0, axis=1)
        bad = cupy.flatnonzero(zero)
        if bad.size:
            raise InvalidInput(f"{op}: element {int(bad[0])} is zero and has no inverse")

    def inv(self, a):
        a = device_array(a, "a")
        self._reject_zero(a, "inv")
        return self._unary("field_inv", a)

    def batch_inv(self, a):
        a = device_array(a, "a")
        self._reject_zero(a, "batch_inv")
        out = cupy.empty_like(a)
        n = a.size // LIMBS
        threads = -(-n // BATCH_INV_CHUNK)
        launch(self._kernel("field_batch_inv"), threads, (a, out, u64(n), u32(BATCH_INV_CHUNK)))
        return out

    def reduced_flags(self, a) -> cupy.ndarray:
        """uint8 flags, one per element: 1 where the limbs are below the modulus."""
        n = a.size // LIMBS
        flags = cupy.empty(n, dtype=np.uint8)
        launch(self._kernel("field_is_reduced"), n, (a, flags, u64(n)))
        return flags

    def validate(self, a, name: str = "array"):
        a = device_array(a, name)
        bad = first_false(self.reduced_flags(a))
        if bad >= 0:
            raise InvalidInput(f"{name}: element {bad} is not below the {self.name} modulus")
        return a


def _below(limbs: np.ndarray, modulus_limbs: np.ndarray) -> np.ndarray:
    """Row-wise limbs < modulus, comparing from the top limb down (numpy, host)."""
    less = np.zeros(len(limbs), dtype=bool)
    equal = np.ones(len(limbs), dtype=bool)
    for i in range(LIMBS - 1, -1, -1):
        less |= equal & (limbs[:, i] < modulus_limbs[i])
        equal &= limbs[:, i] == modulus_limbs[i]
    return less
