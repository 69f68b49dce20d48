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

    def __reduce__(self):               # rebuilt from its fields where Ray hands it to a caller
        return type(self), (self.batch, self.reason)


class L1Behind(PipelineError):
    """The L1 holds fewer batches than the submitter saw verified on it: a reorganisation of the
    L1 took some back. Not a refusal: their transactions may be mined again, or someone may send
    them again; the submitter keeps the batch and tries again until the L1 is back at the one
    before it."""

    def __init__(self, batch: int, height: int):
        super().__init__(f"the L1 is at batch {height}, behind batch {batch - 1}, which it had verified: "
                         f"a reorganisation of the L1; batch {batch} waits until the L1 holds batch {batch - 1} again")
        self.batch, self.height = batch, height

    def __reduce__(self):
        return type(self), (self.batch, self.height)


class AdmissionClosed(PipelineError, NodeError):
    """The sequencer is not admitting transactions now: proving is behind. Nothing of the
    request was accepted; send it again later. (A NodeError, so that JSON-RPC clients get it
    as a -32000 error with this message.)"""


class RollupMissing(PipelineError):
    """The L1 answers but has no rollup contract where the node deployed it: the chain was reset
    (or this is another chain). Nothing the node holds can go on it; the node stops."""

    def __init__(self, address: str, chain: str):
        super().__init__(f"the L1 ({chain}) has no rollup contract at {address}: the chain was reset "
                         f"or is not the one the node deployed to; the node cannot continue on it")
        self.address, self.chain = address, chain

    def __reduce__(self):
        return type(self), (self.address, self.chain)


class NodeStopped(PipelineError):
    """The node stopped on an error it cannot get past (its `reason`)."""
