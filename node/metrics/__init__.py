"""Metrics of the pipeline: every batch's and transaction's time at each stage, as Prometheus
metrics and as the bounded history the dashboard draws (docs/dashboard.md)."""

from .exposition import metric_names
from .schema import (
    BATCH_STAGES, COUNTERS, EVENT_TYPES, GAUGES, PHASES, TX_STAGES, WORKER_STATES, InvalidEvent, validate_event,
)
from .sink import Metrics

__all__ = [
    "Metrics", "InvalidEvent", "validate_event", "metric_names",
    "BATCH_STAGES", "TX_STAGES", "PHASES", "GAUGES", "COUNTERS", "EVENT_TYPES", "WORKER_STATES",
]
