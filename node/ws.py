"""The WebSocket endpoint (RFC 6455) on the JSON-RPC port: requests as text messages, and
`eth_subscribe` for clients that watch the chain.

Subscriptions: `newHeads` (a block header for every executed block, in order) and `logs` (valid
and accepted, but never notified: the ledger has no contracts, so no logs). `eth_unsubscribe`
ends one; closing the connection ends all of its own. Every other method is the HTTP one.

Bounds: messages (fragments included) of at most the server's body limit, masked client frames
only; a connection with no subscription that stays silent past the server's idle timeout is
closed (one with subscriptions is kept while it can be written to); a malformed frame closes the
connection with the RFC's status code (1002 protocol error, 1009 too big).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import socket
import struct
import threading
from typing import Any, Optional

from .eth_jsonrpc import INVALID_PARAMS, RpcError, dump_json, error_object

__all__ = ["serve_websocket", "encode_frame", "Subscriptions"]

log = logging.getLogger(__name__)

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CLOSE, PING, PONG, CONTINUATION = 1, 2, 8, 9, 10, 0
HEAD_POLL_S = 0.05        # how often a connection with newHeads subscriptions looks for blocks
MAX_SUBSCRIPTIONS = 64    # per connection


class _Closed(Exception):
    def __init__(self, code: int, reason: str = ""):
        super().__init__(reason)
        self.code = code


def encode_frame(opcode: int, payload: bytes, mask: Optional[bytes] = None) -> bytes:
    """One unfragmented frame (servers send unmasked; `mask` is for clients and tests)."""
    n = len(payload)
    head = bytes([0x80 | opcode])
    bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 1 << 16:
        head += bytes([bit | 126]) + struct.pack(">H", n)
    else:
        head += bytes([bit | 127]) + struct.pack(">Q", n)
    if mask:
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        head += mask
    return head + payload


class Subscriptions:
    """One connection's subscriptions and the thread that sends their notifications."""

    def __init__(self, api: Any, send, hangup):
        self.api, self.send, self.hangup = api, send, hangup
        self.heads: set[str] = set()
        self.logs: set[str] = set()
        self._seen: Optional[int] = None
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def subscribe(self, params: list) -> str:
        if not params or params[0] not in ("newHeads", "logs"):
            raise RpcError(INVALID_PARAMS, f"no such subscription {params[0] if params else None!r}; "
                                           f"supported: newHeads, logs")
        if len(self.heads) + len(self.logs) >= MAX_SUBSCRIPTIONS:
            raise RpcError(INVALID_PARAMS, f"at most {MAX_SUBSCRIPTIONS} subscriptions per connection")
        sid = "0x" + os.urandom(16).hex()
        if params[0] == "logs":
            self.api.log_filter_params(params[1] if len(params) > 1 else {})   # validated, never fires
            self.logs.add(sid)
            return sid
        if self._seen is None:
            self._seen = self.api.head_number()
        self.heads.add(sid)
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="ws-newHeads", daemon=True)
            self._thread.start()
        return sid

    @property
    def active(self) -> bool:
        return bool(self.heads or self.logs)

    def unsubscribe(self, params: list) -> bool:
        sid = params[0] if params else None
        found = sid in self.heads or sid in self.logs
        self.heads.discard(sid)
        self.logs.discard(sid)
        return found

    def _watch(self) -> None:
        try:
            while not self._stop.wait(HEAD_POLL_S):
                height = self.api.head_number()
                while self._seen < height and self.heads:
                    self._seen += 1
                    header = self.api.block_header(self._seen)
                    for sid in list(self.heads):
                        self.send(dump_json({"jsonrpc": "2.0", "method": "eth_subscription",
                                             "params": {"subscription": sid, "result": header}}))
        except OSError:
            self.hangup()   # the peer is gone: end the reader waiting on it too
        except Exception:
            log.exception("newHeads notifications")

    def close(self) -> None:
        self._stop.set()


def serve_websocket(handler, api: Any, max_message: int) -> None:
    """Complete the upgrade on an HTTP request `handler` and serve the connection until it closes."""
    key = handler.headers.get("Sec-WebSocket-Key", "")
    if handler.headers.get("Sec-WebSocket-Version") != "13" or len(base64.b64decode(key + "==")[:16]) != 16:
        handler.send_error(400, "bad WebSocket handshake (version 13 and a 16-byte key required)")
        return
    accept = base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()
    handler.send_response(101)
    handler.send_header("Upgrade", "websocket")
    handler.send_header("Connection", "Upgrade")
    handler.send_header("Sec-WebSocket-Accept", accept)
    handler.end_headers()
    handler.wfile.flush()

    sock: socket.socket = handler.connection
    write_lock = threading.Lock()

    def send(payload: bytes, opcode: int = TEXT) -> None:
        with write_lock:
            sock.sendall(encode_frame(opcode, payload))

    def hangup() -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    subs = Subscriptions(api, send, hangup)
    idle = sock.gettimeout()
    try:
        while True:
            # A subscriber may rightly send nothing for long; anyone else is held to the timeout.
            sock.settimeout(None if subs.active else idle)
            message = _read_message(handler.rfile, send, max_message)
            if message is None:
                return
            reply = _answer(api, subs, message)
            if reply is not None:
                send(reply)
    except _Closed as e:
        try:
            send(struct.pack(">H", e.code) + str(e).encode()[:120], CLOSE)
        except OSError:
            pass
    except (OSError, ValueError):
        pass   # the peer went away or the socket timed out
    finally:
        subs.close()


def _answer(api: Any, subs: Subscriptions, message: bytes) -> Optional[bytes]:
    """The HTTP handling, with the subscription methods of this connection added."""
    special = {"eth_subscribe": subs.subscribe, "eth_unsubscribe": subs.unsubscribe}
    try:
        request = api.parse(message)
    except RpcError as e:
        return dump_json(error_object(None, e.code, e.message))
    if isinstance(request, dict) and request.get("method") in special:
        rid, bad = api.check(request)
        if bad is not None:
            return dump_json(bad)
        try:
            result = special[request["method"]](request.get("params", []))
        except Exception as e:
            return dump_json(api.error_response(rid, request["method"], e))
        return dump_json({"jsonrpc": "2.0", "id": rid, "result": result})
    return api.handle(message)


def _read_exact(rfile, n: int) -> bytes:
    data = rfile.read(n)
    if len(data) < n:
        raise OSError("connection closed mid-frame")
    return data


def _read_message(rfile, send, max_message: int) -> Optional[bytes]:
    """The next text or binary message (fragments joined); control frames answered on the way.
    None when the peer closes."""
    parts: list[bytes] = []
    size = 0
    while True:
        first = rfile.read(2)
        if len(first) < 2:
            return None
        fin, opcode = first[0] & 0x80, first[0] & 0x0F
        if first[0] & 0x70:
            raise _Closed(1002, "reserved bits set")
        if not first[1] & 0x80:
            raise _Closed(1002, "client frames must be masked")
        n = first[1] & 0x7F
        if n == 126:
            n = struct.unpack(">H", _read_exact(rfile, 2))[0]
        elif n == 127:
            n = struct.unpack(">Q", _read_exact(rfile, 8))[0]
        if opcode >= 8 and (n > 125 or not fin):
            raise _Closed(1002, "bad control frame")
        if size + n > max_message:
            raise _Closed(1009, f"message over {max_message} bytes")
        mask = _read_exact(rfile, 4)
        payload = _unmask(_read_exact(rfile, n), mask)
        if opcode == CLOSE:
            send(payload[:2] or struct.pack(">H", 1000), CLOSE)
            return None
        if opcode == PING:
            send(payload, PONG)
            continue
        if opcode == PONG:
            continue
        if opcode not in (TEXT, BINARY, CONTINUATION) or (opcode == CONTINUATION) != bool(parts):
            raise _Closed(1002, f"unexpected opcode {opcode}")
        parts.append(payload)
        size += n
        if fin:
            return b"".join(parts)


def _unmask(data: bytes, mask: bytes) -> bytes:
    if not data:
        return data
    key = int.from_bytes((mask * (len(data) // 4 + 1))[:len(data)], "little")
    return (int.from_bytes(data, "little") ^ key).to_bytes(len(data), "little")
