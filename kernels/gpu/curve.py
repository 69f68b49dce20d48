"""G1 on the GPU: cupy arrays of affine points `(..., 2, 4)`, (0, 0) for infinity."""

from __future__ import annotations

from typing import Sequence

import cupy
import numpy as np

from .. import convert
from ..backend import G1
from ..errors import InvalidInput
from ..params import G1_GENERATOR, LIMBS, P_MODULUS
from . import loader
from .field import GpuField
from .launch import broadcast, device_array, first_false, launch, u64

POINT = (2, LIMBS)


def _kernel(name: str):
    return loader.kernel("elementwise.cu", name)


class GpuG1(G1):
    def __init__(self, fr: GpuField):
        self._fr = fr

    def from_ints(self, points: Sequence[tuple[int, int]]):
        pts = list(points)
        for i, p in enumerate(pts):
            if not isinstance(p, (tuple, list)) or len(p) != 2:
                raise InvalidInput(f"point {i}: expected an (x, y) pair, got {p!r}")
        coords = [c for p in pts for c in p]
        limbs = convert.to_montgomery(coords, P_MODULUS).reshape(len(pts), *POINT)
        return self.validate(cupy.asarray(limbs), "points")

    def to_ints(self, a) -> list[tuple[int, int]]:
        flat = convert.from_montgomery(cupy.asnumpy(device_array(a, "points", POINT)), P_MODULUS)
        return list(zip(flat[0::2], flat[1::2]))

    def generator(self, n: int = 1):
        g = convert.to_montgomery(G1_GENERATOR, P_MODULUS).reshape(1, *POINT)
        return cupy.tile(cupy.asarray(g), (n, 1, 1))

    def _check_flags(self, a) -> cupy.ndarray:
        n = a.size // (2 * LIMBS)
        flags = cupy.empty(n, dtype=np.uint8)
        launch(_kernel("g1_check"), n, (a, flags, u64(n)))
        return flags

    def is_on_curve(self, a):
        a = device_array(a, "points", POINT)
        return self._check_flags(a).astype(bool).reshape(a.shape[:-2])

    def validate(self, a, name: str = "points"):
        a = device_array(a, name, POINT)
        bad = first_false(self._check_flags(a))
        if bad >= 0:
            raise InvalidInput(f"{name}: point {bad} is not on the curve y^2 = x^3 + 3 "
                               f"(or has a coordinate not below the base-field modulus)")
        return a

    def add(self, a, b):
        a, b = broadcast(device_array(a, "a", POINT), device_array(b, "b", POINT), item_dims=2)
        out = cupy.empty(a.shape, dtype=np.uint64)
        n = out.size // (2 * LIMBS)
        launch(_kernel("g1_add"), n, (a, b, out, u64(n)))
        return out

    def _unary(self, name: str, a):
        a = device_array(a, "points", POINT)
        out = cupy.empty_like(a)
        n = a.size // (2 * LIMBS)
        launch(_kernel(name), n, (a, out, u64(n)))
        return out

    def double(self, a):
        return self._unary("g1_double", a)

    def neg(self, a):
        return self._unary("g1_neg", a)

    def scalar_mul(self, points, scalars):
        points = device_array(points, "points", POINT)
        scalars = device_array(scalars, "scalars")
        try:
            shape = np.broadcast_shapes(points.shape[:-2], scalars.shape[:-1])
        except ValueError:
            raise InvalidInput(f"points {points.shape} and scalars {scalars.shape} do not broadcast") from None
        points = cupy.ascontiguousarray(cupy.broadcast_to(points, shape + POINT))
        scalars = cupy.ascontiguousarray(cupy.broadcast_to(scalars, shape + (LIMBS,)))
        out = cupy.empty_like(points)
        n = out.size // (2 * LIMBS)
        launch(_kernel("g1_scalar_mul"), n, (points, scalars, out, u64(n)))
        return out

    def random(self, n: int, rng=None):
        return self.scalar_mul(self.generator(n), self._fr.random(n, rng))
