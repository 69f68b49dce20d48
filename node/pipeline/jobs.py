"""What travels between the pipeline's stages: a proof job's envelope and a finished proof.

The job itself (the circuit's compact batch data, e.g. a `circuits.ledger.LedgerJob`) stays in
Ray's object store; the coordinator moves only its envelope and the reference to it, and the
worker that proves it reads it from the store and builds the trace itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ProofResult:
    """A proof of batch `batch`, with where and how it was made."""

    batch: int
    proof: bytes
    public_inputs: list[int]
    transfers: int
    worker: str
    node: str
    device: str
    attempt: int
    started: float           # unix seconds
    finished: float
    phases_ms: dict = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.finished - self.started


@dataclass
class Verified:
    """Batch `batch` is on the L1. `gas` is what its submission used (None when this submitter
    found it already there, e.g. sent by its predecessor before a restart)."""

    batch: int
    t: float
    gas: int | None = None
    block: int | None = None
    found_on_l1: bool = False


def phases_of(timings: dict) -> dict:
    """The prover's `*_ms` timings as the metrics' phase map (witness, ntt, msm, quotient,
    openings, other)."""
    return {p: float(timings.get(f"{p}_ms", 0.0)) for p in ("witness", "ntt", "msm", "quotient", "openings", "other")}
