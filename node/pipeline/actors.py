"""Thin Ray wrappers around the pipeline's plain classes.

Each wrapper only adapts a plain class to Ray: where it runs (resources), how it reports (a
buffered sink to the event relay), and what a restart rebuilds (constructor arguments are
kept by Ray, so a restarted actor comes back with the same SRS, keys and L1 address).
Placement, retries and failure handling live in the coordinator, not here.
"""

from __future__ import annotations

import asyncio
import threading
import time

import ray

from kernels.errors import is_out_of_memory

from .coordinator import Coordinator
from .errors import RollupMissing, SubmissionRejected
from .events import BufferedSink, discard
from .jobs import Verified
from .l1host import EmbeddedL1Host
from .submitter import InOrderSubmitter
from .worker import ProverWorker


def relay_sink(relay, interval: float = 0.05):
    """A sink that forwards to an EventRelay actor in batches (or drops events without one)."""
    if relay is None:
        return discard
    return BufferedSink(lambda events: relay.push.remote(events)).autoflush(interval)


class EventRelay:
    """Where every actor's events meet; the driver drains them into its EventLog. Bounded: if
    nobody drains, the oldest events are dropped and counted."""

    def __init__(self, limit: int = 200_000):
        self.limit = limit
        self.events: list[dict] = []
        self.dropped = 0
        self._lock = threading.Lock()

    def push(self, events: list) -> None:
        with self._lock:
            self.events.extend(events)
            over = len(self.events) - self.limit
            if over > 0:
                del self.events[:over]
                self.dropped += over

    def drain(self) -> list:
        with self._lock:
            out, self.events = self.events, []
        return out


class ProverWorkerActor:
    """A ProverWorker in its own process; the node it reports is Ray's node id, so that the
    coordinator and the tests see where each proof was made."""

    def __init__(self, name: str, circuit, pk, backend: str = "auto", warm_up: bool = True):
        node = ray.get_runtime_context().get_node_id()
        self.worker = ProverWorker(circuit, pk, backend=backend, name=name, node=node)
        self.warm_up_s = self.worker.warm_up() if warm_up else 0.0

    def ready(self) -> bool:
        return True

    def info(self) -> dict:
        return dict(self.worker.info(), warm_up_s=round(self.warm_up_s, 3))

    def prove(self, job, attempt: int = 1):
        try:
            return self.worker.prove(job, attempt)
        except Exception as e:
            if is_out_of_memory(e) and self.worker.be.name == "gpu":
                import cupy  # give the pool back before the retry lands here again
                cupy.get_default_memory_pool().free_all_blocks()
            raise


class SubmitterActor:
    """An InOrderSubmitter in its own process, as an async actor: offer() returns once the
    batch is on the L1 (or raises SubmissionRejected), however many offers wait. One loop
    sends, in a thread of its own (the L1 clients block), so offers keep arriving meanwhile;
    when the L1 does not answer the loop waits (doubling, up to `max_delay`) and tries again,
    for as long as it takes: nothing is dropped."""

    def __init__(self, l1_spec, artifact, address: str, relay=None, retry_delay: float = 0.2,
                 max_delay: float = 2.0):
        from node.l1.rollup import RollupContract

        from .l1spec import connect_l1
        self.sink = relay_sink(relay)
        self.core = InOrderSubmitter(sink=self.sink,
                                     connect=lambda: RollupContract(connect_l1(l1_spec), artifact, address))
        self.retry_delay, self.max_delay = retry_delay, max_delay
        self.waiters: dict[int, list] = {}            # batch → futures of its offers
        self.fatal: RollupMissing | None = None
        self._wake = None
        self._loop_task = None

    async def ready(self) -> bool:
        return True

    async def stats(self) -> dict:
        return {"sent": self.core.sent, "height": self.core.height, "pending": sorted(self.core.pending)}

    async def offer(self, result) -> Verified:
        if self.fatal is not None:
            raise self.fatal
        loop = asyncio.get_running_loop()
        if self._loop_task is None:
            self._wake = asyncio.Event()
            self._loop_task = loop.create_task(self._run())
        fut = loop.create_future()
        self.waiters.setdefault(result.batch, []).append(fut)
        self.core.offer(result)
        self._wake.set()
        return await fut

    def _decide(self, batch: int, outcome) -> None:
        for fut in self.waiters.pop(batch, []):
            if not fut.done():
                fut.set_exception(outcome) if isinstance(outcome, Exception) else fut.set_result(outcome)

    async def _run(self) -> None:
        delay = self.retry_delay
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                done = await asyncio.to_thread(self.core.step)
            except SubmissionRejected as e:
                self._decide(e.batch, e)
                self._flush()
                continue
            except RollupMissing as e:           # the chain was reset: nothing can go on it
                self.fatal = e
                for b in list(self.waiters):
                    self._decide(b, e)
                self._flush()
                return
            except Exception as e:  # noqa: BLE001 - the L1 did not answer; nothing decided
                self.core.unreachable(e)
                self._flush()
                await asyncio.sleep(delay)
                delay = min(2 * delay, self.max_delay)
                self._wake.set()
                continue
            delay = self.retry_delay
            for v in done:
                self._decide(v.batch, v)
            # An offer of a batch already on the L1 (as last read) was not kept: answer it.
            height = self.core.height or 0
            for b in [b for b in self.waiters if b <= height]:
                self._decide(b, Verified(b, time.time(), found_on_l1=True))
            self._flush()

    def _flush(self) -> None:
        flush = getattr(self.sink, "flush", None)
        if flush:
            flush()


class CoordinatorActor(Coordinator):
    """The Coordinator as an async actor; its events go to the relay."""

    def __init__(self, workers: dict, submitter, config=None, relay=None, admission=None, listeners=(),
                 spawn_worker=None):
        super().__init__(workers, submitter, config, sink=relay_sink(relay), admission=admission,
                         listeners=listeners, spawn_worker=spawn_worker)

    async def ready(self) -> bool:
        return True


def remote_class(cls, **options):
    """`cls` as a Ray actor class with these default options."""
    return ray.remote(**options)(cls)


# Actors that wait on others take no CPU of their own: on a 2-core machine the cores belong to
# the provers. A prover takes one GPU where the cluster has them, else CPUs: one unless its
# options say more (the node gives its provers the CPUs of a Ray of its own, node.py).
EventRelayRemote = remote_class(EventRelay, num_cpus=0)
L1HostRemote = remote_class(EmbeddedL1Host, num_cpus=0)
SubmitterRemote = remote_class(SubmitterActor, num_cpus=0, max_restarts=-1, max_concurrency=10_000)
CoordinatorRemote = remote_class(CoordinatorActor, num_cpus=0, max_concurrency=1000)


def prover_remote(use_gpu: bool, max_restarts: int = 3):
    """The ProverWorkerActor class for GPU or CPU nodes. A restart rebuilds the worker (same
    keys from the object store); an attempt in flight is not retried by Ray, the coordinator
    decides what to do with it."""
    resources = {"num_gpus": 1} if use_gpu else {"num_cpus": 1}
    return ray.remote(max_restarts=max_restarts, max_task_retries=0, **resources)(ProverWorkerActor)
