"""The errors of the rollup node (the L1 layer has its own in node/l1/errors.py).

`InvalidTransaction` carries the message a client sees in the JSON-RPC error (code -32000); the
messages follow geth's where geth has one, so that tools written against Ethereum nodes recognise
them ("nonce too low", "insufficient funds for gas * price + value", ...).
"""

from kernels.errors import InvalidInput, ZkpipeError

__all__ = ["NodeError", "InvalidTransaction", "InvalidGenesis", "StateFull", "WALCorrupt",
           "WALInUse", "NodeFailed", "HistoryUnavailable", "InvalidInput", "ZkpipeError"]


class NodeError(ZkpipeError):
    """Base of the errors the node raises on purpose."""


class InvalidTransaction(NodeError, ValueError):
    """A transaction is refused at admission; nothing about the state changed.

    The message is the whole explanation (kept as the only argument so that the error pickles
    across processes, where signature recovery may run)."""


class InvalidGenesis(NodeError, ValueError):
    """A genesis file is malformed: not JSON, a bad chain id, a bad address or balance."""


class StateFull(NodeError, RuntimeError):
    """Every account slot of the ledger is claimed, so a new address cannot be credited."""


class WALCorrupt(NodeError, RuntimeError):
    """The write-ahead log is damaged somewhere other than a torn tail, or belongs to another
    genesis: replaying it could lose or invent acknowledged transactions, so the node refuses."""


class WALInUse(NodeError, RuntimeError):
    """Another process holds the write-ahead log open."""


class NodeFailed(NodeError, RuntimeError):
    """The node hit an unrecoverable error (a failed write to its log) and accepts nothing more."""


class HistoryUnavailable(NodeError, LookupError):
    """A state query names a block older than the window of recent blocks the node keeps."""
