"""Proofs kept on disk until their batch is on the L1, so that a restarted node submits what
it had proven instead of proving it again.

One file per batch, `<dir>/batch-<n>.json`, written to a temporary name, fsynced and renamed:
a file that exists is whole. A proof is small (a few kB), so they are all kept.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

from .jobs import ProofResult


class ProofStore:
    def __init__(self, directory: str | Path):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)

    def path(self, batch: int) -> Path:
        return self.dir / f"batch-{batch}.json"

    def save(self, result: ProofResult) -> None:
        record = asdict(result)
        record["proof"] = result.proof.hex()
        record["public_inputs"] = [str(v) for v in result.public_inputs]
        tmp = self.dir / f".batch-{result.batch}.tmp"
        with open(tmp, "w") as f:
            json.dump(record, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path(result.batch))
        fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def load(self, batch: int) -> ProofResult | None:
        try:
            record = json.loads(self.path(batch).read_text())
        except FileNotFoundError:
            return None
        record["proof"] = bytes.fromhex(record["proof"])
        record["public_inputs"] = [int(v) for v in record["public_inputs"]]
        return ProofResult(**record)

    def batches(self) -> list[int]:
        return sorted(int(p.stem.split("-")[1]) for p in self.dir.glob("batch-*.json"))
