"""The pipeline's events: what every stage reports, in the schema the metrics and the dashboard
read (docs/dashboard.md lists it), and the sinks that carry them.

Every event is a flat JSON-able dict with a "type" and a wall-clock "t" (unix seconds). A sink
is any callable taking one event; actors hand theirs a buffered sink that forwards to the
driver in small batches, so that reporting never costs one remote call per event.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Callable, Iterable

from kernels.errors import InvalidInput

Sink = Callable[[dict], None]

BATCH_STAGES = ("sequenced", "executed", "proof_queued", "proof_started", "proof_done",
                "l1_submitted", "l1_verified", "failed", "retried")
TX_STAGES = ("received", "sequenced", "executed", "proven", "l1_verified")
GAUGES = ("queue_depth", "proven_height", "verified_height", "executed_height", "pending_txs",
          "gpu_memory_bytes")
WORKER_STATES = ("idle", "busy", "dead")
COUNTERS = ("transactions_received", "transactions_rejected", "retries", "failures",
            "batches_proven", "batches_verified", "workers_replaced")


def batch_event(batch: int, stage: str, t: float | None = None, **extra) -> dict:
    """Batch `batch` reached `stage` (one of BATCH_STAGES)."""
    if stage not in BATCH_STAGES:
        raise InvalidInput(f"unknown batch stage {stage!r}")
    ev = {"type": "batch", "batch": int(batch), "stage": stage, "t": time.time() if t is None else t}
    ev.update({k: v for k, v in extra.items() if v is not None})
    return ev


def txs_event(stage: str, latencies_s: Iterable[float], batch: int | None = None, t: float | None = None) -> dict:
    """Transactions reached `stage`; their latencies since submission, in seconds."""
    if stage not in TX_STAGES:
        raise InvalidInput(f"unknown transaction stage {stage!r}")
    ev = {"type": "txs", "stage": stage, "latencies_s": [round(float(x), 6) for x in latencies_s],
          "t": time.time() if t is None else t}
    if batch is not None:
        ev["batch"] = int(batch)
    return ev


def gauge(name: str, value: float, worker: str | None = None, t: float | None = None) -> dict:
    if name not in GAUGES:
        raise InvalidInput(f"unknown gauge {name!r}")
    ev = {"type": "gauge", "name": name, "value": value, "t": time.time() if t is None else t}
    if worker is not None:
        ev["worker"] = worker
    return ev


def worker_event(worker: str, node: str, state: str, batch: int | None = None, device: str | None = None,
                 t: float | None = None) -> dict:
    if state not in WORKER_STATES:
        raise InvalidInput(f"unknown worker state {state!r}")
    ev = {"type": "worker", "worker": worker, "node": node, "state": state, "batch": batch,
          "t": time.time() if t is None else t}
    if device is not None:
        ev["device"] = device
    return ev


def counter(name: str, inc: int = 1, t: float | None = None) -> dict:
    if name not in COUNTERS:
        raise InvalidInput(f"unknown counter {name!r}")
    return {"type": "counter", "name": name, "inc": int(inc), "t": time.time() if t is None else t}


class Every:
    """True at most once per `interval` seconds: for gauges sampled in a hot loop."""

    def __init__(self, interval: float):
        self.interval, self.last = interval, float("-inf")

    def __call__(self) -> bool:
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            return True
        return False


def discard(ev: dict) -> None:
    """The sink of a component nobody listens to."""


class BufferedSink:
    """Collects events and hands them on in lists: `send(list)` is called by `flush()`, and by
    the sink itself once `limit` events wait. Owners flush at the end of each unit of work."""

    def __init__(self, send: Callable[[list], None], limit: int = 256):
        self.send, self.limit = send, limit
        self._buf: list[dict] = []
        self._lock = threading.Lock()

    def __call__(self, ev: dict) -> None:
        with self._lock:
            self._buf.append(ev)
            full = len(self._buf) >= self.limit
        if full:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            out, self._buf = self._buf, []
        if out:
            self.send(out)

    def autoflush(self, interval: float = 0.05) -> "BufferedSink":
        """Also flush every `interval` seconds from a daemon thread, so that no event waits
        long for its owner's next unit of work."""
        def loop():
            while True:
                time.sleep(interval)
                try:
                    self.flush()
                except Exception:  # noqa: BLE001 - the receiver is gone (shutdown): stop quietly
                    return
        threading.Thread(target=loop, name="event-flush", daemon=True).start()
        return self


class EventLog:
    """The driver's end of the events: keeps counts and every transaction latency per stage
    (for the run's summary), appends each event as one JSON line to `path` (a run file that
    `zkpipe dashboard --run` replays), and passes each on to `forward` sinks (the metrics)."""

    def __init__(self, path: str | Path | None = None, forward: Iterable[Sink] = ()):
        self.path = Path(path) if path else None
        self._file = open(self.path, "a", buffering=1 << 16) if self.path else None
        self.forward = list(forward)
        self.latencies: dict[str, list[float]] = {s: [] for s in TX_STAGES}
        self.counters: dict[str, int] = {c: 0 for c in COUNTERS}
        self.batches: dict[int, dict[str, float]] = {}
        self.batch_info: dict[int, dict] = {}
        self.events = 0
        self._lock = threading.Lock()

    def __call__(self, ev: dict) -> None:
        with self._lock:
            self.events += 1
            kind = ev.get("type")
            if kind == "txs":
                self.latencies[ev["stage"]].extend(ev["latencies_s"])
            elif kind == "counter":
                self.counters[ev["name"]] = self.counters.get(ev["name"], 0) + ev["inc"]
            elif kind == "batch":
                stages = self.batches.setdefault(ev["batch"], {})
                stages.setdefault(ev["stage"], ev["t"])
                info = self.batch_info.setdefault(ev["batch"], {})
                for k in ("transfers", "worker", "node", "phases_ms", "gas", "attempt"):
                    if k in ev:
                        info[k] = ev[k]
            if self._file is not None:
                self._file.write(json.dumps(ev, separators=(",", ":")) + "\n")
        for sink in self.forward:
            sink(ev)

    def extend(self, events: Iterable[dict]) -> None:
        for ev in events:
            self(ev)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
