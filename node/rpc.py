"""JSON-RPC over HTTP and WebSocket on 127.0.0.1: the transport of the node's Ethereum face
(the protocol is node/eth_jsonrpc.py, the methods node/eth_api.py, the WebSocket side node/ws.py).

Limits that keep any input from crashing or stalling the server:

- a body is at most `max_body` bytes (HTTP 413 with a -32600 error beyond it); nesting, NaN and
  Infinity are bounded by the protocol's decoder;
- malformed HTTP framing (Content-Length missing, repeated, negative or not a number, chunked
  bodies) gets a 400 with a JSON-RPC error and the connection is closed; so does a malformed
  request line;
- at most `max_connections` connections are served at once (a 503 beyond that), each idle for at
  most `idle_timeout` seconds, and the listen backlog is deep enough that bursts of concurrent
  clients are queued, not reset.

Every response carries CORS headers (`Access-Control-Allow-Origin: *`, no credentials) and
`OPTIONS` answers the preflight, so that a web page from any origin can call the node.
`GET` with `Upgrade: websocket` switches to the WebSocket endpoint on the same port.
"""

from __future__ import annotations

import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

from .eth_jsonrpc import CLIENT_VERSION, INVALID_REQUEST, SERVER_ERROR, dump_json, error_object
from .ws import serve_websocket

__all__ = ["RpcServer", "MAX_BODY"]

log = logging.getLogger(__name__)

MAX_BODY = 4 << 20             # bytes per request: a bulk submission of ~16,000 transfers


# ---------------------------------------------------------------------------------------------
# HTTP


_CORS = {"Access-Control-Allow-Origin": "*", "Vary": "Origin"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive: clients such as web3.py reuse the connection
    server_version = CLIENT_VERSION
    api: Any                        # set on the subclass made per server
    max_body: int
    timeout: float                  # seconds a connection may sit idle

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; with Nagle's algorithm the second waits for
        # the client's delayed ACK (~40 ms a request on keep-alive connections).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:
        if self.headers.get("Transfer-Encoding", "").strip():
            self._refuse(400, "Transfer-Encoding is not supported: send a Content-Length")
            return
        lengths = self.headers.get_all("Content-Length") or []
        if len(lengths) > 1:
            self._refuse(400, "more than one Content-Length")
            return
        text = lengths[0] if lengths else None
        if text is None:
            self._refuse(400, "Content-Length required")
            return
        if not text.strip().isdigit():
            self._refuse(400, f"invalid Content-Length {text[:40]!r}")
            return
        length = int(text)
        if length > self.max_body:
            self._refuse(413, f"request of {length} bytes, at most {self.max_body}")
            return
        body = self.rfile.read(length)
        if len(body) < length:
            self.close_connection = True
            return
        response = self.api.handle(body)
        if response is None:
            self._reply(204, b"")
        else:
            self._reply(200, response)

    def do_GET(self) -> None:
        if self.headers.get("Upgrade", "").lower() == "websocket":
            self.close_connection = True
            serve_websocket(self, self.api, self.max_body)
            return
        self._reply(405, dump_json(error_object(None, INVALID_REQUEST, "JSON-RPC takes POST")),
                    {"Allow": "POST, OPTIONS"})

    def do_OPTIONS(self) -> None:
        """The CORS preflight: any origin may POST JSON."""
        asked = self.headers.get("Access-Control-Request-Headers", "content-type")
        self._reply(204, b"", {"Access-Control-Allow-Methods": "POST, GET, OPTIONS",
                               "Access-Control-Allow-Headers": asked[:1000],
                               "Access-Control-Max-Age": "600"})

    def _refuse(self, status: int, message: str) -> None:
        """A framing error: the rest of the stream cannot be trusted, so close after replying."""
        self.close_connection = True
        self._reply(status, dump_json(error_object(None, INVALID_REQUEST, message)))

    def send_error(self, code: int, message: Optional[str] = None, explain: Optional[str] = None) -> None:
        """The standard library's own errors (bad request line, unknown method, oversized
        headers), as JSON-RPC errors rather than HTML pages."""
        self.close_connection = True
        self.request_version = "HTTP/1.1"   # garbage parses as HTTP/0.9, which has no headers
        try:
            self._reply(code, dump_json(error_object(None, INVALID_REQUEST,
                                                     f"HTTP {code}: {message or 'bad request'}")))
        except OSError:
            pass

    def _reply(self, status: int, body: bytes, headers: Optional[dict] = None) -> None:
        self.send_response(status)
        for k, v in _CORS.items():
            self.send_header(k, v)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if body:
            self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        log.debug("%s " + format, self.address_string(), *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024       # the listen backlog: a burst of clients waits, not reset

    def __init__(self, address, handler, max_connections: int):
        self.slots = threading.BoundedSemaphore(max_connections)
        super().__init__(address, handler)

    def process_request(self, request, client_address) -> None:
        if not self.slots.acquire(blocking=False):
            try:
                body = dump_json(error_object(None, SERVER_ERROR, "too many connections"))
                request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                                b"Connection: close\r\nAccess-Control-Allow-Origin: *\r\n"
                                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request, client_address) -> None:
        # A client that vanished mid-request is no server error.
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class RpcServer:
    """Serves a JsonRpc over HTTP (and WebSocket) on `host` (loopback by default) on a
    background thread."""

    def __init__(self, api: Any, host: str = "127.0.0.1", port: int = 0, *, max_body: int = MAX_BODY,
                 max_connections: int = 256, idle_timeout: float = 60.0):
        handler = type("Handler", (_Handler,), {"api": api, "max_body": max_body,
                                                "timeout": idle_timeout})
        self.httpd = _Server((host, port), handler, max_connections)
        self._thread: Optional[threading.Thread] = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def ws_url(self) -> str:
        return "ws" + self.url[4:]

    def start(self) -> "RpcServer":
        # A short poll so that stop() returns promptly.
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), name="json-rpc",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join()
            self._thread = None
        self.httpd.server_close()
