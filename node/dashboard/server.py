"""The dashboard's HTTP server: the web page, a JSON API over `Metrics`, Server-Sent Events for
live updates, and the Prometheus endpoint.

The standard library's threading HTTP server is enough: one thread per connection, every
handler a short read of `Metrics` under its lock, and the live channel a loop that sends only
when the metrics have changed.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CONTENT_TYPE_LATEST

STATIC_DIR = Path(__file__).resolve().parent / "static"
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
MAX_BATCHES_PER_PAGE = 500
STREAM_BATCHES = 25
STREAM_INTERVAL_S = 0.5  # at most two updates a second per open page
HEARTBEAT_S = 15.0

log = logging.getLogger("zkpipe.dashboard")


class BadRequest(Exception):
    pass


def _int_param(query: dict, name: str, default, low: int, high: int | None = None):
    if name not in query:
        return default
    raw = query[name][-1]
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, got {raw!r}") from None
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise BadRequest(f"{name} must be {bound}, got {value}")
    return value


def _float_param(query: dict, name: str):
    if name not in query:
        return None
    raw = query[name][-1]
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a number (unix seconds), got {raw!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise BadRequest(f"{name} must be finite, got {raw!r}")
    return value


class DashboardServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, metrics):
        self.metrics = metrics
        self.stopping = threading.Event()
        self.static = {p.name: p for p in STATIC_DIR.iterdir() if p.suffix in CONTENT_TYPES}
        super().__init__(address, Handler)


class Handler(BaseHTTPRequestHandler):
    server: DashboardServer
    server_version = "zkpipe-dashboard"

    def log_message(self, fmt, *args):  # the node's own log, not stderr per request
        log.debug("%s %s", self.address_string(), fmt % args)

    def do_GET(self):
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        try:
            route = ROUTES.get(url.path)
            if route is not None:
                route(self, query)
            elif url.path == "/":
                self._static("index.html")
            elif url.path.startswith("/static/") and url.path[len("/static/"):] in self.server.static:
                self._static(url.path[len("/static/"):])
            else:
                self._json({"error": f"no such path: {url.path}"}, HTTPStatus.NOT_FOUND)
        except BadRequest as e:
            self._json({"error": str(e)}, HTTPStatus.BAD_REQUEST)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the browser went away; nothing to answer

    # ---------------------------------------------------------------- responses

    def _send(self, body: bytes, content_type: str, status=HTTPStatus.OK):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, obj, status=HTTPStatus.OK):
        self._send(json.dumps(obj, separators=(",", ":")).encode(), "application/json", status)

    def _static(self, name: str):
        path = self.server.static[name]
        self._send(path.read_bytes(), CONTENT_TYPES[path.suffix])

    # ---------------------------------------------------------------- routes

    def metrics_text(self, query):
        self._send(self.server.metrics.exposition(), CONTENT_TYPE_LATEST)

    def summary(self, query):
        self._json(self.server.metrics.summary())

    def series(self, query):
        since = _float_param(query, "since")
        limit = _int_param(query, "limit", None, 1)
        self._json(self.server.metrics.series_json(since, limit))

    def batches(self, query):
        limit = _int_param(query, "limit", 50, 1, MAX_BATCHES_PER_PAGE)
        before = _int_param(query, "before", None, 0)
        self._json(self.server.metrics.batches_json(limit, before))

    def stream(self, query):
        """Server-Sent Events: an `update` (summary, new series rows, latest batches) whenever
        the metrics change, at most every STREAM_INTERVAL_S; a comment line as a heartbeat."""
        since = _float_param(query, "since")
        limit = _int_param(query, "limit", STREAM_BATCHES, 1, MAX_BATCHES_PER_PAGE)
        metrics, stopping = self.server.metrics, self.server.stopping
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        sent_version, last_write = None, time.monotonic()
        while not stopping.is_set():
            if metrics.version != sent_version:
                sent_version = metrics.version
                series = metrics.series_json(since)
                payload = {"summary": metrics.summary(), "series": series,
                           "batches": metrics.batches_json(limit)["batches"]}
                since = series["closed_until"]
                self.wfile.write(b"event: update\ndata: " + json.dumps(payload, separators=(",", ":")).encode()
                                 + b"\n\n")
                self.wfile.flush()
                last_write = time.monotonic()
            elif time.monotonic() - last_write > HEARTBEAT_S:
                self.wfile.write(b": heartbeat\n\n")
                self.wfile.flush()
                last_write = time.monotonic()
            stopping.wait(STREAM_INTERVAL_S)


ROUTES = {
    "/metrics": Handler.metrics_text,
    "/api/summary": Handler.summary,
    "/api/series": Handler.series,
    "/api/batches": Handler.batches,
    "/api/stream": Handler.stream,
}


def start_dashboard(metrics, port: int = 0, host: str = "127.0.0.1"):
    """Serves `metrics` on http://host:port/ from a background thread (port 0: any free port).

    Returns (url, stop): the page's address, and a function that closes the live channels,
    shuts the server down and waits for its thread.
    """
    server = DashboardServer((host, port), metrics)
    thread = threading.Thread(target=server.serve_forever, name="zkpipe-dashboard", daemon=True)
    thread.start()
    bound_host, bound_port = server.server_address[:2]
    url = f"http://{bound_host}:{bound_port}/"

    def stop():
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return url, stop
