"""The errors of the proof system. Each subclasses kernels' ZkpipeError, so that a caller can
catch everything zkpipe raises on purpose with one clause."""

from kernels.errors import InvalidInput, ZkpipeError

__all__ = ["InvalidProof", "InvalidTrace", "InvalidCircuit", "InsecureSetup", "InvalidSetup",
           "InternalError", "InvalidInput", "ZkpipeError"]


class InvalidProof(ZkpipeError, ValueError):
    """A proof is rejected: malformed bytes (wrong length, a scalar not below r, a point off the
    curve) or a failed check (constraint identity, opening pairing)."""


class InvalidTrace(ZkpipeError, ValueError):
    """The prover refuses a trace that does not satisfy its circuit's constraints."""


class InvalidCircuit(ZkpipeError, ValueError):
    """A circuit declaration is inconsistent (unknown column, bad degree, mismatched key)."""


class InsecureSetup(ZkpipeError, RuntimeError):
    """A development setup was requested without saying that it is insecure."""


class InvalidSetup(ZkpipeError, ValueError):
    """An SRS file is malformed, too small, or its powers are not consistent."""


class InternalError(ZkpipeError, RuntimeError):
    """An invariant of the prover itself failed: a fault in zkpipe, whatever the input."""
