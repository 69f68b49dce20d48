"""The error hierarchy of zkpipe's arithmetic layer. Higher layers subclass ZkpipeError too."""


class ZkpipeError(Exception):
    """Base of every error zkpipe raises on purpose."""


class InvalidInput(ZkpipeError, ValueError):
    """An argument has the wrong type, shape or dtype, or a value outside its domain
    (a field element not below its modulus, a point not on the curve, a size that is not a
    power of two)."""


class BackendUnavailable(ZkpipeError, RuntimeError):
    """The requested backend cannot run on this machine (for example: no CUDA device)."""
