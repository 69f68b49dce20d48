"""Starting and stopping a local anvil node (npm package `@foundry-rs/anvil-linux-amd64`,
pinned in contracts/package.json).

anvil listens on 127.0.0.1 only, on a port that was free a moment before it started; the
process is stopped by its id. `start_anvil()` is a context manager that stops it on the way out,
whether the body succeeded or raised.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .client import HARDFORK
from .errors import L1Unavailable
from .solc import CONTRACTS_DIR, npm_install

ANVIL_BIN = CONTRACTS_DIR / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"


def anvil_binary() -> Path:
    """The pinned anvil, installing the npm packages first if needed; else one on PATH."""
    if not ANVIL_BIN.exists():
        try:
            npm_install()
        except L1Unavailable:
            pass
    if ANVIL_BIN.exists():
        return ANVIL_BIN
    found = shutil.which("anvil")
    if found:
        return Path(found)
    raise L1Unavailable("anvil not found: run `npm ci` in contracts/")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class AnvilProcess:
    """A running anvil: its URL and process id."""

    url: str
    port: int
    pid: int
    process: subprocess.Popen

    def stop(self, timeout: float = 5.0) -> None:
        """Stop this anvil by its process id (SIGTERM, then SIGKILL if it lingers)."""
        if self.process.poll() is not None:
            return
        try:
            os.kill(self.pid, signal.SIGTERM)
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            self.process.wait(timeout=timeout)
        except ProcessLookupError:
            pass


def _answers(url: str) -> bool:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=0.5) as resp:
            return "result" in json.loads(resp.read())
    except (OSError, ValueError):
        return False


def launch_anvil(*, hardfork: str = HARDFORK, chain_id: int = 31337, accounts: int = 10,
                 startup_timeout: float = 20.0, attempts: int = 3) -> AnvilProcess:
    """Start anvil on 127.0.0.1 on a free port and wait until it answers JSON-RPC. The caller
    must stop() it; prefer start_anvil()."""
    binary = anvil_binary()
    last_error = ""
    for _ in range(attempts):
        port = free_port()
        cmd = [str(binary), "--host", "127.0.0.1", "--port", str(port), "--hardfork", hardfork,
               "--chain-id", str(chain_id), "--accounts", str(accounts), "--silent"]
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        node = AnvilProcess(url=f"http://127.0.0.1:{port}", port=port, pid=proc.pid, process=proc)
        deadline = time.monotonic() + startup_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                last_error = proc.stderr.read().decode(errors="replace")[-1000:]
                break  # most likely the port was taken in between: try another
            if _answers(node.url):
                return node
            time.sleep(0.05)
        else:
            last_error = f"no answer within {startup_timeout} s"
        node.stop()
    raise L1Unavailable(f"anvil did not start: {last_error}")


@contextmanager
def start_anvil(**kwargs):
    """Run anvil for the duration of a `with` block; yields the AnvilProcess. It is stopped on
    exit, also when the block raises."""
    node = launch_anvil(**kwargs)
    try:
        yield node
    finally:
        node.stop()
