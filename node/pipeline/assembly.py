"""The proving half of the pipeline on a running Ray: prover workers, the coordinator, the
in-order submitter and the event relay, for any circuit adapter (node.pipeline.circuit).

The devnet puts the sequencer and executor in front of it; tests and benchmarks feed it jobs
directly. Everything it starts it also stops (`shutdown`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import ray

from .actors import CoordinatorRemote, EventRelayRemote, SubmitterRemote, prover_remote
from .coordinator import CoordinatorConfig
from .l1spec import L1Spec


@dataclass
class ProvingSetup:
    """What the provers and the submitter need: the circuit adapter, the proving key, the
    rollup contract (artifact and address) and how to reach its L1."""

    circuit: object
    pk: object
    l1: L1Spec
    artifact: object
    address: str
    workers: int = 1
    use_gpu: bool = False
    backend: str = "auto"
    max_restarts: int = 3
    config: CoordinatorConfig = field(default_factory=CoordinatorConfig)
    worker_options: dict = field(default_factory=dict)   # extra Ray options (resources, scheduling)
    head_options: dict = field(default_factory=dict)     # Ray options of the other actors


@dataclass
class WorkerFactory:
    """Makes a prover worker by name: the pipeline's first workers, and the coordinator's
    replacement for one that Ray gave up on (it travels to the coordinator's process)."""

    use_gpu: bool
    max_restarts: int
    options: dict
    circuit: object
    pk_ref: object
    backend: str

    def __call__(self, name: str):
        prover = prover_remote(self.use_gpu, self.max_restarts)
        if self.options:
            prover = prover.options(**self.options)
        return prover.remote(name, self.circuit, self.pk_ref, self.backend)


class ProvingPipeline:
    def __init__(self, setup: ProvingSetup, relay=None, admission=None, listeners=()):
        self.setup = setup
        head = setup.head_options
        self.relay = relay or EventRelayRemote.options(**head).remote()
        self.pk_ref = ray.put(setup.pk)       # one copy in the store; every worker (and every
                                              # restart of one) reads its key from it
        spawn = WorkerFactory(setup.use_gpu, setup.max_restarts, setup.worker_options, setup.circuit,
                              self.pk_ref, setup.backend)
        self.workers = {f"prover-{i}": spawn(f"prover-{i}") for i in range(setup.workers)}
        self.submitter = SubmitterRemote.options(**head).remote(setup.l1, setup.artifact, setup.address, self.relay)
        self.coordinator = CoordinatorRemote.options(**head).remote(self.workers, self.submitter, setup.config, self.relay,
                                                    admission, list(listeners), spawn)
        self.worker_info: dict = {}

    def start(self, timeout: float = 600.0) -> dict:
        """Wait until every worker has warmed up; returns what each worker reports of itself."""
        ray.get([w.ready.remote() for w in self.workers.values()] + [self.submitter.ready.remote()],
                timeout=timeout)
        self.worker_info = ray.get(self.coordinator.start.remote(), timeout=timeout)
        return self.worker_info

    def enqueue(self, job) -> None:
        """Queue one job from this process (the executor actor queues its own)."""
        c = self.setup.circuit
        ray.get(self.coordinator.enqueue.remote(c.batch_index(job), c.transfers(job), [ray.put(job)]))

    def status(self) -> dict:
        return ray.get(self.coordinator.status.remote())

    def drain_events(self) -> list:
        return ray.get(self.relay.drain.remote())

    def wait_verified(self, height: int, timeout: float, sink=None, poll: float = 0.1) -> dict:
        """Wait until batches 1..height are on the L1 (or one failed, or `timeout`); events go
        to `sink` meanwhile. Returns the coordinator's status."""
        deadline = time.monotonic() + timeout
        while True:
            st = self.status()
            if sink is not None:
                for ev in self.drain_events():
                    sink(ev)
            if st["verified_height"] >= height or st["failed"] or time.monotonic() > deadline:
                return st
            time.sleep(poll)

    def shutdown(self) -> None:
        for handle in [self.coordinator, self.submitter, *self.workers.values(), self.relay]:
            try:
                ray.kill(handle, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
