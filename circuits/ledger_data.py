"""The ledger's published data: what each batch puts in the L1's calldata (docs/ledger.md §5),
encoded by the circuit's publication (circuits.ledger_air.PUBLICATION, prover.publication).

From the L1 alone anyone reads every batch's entries, claims and bridge entries back
(`read_batch_data`) and replays them on the genesis state."""

from __future__ import annotations

from typing import NamedTuple

from prover.errors import InvalidProof
from prover.publication import published_data

from .ledger_air import KIND_DEPOSIT, KIND_REFUND, PUBLICATION
from .ledger_job import InvalidBatch, LedgerJob
from .ledger_trace import build_trace


class BatchData(NamedTuple):
    """One batch's published data. transfers: (from_slot, to_slot, amount) of rows 0, 1, …;
    claims: (slot, address); bridge: (row, kind, address), row indexing `transfers` (the
    entry's amount is that row's), kind KIND_DEPOSIT, KIND_WITHDRAWAL or KIND_REFUND."""

    transfers: list[tuple[int, int, int]]
    claims: list[tuple[int, int]]
    bridge: list[tuple[int, int, int]]


def batch_data(job: LedgerJob) -> bytes:
    """The calldata of `job`: its entries (up to the last one that moves or names anything),
    its claims and its bridge entries, as the proof publishes them."""
    trace, _ = build_trace(job)
    return published_data(PUBLICATION, trace, job.rows)


def read_batch_data(data: bytes, log2_rows: int) -> BatchData:
    """The batch in a batch's calldata; InvalidBatch when it is not a canonical encoding for
    2^log2_rows rows, or a bridge record has a kind outside 1 … 3 or no entry in `transfers`."""
    try:
        transfers, claims, bridge = PUBLICATION.decode(bytes(data), 1 << log2_rows)
    except InvalidProof as e:
        raise InvalidBatch(f"batch data: {e}") from None
    items = []
    for row, (kind, address) in bridge:
        if not KIND_DEPOSIT <= kind <= KIND_REFUND:
            raise InvalidBatch(f"batch data: bridge record at row {row} has kind {kind}")
        if row >= len(transfers):
            raise InvalidBatch(f"batch data: bridge record at row {row} is past the {len(transfers)} transfers")
        items.append((row, kind, address))
    return BatchData([tuple(v) for _, v in transfers], [(row, v[0]) for row, v in claims], items)
