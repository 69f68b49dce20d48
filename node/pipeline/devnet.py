"""The whole pipeline on one Ray (this machine's, or a cluster's): genesis, keys, the L1 with the
rollup contract, the sequencer and executor actors with the JSON-RPC endpoint, the prover
workers, the coordinator and the in-order submitter, the dashboard, and a load generator.

A run goes: set everything up; sign the load (before the clock starts); send it at the given
rate for the given time; then drain: seal the last batch and wait until every batch is on the
L1; then check that nothing was lost (every accepted transfer executed and in a verified batch,
the L1's batch index and state commitment equal to the executor's) and summarize.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import ray

from .actors import EventRelayRemote, L1HostRemote
from .assembly import ProvingPipeline, ProvingSetup
from .circuit import LedgerCircuit
from .coordinator import CoordinatorConfig
from .events import EventLog
from .l1spec import L1Spec, connect_l1
from .loadgen import LoadGenerator, RpcClient, dev_keys, presign
from .node_actors import ExecutorRemote, SequencerRemote
from .summary import format_summary, summarize


@dataclass
class DevnetConfig:
    duration: float = 30.0          # seconds of load
    tps: float = 100.0              # offered transfers per second
    workers: int | None = None      # prover workers (default: one per GPU, else 1)
    provers: str = "auto"           # "gpu", "cpu" or "auto" (GPU workers where the Ray has GPUs)
    l1: str = "embedded"            # "embedded", "anvil" or a JSON-RPC URL
    l1_key: str | None = None       # private key to send from on a URL L1 (else its first account)
    rpc_port: int | None = 8545     # JSON-RPC on 127.0.0.1 (0: any free port; None: none)
    dashboard_port: int | None = 0  # dashboard on 127.0.0.1 (0: any free port; None: none)
    log2_rows: int = 10             # ledger circuit size: 2^k slots and transfers per batch
    accounts: int = 64              # funded load-generator accounts
    batch_deadline: float = 2.0     # seconds a proof batch stays open at most
    max_unproven: int = 4           # batches waiting for a proof before admission closes
    max_unverified: int = 16
    admit_wait_s: float = 2.0       # how long admission waits for proving to catch up, then refuses
    run_dir: str | None = None      # where the run's files go (default runs/devnet-<time>)
    ray_address: str | None = None  # join this Ray (e.g. "auto" in a Ray job) instead of starting one
    drain_timeout: float = 300.0
    seed: str = "zkpipe devnet"
    out: object = field(default=print, repr=False)


class Devnet:
    def __init__(self, cfg: DevnetConfig):
        self.cfg = cfg
        self.say = cfg.out
        self.run_dir = Path(cfg.run_dir or f"runs/devnet-{time.strftime('%Y%m%d-%H%M%S')}")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._stop: list = []                 # what to undo, last first
        self._pump_stop = threading.Event()
        self.metrics = None
        self.dashboard_url = None

    # -- set-up -------------------------------------------------------------------------------
    def start(self) -> None:
        cfg = self.cfg
        self._start_ray()
        from node.genesis import dev_genesis
        from node.transactions import address_of

        self.keys = dev_keys(cfg.accounts, cfg.seed)
        self.genesis = dev_genesis(accounts={address_of(k): 10**15 for k in self.keys})
        self.circuit = LedgerCircuit(cfg.log2_rows)
        t = time.perf_counter()
        self.pk, self.vk = self._keys()
        self.say(f"keys: ledger circuit at 2^{cfg.log2_rows} rows ({time.perf_counter() - t:.1f} s)")

        self.events = self._event_log()
        head = self._head_options()
        self.relay = EventRelayRemote.options(**head).remote()
        self.l1_spec, l1 = self._l1(head)
        from node.l1.rollup import RollupContract
        from node.state import LedgerState
        state = LedgerState.from_genesis(self.genesis, 1 << cfg.log2_rows)
        genesis_state = self.circuit.state_commitment(self.pk, state.address_column(), state.balances)
        self.rollup = RollupContract.deploy(l1, self.circuit.air(), self.vk, self.circuit.layout(), genesis_state,
                                            submitter=l1.accounts[0])
        self.say(f"L1: {self.l1_spec.describe()}, rollup contract at {self.rollup.address}")

        use_gpu, workers = self._provers()
        self.executor = ExecutorRemote.options(**head).remote(
            self.genesis, log2_rows=cfg.log2_rows, batch_deadline=cfg.batch_deadline, relay=self.relay)
        self.proving = ProvingPipeline(ProvingSetup(
            self.circuit, self.pk, self.l1_spec, self.rollup.artifact, self.rollup.address, workers=workers,
            use_gpu=use_gpu, config=CoordinatorConfig(max_unproven=cfg.max_unproven, max_unverified=cfg.max_unverified),
            head_options=head), relay=self.relay, listeners=[self.executor])
        self._stop.append(self.proving.shutdown)
        ray.get(self.executor.set_coordinator.remote(self.proving.coordinator))
        self.sequencer = SequencerRemote.options(**head).remote(
            self.genesis, str((self.run_dir / "sequencer.wal").resolve()), self.executor,
            log2_rows=cfg.log2_rows, max_mini_batch=min(4096, 1 << cfg.log2_rows), relay=self.relay,
            rpc_port=cfg.rpc_port, admit_wait_s=cfg.admit_wait_s)
        self._stop.append(lambda: ray.get(self.sequencer.stop.remote(), timeout=30))
        info = ray.get(self.sequencer.ready.remote())
        self.rpc_url = info["rpc_url"]
        ray.get(self.proving.coordinator.set_admission.remote(self.sequencer))
        t = time.perf_counter()
        workers_info = self.proving.start()
        for name, w in workers_info.items():
            self.say(f"prover {name}: node {w['node'][:12]}, {w['device']} ({w['backend']}), "
                     f"warm-up {w.get('warm_up_s', 0):.1f} s")
        self.say(f"provers ready in {time.perf_counter() - t:.1f} s")
        if self.rpc_url:
            self.say(f"JSON-RPC: {self.rpc_url}  (chain id {self.genesis.chain_id})")
        self._start_pump()
        self._start_dashboard()

    def _start_ray(self) -> None:
        if ray.is_initialized():
            return
        if self.cfg.ray_address:
            ray.init(address=self.cfg.ray_address, log_to_driver=False)
        else:
            ray.init(num_cpus=max(os.cpu_count() or 1, self.cfg.workers or 1), include_dashboard=False,
                     log_to_driver=False)
        self._stop.append(ray.shutdown)

    def _head_options(self) -> dict:
        """The node actors, the L1 host and the submitter stay with the driver (its files, its
        127.0.0.1); only provers go where the GPUs are."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
        here = ray.get_runtime_context().get_node_id()
        return {"scheduling_strategy": NodeAffinitySchedulingStrategy(here, soft=False)}

    def _keys(self):
        from prover.keys import dev_keys
        # development SRS: INSECURE
        return dev_keys(self.circuit.air(), self.cfg.log2_rows, self.cfg.seed.encode())

    def _l1(self, head: dict):
        cfg = self.cfg
        if cfg.l1 == "embedded":
            host = L1HostRemote.options(**head).remote()
            spec = L1Spec("hosted", host=host)
        elif cfg.l1 == "anvil":
            from node.l1.anvil import launch_anvil
            node = launch_anvil()
            self._stop.append(node.stop)
            spec = L1Spec("rpc", url=node.url, timeout=10.0)
        elif cfg.l1.startswith(("http://", "https://")):
            spec = L1Spec("rpc", url=cfg.l1, private_key=cfg.l1_key, timeout=30.0)
        else:
            raise ValueError(f"--l1 must be embedded, anvil or an http(s) URL, got {cfg.l1!r}")
        return spec, connect_l1(spec)

    def _provers(self) -> tuple[bool, int]:
        cfg = self.cfg
        gpus = int(ray.cluster_resources().get("GPU", 0))
        if cfg.provers not in ("auto", "gpu", "cpu"):
            raise ValueError(f"--provers must be auto, gpu or cpu, got {cfg.provers!r}")
        use_gpu = cfg.provers == "gpu" or (cfg.provers == "auto" and gpus > 0)
        if use_gpu and gpus == 0:
            raise ValueError("--provers gpu, but this Ray has no GPUs")
        return use_gpu, cfg.workers or (gpus if use_gpu else 1)

    def _event_log(self) -> EventLog:
        try:
            from node.metrics import Metrics
        except ImportError:
            return EventLog(self.run_dir / "events.jsonl")
        self.metrics = Metrics(record=self.run_dir / "metrics.jsonl")
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
                self.events.extend(self.proving.drain_events())
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

    # -- the run ------------------------------------------------------------------------------
    def run_load(self):
        cfg = self.cfg
        count = int(cfg.tps * cfg.duration)
        t = time.perf_counter()
        txs = presign(self.keys, count, self.genesis.chain_id)
        self.say(f"load: {count} transfers from {len(self.keys)} accounts signed in {time.perf_counter() - t:.1f} s; "
                 f"sending {cfg.tps:g} tx/s for {cfg.duration:g} s")
        if self.rpc_url:
            client = RpcClient(self.rpc_url)
            submit = client.send_many
        else:
            def submit(chunk):
                return ray.get(self.sequencer.submit_many.remote(chunk, time.time()))
        return LoadGenerator(submit, txs, cfg.tps, cfg.duration).run()

    def drain(self) -> dict:
        """Seal the open batch once the sequencer has cut everything, then wait until every
        sealed batch is on the L1 (or one failed, or drain_timeout)."""
        deadline = time.monotonic() + self.cfg.drain_timeout
        while ray.get(self.sequencer.status.remote())["pending"] and time.monotonic() < deadline:
            time.sleep(0.05)
        ray.get(self.sequencer.seal_open.remote())
        sealed = ray.get(self.executor.status.remote())["sealed"]
        height = sealed + ray.get(self.executor.status.remote())["batch_offset"] - 1
        st = self.proving.wait_verified(height, max(1.0, deadline - time.monotonic()))
        time.sleep(0.5)                       # the last events reach the relay
        self.events.extend(self.proving.drain_events())
        return {"height": height, "status": st}

    def check(self, load, drained: dict) -> dict:
        """What the L1 and the executor say at the end, and whether anything was lost."""
        ex = ray.get(self.executor.status.remote())
        seq = ray.get(self.sequencer.status.remote())
        addresses, balances = ray.get(self.executor.balances.remote())
        expected = self.circuit.state_commitment(self.pk, [int.from_bytes(a, "big") for a in addresses], balances)
        l1_height = self.rollup.last_batch_index()
        verified_transfers = sum(info.get("transfers", 0) for b, info in self.events.batch_info.items()
                                 if "l1_verified" in self.events.batches.get(b, {}))
        st = drained["status"]
        return {"batches": drained["height"], "l1_last_batch": l1_height,
                "l1_state_matches_executor": self.rollup.state_commitment() == expected,
                "accepted": load.accepted, "executed": ex["executed_transfers"],
                "in_verified_batches": verified_transfers, "failed_batches": st["failed"],
                "admission_waited": seq["admission_waited"], "admission_refused": seq["admission_refused"],
                "ok": (l1_height == drained["height"] and not st["failed"]
                       and load.accepted == ex["executed_transfers"] == verified_transfers
                       and self.rollup.state_commitment() == expected)}

    def stop(self) -> None:
        self._pump_stop.set()
        while self._stop:
            undo = self._stop.pop()
            try:
                undo()
            except Exception as e:  # noqa: BLE001 - keep stopping the rest
                self.say(f"stopping: {type(e).__name__}: {e}")
        self.events.close()


def run_devnet(cfg: DevnetConfig) -> tuple[dict, bool]:
    """Run a devnet from start to summary; returns (summary, every check passed)."""
    import json
    net = Devnet(cfg)
    try:
        net.start()
        load = net.run_load()
        net.say(f"load done: {load.accepted} accepted, {load.rejected} rejected, "
                f"{load.deferred_chunks} chunks deferred; draining")
        drained = net.drain()
        checks = net.check(load, drained)
        summary = summarize(net.events, load)
        summary["checks"] = checks
        summary["config"] = {k: v for k, v in cfg.__dict__.items() if k != "out"}
        summary["run_dir"] = str(net.run_dir)
        (net.run_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
        net.say(format_summary(summary))
        net.say("checks: " + ", ".join(f"{k} {v}" for k, v in checks.items()))
        net.say(f"run files: {net.run_dir}/")
        return summary, checks["ok"]
    finally:
        net.stop()
