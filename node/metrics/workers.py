"""Prover workers: their state, what each is proving, and how long each has been busy."""

from __future__ import annotations


class Worker:
    __slots__ = ("name", "node", "state", "batch", "device", "since", "first_seen", "busy_s")

    def __init__(self, name: str, node: str, t: float):
        self.name = name
        self.node = node
        self.state = "idle"
        self.batch = None
        self.device = None
        self.since = t
        self.first_seen = t
        self.busy_s = 0.0

    def busy_seconds(self, now: float) -> float:
        """Busy time so far, counting a proof in progress up to `now`."""
        extra = max(0.0, now - self.since) if self.state == "busy" else 0.0
        return self.busy_s + extra

    def to_json(self, now: float, gpu_memory_bytes: float | None) -> dict:
        busy = self.busy_seconds(now)
        alive = max(0.0, now - self.first_seen)
        return {"worker": self.name, "node": self.node, "state": self.state, "batch": self.batch,
                "device": self.device, "busy_s": round(busy, 6),
                "utilization": round(busy / alive, 4) if alive > 0 else None,
                "gpu_memory_bytes": gpu_memory_bytes}


class Workers:
    def __init__(self):
        self.by_name: dict[str, Worker] = {}

    def apply(self, ev: dict) -> None:
        name, t = ev["worker"], ev["t"]
        w = self.by_name.get(name)
        if w is None:
            w = self.by_name[name] = Worker(name, ev["node"], t)
        if w.state == "busy":
            w.busy_s += max(0.0, t - w.since)
        w.node = ev["node"]
        w.state = ev["state"]
        w.batch = ev["batch"]
        w.since = t
        if "device" in ev:
            w.device = ev["device"]

    def to_json(self, now: float, gpu_memory: dict[str, float]) -> list[dict]:
        """`gpu_memory`: the latest gpu_memory_bytes gauge per worker (it may come before the
        worker's first state event, so it is kept with the gauges)."""
        return [w.to_json(now, gpu_memory.get(w.name)) for w in sorted(self.by_name.values(), key=lambda w: w.name)]
