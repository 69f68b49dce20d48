"""The ledger's published data: what each batch puts in the L1's calldata (docs/ledger.md §5),
encoded by the circuit's publication (circuits.ledger_air.PUBLICATION, prover.publication).

From the L1 alone anyone reads every batch's transfers and claims back (`read_batch_data`) and
replays them on the genesis state."""

from __future__ import annotations

from prover.errors import InvalidProof
from prover.publication import published_data

from .ledger_air import PUBLICATION
from .ledger_job import InvalidBatch, LedgerJob
from .ledger_trace import build_trace


def batch_data(job: LedgerJob) -> bytes:
    """The calldata of `job`: its transfers (up to the last one that moves or names anything)
    and its claims, as the proof publishes them."""
    trace, _ = build_trace(job)
    return published_data(PUBLICATION, trace, job.rows)


def read_batch_data(data: bytes, log2_rows: int) -> tuple[list[tuple[int, int, int]], list[tuple[int, int]]]:
    """(transfers, claims) of a batch's calldata; InvalidBatch when it is not a canonical
    encoding for 2^log2_rows rows."""
    try:
        transfers, claims = PUBLICATION.decode(bytes(data), 1 << log2_rows)
    except InvalidProof as e:
        raise InvalidBatch(f"batch data: {e}") from None
    return [tuple(v) for _, v in transfers], [(row, v[0]) for row, v in claims]
