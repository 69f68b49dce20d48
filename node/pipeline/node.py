"""The rollup node as a service: the whole pipeline on one Ray, kept in a data directory, running
until it is stopped, and resuming after a crash exactly where it was.

Start-up, on a new or an existing data directory (node.datadir):

1. its own local Ray (or the one at `ray_address`);
2. the chain's genesis and the proving key (from the kept seed: the same key as before);
3. the L1: the embedded EVM continued from its chain file, anvil from its state file, or a URL;
   the rollup contract deployed once and found again at its address on every restart. An L1
   that answers without the contract there was reset: RollupMissing, the node does not start;
4. the L1's last batch index h: batches up to h are done; the proving pipeline starts from h;
5. the executor, then the sequencer, which starts from the newest snapshot of the executed
   state that fits its log (node.snapshot) and replays the log after it: the batches it seals
   again and that are above h are queued; those whose proof was kept go to the L1 without proving;
6. the provers; only then are queued batches dispatched;
7. the L1 watcher: deposits from the queue index after the last one the log holds.

While it runs, `check_health` turns what cannot be got past into NodeStopped: a batch that
failed for good, an L1 that lost the rollup contract (checked every few seconds, proving or
not), a sequencer that stopped. Everything else (workers dying, an L1 that does not answer) is
retried. `stop` closes admission, logs what was admitted, writes a snapshot, and leaves work in
flight to the next start.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from node.datadir import DataDir, DataDirMismatch
from node.errors import InvalidInput
from node.executor import RETAIN_BLOCKS
from node.sequencer import parse_idle_block_interval

from .errors import NodeStopped, RollupMissing

L1_CHECK_S = 2.0
DEPOSIT_POLL_S = 0.5
# A bound that catches a mistyped depth: Ethereum finalizes within about 64 blocks.
MAX_L1_CONFIRMATIONS = 10_000


@dataclass
class NodeConfig:
    data_dir: str
    genesis: object = None          # node.genesis.Genesis (None: the one kept, else the dev faucet's)
    l1: str = "embedded"            # "embedded", "anvil" or a JSON-RPC URL
    l1_key: str | None = None       # private key to send from on a URL L1 (else its first account)
    rpc_port: int | None = 8545     # JSON-RPC on 127.0.0.1 (0: any free port; None: none)
    dashboard_port: int | None = 0  # dashboard on 127.0.0.1 (0: any free port; None: none)
    log2_rows: int = 10             # ledger circuit size: 2^k slots and transfers per batch
    workers: int | None = None      # prover workers (default: one per GPU, else 1)
    provers: str = "auto"           # "gpu", "cpu" or "auto" (GPU workers where the Ray has GPUs)
    prover_resource: str | None = None  # a custom Ray resource each prover takes one unit of: only
                                        # hosts offering it get provers (default workers: every unit)
    prover_cpus: int | None = None  # CPUs each CPU prover asks Ray for, and so its kernels' threads
                                    # (None: a Ray of its own shares its CPUs among the provers; 1 on
                                    # a Ray it joins)
    batch_deadline: float = 2.0     # seconds a proof batch stays open at most
    work_conserving: bool = True    # a batch closes when a prover is free (False: only full or deadline)
    idle_block_interval: float | None = 1.0   # an empty block after this long without one (None, 0: never)
    max_unproven: int = 4           # backlog bound: this many batches' transfers admitted, not yet proven
    max_unverified: int = 16        # batches not yet on the L1 before admission closes
    admit_wait_s: float = 2.0       # how long admission waits for proving to catch up, then refuses
    retain_blocks: int = RETAIN_BLOCKS  # recent blocks the executor holds in memory (older: from the log)
    l1_confirmations: int = 0       # L1 blocks on top of a deposit's before the L2 takes it (0: at once)
    ray_address: str | None = None  # join this Ray instead of starting one
    seed: str = "zkpipe devnet"     # development SRS and keys: INSECURE
    out: object = field(default=print, repr=False)

    def __post_init__(self):
        problems = []
        if not self.data_dir:
            problems.append("a data directory is required")
        if type(self.log2_rows) is not int or not 3 <= self.log2_rows <= 26:
            problems.append(f"log2_rows must be an integer in [3, 26], got {self.log2_rows!r}")
        if self.workers is not None and self.workers < 1:
            problems.append(f"workers must be at least 1, got {self.workers}")
        if self.prover_cpus is not None and (type(self.prover_cpus) is not int or self.prover_cpus < 1):
            problems.append(f"prover_cpus must be a positive integer, got {self.prover_cpus!r}")
        if self.provers not in ("auto", "gpu", "cpu"):
            problems.append(f"provers must be auto, gpu or cpu, got {self.provers!r}")
        if not (self.l1 in ("embedded", "anvil") or str(self.l1).startswith(("http://", "https://"))):
            problems.append(f"the L1 must be embedded, anvil or an http(s) URL, got {self.l1!r}")
        for name in ("rpc_port", "dashboard_port"):
            port = getattr(self, name)
            if port is not None and not 0 <= port <= 65535:
                problems.append(f"{name} must lie in [0, 65535], got {port}")
        if type(self.l1_confirmations) is not int or not 0 <= self.l1_confirmations <= MAX_L1_CONFIRMATIONS:
            problems.append(f"l1_confirmations must be an integer in [0, {MAX_L1_CONFIRMATIONS}], "
                            f"got {self.l1_confirmations!r}")
        if self.batch_deadline <= 0:
            problems.append(f"batch_deadline must be positive, got {self.batch_deadline}")
        try:
            self.idle_block_interval = parse_idle_block_interval(self.idle_block_interval)
        except InvalidInput as e:
            problems.append(str(e))
        if not 1 <= self.max_unproven <= self.max_unverified:
            problems.append(f"need 1 ≤ max_unproven ≤ max_unverified, got {self.max_unproven} and "
                            f"{self.max_unverified}")
        if type(self.retain_blocks) is not int or self.retain_blocks < 1:
            problems.append(f"retain_blocks must be a positive integer, got {self.retain_blocks!r}")
        if self.admit_wait_s < 0:
            problems.append(f"admit_wait_s must not be negative, got {self.admit_wait_s}")
        if problems:
            raise InvalidInput("; ".join(problems))


class RollupNode:
    def __init__(self, cfg: NodeConfig):
        self.cfg = cfg
        self.say = cfg.out
        self._stop: list = []                 # what to undo, last first
        self._pump_stop = threading.Event()
        self.events = None
        self.metrics = None
        self.dashboard_url = None
        self.rpc_url = None
        self._l1_gone: str | None = None

    # -- set-up -------------------------------------------------------------------------------
    def start(self) -> None:
        import ray

        from .actors import EventRelayRemote
        from .assembly import ProvingPipeline, ProvingSetup
        from .circuit import LedgerCircuit
        from .coordinator import CoordinatorConfig
        from .events import EventLog
        from .node_actors import ExecutorRemote, SequencerRemote

        cfg = self.cfg
        self.data = DataDir(cfg.data_dir)
        self._stop.append(self.data.close)
        self.events = EventLog()              # replaced by the metrics' log below, if any
        self.data.wait_released()
        meta = self.data.meta() or {}
        self.data.check(meta, log2_rows=cfg.log2_rows, l1=cfg.l1)
        self.seed = meta.get("seed", cfg.seed)
        self._start_ray()
        from node.genesis import dev_genesis
        # Kept in the data directory once the rollup can be deployed with it (_rollup): a genesis
        # the L1 cannot take leaves the directory free for a corrected one.
        self.genesis = self.data.genesis(cfg.genesis, keep=False) or dev_genesis()
        self.circuit = LedgerCircuit(cfg.log2_rows)
        t = time.perf_counter()
        self.pk, self.vk = self._keys()
        self.say(f"keys: ledger circuit at 2^{cfg.log2_rows} rows ({time.perf_counter() - t:.1f} s)")

        self.events = self._event_log()
        head = self._head_options()
        self.relay = EventRelayRemote.options(**head).remote()
        self.rollup = self._rollup(head, meta)
        self.l1_height = self.rollup.last_batch_index()
        self.say(f"L1: {self.l1_spec.describe()}, rollup contract at {self.rollup.address}, "
                 f"last batch {self.l1_height}")

        use_gpu, workers = self._provers()
        self.executor = ExecutorRemote.options(**head).remote(
            self.genesis, log2_rows=cfg.log2_rows, batch_deadline=cfg.batch_deadline,
            work_conserving=cfg.work_conserving, relay=self.relay,
            l1_height=self.l1_height, snapshot_dir=str(self.data.snapshots.resolve()),
            retain_blocks=cfg.retain_blocks)
        # Stopping: the sequencer first (it logs and executes what was admitted), then a snapshot.
        self._stop.append(lambda: ray.get(self.executor.save_snapshot.remote(), timeout=60))
        self.proving = ProvingPipeline(ProvingSetup(
            self.circuit, self.pk, self.l1_spec, self.rollup.artifact, self.rollup.address, workers=workers,
            use_gpu=use_gpu, head_options=head, worker_options=self._worker_options(use_gpu, workers),
            config=CoordinatorConfig(max_unproven=cfg.max_unproven, max_unverified=cfg.max_unverified,
                                     height=self.l1_height, proof_dir=str(self.data.proofs.resolve()))),
            relay=self.relay, listeners=[self.executor])
        self._stop.append(self.proving.shutdown)
        ray.get(self.executor.set_coordinator.remote(self.proving.coordinator))
        offset = ray.get(self.executor.status.remote())["batch_offset"]
        self.sequencer = SequencerRemote.options(**head).remote(
            self.genesis, str(self.data.wal.resolve()), self.executor,
            log2_rows=cfg.log2_rows, max_mini_batch=min(4096, 1 << cfg.log2_rows), relay=self.relay,
            rpc_port=cfg.rpc_port, admit_wait_s=cfg.admit_wait_s, max_backlog=cfg.max_unproven << cfg.log2_rows,
            idle_block_interval=cfg.idle_block_interval,
            snapshot_dir=str(self.data.snapshots.resolve()),
            rollup=(self.l1_spec, self.rollup.artifact, self.rollup.address),
            verified_at_most=self.l1_height - offset)
        self._stop.append(lambda: ray.get(self.sequencer.stop.remote(), timeout=30))
        info = ray.get(self.sequencer.ready.remote())
        self.rpc_url = info["rpc_url"]
        for why in info["snapshot_skipped"]:
            self.say(f"snapshot skipped: {why}")
        ex = ray.get(self.executor.status.remote())
        if ex["sealed"] < self.l1_height:
            raise DataDirMismatch(f"the rollup contract at {self.rollup.address} is at batch {self.l1_height}, but the "
                                  f"log in {self.data.path} ends at batch {ex['sealed']}: it is not this rollup's log, "
                                  f"or it lost what it had acknowledged")
        if ex["height"]:
            origin = ("the log" if info["snapshot"] is None else
                      f"the snapshot at mini-batch {info['snapshot']} and the log after it")
            self.say(f"resumed: {ex['height']} mini-batches, {ex['executed_transfers']} transfers, "
                     f"{ex['sealed']} proof batches from {origin}; the L1 has {self.l1_height}")
        ray.get(self.proving.coordinator.set_admission.remote(self.sequencer))
        t = time.perf_counter()
        for name, w in self.proving.start().items():
            self.say(f"prover {name}: node {w['node'][:12]}, {w['device']} ({w['backend']}), "
                     f"warm-up {w.get('warm_up_s', 0):.1f} s")
        self.say(f"provers ready in {time.perf_counter() - t:.1f} s")
        if self.rpc_url:
            self.say(f"JSON-RPC: {self.rpc_url}  (chain id {self.genesis.chain_id})")
        consumed = self.rollup.deposits_consumed()
        if info["deposits"] < consumed:
            raise DataDirMismatch(f"the rollup contract at {self.rollup.address} has consumed {consumed} deposits, but "
                                  f"the log in {self.data.path} holds {info['deposits']}: it is not this rollup's log")
        self._start_pump()
        self._start_l1_watch(info["deposits"])
        self._start_dashboard()

    def _start_ray(self) -> None:
        import ray
        if ray.is_initialized():
            return
        if self.cfg.ray_address:
            ray.init(address=self.cfg.ray_address, log_to_driver=False)
        else:
            # A Ray of its own, never another one found on this machine ("local" starts one).
            ray.init(address="local", num_cpus=max(os.cpu_count() or 1, self.cfg.workers or 1),
                     include_dashboard=False, log_to_driver=False)
        self._stop.append(ray.shutdown)

    def _head_options(self) -> dict:
        """The node actors, the L1 host and the submitter stay with the driver (its files, its
        127.0.0.1); only provers go where the GPUs are."""
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
        here = ray.get_runtime_context().get_node_id()
        return {"scheduling_strategy": NodeAffinitySchedulingStrategy(here, soft=False)}

    def _keys(self):
        from prover.keys import dev_keys
        # development SRS: INSECURE
        return dev_keys(self.circuit.air(), self.cfg.log2_rows, self.seed.encode())

    def _rollup(self, head: dict, meta: dict):
        """The rollup contract: found at the kept address, or deployed (and the address kept)."""
        from node.l1.rollup import RollupContract, check_genesis_fits, compile_rollup
        from node.state import LedgerState

        from .submitter import describe_chain
        cfg = self.cfg
        self.l1_spec, l1 = self._l1(head)
        address = meta.get("rollup")
        if address:
            if not l1.code_at(address):
                raise RollupMissing(address, describe_chain(l1))
            return RollupContract(l1, compile_rollup(self.circuit.air(), self.vk, self.circuit.layout()), address)
        state = LedgerState.from_genesis(self.genesis, 1 << cfg.log2_rows)
        genesis_state = self.circuit.state_commitment(self.pk, state.address_column(), state.balances)
        # The genesis accounts are announced (anyone can rebuild the state from the L1) and their
        # total escrowed, so that withdrawals of genesis-funded value are paid.
        accounts = [(int.from_bytes(a, "big"), state.balances[slot]) for slot, a in enumerate(state.addresses)]
        artifact = compile_rollup(self.circuit.air(), self.vk, self.circuit.layout())
        check_genesis_fits(artifact, accounts)
        self.data.genesis(self.genesis)
        rollup = RollupContract.deploy(l1, self.circuit.air(), self.vk, self.circuit.layout(), genesis_state,
                                       submitter=l1.accounts[0], l2_chain_id=self.genesis.chain_id,
                                       genesis_accounts=accounts, value=sum(b for _, b in accounts),
                                       artifact=artifact)
        self.data.save_meta({"chain_id": self.genesis.chain_id, "log2_rows": cfg.log2_rows, "seed": self.seed,
                             "l1": cfg.l1, "rollup": rollup.address})
        return rollup

    def _l1(self, head: dict):
        from .actors import L1HostRemote
        from .l1spec import L1Spec, connect_l1
        cfg = self.cfg
        if cfg.l1 == "embedded":
            host = L1HostRemote.options(**head).remote(journal=str(self.data.l1_chain.resolve()))
            spec = L1Spec("hosted", host=host)
        elif cfg.l1 == "anvil":
            from node.l1.anvil import launch_anvil
            node = launch_anvil(state=self.data.anvil_state)
            self._stop.append(node.stop)
            spec = L1Spec("rpc", url=node.url, timeout=10.0)
        else:
            spec = L1Spec("rpc", url=cfg.l1, private_key=cfg.l1_key, timeout=30.0)
        return spec, connect_l1(spec)

    def _provers(self) -> tuple[bool, int]:
        import ray
        cfg = self.cfg
        gpus = int(ray.cluster_resources().get("GPU", 0))
        use_gpu = cfg.provers == "gpu" or (cfg.provers == "auto" and gpus > 0)
        if use_gpu and gpus == 0:
            raise InvalidInput("GPU provers were asked for, but this Ray has no GPUs")
        if cfg.prover_resource:
            units = int(ray.cluster_resources().get(cfg.prover_resource, 0))
            if units == 0:
                raise InvalidInput(f"no node of this Ray offers the prover resource {cfg.prover_resource!r}")
            return use_gpu, cfg.workers or units
        return use_gpu, cfg.workers or (gpus if use_gpu else 1)

    def _worker_options(self, use_gpu: bool, workers: int) -> dict:
        """Ray options of each prover. Ray sets an actor's OMP_NUM_THREADS, which the CPU
        kernels take as their thread count, to the CPUs it asked for: a CPU prover asking for
        one CPU would prove on one thread while the other cores stay idle (every other actor
        asks for none). On a Ray of its own, the provers share its CPUs."""
        import ray
        cfg = self.cfg
        options = {"resources": {cfg.prover_resource: 1}} if cfg.prover_resource else {}
        if not use_gpu:
            cpus = cfg.prover_cpus
            if cpus is None:
                local = cfg.ray_address is None and not cfg.prover_resource
                cpus = max(1, int(ray.cluster_resources().get("CPU", 1)) // workers) if local else 1
            options["num_cpus"] = cpus
        return options

    def _event_log(self):
        from .events import EventLog
        try:
            from node.metrics import Metrics
        except ImportError:
            return EventLog(self.data.path / "events.jsonl")
        self.metrics = Metrics(record=self.data.metrics)
        self._stop.append(self.metrics.close)  # the run file's last second reaches the disk
        return EventLog(forward=[self._to_metrics])

    def _to_metrics(self, ev: dict) -> None:
        try:
            self.metrics.event(ev)
        except Exception as e:  # noqa: BLE001 - a metrics bug must not stop the pipeline
            self.say(f"metrics refused an event: {e}")

    def _start_pump(self) -> None:
        def pump():
            while not self._pump_stop.wait(0.2):
                try:
                    self.events.extend(self.proving.drain_events())
                except Exception:  # noqa: BLE001 - the relay is gone: the node is stopping
                    return
        self._pump = threading.Thread(target=pump, name="event-pump", daemon=True)
        self._pump.start()

    def _start_dashboard(self) -> None:
        if self.metrics is None or self.cfg.dashboard_port is None:
            return
        try:
            from node.dashboard import start_dashboard
        except ImportError:
            return
        self.dashboard_url, stop = start_dashboard(self.metrics, port=self.cfg.dashboard_port)
        self._stop.append(stop)
        self.say(f"dashboard: {self.dashboard_url}")

    # -- running ------------------------------------------------------------------------------
    def check_health(self) -> dict:
        """The coordinator's status; NodeStopped when the node cannot go on."""
        import ray
        st = self.proving.status()
        if st.get("fatal"):
            raise NodeStopped(st["fatal"])
        if st["failed"]:
            raise NodeStopped(f"proof batch {st['failed'][0]} failed for good: {st['errors'][-1:]}")
        if self._l1_gone is not None:
            raise NodeStopped(self._l1_gone)
        seq = ray.get(self.sequencer.status.remote(), timeout=30)
        if seq.get("failed"):
            raise NodeStopped(f"the sequencer stopped: {seq['failed']}")
        return st

    def _start_l1_watch(self, next_deposit: int) -> None:
        """On a thread of its own (an L1 that does not answer holds up only this thread):
        every DEPOSIT_POLL_S, the rollup's new Deposited events from queue index `next_deposit`
        on, handed to the sequencer (which logs them before anything applies them) once
        `l1_confirmations` blocks lie on top of theirs, so that an L1 reorganisation that shallow
        cannot take back a deposit the L2 has credited; every L1_CHECK_S, does the rollup contract
        still have code? Proving or not, a reset chain is noticed within seconds."""
        import ray

        from node.bridge import make_deposit

        from .submitter import describe_chain

        def watch(next_deposit: int):
            checked = time.monotonic()
            while not self._pump_stop.wait(DEPOSIT_POLL_S):
                try:
                    # A view call each tick; the logs are read only when the queue grew.
                    found = []
                    if self.rollup.deposit_count() > next_deposit:
                        depth = self.cfg.l1_confirmations
                        deepest = self.rollup.l1.block_number() - depth if depth else None
                        found = self.rollup.deposit_events(from_index=next_deposit, to_block=deepest)
                    if found:
                        deposits = [make_deposit(d.index, d.l2_address.to_bytes(20, "big"), d.amount,
                                                 d.l1_sender.to_bytes(20, "big"), d.block) for d in found]
                        next_deposit = ray.get(self.sequencer.add_deposits.remote(deposits), timeout=60)
                        self.say(f"deposits {found[0].index}..{found[-1].index} from the L1 logged and applied")
                except Exception:  # noqa: BLE001 - not answering (or no contract: checked below): next tick
                    pass
                if time.monotonic() - checked < L1_CHECK_S:
                    continue
                checked = time.monotonic()
                try:
                    code = self.rollup.l1.code_at(self.rollup.address)
                except Exception:  # noqa: BLE001 - not answering: tried again at the next check
                    continue
                if not code:
                    self._l1_gone = str(RollupMissing(self.rollup.address, describe_chain(self.rollup.l1)))
                    return
        threading.Thread(target=watch, args=(next_deposit,), name="l1-watch", daemon=True).start()

    def run_until(self, stop: threading.Event, poll: float = 0.5) -> None:
        """Run until `stop` is set (returns) or the node cannot go on (NodeStopped)."""
        while not stop.wait(poll):
            self.check_health()

    def stop(self) -> None:
        """Close admission and log what was admitted (the sequencer's stop), then stop the
        rest; work in flight is left for the next start. Never raises."""
        self._pump_stop.set()
        while self._stop:
            undo = self._stop.pop()
            try:
                undo()
            except Exception as e:  # noqa: BLE001 - keep stopping the rest
                self.say(f"stopping: {type(e).__name__}: {e}")
        if self.events is not None:
            self.events.close()

    @property
    def data_path(self) -> Path:
        return self.data.path
