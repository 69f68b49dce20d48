"""The errors of the proving pipeline."""

from kernels.errors import ZkpipeError
from node.errors import NodeError


class PipelineError(ZkpipeError, RuntimeError):
    """The pipeline cannot go on as asked (a batch queued twice, a batch out of attempts)."""


class SubmissionRejected(PipelineError):
    """The L1 refused a batch for a reason a retry cannot fix (an invalid proof, another old
    state); `reason` is the contract's decoded error."""

    def __init__(self, batch: int, reason: str):
        super().__init__(f"the L1 rejected batch {batch}: {reason}")
        self.batch, self.reason = batch, reason


class AdmissionClosed(PipelineError, NodeError):
    """The sequencer is not admitting transactions now: proving is behind. Nothing of the
    request was accepted; send it again later. (A NodeError, so that JSON-RPC clients get it
    as a -32000 error with this message.)"""
