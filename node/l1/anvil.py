"""Starting and stopping a local anvil node (npm package `@foundry-rs/anvil-linux-amd64`,
pinned in contracts/package.json and installed by `npm ci` there, which scripts/setup.sh runs).

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
import tempfile
import threading
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .client import HARDFORK
from .errors import L1Unavailable
from .solc import CONTRACTS_DIR

ANVIL_BIN = CONTRACTS_DIR / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"


def find_anvil() -> Path | None:
    """The pinned anvil from contracts/node_modules, else one on PATH; None if neither."""
    if ANVIL_BIN.exists():
        return ANVIL_BIN
    found = shutil.which("anvil")
    return Path(found) if found else None


def anvil_binary() -> Path:
    """The anvil to run; L1Unavailable, saying how to install it, when there is none."""
    binary = find_anvil()
    if binary is None:
        raise L1Unavailable(f"anvil not found at {ANVIL_BIN} nor on PATH: run `npm ci` in {CONTRACTS_DIR} "
                            "(scripts/setup.sh does)")
    return binary


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

    def running(self) -> bool:
        """True while the process has not exited."""
        return self.process.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        """Stop this anvil by its process id (SIGTERM, then SIGKILL if it lingers) and reap
        it, so that the id no longer names a process."""
        if self.process.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.process.wait(timeout=timeout)
            except ProcessLookupError:
                pass
        self.process.wait()


def _answers(url: str) -> bool:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=0.5) as resp:
            return "result" in json.loads(resp.read())
    except (OSError, ValueError):
        return False


def _parent_death_signal():
    """A function for the child to run before exec: receive SIGTERM when the process that
    started anvil dies, so that a crashed run leaves no node behind (Linux's PR_SET_PDEATHSIG).
    The signal follows the thread that forked, not the process, so it is only armed from the
    main thread, whose end is the process's. libc is loaded here: the child imports nothing."""
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def launch_anvil(*, hardfork: str = HARDFORK, chain_id: int = 31337, accounts: int = 10,
                 startup_timeout: float = 20.0, attempts: int = 3, binary: Path | None = None,
                 port: int | None = None, state: Path | None = None) -> AnvilProcess:
    """Start anvil on 127.0.0.1 on `port` (default: a free one) and wait until it answers
    JSON-RPC. With `state`, anvil loads its chain from that file and writes it back every second
    and on exit. The caller must stop() it; prefer start_anvil()."""
    binary = Path(binary) if binary is not None else anvil_binary()
    if not os.access(binary, os.X_OK):
        raise L1Unavailable(f"anvil at {binary} is missing or not executable")
    last_error = ""
    for _ in range(attempts):
        chosen = port or free_port()
        cmd = [str(binary), "--host", "127.0.0.1", "--port", str(chosen), "--hardfork", hardfork,
               "--chain-id", str(chain_id), "--accounts", str(accounts), "--silent"]
        if state is not None:
            cmd += ["--state", str(state), "--state-interval", "1"]
        # Its output goes to a file, not a pipe: a pipe nobody reads would block it when full.
        with tempfile.TemporaryFile() as log:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    preexec_fn=_parent_death_signal())
            node = AnvilProcess(url=f"http://127.0.0.1:{chosen}", port=chosen, pid=proc.pid, process=proc)
            deadline = time.monotonic() + startup_timeout
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    log.seek(0)
                    last_error = log.read().decode(errors="replace")[-1000:] or f"exit status {proc.returncode}"
                    break  # most likely the port was taken in between: try another
                if _answers(node.url):
                    return node
                time.sleep(0.05)
            else:
                last_error = f"no answer on {node.url} within {startup_timeout} s"
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
