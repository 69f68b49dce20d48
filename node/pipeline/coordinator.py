"""The coordinator: proof jobs in, proofs to the L1 in order, whatever the workers do.

It runs as an async Ray actor (node.pipeline.actors.CoordinatorActor). Its bookkeeping is the
JobBook (node.pipeline.schedule); this module adds the remote calls and their failures:

- a worker that dies during a proof (RayActorError), runs out of memory, or does not answer
  within the proof timeout (it is then killed, so its attempt can never complete later) loses
  its attempt; the batch goes back to the queue for another worker, within its retry budget;
- a worker that died is probed until Ray has restarted it, then takes jobs again; one that Ray
  gives up on (out of restarts) is replaced by a new worker of the same name;
- a batch whose first attempts all failed is retried after a backoff (doubling), for as long
  as it takes: only an error a retry cannot fix fails a batch;
- a proven batch's proof is kept on disk (`proof_dir`) until the end; a batch queued again
  after a restart whose proof is kept goes to the submitter without being proven again;
- each proven batch is offered to the in-order submitter once; if the submitter dies the offer
  is repeated to its successor, which checks the L1 before sending anything; an L1 without the
  rollup contract (a reset chain) is `fatal`, reported in the status for the node to stop on;
- admission is closed (the sequencer told) while too many batches wait for a proof or for the
  L1, and opened again when they drain;
- batching is work-conserving: each listener with `provers_free` is told how many workers are
  idle with nothing queued for them, the last batch the coordinator has been given, and the
  pace (a recent proof's time ÷ the workers, 0 with one worker), so that the executor seals a
  batch when a prover can take it, and with several workers a new one at most that often.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import deque
from dataclasses import dataclass

import ray

from kernels.errors import is_out_of_memory

from .errors import RollupMissing
from .events import Sink, batch_event, counter, discard, gauge, worker_event
from .jobs import ProofResult, Verified
from .proofstore import ProofStore
from .schedule import JobBook


@dataclass
class CoordinatorConfig:
    max_attempts: int = 3           # tries per batch, the first included
    max_unproven: int = 4           # batches waiting for a proof before admission closes
    max_unverified: int = 16        # batches not yet on the L1 before admission closes
    proof_timeout_s: float = 300.0  # an attempt taking longer is abandoned and its worker restarted
    revive_timeout_s: float = 300.0 # how long a dead worker may take to come back
    height: int = 0                 # the L1's last batch index when the run starts
    backoff_s: float = 1.0          # wait before the first retry past max_attempts (doubling)
    backoff_max_s: float = 30.0
    proof_dir: str | None = None    # where proofs are kept until the end (None: not kept)


def classify(error: BaseException) -> tuple[bool, bool, str]:
    """(retryable, worker lost, description) of what ended an attempt."""
    if isinstance(error, asyncio.TimeoutError):
        return True, True, "timeout"
    if isinstance(error, ray.exceptions.OutOfMemoryError):
        return True, True, "out of memory (killed by Ray's memory monitor)"
    if isinstance(error, ray.exceptions.RayActorError):
        return True, True, f"worker died: {str(error).splitlines()[0][:200]}"
    cause = getattr(error, "cause", error)
    if is_out_of_memory(cause):
        return True, False, f"out of memory: {cause}"[:300]
    return False, False, f"{type(cause).__name__}: {cause}"[:300]


class Coordinator:
    """Dispatches proof jobs to prover workers (actor handles by name) and their proofs to a
    submitter. `admission` (optional) has set_admission(open); each of `listeners` has
    batch_proven(batch) and batch_verified(batch)."""

    def __init__(self, workers: dict, submitter, config: CoordinatorConfig | None = None,
                 sink: Sink = discard, admission=None, listeners=(), spawn_worker=None):
        self.config = config or CoordinatorConfig()
        c = self.config
        self.book = JobBook(c.max_attempts, c.max_unproven, c.max_unverified, height=c.height)
        self.workers = dict(workers)
        self.nodes: dict[str, str] = {}
        self.devices: dict[str, str] = {}
        self.pids: dict[str, int] = {}               # worker → its process (as last reported)
        self.idle: list[str] = []
        self.busy: dict[str, int] = {}
        self.down: set[str] = set()
        self.dead: set[str] = set()
        self.submitter = submitter
        self.sink = sink
        self.admission = admission
        self.listeners = list(listeners)
        self.admission_is_open = True
        self.proved_by: dict[int, tuple[str, str]] = {}   # batch → (worker, node) of its proof
        self.errors: list[str] = []
        self.spawn_worker = spawn_worker             # name → a new worker handle (or None)
        self.replaced = 0                            # workers replaced after Ray gave them up
        self.backoffs = 0
        self.kept_proofs = ProofStore(c.proof_dir) if c.proof_dir else None
        self.fatal: str | None = None
        self._proven_unreported = 0                  # transfers proven before `admission` was set
        self.given_upto = c.height                   # the highest batch enqueued so far
        self.proof_s: deque = deque(maxlen=8)        # recent proofs' wall times (for the pace)
        self._demand = None                          # last (free, given_upto, pace) told
        self._tasks: set[asyncio.Task] = set()

    # -- remote methods -----------------------------------------------------------------------
    async def start(self) -> dict:
        """Learn where each worker runs; every worker starts idle."""
        infos = await asyncio.gather(*(h.info.remote() for h in self.workers.values()))
        for name, info in zip(self.workers, infos):
            self.nodes[name], self.devices[name] = info["node"], info["device"]
            self.pids[name] = info.get("pid")
            self.idle.append(name)
            self.sink(worker_event(name, info["node"], "idle", None, device=info["device"]))
        self._dispatch()       # batches queued before the workers were up (replayed on a restart)
        return {name: info for name, info in zip(self.workers, infos)}

    async def enqueue(self, batch: int, transfers: int, payload) -> None:
        """A new batch to prove. `payload` is what the worker's prove() takes as its job: a
        list holding the job's object reference, so that Ray hands it on unresolved."""
        self.given_upto = max(self.given_upto, batch)
        kept = self.kept_proofs.load(batch) if self.kept_proofs else None
        if kept is not None:           # proven before a restart: to the L1 without proving again
            self.book.add_proven(batch, transfers, kept)
            self.proved_by[batch] = (kept.worker, kept.node)
            self.sink(batch_event(batch, "proof_done", worker=kept.worker, node=kept.node, attempt=kept.attempt,
                                  transfers=kept.transfers, phases_ms=kept.phases_ms))
            self._proven(batch, kept.transfers)
            self._spawn(self._submit(kept))
            self._report()
            return
        self.book.add(batch, transfers, payload)
        self.sink(batch_event(batch, "proof_queued", transfers=transfers))
        self._dispatch()

    def status(self) -> dict:
        b = self.book
        return {"queue_depth": b.queue_depth, "unproven": b.unproven, "unverified": b.unverified,
                "proven_height": b.proven_height(), "verified_height": b.verified_height,
                "retries": b.retries, "backoffs": self.backoffs, "replaced_workers": self.replaced,
                "fatal": self.fatal, "failed": [e.batch for e in b.failed()],
                "idle": list(self.idle), "busy": dict(self.busy), "down": sorted(self.down),
                "dead": sorted(self.dead), "admission_open": self.admission_is_open,
                "proved_by": dict(self.proved_by), "pids": dict(self.pids), "errors": list(self.errors[-20:])}

    def set_admission(self, admission) -> None:
        """Tell `admission` (set_admission(open)) when admission opens or closes, from now on."""
        self.admission = admission
        admission.set_admission.remote(self.admission_is_open)
        if self._proven_unreported and hasattr(admission, "proven"):
            admission.proven.remote(self._proven_unreported)   # proven before it was known here
        self._proven_unreported = 0

    def set_submitter(self, submitter) -> None:
        """Use another submitter from now on (offers in flight are repeated to it)."""
        self.submitter = submitter

    # -- dispatch -----------------------------------------------------------------------------
    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _dispatch(self) -> None:
        while True:
            a = self.book.next_assignment(self.idle)
            if a is None:
                break
            self.idle.remove(a.worker)
            self.busy[a.worker] = a.batch
            self._spawn(self._prove(a))
        self._report()

    async def _prove(self, a) -> None:
        handle, node = self.workers[a.worker], self.nodes[a.worker]
        self.sink(batch_event(a.batch, "proof_started", worker=a.worker, node=node, attempt=a.attempt))
        self.sink(worker_event(a.worker, node, "busy", a.batch, device=self.devices[a.worker]))
        ref = handle.prove.remote(a.payload[0], a.attempt)
        started = time.monotonic()
        try:
            result: ProofResult = await asyncio.wait_for(asyncio.wrap_future(ref.future()),
                                                         self.config.proof_timeout_s)
        except BaseException as e:  # noqa: BLE001 - every way an attempt can end is handled below
            if isinstance(e, asyncio.CancelledError):
                raise
            self._attempt_failed(a, e)
            return
        self.busy.pop(a.worker, None)
        self.idle.append(a.worker)
        self.proof_s.append(time.monotonic() - started)
        self.sink(worker_event(a.worker, node, "idle", None, device=self.devices[a.worker]))
        if self.book.proven(a.batch, a.attempt, result):
            self.proved_by[a.batch] = (result.worker, result.node)
            self.sink(batch_event(a.batch, "proof_done", worker=result.worker, node=result.node,
                                  attempt=a.attempt, transfers=result.transfers, phases_ms=result.phases_ms))
            self.sink(counter("batches_proven"))
            self._proven(a.batch, result.transfers)
            # Sent and kept side by side: keeping it only spares a restart the proof, and a
            # batch the L1 already has is never proven again, so the L1 need not wait for disk.
            self._spawn(self._submit(result))
            if self.kept_proofs is not None:
                self._spawn(self._keep(result))
        self._dispatch()           # the free worker is told to the executor now, not after a write

    async def _keep(self, result: ProofResult) -> None:
        try:
            await asyncio.to_thread(self.kept_proofs.save, result)
        except OSError as e:
            self.errors.append(f"batch {result.batch}: proof not kept on disk: {type(e).__name__}: {e}"[:300])

    def _proven(self, batch: int, transfers: int) -> None:
        for listener in self.listeners:
            listener.batch_proven.remote(batch)
        if self.admission is None:
            self._proven_unreported += transfers
        elif hasattr(self.admission, "proven"):
            self.admission.proven.remote(transfers)   # room in the sequencer's backlog again

    def _attempt_failed(self, a, error: BaseException) -> None:
        retryable, lost, why = classify(error)
        node = self.nodes[a.worker]
        self.busy.pop(a.worker, None)
        if lost:
            if isinstance(error, asyncio.TimeoutError):
                ray.kill(self.workers[a.worker], no_restart=False)  # its attempt must never finish
            self.down.add(a.worker)
            self.sink(worker_event(a.worker, node, "dead", a.batch))
            self._spawn(self._revive(a.worker))
        else:
            self.idle.append(a.worker)
            self.sink(worker_event(a.worker, node, "idle", None))
        outcome = self.book.attempt_failed(a.batch, a.attempt, a.worker, why, retryable)
        self.errors.append(f"batch {a.batch} attempt {a.attempt} on {a.worker}: {why}")
        if outcome in ("retry", "backoff"):
            self.sink(batch_event(a.batch, "retried", worker=a.worker, node=node, attempt=a.attempt, error=why))
            self.sink(counter("retries"))
        if outcome == "backoff":
            c = self.config
            delay = min(c.backoff_max_s, c.backoff_s * 2 ** (a.attempt - c.max_attempts))
            self.backoffs += 1
            self._spawn(self._requeue_later(a.batch, delay))
        elif outcome == "failed":
            self.sink(batch_event(a.batch, "failed", worker=a.worker, node=node, attempt=a.attempt, error=why))
            self.sink(counter("failures"))
        self._dispatch()

    async def _requeue_later(self, batch: int, delay: float) -> None:
        await asyncio.sleep(delay)
        self.book.requeue(batch)
        self._dispatch()

    async def _revive(self, name: str) -> None:
        """Wait until Ray has restarted worker `name` (its ready() answers), then use it again;
        replace it with a new worker when Ray gives it up (out of restarts), if it can; give it
        up if it does not come back."""
        deadline = time.monotonic() + self.config.revive_timeout_s
        while time.monotonic() < deadline:
            try:
                handle = self.workers[name]
                await asyncio.wait_for(asyncio.wrap_future(handle.ready.remote().future()),
                                       max(1.0, deadline - time.monotonic()))
                info = await asyncio.wrap_future(handle.info.remote().future())
                self.nodes[name], self.devices[name] = info["node"], info["device"]
                self.pids[name] = info.get("pid")
                self.down.discard(name)
                self.idle.append(name)
                self.sink(worker_event(name, self.nodes[name], "idle", None, device=self.devices[name]))
                self._dispatch()
                return
            except ray.exceptions.ActorDiedError:
                if self.spawn_worker is None:
                    break           # out of restarts: gone for good
                try:
                    self.workers[name] = self.spawn_worker(name)
                except Exception as e:  # noqa: BLE001 - try again while the deadline allows
                    self.errors.append(f"worker {name}: no replacement yet: {type(e).__name__}: {e}"[:300])
                    await asyncio.sleep(1.0)
                    continue
                self.replaced += 1
                self.errors.append(f"worker {name} was out of restarts; replaced by a new one")
                self.sink(counter("workers_replaced"))
            except (ray.exceptions.RayActorError, asyncio.TimeoutError):
                await asyncio.sleep(0.5)
        self.down.discard(name)
        self.dead.add(name)
        self.errors.append(f"worker {name} did not come back")

    # -- submission ---------------------------------------------------------------------------
    async def _submit(self, result: ProofResult) -> None:
        """Offer a proof to the submitter until it is on the L1; a submitter that dies is waited
        for and offered the proof again. A batch the L1 refuses for good (the L2 and the L1
        differ, e.g. a credited deposit an L1 reorganisation took back) is fatal."""
        while True:
            submitter = self.submitter
            try:
                verified: Verified = await submitter.offer.remote(result)
                break
            except ray.exceptions.RayActorError:
                await asyncio.sleep(0.5)      # restarting: the next offer waits for it
            except Exception as e:  # noqa: BLE001 - the L1 refused the batch for good
                cause = getattr(e, "cause", e)
                if isinstance(cause, RollupMissing):
                    self.fatal = str(cause)
                    self.errors.append(self.fatal)
                    return
                why = f"{type(cause).__name__}: {cause}"[:300]
                self.errors.append(f"batch {result.batch} refused by the L1: {why}")
                self.sink(batch_event(result.batch, "failed", error=why))
                self.sink(counter("failures"))
                # Every later batch starts from this one's state, so the L1 can verify none of
                # them: the node must stop rather than go on taking transfers that never finalize.
                self.fatal = (f"batch {result.batch} refused by the L1 ({why}); no later batch can be verified, "
                              f"since each starts from its state")
                return
        if self.book.verified(result.batch):
            self.sink(batch_event(result.batch, "l1_verified", t=verified.t, gas=verified.gas,
                                  transfers=result.transfers))
            self.sink(counter("batches_verified"))
            for listener in self.listeners:
                listener.batch_verified.remote(result.batch)
        self._report()

    # -- reporting ----------------------------------------------------------------------------
    def demand(self) -> tuple[int, int, float]:
        """(workers idle with nothing queued for them, the highest batch enqueued, the pace):
        what the executor needs to seal a batch when a prover can take it. The pace is the
        median recent proof time ÷ the live workers, so that N workers take turns on batches
        of what arrives in T/N rather than each taking a sliver; 0 with one worker."""
        free = max(0, len(self.idle) - self.book.queue_depth)
        live = len(self.workers) - len(self.dead)
        pace = statistics.median(self.proof_s) / live if live > 1 and self.proof_s else 0.0
        return free, self.given_upto, round(pace, 3)

    def _tell_demand(self) -> None:
        demand = self.demand()
        if demand == self._demand:
            return
        self._demand = demand
        told = [listener.provers_free.remote(*demand) for listener in self.listeners
                if hasattr(listener, "provers_free")]
        if demand[0] > 0 and told and hasattr(self.admission, "wake"):
            self.admission.wake.remote(*told)    # the sequencer polls the executor at once

    def _report(self) -> None:
        self._tell_demand()
        b = self.book
        self.sink(gauge("queue_depth", b.queue_depth))
        self.sink(gauge("proven_height", b.proven_height()))
        self.sink(gauge("verified_height", b.verified_height))
        open_now = b.admission_open()
        if open_now != self.admission_is_open:
            self.admission_is_open = open_now
            if self.admission is not None:
                self.admission.set_admission.remote(open_now)
        flush = getattr(self.sink, "flush", None)
        if flush:
            flush()
