"""The web dashboard and Prometheus endpoint of a zkpipe node (docs/dashboard.md)."""

from .server import start_dashboard

__all__ = ["start_dashboard"]
