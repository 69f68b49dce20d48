"""Logs over JSON-RPC in pages: anvil (the reference node) behind a proxy that refuses eth_getLogs
over more than a few blocks, as public providers refuse wide ranges, each with its own message."""

from __future__ import annotations

import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytest.importorskip("web3")

from node.l1.anvil import find_anvil, launch_anvil  # noqa: E402
from node.l1.errors import L1Error  # noqa: E402
from node.l1.rpc import RpcL1  # noqa: E402

pytestmark = pytest.mark.skipif(find_anvil() is None, reason="anvil binary absent (run `npm ci` in contracts/)")

TOPIC = 0xAA
# A contract whose every call emits LOG1(TOPIC) with no data: init code that returns the
# runtime PUSH1 TOPIC, PUSH1 0, PUSH1 0, LOG1, STOP.
RUNTIME = bytes([0x60, TOPIC, 0x60, 0x00, 0x60, 0x00, 0xA1, 0x00])
INIT = bytes([0x60, len(RUNTIME), 0x60, 12, 0x60, 0x00, 0x39, 0x60, len(RUNTIME), 0x60, 0x00, 0xF3]) + RUNTIME
CALLS = 40


class RangeLimit:
    """A JSON-RPC proxy to `upstream` that answers eth_getLogs over more than `limit` blocks with
    a provider's error (-32005), and counts what it refused and passed."""

    def __init__(self, upstream: str, limit: int):
        self.upstream, self.limit = upstream, limit
        self.refused = self.passed = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                answer = proxy.answer(json.loads(body), body)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def forward(self, body: bytes) -> bytes:
        request = urllib.request.Request(self.upstream, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.read()

    def latest(self) -> int:
        ask = {"jsonrpc": "2.0", "id": 0, "method": "eth_blockNumber", "params": []}
        return int(json.loads(self.forward(json.dumps(ask).encode()))["result"], 16)

    def answer(self, msg: dict, body: bytes) -> bytes:
        if msg.get("method") == "eth_getLogs":
            q = msg["params"][0]
            lo = int(q.get("fromBlock", "0x0"), 16)
            hi = q.get("toBlock", "latest")
            hi = self.latest() if hi == "latest" else int(hi, 16)
            if hi - lo + 1 > self.limit:
                self.refused += 1
                return json.dumps({"jsonrpc": "2.0", "id": msg["id"], "error": {
                    "code": -32005, "message": f"query exceeds max block range {self.limit}"}}).encode()
            self.passed += 1
        return self.forward(body)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def chain():
    """anvil with the emitter deployed and called CALLS times (one block each): (url, address,
    block numbers of the calls)."""
    node = launch_anvil()
    try:
        l1 = RpcL1(node.url)
        address = l1.deploy(INIT, gas=200_000)
        blocks = [l1.transact(address, b"", gas=50_000).block_number for _ in range(CALLS)]
        yield node.url, address, blocks
    finally:
        node.stop()


def test_every_log_comes_back_in_pages_from_a_node_that_refuses_wide_ranges(chain):
    url, address, blocks = chain
    direct = RpcL1(url).get_logs(address)
    assert [lg.block_number for lg in direct] == blocks
    assert all(lg.topics == [TOPIC.to_bytes(32, "big")] for lg in direct)
    proxy = RangeLimit(url, limit=16)
    try:
        l1 = RpcL1(proxy.url)
        paged = l1.get_logs(address)
        assert [(lg.block_number, lg.tx_hash) for lg in paged] == [(lg.block_number, lg.tx_hash) for lg in direct]
        assert proxy.refused >= 1 and l1.log_blocks <= 16        # narrowed, and it stays narrow
        refused = proxy.refused
        middle = blocks[CALLS // 2]
        later = l1.get_logs(address, topic=TOPIC.to_bytes(32, "big"), from_block=middle)
        assert [lg.block_number for lg in later] == [b for b in blocks if b >= middle]
        assert proxy.refused == refused                           # no page refused the second time
    finally:
        proxy.close()


def test_pages_of_a_given_width_read_the_same_logs(chain):
    url, address, blocks = chain
    l1 = RpcL1(url, log_blocks=7)
    assert [lg.block_number for lg in l1.get_logs(address)] == blocks
    assert [lg.block_number for lg in l1.get_logs(address, from_block=blocks[-1] + 1)] == []
    with pytest.raises(ValueError, match="at least 1"):
        RpcL1(url, log_blocks=0)


def test_a_node_that_refuses_even_one_block_gives_a_clear_error(chain):
    url, address, _ = chain
    proxy = RangeLimit(url, limit=0)
    try:
        with pytest.raises(L1Error, match="refuses eth_getLogs for block 0 alone"):
            RpcL1(proxy.url).get_logs(address)
    finally:
        proxy.close()
