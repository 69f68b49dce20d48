"""The events the pipeline reports, and their validation.

The pipeline's driver calls `Metrics.event(ev)` with plain dicts, one of five types (the full
schema is in docs/dashboard.md). Validation is strict: an unknown type, stage, name or key is a
bug in the producer, and failing loudly at the first such event is cheaper than a dashboard that
silently shows nothing.
"""

from __future__ import annotations

import math

import numpy as np

from kernels.errors import InvalidInput

# A batch moves through these stages in this order; each stage's latency is measured from the
# latest earlier stage the batch has recorded. `failed` and `retried` are outside the order.
BATCH_STAGES = (
    "sequenced", "executed", "proof_queued", "proof_started", "proof_done", "l1_submitted", "l1_verified",
)
BATCH_OUTCOMES = ("failed", "retried")
BATCH_EVENT_STAGES = BATCH_STAGES + BATCH_OUTCOMES

# Transaction latencies are measured from submission to each of these stages.
TX_STAGES = ("received", "sequenced", "executed", "proven", "l1_verified")

PHASES = ("witness", "ntt", "msm", "quotient", "openings", "other")
GAUGES = ("queue_depth", "proven_height", "verified_height", "executed_height", "pending_txs", "gpu_memory_bytes")
COUNTERS = (
    "transactions_received", "transactions_rejected", "retries", "failures", "batches_proven", "batches_verified",
    "workers_replaced",
)
WORKER_STATES = ("idle", "busy", "dead")
EVENT_TYPES = ("batch", "txs", "gauge", "worker", "counter")

# key → (required, kind of value); the checker of each kind is below.
_FIELDS: dict[str, dict[str, tuple[bool, str]]] = {
    "batch": {
        "batch": (True, "index"), "stage": (True, "batch_stage"), "t": (True, "time"),
        "transfers": (False, "count"), "worker": (False, "text"), "node": (False, "text"),
        "attempt": (False, "count"), "phases_ms": (False, "phases"), "gas": (False, "count"),
        "error": (False, "text"),
    },
    "txs": {
        "stage": (True, "tx_stage"), "latencies_s": (True, "latencies"), "t": (True, "time"),
        "batch": (False, "index"),
    },
    "gauge": {"name": (True, "gauge"), "value": (True, "number"), "t": (True, "time"), "worker": (False, "text")},
    "worker": {
        "worker": (True, "text"), "node": (True, "text"), "state": (True, "worker_state"),
        "batch": (True, "index_or_none"), "t": (True, "time"), "device": (False, "text"),
    },
    "counter": {"name": (True, "counter"), "inc": (True, "count"), "t": (True, "time")},
}


class InvalidEvent(InvalidInput):
    """A metrics event does not follow the schema in docs/dashboard.md."""


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(v)


def _time(v, where):
    if not _is_number(v) or v < 0:
        raise InvalidEvent(f"{where} must be a finite, non-negative unix time in seconds, got {v!r}")
    return float(v)


def _count(v, where):
    if not _is_int(v) or v < 0:
        raise InvalidEvent(f"{where} must be a non-negative integer, got {v!r}")
    return int(v)


def _count_or_none(v, where):
    return None if v is None else _count(v, where)


def _number(v, where):
    if not _is_number(v):
        raise InvalidEvent(f"{where} must be a finite number, got {v!r}")
    return float(v)


def _text(v, where):
    if not isinstance(v, str) or not v:
        raise InvalidEvent(f"{where} must be a non-empty string, got {v!r}")
    return v


def _one_of(choices):
    allowed = frozenset(choices)

    def check(v, where):
        if not isinstance(v, str) or v not in allowed:
            raise InvalidEvent(f"{where} must be one of {', '.join(choices)}; got {v!r}")
        return v
    return check


def _phases(v, where):
    if not isinstance(v, dict):
        raise InvalidEvent(f"{where} must be an object of phase → milliseconds, got {v!r}")
    out = {}
    for phase, ms in v.items():
        if phase not in PHASES:
            raise InvalidEvent(f"{where}: unknown phase {phase!r} (phases: {', '.join(PHASES)})")
        if not _is_number(ms) or ms < 0:
            raise InvalidEvent(f"{where}: phase {phase!r} must be a non-negative number of ms, got {ms!r}")
        out[phase] = float(ms)
    return out


def _latencies(v, where):
    if isinstance(v, (str, bytes, dict)) or not hasattr(v, "__len__"):
        raise InvalidEvent(f"{where} must be a list of seconds, got {type(v).__name__}")
    try:
        arr = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidEvent(f"{where} must be a list of numbers") from None
    if arr.ndim != 1 or (arr.size and not (np.isfinite(arr).all() and arr.min() >= 0)):
        raise InvalidEvent(f"{where} must be a flat list of finite, non-negative seconds")
    return arr


_CHECKERS = {
    "time": _time, "index": _count, "count": _count, "index_or_none": _count_or_none, "number": _number,
    "text": _text, "phases": _phases, "latencies": _latencies,
    "batch_stage": _one_of(BATCH_EVENT_STAGES), "tx_stage": _one_of(TX_STAGES), "gauge": _one_of(GAUGES),
    "counter": _one_of(COUNTERS), "worker_state": _one_of(WORKER_STATES),
}
# type → key → (checker, message prefix); type → required keys
_SPECS = {t: {k: (_CHECKERS[kind], f"{t} event: {k!r}") for k, (_, kind) in fields.items()} for t, fields in _FIELDS.items()}
_REQUIRED = {t: frozenset(k for k, (req, _) in fields.items() if req) for t, fields in _FIELDS.items()}


def validate_event(ev) -> dict:
    """Checks `ev` against the schema and returns a canonical copy (times as float, latencies as
    a float64 array). Raises InvalidEvent naming the first problem found."""
    if not isinstance(ev, dict):
        raise InvalidEvent(f"an event must be a dict, got {type(ev).__name__}")
    ev_type = ev.get("type")
    fields = _FIELDS.get(ev_type) if isinstance(ev_type, str) else None
    if fields is None:
        raise InvalidEvent(f"event 'type' must be one of {', '.join(EVENT_TYPES)}; got {ev_type!r}")
    out = {"type": ev_type}
    specs = _SPECS[ev_type]
    for key, value in ev.items():
        if key == "type":
            continue
        spec = specs.get(key)
        if spec is None:
            raise InvalidEvent(f"{ev_type} event: unknown key {key!r} (allowed: {', '.join(fields)})")
        out[key] = spec[0](value, spec[1])
    if not _REQUIRED[ev_type] <= out.keys():
        missing = sorted(_REQUIRED[ev_type] - out.keys(), key=list(fields).index)
        raise InvalidEvent(f"{ev_type} event: missing {', '.join(map(repr, missing))}")
    return out
