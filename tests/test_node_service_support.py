"""Support for the service tests (no tests here): `zkpipe node` as a real process (start it,
read what it prints, kill it with SIGKILL or stop it with SIGTERM); transfers sent to it over
JSON-RPC; an HTTP relay in front of an L1 that can hold requests (the L1 not answering, or
answering only after the node died)."""

from __future__ import annotations

import http.server
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from node.genesis import parse_genesis
from node.transactions import address_of, sign_transfer

REPO = Path(__file__).resolve().parents[1]
CHAIN = 777
LOG2_ROWS = 5


class NodeProcess:
    """`zkpipe node` in a process of its own (its Ray dies with it)."""

    def __init__(self, data_dir: Path, genesis: Path, *extra: str, log: Path):
        self.log_file = open(log, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "node.cli", "node", "--data-dir", str(data_dir), "--genesis", str(genesis),
             "--port", "0", "--no-dashboard", "--log2-rows", str(LOG2_ROWS), "--provers", "cpu", "--workers", "1",
             "--batch-deadline", "0.3", *extra],
            cwd=REPO, stdout=subprocess.PIPE, stderr=self.log_file)
        self.lines: queue.Queue = queue.Queue()
        self.printed: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.url = None

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            self.printed.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def wait_running(self, timeout: float = 180.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1.0)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(f"node exited at start ({self.proc.wait()}): {self.output()}")
            if line.startswith("JSON-RPC: "):
                self.url = line.split()[1]
            if line.startswith("running on"):
                return self.url
        self.kill()
        raise TimeoutError(f"node not running within {timeout} s: {self.output()}")

    def output(self) -> str:
        return "\n".join(self.printed) + "\n" + Path(self.log_file.name).read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        """kill -9, and wait until it is gone."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)
        self.log_file.close()

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM, and its exit status."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        rc = self.proc.wait(timeout)
        self.log_file.close()
        return rc


def make_genesis(path: Path, senders: int = 4, funds: int = 10**12):
    keys = [bytes([i + 1]) * 32 for i in range(senders)]
    genesis = parse_genesis({"chainId": CHAIN, "alloc": {"0x" + address_of(k).hex(): {"balance": funds} for k in keys}})
    genesis.save(path)
    return genesis, keys


class Sender:
    """Sends transfers one at a time from `keys` (round-robin) and keeps those acknowledged.
    Resumes each sender's nonce from the node's count, so it can follow a restarted node."""

    def __init__(self, keys, recipients):
        self.keys, self.recipients = keys, recipients
        self.acked: dict[bytes, tuple] = {}      # tx hash → (sender, to, value)
        self.session = requests.Session()
        self._i = 0

    def rpc(self, url, method, *params, timeout=30):
        reply = self.session.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)},
                                  timeout=timeout).json()
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply["result"]

    def all_finalized(self, url: str) -> bool:
        """Whether the node's latest block is also its finalized one (on the L1)."""
        latest = int(self.rpc(url, "eth_blockNumber"), 16)
        final = self.rpc(url, "eth_getBlockByNumber", "finalized", False)
        return final is not None and int(final["number"], 16) == latest

    def send(self, url: str, count: int, stop: threading.Event | None = None) -> int:
        nonces = {k: int(self.rpc(url, "eth_getTransactionCount", "0x" + address_of(k).hex(), "latest"), 16)
                  for k in self.keys}
        sent = 0
        while sent < count and not (stop and stop.is_set()):
            key = self.keys[self._i % len(self.keys)]
            to = self.recipients[self._i % len(self.recipients)]
            self._i += 1
            value = 1 + self._i % 7
            raw = sign_transfer(key, chain_id=CHAIN, nonce=nonces[key], to=to, value=value)
            try:
                h = self.rpc(url, "eth_sendRawTransaction", "0x" + raw.hex())
            except (requests.ConnectionError, requests.Timeout):
                return sent                       # the node died under this one
            self.acked[bytes.fromhex(h[2:])] = (address_of(key), to, value)
            nonces[key] += 1
            sent += 1
        return sent


class HoldingRelay:
    """An HTTP relay to an L1's JSON-RPC. `mode`: "pass" forwards everything; "hold" forwards
    nothing and answers nothing (an L1 that does not answer); "land" forwards transactions but
    holds their answers (the transaction lands; its sender never hears of it); "reads" forwards
    everything but transactions, which it holds unsent (the node sees the L1, submits nothing)."""

    def __init__(self, target: str):
        self.target, self.mode = target, "pass"
        self.sent_while_landing = 0
        relay = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                mode = relay.mode
                if mode == "hold" or (mode == "reads" and b"eth_send" in body):
                    relay._held()
                    return
                reply = requests.post(relay.target, data=body, headers={"Content-Type": "application/json"},
                                      timeout=30)
                if mode == "land" and b"eth_send" in body:
                    relay.sent_while_landing += 1
                    relay._held()
                    return
                self.send_response(reply.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply.content)))
                self.end_headers()
                self.wfile.write(reply.content)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._release = threading.Event()
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _held(self):
        self._release.wait(120)

    def set(self, mode: str) -> None:
        self.mode = mode

    def close(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()


def wal_replay(data_dir: Path, genesis, log2_rows: int = LOG2_ROWS):
    """The executor as the data directory's log rebuilds it (the node stopped)."""
    from node.executor import Executor
    from node.sequencer import Sequencer

    seq = Sequencer(genesis, data_dir / "sequencer.wal", capacity=1 << log2_rows)
    try:
        ex = Executor(genesis, log2_rows=log2_rows, batch_deadline=float("inf"))
        ex.replay(seq.take_replayed())
    finally:
        seq.wal.close()
    return ex


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} not within {timeout} s")


def json_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]
