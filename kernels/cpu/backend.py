"""The CPU backend: NumPy arrays, hot loops compiled by numba (cached on disk, all cores)."""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..backend import Backend, MSMConfig
from ..params import P_MODULUS, R_GENERATOR, R_MODULUS
from .curve import CpuG1
from .division import synthetic_division as _synthetic_division, synthetic_divisions as _synthetic_divisions
from .field import PrimeField
from .msm import msm as _msm, msm_sum as _msm_sum
from .ntt import NTTDomains, ntt as _ntt
from .program import run_program as _run_program
from .ragged import linear_combination as _linear_combination, stack_padded as _stack_padded


class CpuBackend(Backend):
    name = "cpu"
    xp = np

    def __init__(self):
        self.fr = PrimeField(R_MODULUS, "Fr")
        self.fq = PrimeField(P_MODULUS, "Fq")
        self.g1 = CpuG1()
        self.domains = NTTDomains(self.fr)

    def ntt(self, a, inverse: bool = False, coset: bool = False, shift: int = R_GENERATOR):
        return _ntt(self.domains, a, inverse=inverse, coset=coset, shift=shift)

    def msm(self, points, scalars, config: Optional[MSMConfig] = None):
        config = config or MSMConfig()
        return _msm(points, scalars, config, check_points=config.check_points)

    def msm_sum(self, terms):
        return _msm_sum(terms)

    def synthetic_division(self, coeffs, c: int):
        return _synthetic_division(coeffs, c)

    def synthetic_divisions(self, items):
        return _synthetic_divisions(items)

    def linear_combination(self, polys, scalars, length: int):
        return _linear_combination(polys, scalars, length)

    def stack_padded(self, polys, length: int, axis: int = 0):
        return _stack_padded(polys, length, axis)

    def run_program(self, program, columns, aux=None):
        return _run_program(self.fr, program, columns, aux)

    def asarray(self, host_array):
        return np.asarray(host_array)

    def to_host(self, a):
        return np.asarray(a)
