"""The node's data directory: everything a node needs to resume where it stopped.

    DIR/node.json          what the node was started as: chain, circuit size, key seed, L1, the
                           rollup contract's address (written once the contract is deployed)
    DIR/genesis.json       the chain's genesis (the write-ahead log is tied to its digest)
    DIR/sequencer.wal      the write-ahead log: every acknowledged transfer and proof-batch seal
    DIR/sequencer.wal.index  where each old block and transaction is in the log (node/blocks.py,
                           BlockArchive; SQLite, with its -wal and -shm files): rebuilt from the
                           log when missing or damaged
    DIR/sequencer.wal.parent  the hash before the log's first block, for a log that does not
                           start at block 1 (written by `zkpipe sync`): without it, the index
                           starts at the first block whose parent a snapshot or memory knows
    DIR/snapshots/         the executed state at some height (node/snapshot.py), the newest two:
                           a restart replays only the log after the newest that fits it
    DIR/proofs/            proofs kept until the end (a restart submits them, not proves again)
    DIR/l1/                the embedded L1's chain file, or anvil's state file
    DIR/metrics.jsonl      the metrics record (the dashboard's history)
    DIR/LOCK               held (flock) by the running node: one node per directory

Writes of node.json and genesis.json go to a temporary name, are fsynced and renamed, so a crash
leaves either the old file or the new one.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path

from .blocks import parent_path
from .errors import NodeError
from .genesis import Genesis, load_genesis

FORMAT = 1


class DataDirInUse(NodeError, RuntimeError):
    """Another node runs on this data directory."""


class DataDirMismatch(NodeError, ValueError):
    """The data directory holds another chain (genesis, circuit size, L1) than the one asked for."""


class DataDir:
    """A node's data directory, locked while this object is open."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / "l1").mkdir(exist_ok=True)
        self._lock = open(self.path / "LOCK", "a")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise DataDirInUse(f"another node is running on {self.path}") from None

    # -- layout -------------------------------------------------------------------------------
    @property
    def wal(self) -> Path:
        return self.path / "sequencer.wal"

    @property
    def snapshots(self) -> Path:
        return self.path / "snapshots"

    @property
    def proofs(self) -> Path:
        return self.path / "proofs"

    @property
    def l1_chain(self) -> Path:
        return self.path / "l1" / "chain.jsonl"

    @property
    def anvil_state(self) -> Path:
        return self.path / "l1" / "anvil-state.json"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.jsonl"

    def wait_released(self, timeout: float = 30.0) -> None:
        """Wait until no process holds the log or the L1's chain file: after a crash, the
        processes of the node that died may take a moment to follow it. DataDirInUse if they
        do not."""
        deadline = time.monotonic() + timeout
        for path in (self.wal, self.l1_chain):
            if not path.exists():
                continue
            with open(path, "rb") as f:
                while True:
                    try:
                        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() > deadline:
                            raise DataDirInUse(f"{path} is still held by another process after "
                                               f"{timeout:g} s") from None
                        time.sleep(0.1)
                fcntl.flock(f, fcntl.LOCK_UN)

    # -- what the node was started as ---------------------------------------------------------
    def meta(self) -> dict | None:
        """node.json, or None for a new directory."""
        try:
            meta = json.loads((self.path / "node.json").read_text())
        except FileNotFoundError:
            return None
        except ValueError as e:
            raise DataDirMismatch(f"{self.path / 'node.json'} is not JSON: {e}") from None
        if meta.get("format") != FORMAT:
            raise DataDirMismatch(f"{self.path / 'node.json'} has format {meta.get('format')!r}, "
                                  f"this node reads format {FORMAT}")
        return meta

    def save_meta(self, meta: dict) -> None:
        self._write(self.path / "node.json", json.dumps(dict(meta, format=FORMAT), indent=2).encode())

    def genesis(self, given: Genesis | None, keep: bool = True) -> Genesis | None:
        """The chain's genesis: the one kept here (the given one must be the same), else the
        given one, kept from now on (with `keep`; a node keeps it once it knows the L1 can take
        it). None when neither exists."""
        path = self.path / "genesis.json"
        if path.exists():
            kept = load_genesis(path)
            if given is not None and given.digest != kept.digest:
                raise DataDirMismatch(f"{self.path} holds a chain with another genesis "
                                      f"(chain id {kept.chain_id}); use another directory for this one")
            return kept
        if given is not None and keep:
            tmp = self.path / ".genesis.json.tmp"
            given.save(tmp)
            self._sync_rename(tmp, path)
        return given

    def check(self, meta: dict, **expected) -> None:
        """DataDirMismatch unless `meta` has each of `expected`'s values."""
        for key, value in expected.items():
            if key in meta and meta[key] != value:
                raise DataDirMismatch(f"{self.path} was started with {key} {meta[key]!r}, not {value!r}; "
                                      f"use another directory, or the same settings")

    def save_log_parent(self, parent: bytes) -> None:
        """Keep the hash before the log's first block, where that is not block 1 (see above)."""
        self._write(parent_path(self.wal), parent)

    def _write(self, path: Path, data: bytes) -> None:
        tmp = path.with_name("." + path.name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        self._sync_rename(tmp, path)

    def _sync_rename(self, tmp: Path, path: Path) -> None:
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def close(self) -> None:
        if not self._lock.closed:
            self._lock.close()
