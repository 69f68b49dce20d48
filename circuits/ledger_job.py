"""A ledger batch job: the compact data a prover needs to build one batch's trace.

The executor hands a `LedgerJob` to the coordinator (not the expanded trace); a prover worker
builds the trace from it (circuits.ledger_trace.build_trace). The same job, as JSON, is the
batch file of `zkpipe prove` and `zkpipe verify`:

    {"batch_index": 7, "log2_rows": 10,
     "old_addresses": ["0x5aAe…", "0x0", …],      one per slot (fewer: the rest are empty)
     "old_balances": [1000, 0, …],                 as many as old_addresses
     "transfers": [[0, 1, 250], …],                [from_slot, to_slot, amount]
     "claims": [[1, "0x7f3c…"], …],                [slot, address]: empty slots taken this batch
     "bridge": [[3, 1, "0x5aAe…"], …]}             [index into transfers, kind, address]

Numbers may be JSON integers or strings (decimal or 0x-hex), since many JSON tools lose integers
above 2^53; addresses are written as 0x-hex.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from kernels.errors import InvalidInput


class InvalidBatch(InvalidInput):
    """A batch job that no valid trace exists for (or a malformed batch file); the message says
    which field, which entry, and why."""


@dataclass
class LedgerJob:
    """One batch: the state of every slot before it, the transfers, and the slots it claims.

    batch_index: the batch's position on the L1 (a public input of the proof).
    log2_rows: the trace has n = 2^log2_rows rows: n slots and room for n transfers.
    old_addresses / old_balances: slot a's address (160-bit, 0 = empty) and balance before the
        batch; shorter than n means the remaining slots are empty.
    transfers: (from_slot, to_slot, amount) in batch order. Only net effects are checked: every
        balance must end in [0, 2^64) (the sequencer enforces order-by-order solvency).
    claims: (slot, address) for each empty slot that an address takes in this batch.
    bridge: (index, kind, address) for each entry of `transfers` that is not a plain transfer,
        sorted by index (docs/ledger.md §2):
        KIND_DEPOSIT (1): (s, s, amount) credits slot s with a deposit from the L1; address is
            s's address after the claims.
        KIND_WITHDRAWAL (2): (s, s, amount) debits slot s; the L1 pays `amount` to address.
        KIND_REFUND (3): (0, 0, amount) moves nothing on the L2; the L1 returns a deposit it
            could not credit to address.
    """

    batch_index: int
    log2_rows: int
    old_addresses: list[int]
    old_balances: list[int]
    transfers: list[tuple[int, int, int]]
    claims: list[tuple[int, int]] = field(default_factory=list)
    bridge: list[tuple[int, int, int]] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return 1 << self.log2_rows

    def to_json(self) -> dict:
        return {"batch_index": self.batch_index,
                "log2_rows": self.log2_rows,
                "old_addresses": [_address_hex(a) for a in self.old_addresses],
                "old_balances": [int(b) for b in self.old_balances],
                "transfers": [[int(s), int(d), int(a)] for s, d, a in self.transfers],
                "claims": [[int(s), _address_hex(a)] for s, a in self.claims],
                "bridge": [[int(i), int(k), _address_hex(a)] for i, k, a in self.bridge]}

    @classmethod
    def from_json(cls, data) -> "LedgerJob":
        """A job from parsed JSON; field types are checked here, values by build_trace."""
        if not isinstance(data, dict):
            raise InvalidBatch("a batch is a JSON object")
        required = ("batch_index", "log2_rows", "old_addresses", "old_balances", "transfers")
        missing = [k for k in required if k not in data]
        unknown = sorted(set(data) - set(required) - {"claims", "bridge"})
        if missing or unknown:
            raise InvalidBatch(f"batch fields: missing {missing}, unknown {unknown}")
        return cls(batch_index=_integer(data["batch_index"], "batch_index"),
                   log2_rows=_integer(data["log2_rows"], "log2_rows"),
                   old_addresses=[_integer(a, f"old_addresses[{i}]") for i, a in enumerate(_list(data, "old_addresses"))],
                   old_balances=[_integer(b, f"old_balances[{i}]") for i, b in enumerate(_list(data, "old_balances"))],
                   transfers=[_row(t, 3, f"transfers[{i}]") for i, t in enumerate(_list(data, "transfers"))],
                   claims=[_row(c, 2, f"claims[{i}]") for i, c in enumerate(_list(data, "claims", optional=True))],
                   bridge=[_row(x, 3, f"bridge[{i}]") for i, x in enumerate(_list(data, "bridge", optional=True))])


def load_job(path: str) -> LedgerJob:
    """Read a batch file; any problem is an InvalidBatch naming the file."""
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read())
    except OSError as e:
        raise InvalidBatch(f"cannot read batch file {path}: {e.strerror or e}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InvalidBatch(f"batch file {path} is not valid JSON: {e}") from None
    try:
        return LedgerJob.from_json(data)
    except InvalidBatch as e:
        raise InvalidBatch(f"batch file {path}: {e}") from None


def save_job(job: LedgerJob, path: str) -> None:
    with open(path, "w") as f:
        json.dump(job.to_json(), f)


def _address_hex(a: int) -> str:
    return "0x" + format(int(a), "040x")


def _list(data: dict, key: str, optional: bool = False) -> list:
    value = data.get(key, [] if optional else None)
    if not isinstance(value, list):
        raise InvalidBatch(f"{key} must be a JSON array")
    return value


def _row(value, width: int, what: str) -> tuple:
    if not isinstance(value, list) or len(value) != width:
        raise InvalidBatch(f"{what} must be an array of {width} numbers")
    return tuple(_integer(v, f"{what}[{i}]") for i, v in enumerate(value))


def _integer(value, what: str) -> int:
    """A JSON integer, or a string holding one in decimal or 0x-hex."""
    if isinstance(value, bool):
        raise InvalidBatch(f"{what} must be an integer, got {json.dumps(value)}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text, 16) if text.lower().startswith("0x") else int(text, 10)
        except ValueError:
            pass
    raise InvalidBatch(f"{what} must be an integer, got {json.dumps(value)}")
