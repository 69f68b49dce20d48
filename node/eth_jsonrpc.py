"""JSON-RPC 2.0, the protocol: requests, batches and notifications, error objects, and JSON
decoding with bounds (node/rpc.py carries it over HTTP, node/ws.py over WebSocket, and
node/eth_api.py fills in the methods).

Bounds checked before the parser runs: a body nests at most `MAX_DEPTH` arrays and objects (the
JSON parser recurses, and py_ecc raises the interpreter's recursion limit far past what a
thread's stack holds), and NaN, Infinity and numbers that overflow to them are refused, so that
every reply is valid JSON.

Error codes: -32700 parse error, -32600 invalid request, -32601 method not found, -32602 invalid
params, -32603 internal error, -32000 a node error, -32001 resource not found, -32003 a rejected
transaction (EIP-1474, as anvil uses it).
"""

from __future__ import annotations

import json
import logging
from typing import Any, Callable, Optional

import numpy as np

__all__ = ["RpcError", "JsonRpc", "parse_json", "dump_json", "error_object",
           "PARSE_ERROR", "INVALID_REQUEST", "METHOD_NOT_FOUND", "INVALID_PARAMS",
           "INTERNAL_ERROR", "SERVER_ERROR", "RESOURCE_NOT_FOUND", "TRANSACTION_REJECTED",
           "MAX_DEPTH", "MAX_BATCH", "CLIENT_VERSION"]

log = logging.getLogger(__name__)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_ERROR = -32000          # a node error
RESOURCE_NOT_FOUND = -32001    # a block or filter that does not exist
TRANSACTION_REJECTED = -32003  # a refused transaction

MAX_DEPTH = 64                 # nested arrays/objects in one body
MAX_BATCH = 1000               # requests per JSON-RPC batch
CLIENT_VERSION = "zkpipe/0.1.0"


class RpcError(Exception):
    """An error a method answers with: its JSON-RPC code and message."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


# ---------------------------------------------------------------------------------------------
# JSON with bounds


_DEPTH_DELTA = np.zeros(256, dtype=np.int8)
_DEPTH_DELTA[[ord("["), ord("{")]] = 1
_DEPTH_DELTA[[ord("]"), ord("}")]] = -1


def _depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in `body`, brackets inside strings ignored; in
    linear time whatever the input (vectorised: a string's extent is where the count of
    unescaped quotes before a byte is odd)."""
    if body.count(b"[") + body.count(b"{") <= MAX_DEPTH:
        return 0   # cannot nest deeper than it has openings
    b = np.frombuffer(body, dtype=np.uint8)
    index = np.arange(b.size, dtype=np.int32)
    # For each byte, the last position at or before it that is not a backslash.
    last_plain = np.maximum.accumulate(np.where(b != 92, index, -1))
    quotes = np.flatnonzero(b == 34)
    before = quotes - 1
    run = np.where(before >= 0, before - last_plain[np.maximum(before, 0)], 0)
    toggles = np.zeros(b.size, dtype=np.int8)
    toggles[quotes[run % 2 == 0]] = 1
    outside = (np.cumsum(toggles, dtype=np.int32) & 1) == 0
    steps = _DEPTH_DELTA[b] * outside
    return int(np.cumsum(steps, dtype=np.int32).max())


def _no_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _finite(text: str) -> float:
    x = float(text)
    if x in (float("inf"), float("-inf")):
        raise ValueError(f"number {text[:40]} is out of range")
    return x


def parse_json(body: bytes) -> Any:
    """Decode a request body; RpcError(-32700) if it is not JSON, nests deeper than MAX_DEPTH or
    holds NaN/Infinity."""
    if _depth(body) > MAX_DEPTH:
        raise RpcError(PARSE_ERROR, f"Parse error: nested deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(body, parse_constant=_no_constant, parse_float=_finite)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise RpcError(PARSE_ERROR, f"Parse error: {e}") from None


def dump_json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()


def error_object(rid: Any, code: int, message: str) -> dict:
    return {"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}}


# ---------------------------------------------------------------------------------------------
# The protocol


class JsonRpc:
    """Requests, batches and notifications over a table of methods (name → callable taking the
    params list). Subclasses fill `methods` and may map their own exceptions in `error_for`."""

    methods: dict[str, Callable[[list], Any]]
    parse = staticmethod(parse_json)

    def handle(self, body: bytes) -> Optional[bytes]:
        """One body in, one out (None when every request was a notification)."""
        try:
            request = parse_json(body)
        except RpcError as e:
            return dump_json(error_object(None, e.code, e.message))
        if isinstance(request, list):
            if not request:
                return dump_json(error_object(None, INVALID_REQUEST, "Invalid Request: empty batch"))
            if len(request) > MAX_BATCH:
                return dump_json(error_object(None, INVALID_REQUEST, f"Invalid Request: batch of "
                                              f"{len(request)} requests, at most {MAX_BATCH}"))
            responses = [r for r in self.call_batch(request) if r is not None]
            return dump_json(responses) if responses else None
        response = self.call(request)
        return None if response is None else dump_json(response)

    def call_batch(self, requests: list) -> list[Optional[dict]]:
        return [self.call(r) for r in requests]

    @staticmethod
    def check(request: Any) -> tuple[Any, Optional[dict]]:
        """The id of a request and, if it is malformed, the error response for it."""
        if not isinstance(request, dict):
            return None, error_object(None, INVALID_REQUEST, "Invalid Request: not an object")
        rid = request.get("id")
        if not (rid is None or isinstance(rid, (str, int, float))) or isinstance(rid, bool):
            return None, error_object(None, INVALID_REQUEST,
                                      "Invalid Request: id must be a string, number or null")
        if request.get("jsonrpc") != "2.0":
            return rid, error_object(rid, INVALID_REQUEST, 'Invalid Request: jsonrpc must be "2.0"')
        if not isinstance(request.get("method"), str):
            return rid, error_object(rid, INVALID_REQUEST, "Invalid Request: method must be a string")
        params = request.get("params", [])
        if not isinstance(params, list):
            return rid, error_object(rid, INVALID_PARAMS if isinstance(params, dict) else INVALID_REQUEST,
                                     "params must be an array (by-name params are not supported)")
        return rid, None

    def call(self, request: Any) -> Optional[dict]:
        """One decoded request object → its response object (None for a notification)."""
        rid, bad = self.check(request)
        if bad is not None:
            return bad
        name = request["method"]
        method = self.methods.get(name)
        try:
            if method is None:
                raise RpcError(METHOD_NOT_FOUND, f"the method {name} does not exist/is not available")
            response = {"jsonrpc": "2.0", "id": rid, "result": method(request.get("params", []))}
        except Exception as e:
            response = self.error_response(rid, name, e)
        return None if "id" not in request else response

    def error_response(self, rid: Any, name: str, e: Exception) -> dict:
        mapped = e if isinstance(e, RpcError) else self.error_for(e)
        if mapped is None:
            log.exception("JSON-RPC method %s", name, exc_info=e)
            return error_object(rid, INTERNAL_ERROR, "Internal error")
        return error_object(rid, mapped.code, mapped.message)

    def error_for(self, e: Exception) -> Optional[RpcError]:
        """The JSON-RPC error for an exception a method raised; None for a bug (-32603)."""
        return None
