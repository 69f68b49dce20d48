"""The GPU backend: CuPy arrays in the shared limb layout, CUDA kernels from kernels/cuda."""

from __future__ import annotations

from typing import Optional

import cupy
import numpy as np

from ..backend import Backend, MSMConfig
from ..errors import InvalidInput
from ..params import P_MODULUS, R_GENERATOR, R_MODULUS
from .curve import GpuG1
from .field import GpuField
from .msm import GpuMsm, ResidentBases
from .ntt import GpuNtt
from .staging import Staging


class GpuBackend(Backend):
    """Fields, G1, NTT and MSM on the current CUDA device. Kernels compile on first use (NVRTC,
    cached on disk by CuPy); NTT tables and MSM bases stay resident on the device.

    Each backend has its own non-blocking stream, made current for the thread that creates it
    (CuPy's current stream is per thread), so every kernel and copy of a worker (one backend per
    process) is ordered on that stream and never waits on another worker's default-stream work.
    Host arrays cross through pinned staging buffers (kernels/gpu/staging.py)."""

    name = "gpu"
    xp = cupy

    def __init__(self):
        self.stream = cupy.cuda.Stream(non_blocking=True)
        self.stream.use()
        self._staging = Staging(self.stream)
        self.fr = GpuField(R_MODULUS, "Fr", "zk::Fr")
        self.fq = GpuField(P_MODULUS, "Fq", "zk::Fq")
        self.g1 = GpuG1(self.fr)
        self._ntt = GpuNtt()
        self._msm = GpuMsm(self.fr, self.g1)

    @property
    def device_name(self) -> str:
        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        name = props["name"]
        return name.decode() if isinstance(name, bytes) else str(name)

    def ntt(self, a, inverse: bool = False, coset: bool = False, shift: int = R_GENERATOR):
        return self._ntt(a, inverse=inverse, coset=coset, shift=shift)

    def msm(self, points, scalars, config: Optional[MSMConfig] = None):
        """Σ k_i·P_i; `points` an array of G1 points (checked to be on the curve unless
        `config.check_points` is False) or a ResidentBases from `msm_bases` (checked once)."""
        return self._msm(points, scalars, config)

    def msm_bases(self, points) -> ResidentBases:
        """MSM bases copied to the device and checked once, for repeated MSMs over them."""
        return self._msm.resident(points)

    def asarray(self, host_array):
        if isinstance(host_array, cupy.ndarray):
            return host_array
        if not isinstance(host_array, np.ndarray):
            raise InvalidInput(f"asarray: expected a numpy array, got {type(host_array).__name__}")
        return self._staging.to_device(host_array)

    def to_host(self, a):
        if isinstance(a, np.ndarray):
            return a
        return self._staging.to_host(a)
