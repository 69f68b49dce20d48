"""The errors of the L1 layer."""

from kernels.errors import ZkpipeError


class L1Error(ZkpipeError, RuntimeError):
    """Base of the errors raised while talking to an L1."""


class L1Unavailable(L1Error):
    """A tool the L1 layer needs (node, npm, anvil) is missing, or a node does not answer."""


class CompilerError(L1Error):
    """solc rejected a source; the message carries its diagnostics."""


class TransactionReverted(L1Error):
    """A transaction or call reverted. `reason` is the decoded revert (an error name with its
    arguments, or a require message) where the ABI knows it; `data` is the raw revert data."""

    def __init__(self, message: str, *, data: bytes = b"", reason: str | None = None, receipt=None):
        super().__init__(message)
        self.data = data
        self.reason = reason
        self.receipt = receipt
