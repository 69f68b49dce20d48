"""The devnet: the rollup node (node.pipeline.node) on a data directory of its own, with a funded
set of development accounts and a built-in load generator.

A run goes: start the node (or resume it, on a run directory used before); sign the load
(before the clock starts); send it at the given rate for the given time (`tps` 0: no built-in
load, the node serves whoever sends over JSON-RPC); then drain: seal the last batch and wait
until every batch is on the L1; then check that nothing was lost (every executed transfer, from
whoever sent it, in a verified batch, the L1's batch index and state commitment equal to the
executor's) and summarize.
"""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import ray

from node.errors import InvalidInput
from node.executor import RETAIN_BLOCKS
from node.transactions import address_of

from .loadgen import LoadGenerator, LoadReport, RpcClient, dev_keys, presign
from .node import NodeConfig, RollupNode
from .summary import format_summary, summarize


@dataclass
class DevnetConfig:
    duration: float = 30.0          # seconds of load
    tps: float = 100.0              # offered transfers per second (0: no built-in load)
    workers: int | None = None      # prover workers (default: one per GPU, else 1)
    provers: str = "auto"           # "gpu", "cpu" or "auto" (GPU workers where the Ray has GPUs)
    prover_resource: str | None = None  # custom Ray resource the provers are placed by (NodeConfig)
    prover_cpus: int | None = None  # CPUs (threads) per CPU prover (NodeConfig; None: the cores shared)
    l1: str = "embedded"            # "embedded", "anvil" or a JSON-RPC URL
    l1_key: str | None = None       # private key to send from on a URL L1 (else its first account)
    l1_confirmations: int = 0       # L1 blocks on top of a deposit's before the L2 takes it (NodeConfig)
    rpc_port: int | None = 8545     # JSON-RPC on 127.0.0.1 (0: any free port; None: none)
    dashboard_port: int | None = 0  # dashboard on 127.0.0.1 (0: any free port; None: none)
    log2_rows: int = 10             # ledger circuit size: 2^k slots and transfers per batch
    accounts: int = 64              # funded load-generator accounts
    batch_deadline: float = 2.0     # seconds a proof batch stays open at most
    work_conserving: bool = True    # a batch closes when a prover is free (False: only full or deadline)
    idle_block_interval: float | None = 1.0   # an empty block after this long without one (None, 0: never)
    max_unproven: int = 4           # batches waiting for a proof before admission closes
    max_unverified: int = 16
    admit_wait_s: float = 2.0       # how long admission waits for proving to catch up, then refuses
    retain_blocks: int = RETAIN_BLOCKS  # recent blocks the executor holds in memory (NodeConfig)
    run_dir: str | None = None      # the node's data directory (default runs/devnet-<time>)
    ray_address: str | None = None  # join this Ray (e.g. "auto" in a Ray job) instead of starting one
    drain_timeout: float = 300.0
    give_up_after: float | None = None  # stop offering load after this many seconds (None: send it all)
    seed: str = "zkpipe devnet"
    out: object = field(default=print, repr=False)

    def __post_init__(self):
        problems = []
        if self.duration <= 0 or self.tps < 0:
            problems.append(f"duration must be positive and tps not negative, got {self.duration} and {self.tps}")
        if not 1 <= self.accounts < (1 << self.log2_rows):
            problems.append(f"accounts must lie in [1, 2^{self.log2_rows}) (one slot is the faucet's), "
                            f"got {self.accounts}")
        if self.drain_timeout <= 0:
            problems.append(f"drain_timeout must be positive, got {self.drain_timeout}")
        if problems:
            raise InvalidInput("; ".join(problems))
        self.node_config(None)                # the node's own checks, now rather than at start

    def node_config(self, genesis, data_dir: str | None = None) -> NodeConfig:
        return NodeConfig(
            data_dir=data_dir or self.run_dir or "runs/devnet", genesis=genesis, l1=self.l1,
            l1_key=self.l1_key, l1_confirmations=self.l1_confirmations, rpc_port=self.rpc_port,
            dashboard_port=self.dashboard_port,
            log2_rows=self.log2_rows, workers=self.workers, provers=self.provers,
            prover_resource=self.prover_resource, prover_cpus=self.prover_cpus,
            batch_deadline=self.batch_deadline, work_conserving=self.work_conserving,
            idle_block_interval=self.idle_block_interval, max_unproven=self.max_unproven,
            max_unverified=self.max_unverified, admit_wait_s=self.admit_wait_s,
            retain_blocks=self.retain_blocks, ray_address=self.ray_address, seed=self.seed, out=self.out)


class Devnet:
    def __init__(self, cfg: DevnetConfig):
        from node.genesis import dev_genesis

        self.cfg = cfg
        self.say = cfg.out
        self.run_dir = Path(cfg.run_dir or f"runs/devnet-{time.strftime('%Y%m%d-%H%M%S')}")
        self.keys = dev_keys(cfg.accounts, cfg.seed)
        self.genesis = dev_genesis(accounts={address_of(k): 10**15 for k in self.keys})
        self.node = RollupNode(cfg.node_config(self.genesis, str(self.run_dir)))
        self._health_error: BaseException | None = None
        # Set to end the built-in load before its duration (run_devnet sets it on SIGINT); the
        # run then drains, checks and summarizes as after a full load.
        self.load_ended = threading.Event()

    def __getattr__(self, name):
        # The node's parts (sequencer, executor, proving, rollup, circuit, events, metrics,
        # rpc_url, dashboard_url) as the devnet's own.
        if name == "node":
            raise AttributeError(name)
        return getattr(self.node, name)

    def start(self) -> None:
        self.node.start()

    def _healthy(self) -> bool:
        """False once the node cannot go on (the reason kept for the summary)."""
        if self._health_error is None:
            try:
                self.node.check_health()
            except Exception as e:  # noqa: BLE001 - reported in the checks
                self._health_error = e
                self.say(f"node stopped: {e}")
        return self._health_error is None

    # -- the run ------------------------------------------------------------------------------
    def run_load(self):
        cfg = self.cfg
        if cfg.tps == 0:                  # no built-in load: serve whoever sends, for `duration`
            rep = LoadReport(started=time.time())
            self.say(f"no built-in load; serving JSON-RPC for {cfg.duration:g} s")
            deadline = time.monotonic() + cfg.duration
            while time.monotonic() < deadline and self._healthy() and not self.load_ended.wait(0.5):
                pass
            rep.finished = time.time()
            return rep
        count = int(cfg.tps * cfg.duration)
        t = time.perf_counter()
        # Nonces from the executed state: a devnet resumed on its run directory continues.
        nonces = {a: n for a in map(address_of, self.keys)
                  if (n := ray.get(self.executor.nonce.remote(a)))}
        txs = presign(self.keys, count, self.genesis.chain_id, start_nonces=nonces)
        self.say(f"load: {count} transfers from {len(self.keys)} accounts signed in {time.perf_counter() - t:.1f} s; "
                 f"sending {cfg.tps:g} tx/s for {cfg.duration:g} s")
        if self.rpc_url:
            client = RpcClient(self.rpc_url)
            submit = client.send_many
        else:
            def submit(chunk):
                return ray.get(self.sequencer.submit_many.remote(chunk, time.time()))
        stop = threading.Event()

        def watch():
            while not stop.wait(1.0):
                if not self._healthy():
                    return
        watcher = threading.Thread(target=watch, name="health", daemon=True)
        watcher.start()
        try:
            return LoadGenerator(submit, txs, cfg.tps, cfg.duration).run(
                stop=lambda: self._health_error is not None or self.load_ended.is_set(),
                give_up_after=cfg.give_up_after)
        finally:
            stop.set()

    def drain(self) -> dict:
        """Seal the open batch once the sequencer has cut everything, then wait until every
        sealed batch is on the L1 (or one failed, or drain_timeout)."""
        deadline = time.monotonic() + self.cfg.drain_timeout
        while ray.get(self.sequencer.status.remote())["pending"] and time.monotonic() < deadline:
            time.sleep(0.05)
        ray.get(self.sequencer.seal_open.remote())
        ex = ray.get(self.executor.status.remote())
        height = ex["sealed"] + ex["batch_offset"] - 1
        st = self.proving.status()
        while self._healthy() and st["verified_height"] < height and time.monotonic() < deadline:
            time.sleep(0.2)
            st = self.proving.status()
        time.sleep(0.5)                       # the last events reach the relay
        self.events.extend(self.proving.drain_events())
        return {"height": height, "status": st, "timed_out": st["verified_height"] < height}

    def check(self, load, drained: dict) -> dict:
        """What the L1 and the executor say at the end, and whether anything was lost."""
        ex = ray.get(self.executor.status.remote())
        seq = ray.get(self.sequencer.status.remote())
        addresses, balances = ray.get(self.executor.balances.remote())
        expected = self.circuit.state_commitment(self.pk, [int.from_bytes(a, "big") for a in addresses], balances)
        try:
            l1_height = self.rollup.last_batch_index()
            l1_matches = self.rollup.state_commitment() == expected
        except Exception as e:  # noqa: BLE001 - an L1 gone is a failed check, not a crash
            l1_height, l1_matches = f"L1 unreachable: {type(e).__name__}", False
        st = drained["status"]
        # Every transfer counts, whoever sent it (the built-in load is a part of them).
        executed, verified = ex["executed_transfers"], ex["verified_transfers"]
        return {"batches": drained["height"], "l1_last_batch": l1_height,
                "l1_state_matches_executor": l1_matches,
                "accepted": load.accepted, "executed": executed,
                "in_verified_batches": verified, "failed_batches": st["failed"],
                "drain_timed_out": drained.get("timed_out", False),
                "stopped_by": None if self._health_error is None else str(self._health_error),
                "admission_waited": seq["admission_waited"], "admission_refused": seq["admission_refused"],
                "ok": (l1_height == drained["height"] and not st["failed"] and self._health_error is None
                       and load.accepted <= executed == verified and l1_matches)}

    def stop(self) -> None:
        self.node.stop()


def run_devnet(cfg: DevnetConfig) -> tuple[dict, bool]:
    """Run a devnet from start to summary; returns (summary, every check passed)."""
    import json
    net = Devnet(cfg)
    previous = None
    try:
        net.start()
        if threading.current_thread() is threading.main_thread():
            def end_load(signum, frame):
                # The first SIGINT ends the load early; a second one interrupts as usual. Only
                # flags here: printing from a handler can re-enter a print under way.
                signal.signal(signal.SIGINT, signal.default_int_handler)
                net.load_ended.set()
            previous = signal.signal(signal.SIGINT, end_load)
        load = net.run_load()
        if net.load_ended.is_set():
            net.say("load ended early (SIGINT); SIGINT again stops at once")
        net.say(f"load done: {load.accepted} accepted, {load.rejected} rejected, "
                f"{load.deferred_chunks} chunks deferred; draining")
        drained = net.drain()
        checks = net.check(load, drained)
        try:
            summary = summarize(net.events, load)
        except Exception as e:  # noqa: BLE001 - the checks are reported whatever the summary does
            summary = {"summary_error": f"{type(e).__name__}: {e}"}
        summary["checks"] = checks
        summary["config"] = {k: v for k, v in cfg.__dict__.items() if k != "out"}
        summary["run_dir"] = str(net.run_dir)
        (net.run_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
        if "summary_error" not in summary:
            net.say(format_summary(summary))
        net.say("checks: " + ", ".join(f"{k} {v}" for k, v in checks.items()))
        net.say(f"run files: {net.run_dir}/")
        return summary, checks["ok"]
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        net.stop()
