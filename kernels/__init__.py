"""BN254 arithmetic for zkpipe: fields, G1, NTT and MSM behind one backend interface.

    >>> from kernels import get_backend
    >>> be = get_backend("auto")        # the GPU when CuPy sees one, the CPU otherwise
    >>> a = be.fr.from_ints([1, 2, 3, 4])
    >>> be.fr.to_ints(be.ntt(be.ntt(a), inverse=True))
    [1, 2, 3, 4]
"""

from __future__ import annotations

from .backend import Backend, Field, G1, MSMConfig
from .errors import BackendUnavailable, InvalidInput, ZkpipeError

__all__ = ["Backend", "Field", "G1", "MSMConfig", "BackendUnavailable", "InvalidInput", "ZkpipeError",
           "get_backend", "gpu_available"]

_instances: dict[str, Backend] = {}


def gpu_available() -> bool:
    """True when CuPy is importable and sees at least one CUDA device."""
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no cupy, no driver, or no device: all mean "no GPU here"
        return False


def get_backend(kind: str = "auto") -> Backend:
    """The backend for `kind` ("auto", "cpu" or "gpu"), created once per process."""
    if kind not in ("auto", "cpu", "gpu"):
        raise InvalidInput(f"unknown backend {kind!r}: expected 'auto', 'cpu' or 'gpu'")
    if kind == "auto":
        kind = "gpu" if gpu_available() else "cpu"
    if kind not in _instances:
        if kind == "gpu":
            if not gpu_available():
                raise BackendUnavailable("the gpu backend needs CuPy and a CUDA device; none was found")
            from .gpu.backend import GpuBackend
            _instances[kind] = GpuBackend()
        else:
            from .cpu.backend import CpuBackend
            _instances[kind] = CpuBackend()
    return _instances[kind]
