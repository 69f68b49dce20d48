"""JSON-RPC 2.0 over HTTP on 127.0.0.1: the node's Ethereum-compatible face.

Methods: eth_sendRawTransaction, eth_getTransactionReceipt, eth_getBalance,
eth_getTransactionCount, eth_chainId, eth_blockNumber, net_version, web3_clientVersion, and the
bulk path zkpipe_sendRawTransactions. Batches (JSON arrays) and notifications per the spec.

Errors: -32700 parse error, -32600 invalid request, -32601 method not found, -32602 invalid
params, -32603 internal error, -32000 a refused transaction (geth's messages) or a node error.

The server is the standard library's ThreadingHTTPServer with HTTP/1.1 keep-alive: one thread
per connection, which suits a sender that blocks until its transaction is logged; load generators
use the bulk method, which amortises the HTTP round trip over thousands of transactions.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from .errors import InvalidTransaction, NodeError
from .executor import Executor, ProofBatch
from .genesis import Genesis, dev_genesis, load_genesis
from .sequencer import Sequencer

__all__ = ["NodeApi", "RpcError", "RpcServer", "LocalNode", "node_main",
           "PARSE_ERROR", "INVALID_REQUEST", "METHOD_NOT_FOUND", "INVALID_PARAMS",
           "INTERNAL_ERROR", "SERVER_ERROR"]

log = logging.getLogger(__name__)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_ERROR = -32000      # transaction refused, node failure

MAX_BODY = 64 << 20        # bytes per HTTP request: a bulk submission of ~250,000 transfers
MAX_BATCH = 10_000         # requests per JSON-RPC batch
MAX_BULK = 250_000         # transactions per zkpipe_sendRawTransactions call
CLIENT_VERSION = "zkpipe/0.1.0"
_EMPTY_BLOOM = "0x" + "00" * 256


class RpcError(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _invalid(i: int, why: str) -> RpcError:
    return RpcError(INVALID_PARAMS, f"invalid argument {i}: {why}")


def _hex_bytes(value: Any, i: int) -> bytes:
    if not isinstance(value, str):
        raise _invalid(i, f"want a 0x-prefixed hex string, got {type(value).__name__}")
    if value[:2] not in ("0x", "0X"):
        raise _invalid(i, "hex string without 0x prefix")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise _invalid(i, "invalid hex string") from None


def _address(value: Any, i: int) -> bytes:
    b = _hex_bytes(value, i)
    if len(b) != 20:
        raise _invalid(i, f"hex string has length {2 * len(b)}, want 40 for an address")
    return b


def _quantity(x: int) -> str:
    return hex(x)


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


class NodeApi:
    """The JSON-RPC methods over a sequencer (pending state, admission) and an executor
    (executed state, receipts). `handle` takes a request body and returns the response body."""

    def __init__(self, sequencer: Sequencer, executor: Executor):
        self.sequencer = sequencer
        self.executor = executor
        self.methods: dict[str, Callable[[list], Any]] = {
            "eth_chainId": self.eth_chainId,
            "eth_blockNumber": self.eth_blockNumber,
            "eth_getBalance": self.eth_getBalance,
            "eth_getTransactionCount": self.eth_getTransactionCount,
            "eth_sendRawTransaction": self.eth_sendRawTransaction,
            "eth_getTransactionReceipt": self.eth_getTransactionReceipt,
            "net_version": self.net_version,
            "web3_clientVersion": self.web3_clientVersion,
            "zkpipe_sendRawTransactions": self.zkpipe_sendRawTransactions,
        }

    # -- protocol ----------------------------------------------------------------------------

    def handle(self, body: bytes) -> Optional[bytes]:
        """One HTTP body in, one out (None when every request was a notification)."""
        try:
            request = json.loads(body)
        except (ValueError, UnicodeDecodeError) as e:
            return _dump(_error(None, PARSE_ERROR, f"Parse error: {e}"))
        if isinstance(request, list):
            if not request:
                return _dump(_error(None, INVALID_REQUEST, "Invalid Request: empty batch"))
            if len(request) > MAX_BATCH:
                return _dump(_error(None, INVALID_REQUEST,
                                    f"Invalid Request: batch of {len(request)} requests, at most {MAX_BATCH}"))
            responses = [r for r in map(self.call, request) if r is not None]
            return _dump(responses) if responses else None
        response = self.call(request)
        return None if response is None else _dump(response)

    def call(self, request: Any) -> Optional[dict]:
        """One decoded request object → its response object (None for a notification)."""
        if not isinstance(request, dict):
            return _error(None, INVALID_REQUEST, "Invalid Request: not an object")
        rid = request.get("id")
        if not (rid is None or isinstance(rid, (str, int, float))) or isinstance(rid, bool):
            return _error(None, INVALID_REQUEST, "Invalid Request: id must be a string, number or null")
        if request.get("jsonrpc") != "2.0":
            return _error(rid, INVALID_REQUEST, 'Invalid Request: jsonrpc must be "2.0"')
        name = request.get("method")
        if not isinstance(name, str):
            return _error(rid, INVALID_REQUEST, "Invalid Request: method must be a string")
        params = request.get("params", [])
        if not isinstance(params, list):
            return _error(rid, INVALID_PARAMS if isinstance(params, dict) else INVALID_REQUEST,
                          "params must be an array (by-name params are not supported)")
        notification = "id" not in request
        method = self.methods.get(name)
        try:
            if method is None:
                raise RpcError(METHOD_NOT_FOUND, f"the method {name} does not exist/is not available")
            result = method(params)
        except RpcError as e:
            response = _error(rid, e.code, e.message)
        except InvalidTransaction as e:
            response = _error(rid, SERVER_ERROR, str(e))
        except NodeError as e:
            response = _error(rid, SERVER_ERROR, str(e))
        except Exception:
            log.exception("JSON-RPC method %s", name)
            response = _error(rid, INTERNAL_ERROR, "Internal error")
        else:
            response = {"jsonrpc": "2.0", "id": rid, "result": result}
        return None if notification else response

    # -- methods -----------------------------------------------------------------------------

    @staticmethod
    def _arity(params: list, least: int, most: int) -> None:
        if not least <= len(params) <= most:
            want = str(least) if least == most else f"{least} to {most}"
            raise RpcError(INVALID_PARAMS, f"missing value for required argument {len(params)}"
                           if len(params) < least else f"too many arguments, want {want}")

    def eth_chainId(self, params: list) -> str:
        self._arity(params, 0, 0)
        return _quantity(self.sequencer.chain_id)

    def net_version(self, params: list) -> str:
        self._arity(params, 0, 0)
        return str(self.sequencer.chain_id)

    def web3_clientVersion(self, params: list) -> str:
        self._arity(params, 0, 0)
        return CLIENT_VERSION

    def eth_blockNumber(self, params: list) -> str:
        self._arity(params, 0, 0)
        return _quantity(self.executor.height)

    def _state_at(self, params: list) -> str:
        """Which state a block parameter names: "latest" (executed), "pending" (admitted) or
        "earliest" (genesis). No older state is kept."""
        tag = params[1] if len(params) > 1 else "latest"
        if tag in ("latest", "pending", "earliest"):
            return tag
        if isinstance(tag, str) and tag[:2] == "0x":
            try:
                number = int(tag, 16)
            except ValueError:
                raise _invalid(1, f"invalid block number {tag}") from None
            if number == self.executor.height:
                return "latest"
            if number == 0:
                return "earliest"
            raise RpcError(SERVER_ERROR, f"historical state is not available (block {number}); "
                                         f"use latest, pending or earliest")
        raise _invalid(1, f"unsupported block parameter {tag!r}; use latest, pending, earliest "
                          f"or the current number")

    def eth_getBalance(self, params: list) -> str:
        self._arity(params, 1, 2)
        address = _address(params[0], 0)
        at = self._state_at(params)
        if at == "pending":
            return _quantity(self.sequencer.state.balance(address))
        if at == "earliest":
            return _quantity(self.executor.genesis_balances.get(address, 0))
        return _quantity(self.executor.balance(address))

    def eth_getTransactionCount(self, params: list) -> str:
        self._arity(params, 1, 2)
        address = _address(params[0], 0)
        at = self._state_at(params)
        if at == "pending":
            return _quantity(self.sequencer.state.nonce(address))
        if at == "earliest":
            return "0x0"
        return _quantity(self.executor.nonce(address))

    def eth_sendRawTransaction(self, params: list) -> str:
        self._arity(params, 1, 1)
        transfer = self.sequencer.submit(_hex_bytes(params[0], 0))
        return _hex(transfer.hash)

    def zkpipe_sendRawTransactions(self, params: list) -> list:
        """Bulk admission: [[raw, ...]] → [{"hash": ...} | {"error": {code, message}}, ...],
        returned once every accepted transaction is logged."""
        self._arity(params, 1, 1)
        raws = params[0]
        if not isinstance(raws, list):
            raise _invalid(0, "want an array of 0x-prefixed hex strings")
        if len(raws) > MAX_BULK:
            raise _invalid(0, f"{len(raws)} transactions, at most {MAX_BULK} per call")
        decoded: list = []
        for i, item in enumerate(raws):
            try:
                decoded.append(_hex_bytes(item, 0))
            except RpcError as e:
                decoded.append(RpcError(e.code, f"transaction {i}: {e.message}"))
        good = [b for b in decoded if isinstance(b, bytes)]
        outcomes = iter(self.sequencer.submit_many(good))
        out = []
        for item in decoded:
            if isinstance(item, RpcError):
                out.append({"error": {"code": item.code, "message": item.message}})
                continue
            result = next(outcomes)
            if isinstance(result, InvalidTransaction):
                out.append({"error": {"code": SERVER_ERROR, "message": str(result)}})
            else:
                out.append({"hash": _hex(result.hash)})
        return out

    def eth_getTransactionReceipt(self, params: list) -> Optional[dict]:
        self._arity(params, 1, 1)
        tx_hash = _hex_bytes(params[0], 0)
        if len(tx_hash) != 32:
            raise _invalid(0, f"hex string has length {2 * len(tx_hash)}, want 64 for a hash")
        r = self.executor.receipt(tx_hash)
        if r is None:
            return None
        t = r.transfer
        typed = t.raw[0] < 0x80
        return {
            "transactionHash": _hex(t.hash),
            "transactionIndex": _quantity(r.position),
            "blockHash": _hex(r.block_hash),
            "blockNumber": _quantity(r.block_number),
            "from": _hex(t.sender),
            "to": _hex(t.to),
            # The ledger charges no fees; the gas figures are those of a plain transfer.
            "gasUsed": _quantity(21000),
            "cumulativeGasUsed": _quantity(21000 * (r.position + 1)),
            "effectiveGasPrice": "0x0",
            "contractAddress": None,
            "logs": [],
            "logsBloom": _EMPTY_BLOOM,
            "status": "0x1",
            "type": _quantity(t.raw[0] if typed else 0),
            "batchIndex": _quantity(r.batch_index),
            "finality": r.status,
        }

    # -- status callbacks from the pipeline --------------------------------------------------

    def mark_proven(self, batch: int) -> None:
        self.executor.mark_proven(batch)

    def mark_verified(self, batch: int) -> None:
        self.executor.mark_verified(batch)


def _error(rid: Any, code: int, message: str) -> dict:
    return {"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}}


def _dump(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


# ---------------------------------------------------------------------------------------------
# HTTP


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive: clients such as web3.py reuse the connection
    server_version = CLIENT_VERSION
    api: NodeApi  # set on the subclass made per server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; with Nagle's algorithm the second waits for
        # the client's delayed ACK (~40 ms a request on keep-alive connections).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._reply(411, _dump(_error(None, INVALID_REQUEST, "Content-Length required")))
            return
        if length > MAX_BODY:
            self.close_connection = True
            self._reply(413, _dump(_error(None, INVALID_REQUEST,
                                          f"request of {length} bytes, at most {MAX_BODY}")))
            return
        body = self.rfile.read(length)
        response = self.api.handle(body)
        if response is None:
            self._reply(204, b"")
        else:
            self._reply(200, response)

    def do_GET(self) -> None:
        self._reply(405, _dump(_error(None, INVALID_REQUEST, "JSON-RPC takes POST")))

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        if body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        log.debug("%s " + format, self.address_string(), *args)


class RpcServer:
    """Serves a NodeApi over HTTP on `host` (loopback by default) on a background thread."""

    def __init__(self, api: NodeApi, host: str = "127.0.0.1", port: int = 0):
        handler = type("Handler", (_Handler,), {"api": api})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self._thread: Optional[threading.Thread] = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

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


# ---------------------------------------------------------------------------------------------
# One process: sequencer, executor and server


class LocalNode:
    """A sequencer, an executor and the JSON-RPC server in one process, restarted from the
    write-ahead log at `wal_path` if it exists. Sealed proof batches go to `on_batch` (the
    prover side), or stay in `executor.take_sealed()` when it is None."""

    def __init__(self, genesis: Genesis, wal_path, *, log2_rows: int = 16, max_mini_batch: int = 4096,
                 cut_interval: float = 0.010, batch_deadline: float = 0.5,
                 max_batch_transfers: Optional[int] = None, host: str = "127.0.0.1", port: int = 0,
                 recover_pool=None, on_batch: Optional[Callable[[ProofBatch], object]] = None):
        self.on_batch = on_batch
        self.sequencer = Sequencer(genesis, wal_path, capacity=1 << log2_rows,
                                   max_mini_batch=max_mini_batch, cut_interval=cut_interval,
                                   recover_pool=recover_pool)
        try:
            self.executor = Executor(genesis, log2_rows=log2_rows, batch_deadline=batch_deadline,
                                     max_batch_transfers=max_batch_transfers, on_seal=self._sealed)
            self.executor.replay(self.sequencer.take_replayed())
            self._hand_on()
            self.api = NodeApi(self.sequencer, self.executor)
            self.server = RpcServer(self.api, host, port)
        except BaseException:
            self.sequencer.wal.close()
            raise

    def _sealed(self, batch: ProofBatch) -> None:
        # Logged before anyone may start proving it, so a restart seals the same batch.
        self.sequencer.record_seal(batch.index, batch.last_block)
        self._hand_on()

    def _hand_on(self) -> None:
        if self.on_batch is not None:
            for batch in self.executor.take_sealed():
                self.on_batch(batch)

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> "LocalNode":
        self.sequencer.start(on_cut=self.executor.apply, on_tick=self.executor.poll)
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()
        self.sequencer.stop()

    def mark_proven(self, batch: int) -> None:
        self.executor.mark_proven(batch)

    def mark_verified(self, batch: int) -> None:
        self.executor.mark_verified(batch)


def node_main(argv: Optional[Sequence[str]] = None) -> int:
    """`python -m node.sequencer`: run a LocalNode until SIGTERM or SIGINT. Prints one JSON line,
    {"url": ..., "height": ...}, on stdout once it serves. No prover is attached here: sealed
    proof batches are logged and dropped."""
    parser = argparse.ArgumentParser(prog="python -m node.sequencer", description=node_main.__doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--genesis", type=Path, help="genesis JSON file")
    source.add_argument("--dev", action="store_true",
                        help="a development genesis funding only the INSECURE well-known faucet key")
    parser.add_argument("--wal", type=Path, required=True, help="write-ahead log (created if absent)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8545, help="0 picks a free port")
    parser.add_argument("--log2-rows", type=int, default=16, help="ledger circuit size: 2^n slots and rows")
    parser.add_argument("--max-mini-batch", type=int, default=4096)
    parser.add_argument("--cut-interval-ms", type=float, default=10.0)
    parser.add_argument("--batch-deadline", type=float, default=0.5, help="seconds")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    genesis = dev_genesis() if args.dev else load_genesis(args.genesis)

    def drop(batch: ProofBatch) -> None:
        log.info("proof batch %d sealed: mini-batches %d..%d, %d transfers (no prover attached)",
                 batch.index, batch.first_block, batch.last_block, len(batch.transfers))

    node = LocalNode(genesis, args.wal, log2_rows=args.log2_rows, max_mini_batch=args.max_mini_batch,
                     cut_interval=args.cut_interval_ms / 1000, batch_deadline=args.batch_deadline,
                     host=args.host, port=args.port, on_batch=drop)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    node.start()
    print(json.dumps({"url": node.url, "height": node.executor.height,
                      "chain_id": genesis.chain_id}), flush=True)
    stop.wait()
    node.stop()
    return 0
