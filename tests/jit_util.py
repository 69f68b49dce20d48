"""The CPU kernels compiled into the checkout's numba cache before the tests start:
`python -m tests.jit_util` (scripts/test.sh runs it). On a fresh clone every process that first
reaches a kernel compiles it: node processes and their Ray provers, both xdist workers at once,
each against a start-up timeout. Compiled once here, they all load it instead."""

from __future__ import annotations

import sys
import time


def warm_jit_cache(log2_rows: int) -> float:
    """Make development keys and warm a CPU prover for the ledger circuit at 2^log2_rows rows:
    what a node start and a prover compile. Returns the seconds taken."""
    from node.pipeline.circuit import LedgerCircuit
    from node.pipeline.worker import ProverWorker
    from prover.keys import dev_keys

    t = time.perf_counter()
    circuit = LedgerCircuit(log2_rows)
    pk, _ = dev_keys(circuit.air(), log2_rows, b"jit warm-up")
    ProverWorker(circuit, pk, backend="cpu").warm_up()
    return time.perf_counter() - t


def main(argv: list[str]) -> int:
    # 2^10 rows: the parallel kernels (the pipeline, devnet and cluster tests; 2^7 and 2^8 need
    # nothing more), then 2^5: the serial twins that only the smallest sizes pick (node service)
    for log2_rows in [int(a) for a in argv] or [10, 5]:
        print(f"jit warm-up: ledger prover at 2^{log2_rows} rows in {warm_jit_cache(log2_rows):.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
