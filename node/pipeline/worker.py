"""The prover worker: one process (one GPU where there is one) that turns batch jobs into proofs.

A plain class with no Ray in it: a Ray actor wraps it for the pipeline (node.pipeline.actors),
and a GPU machine without Ray runs it directly (`bench/pipeline.py --prover-only`). What is
costly to prepare is prepared once and kept: the backend (its kernels compiled), the SRS and
the fixed columns, moved to the device once, and the NTT twiddles, built by a warm-up proof.
"""

from __future__ import annotations

import os
import socket
import time

from kernels import get_backend
from prover.keys import ProvingKey
from prover.inputs import public_input_values
from prover.prove import prove

from .jobs import ProofResult, phases_of


def resident_key(pk: ProvingKey, be) -> ProvingKey:
    """The proving key with its arrays on the backend's device, so that no proof copies the
    SRS, the fixed columns or the Lagrange bases again (prove() leaves arrays already there in
    place). The bases are kept: without them the prover commits coefficients, the same
    commitments at full scalar width, far slower."""
    return ProvingKey(pk.vk, be.asarray(pk.srs_g1), be.asarray(pk.fixed_coeffs),
                      {name: be.asarray(b) for name, b in pk.lagrange.items()})


def device_of(be) -> str:
    return getattr(be, "device_name", None) or f"cpu ({os.cpu_count()} cores)"


class ProverWorker:
    """Proves jobs of one circuit (a `node.pipeline.circuit` adapter) with one proving key."""

    def __init__(self, circuit, pk: ProvingKey, backend: str = "auto", name: str | None = None,
                 node: str | None = None):
        self.be = get_backend(backend)
        self.circuit = circuit
        self.air = circuit.air()
        self.pk = resident_key(pk, self.be)
        self.name = name or f"prover-{socket.gethostname()}-{os.getpid()}"
        self.node = node or socket.gethostname()
        self.device = device_of(self.be)
        self.proofs = 0
        self.busy_s = 0.0

    def warm_up(self) -> float:
        """Prove an empty batch and a small one (kernels compiled, twiddles built), so that the
        first real batch pays none of it; returns the seconds taken."""
        t = time.perf_counter()
        jobs = [self.circuit.empty_job()]
        if hasattr(self.circuit, "sample_job"):
            jobs.append(self.circuit.sample_job())
        for job in jobs:
            trace, pub = self.circuit.witness(job)
            prove(self.air, self.pk, trace, pub, self.be)
        return time.perf_counter() - t

    def prove(self, job, attempt: int = 1) -> ProofResult:
        """A proof of `job`: its trace built here from the compact job, then proven."""
        started = time.time()
        t0 = time.perf_counter()
        trace, pub = self.circuit.witness(job)
        witness_ms = (time.perf_counter() - t0) * 1e3
        proof = prove(self.air, self.pk, trace, pub, self.be)
        finished = time.time()
        phases = phases_of(proof.timings)
        phases["witness"] += witness_ms   # building the trace is part of the witness phase
        self.proofs += 1
        self.busy_s += finished - started
        return ProofResult(batch=self.circuit.batch_index(job), proof=proof.to_bytes(),
                           public_inputs=public_input_values(self.air, pub),
                           transfers=self.circuit.transfers(job), worker=self.name, node=self.node,
                           device=self.device, attempt=attempt, started=started, finished=finished,
                           phases_ms={k: round(v, 3) for k, v in phases.items()})

    def memory_bytes(self) -> int | None:
        """Device memory the backend's pool holds (GPU only)."""
        if self.be.name != "gpu":
            return None
        import cupy
        return int(cupy.get_default_memory_pool().used_bytes())

    def info(self) -> dict:
        return {"worker": self.name, "node": self.node, "device": self.device, "backend": self.be.name,
                "pid": os.getpid(), "proofs": self.proofs, "busy_s": round(self.busy_s, 3)}
