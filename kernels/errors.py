"""The error hierarchy of zkpipe's arithmetic layer. Higher layers subclass ZkpipeError too."""

import sys


class ZkpipeError(Exception):
    """Base of every error zkpipe raises on purpose."""


class InvalidInput(ZkpipeError, ValueError):
    """An argument has the wrong type, shape or dtype, or a value outside its domain
    (a field element not below its modulus, a point not on the curve, a size that is not a
    power of two)."""


class BackendUnavailable(ZkpipeError, RuntimeError):
    """The requested backend cannot run on this machine (for example: no CUDA device)."""


def is_out_of_memory(error: BaseException) -> bool:
    """Whether `error` says that host or device memory ran out: a MemoryError, or CuPy's
    OutOfMemoryError (looked up only when CuPy is already loaded: an error from CuPy means it
    is), recognised by type."""
    if isinstance(error, MemoryError):
        return True
    cupy = sys.modules.get("cupy")
    return cupy is not None and isinstance(error, cupy.cuda.memory.OutOfMemoryError)
