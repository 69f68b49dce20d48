"""From a batch job to the ledger circuit's trace.

`build_trace` checks the job, applies its entries with NumPy (net flows by np.add.at on 32-bit
halves, so sums of up to 2^26 amounts of 64 bits stay exact in int64) and fills every column.
`complete_trace` derives the auxiliary columns (address inverses, limbs, slot and address uses)
from the public columns; it accepts any field elements, so that tests can build the trace a
cheating prover would commit to.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from kernels.params import R_MODULUS

from .ledger_air import (ADDRESS_BITS, KIND_DEPOSIT, KIND_REFUND, KIND_WITHDRAWAL, MAX_LOG2_ROWS, MIN_LOG2_ROWS,
                         VALUE_BITS, Ledger)
from .ledger_job import InvalidBatch, LedgerJob

U64_MASK = (1 << 64) - 1
U32 = np.int64(32)
LOW32 = np.int64(0xFFFFFFFF)


def build_trace(job: LedgerJob) -> tuple[dict, dict]:
    """(trace, public inputs) of the ledger circuit for `job`; InvalidBatch when the job is not a
    valid batch (a slot out of range, an amount ≥ 2^64, a balance that would end negative or
    ≥ 2^64, value left in a slot no address holds, a claim of a taken slot, too many transfers,
    a bridge entry that breaks its kind's rules)."""
    if not isinstance(job.log2_rows, int) or not MIN_LOG2_ROWS <= job.log2_rows <= MAX_LOG2_ROWS:
        raise InvalidBatch(f"log2_rows must be an integer in [{MIN_LOG2_ROWS}, {MAX_LOG2_ROWS}], got {job.log2_rows!r}")
    if not _is_int(job.batch_index) or not 0 <= job.batch_index < R_MODULUS:
        raise InvalidBatch(f"batch_index must be an integer in [0, r), got {job.batch_index!r}")
    n = job.rows
    addr_old = _addresses(job.old_addresses, n)
    if len(job.old_balances) != len(job.old_addresses):
        raise InvalidBatch(f"{len(job.old_addresses)} old addresses but {len(job.old_balances)} old balances")
    bal_old = _padded(_uint64s(job.old_balances, "old_balances[{i}]"), n)
    occupied_old = np.fromiter((a != 0 for a in addr_old), dtype=bool, count=n)
    _check_empty_slots_hold_nothing(occupied_old, bal_old, "old")
    addr_new = _apply_claims(addr_old, job.claims)
    src, dst, amount = _transfers(job.transfers, n)
    is_deposit, is_withdrawal, bridge_addr = _bridge(job.bridge, src, dst, amount, addr_new, len(job.transfers))
    credit = np.where(is_withdrawal != 0, np.uint64(0), amount)
    debit = np.where(is_deposit != 0, np.uint64(0), amount)
    try:
        bal_new = apply_transfers(bal_old, src, dst, credit, debit)
    except _SlotOutOfRange as e:
        raise InvalidBatch(f"{e}{_bridge_entries_at(e.slot, job.bridge, src, amount)}") from None
    occupied_new = np.fromiter((a != 0 for a in addr_new), dtype=bool, count=n)
    _check_empty_slots_hold_nothing(occupied_new, bal_new, "new")
    trace = {"addr_old": addr_old, "bal_old": bal_old, "addr_new": addr_new, "bal_new": bal_new,
             "from_slot": src, "to_slot": dst, "amount": amount,
             "is_deposit": is_deposit, "is_withdrawal": is_withdrawal, "bridge_addr": bridge_addr}
    return complete_trace(job.log2_rows, trace), {"batch_index": job.batch_index}


class _SlotOutOfRange(InvalidBatch):
    def __init__(self, message: str, slot: int):
        super().__init__(message)
        self.slot = slot


def apply_transfers(bal_old: np.ndarray, src: np.ndarray, dst: np.ndarray, amount: np.ndarray,
                    debit: np.ndarray | None = None) -> np.ndarray:
    """Every slot's balance after the entries (netting): each row adds `amount` to dst and takes
    `debit` (default: the same amount) from src; InvalidBatch when a balance would leave
    [0, 2^64). The 64-bit values are handled as 32-bit halves in int64: each half's net flow is
    below 2^26·2^32 in magnitude, so nothing overflows and the carry is exact."""
    n = bal_old.shape[0]
    debit = amount if debit is None else debit
    net_lo = np.zeros(n, dtype=np.int64)
    net_hi = np.zeros(n, dtype=np.int64)
    np.add.at(net_lo, dst, (amount & np.uint64(0xFFFFFFFF)).astype(np.int64))
    np.subtract.at(net_lo, src, (debit & np.uint64(0xFFFFFFFF)).astype(np.int64))
    np.add.at(net_hi, dst, (amount >> np.uint64(32)).astype(np.int64))
    np.subtract.at(net_hi, src, (debit >> np.uint64(32)).astype(np.int64))
    v_lo = (bal_old & np.uint64(0xFFFFFFFF)).astype(np.int64) + net_lo
    v_hi = (bal_old >> np.uint64(32)).astype(np.int64) + net_hi + (v_lo >> U32)  # floor carry
    v_lo &= LOW32
    bad = np.flatnonzero((v_hi < 0) | (v_hi >= 1 << 32))
    if bad.size:
        a = int(bad[0])
        value = int(v_hi[a]) * (1 << 32) + int(v_lo[a])
        why = "negative" if value < 0 else "not below 2^64"
        more = f"; {bad.size} slots would end out of range" if bad.size > 1 else ""
        raise _SlotOutOfRange(f"slot {a} would end the batch at balance {value} ({why}){more}", a)
    return (v_hi.astype(np.uint64) << np.uint64(32)) | v_lo.astype(np.uint64)


def complete_trace(log2_rows: int, public: Mapping[str, Sequence[int]]) -> dict:
    """The full trace from the public columns (any field elements; numpy uint64 arrays take the
    fast path; is_deposit, is_withdrawal and bridge_addr default to zeros, a batch of plain
    transfers): addr_inv = 1/addr_new (0 for an empty slot), the low limbs of bal_new and
    amount, slot_uses = how often each slot value 0 … n−1 is looked up, and addr_uses = the
    deposit weight each pair (slot, addr_new) receives."""
    air = Ledger(log2_rows)
    lay = air.limbs
    n = air.n
    zeros = np.zeros(n, dtype=np.uint64)
    trace = {name: public[name] if name in public or name not in _BRIDGE_COLUMNS else zeros
             for name in air.public_columns}
    trace["addr_uses"] = _address_uses(trace, n)
    trace["addr_inv"] = batch_inverse([int(a) for a in public["addr_new"]])
    looked_up = [_lookup_values(public["from_slot"], n), _lookup_values(public["to_slot"], n)]
    for value in ("bal_new", "amount"):
        low, excess = _low64(public[value], n)
        mask = np.uint64((1 << lay.bits) - 1)
        for i, name in enumerate(lay.limb_columns(value)):
            limb = (low >> np.uint64(lay.bits * i)) & mask
            trace[name] = limb
            looked_up.append(limb)
        top = low >> np.uint64(lay.top_shift)
        if excess:  # not a 64-bit value: the top limb is a large field element
            top = top.copy()
            keep = (1 << lay.top_shift) - 1
            inv = pow(1 << lay.top_shift, -1, R_MODULUS)
            for row, v in excess.items():
                t = (v - (v & keep)) * inv % R_MODULUS
                top[row] = t if t < n else n
        looked_up.append(top)
        if lay.top_is_short:
            scaled = [(int(t) << (lay.bits - lay.top_bits)) if t < n else n for t in top] if excess else \
                top << np.uint64(lay.bits - lay.top_bits)
            looked_up.append(np.asarray(scaled, dtype=np.uint64))
    values = np.concatenate(looked_up)
    trace["slot_uses"] = np.bincount(values[values < n].astype(np.int64), minlength=n).astype(np.uint64)
    return trace


def batch_inverse(values: list[int]) -> list[int]:
    """1/v mod r for each v (0 stays 0), with one modular inversion (Montgomery's trick)."""
    r = R_MODULUS
    prefix, acc = [], 1
    for v in values:
        if v % r:
            acc = acc * v % r
        prefix.append(acc)
    inv = pow(acc, -1, r)
    out = [0] * len(values)
    for i in range(len(values) - 1, -1, -1):
        v = values[i] % r
        if v:
            out[i] = inv * (prefix[i - 1] if i else 1) % r
            inv = inv * v % r
    return out


_BRIDGE_COLUMNS = ("is_deposit", "is_withdrawal", "bridge_addr")


def _address_uses(trace, n: int):
    """Per slot a, Σ of the λ² weights is_deposit·(1 − is_withdrawal) over the rows whose
    (to_slot, bridge_addr) is (a, addr_new[a]): the multiplicity that balances the λ² part
    whenever every weighted pair is in the table."""
    dep, wd = trace["is_deposit"], trace["is_withdrawal"]
    rows = sorted(set(_nonzero(dep)) | set(_nonzero(wd)))
    uses = [0] * n
    for i in rows:
        w = int(dep[i]) * (1 - int(wd[i])) % R_MODULUS
        to = int(trace["to_slot"][i])
        if w and to < n and int(trace["bridge_addr"][i]) == int(trace["addr_new"][to]):
            uses[to] = (uses[to] + w) % R_MODULUS
    if all(u <= U64_MASK for u in uses):
        return np.asarray(uses, dtype=np.uint64)
    return uses


def _nonzero(col) -> list[int]:
    if isinstance(col, np.ndarray) and col.dtype.kind in "iu":
        return np.flatnonzero(col).tolist()
    return [i for i, v in enumerate(col) if int(v) % R_MODULUS]


# ---------------------------------------------------------------------------------------------
# Checking and converting the job's fields


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _addresses(values, n: int) -> list[int]:
    if len(values) > n:
        raise InvalidBatch(f"{len(values)} old addresses for {n} slots")
    out = [0] * n
    seen = set()
    for i, a in enumerate(values):
        if not _is_int(a) or not 0 <= a < 1 << ADDRESS_BITS:
            raise InvalidBatch(f"old_addresses[{i}] must be a {ADDRESS_BITS}-bit address (0 = empty), got {a!r}")
        a = int(a)
        if a:
            if a in seen:
                raise InvalidBatch(f"address {a:#042x} holds two slots (the second is slot {i})")
            seen.add(a)
        out[i] = a
    return out


def _apply_claims(addr_old: list[int], claims) -> list[int]:
    n = len(addr_old)
    addr_new = list(addr_old)
    taken = set(addr_old)
    for i, claim in enumerate(claims):
        if len(claim) != 2 or not all(_is_int(v) for v in claim):
            raise InvalidBatch(f"claims[{i}] must be (slot, address), got {claim!r}")
        slot, address = int(claim[0]), int(claim[1])
        if not 0 <= slot < n:
            raise InvalidBatch(f"claims[{i}]: slot {slot} is not in [0, {n})")
        if not 0 < address < 1 << ADDRESS_BITS:
            raise InvalidBatch(f"claims[{i}]: {address!r} is not a nonzero {ADDRESS_BITS}-bit address")
        if addr_new[slot]:
            raise InvalidBatch(f"claims[{i}]: slot {slot} already belongs to {addr_new[slot]:#042x}")
        if address in taken:
            raise InvalidBatch(f"claims[{i}]: address {address:#042x} already holds a slot")
        addr_new[slot] = address
        taken.add(address)
    return addr_new


def _uint64s(values, what: str) -> np.ndarray:
    """Integers in [0, 2^64) as a uint64 array, checked exactly; `what` names entry {i}."""
    arr = np.fromiter(values, dtype=object, count=len(values))
    if arr.size and not all(_is_int(v) for v in arr):
        i = next(i for i, v in enumerate(arr) if not _is_int(v))
        raise InvalidBatch(f"{what.format(i=i)} must be an integer, got {arr[i]!r}")
    try:
        return arr.astype(np.uint64)
    except OverflowError:
        i = next(i for i, v in enumerate(arr) if not 0 <= v <= U64_MASK)
        raise InvalidBatch(f"{what.format(i=i)} = {arr[i]} is not in [0, 2^64)") from None


def _transfers(transfers, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = len(transfers)
    if t > n:
        raise InvalidBatch(f"{t} transfers do not fit in {n} rows; use a larger log2_rows or split the batch")
    bad = next((i for i, x in enumerate(transfers) if not isinstance(x, (tuple, list, np.ndarray)) or len(x) != 3), None)
    if bad is not None:
        raise InvalidBatch(f"transfers[{bad}] must be (from_slot, to_slot, amount), got {transfers[bad]!r}")
    src = _uint64s([x[0] for x in transfers], "transfers[{i}] from_slot")
    dst = _uint64s([x[1] for x in transfers], "transfers[{i}] to_slot")
    amount = _uint64s([x[2] for x in transfers], "transfers[{i}] amount")
    for name, col in (("from_slot", src), ("to_slot", dst)):
        bad = np.flatnonzero(col >= n)
        if bad.size:
            raise InvalidBatch(f"transfers[{int(bad[0])}]: {name} {int(col[bad[0]])} is not a slot (there are {n})")
    return _padded(src, n), _padded(dst, n), _padded(amount, n)


def _padded(col: np.ndarray, n: int) -> np.ndarray:
    """The column extended with zeros to n rows (empty slots, the inert transfer 0 → 0 of 0)."""
    out = np.zeros(n, dtype=np.uint64)
    if col.shape[0] > n:
        raise InvalidBatch(f"{col.shape[0]} entries for {n} rows")
    out[:col.shape[0]] = col
    return out


def _check_empty_slots_hold_nothing(occupied: np.ndarray, balances: np.ndarray, which: str) -> None:
    bad = np.flatnonzero(~occupied & (balances != 0))
    if bad.size:
        a = int(bad[0])
        if which == "old":
            raise InvalidBatch(f"old state: empty slot {a} holds balance {int(balances[a])}")
        raise InvalidBatch(f"slot {a} would hold {int(balances[a])} but no address holds it "
                           "(value sent to an empty slot needs a claim of that slot)")


def _low64(col, n: int) -> tuple[np.ndarray, dict[int, int]]:
    """(v mod 2^64 for every row, {row: v} for the rows whose v ≥ 2^64)."""
    if isinstance(col, np.ndarray) and col.dtype == np.uint64:
        return col, {}
    ints = [int(v) for v in col]
    low = np.fromiter((v & U64_MASK for v in ints), dtype=np.uint64, count=n)
    return low, {i: v for i, v in enumerate(ints) if v >> VALUE_BITS}


def _lookup_values(col, n: int) -> np.ndarray:
    """A looked-up column as uint64 with every value outside [0, n) replaced by n (no table row)."""
    low, excess = _low64(col, n)
    out = np.where(low < n, low, np.uint64(n))
    if excess:
        out[list(excess)] = n
    return out


def _bridge(bridge, src: np.ndarray, dst: np.ndarray, amount: np.ndarray, addr_new: list[int],
            count: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """(is_deposit, is_withdrawal, bridge_addr) columns of the job's bridge entries, each
    checked against its kind's rules (LedgerJob.bridge)."""
    n = src.shape[0]
    is_deposit = np.zeros(n, dtype=np.uint64)
    is_withdrawal = np.zeros(n, dtype=np.uint64)
    bridge_addr = [0] * n
    last = -1
    for j, item in enumerate(bridge):
        if not isinstance(item, (tuple, list)) or len(item) != 3 or not all(_is_int(v) for v in item):
            raise InvalidBatch(f"bridge[{j}] must be (index, kind, address), got {item!r}")
        i, kind, address = (int(v) for v in item)
        if not 0 <= i < count:
            raise InvalidBatch(f"bridge[{j}]: index {i} is not an entry of transfers (there are {count})")
        if i <= last:
            raise InvalidBatch(f"bridge[{j}]: index {i} does not follow {last} (sorted by index, each entry once)")
        last = i
        if kind not in (KIND_DEPOSIT, KIND_WITHDRAWAL, KIND_REFUND):
            raise InvalidBatch(f"bridge[{j}]: kind {kind} is not {KIND_DEPOSIT} (deposit), "
                               f"{KIND_WITHDRAWAL} (withdrawal) or {KIND_REFUND} (refund)")
        if not 0 < address < 1 << ADDRESS_BITS:
            raise InvalidBatch(f"bridge[{j}]: {address!r} is not a nonzero {ADDRESS_BITS}-bit address")
        s, d, a = int(src[i]), int(dst[i]), int(amount[i])
        what = f"bridge[{j}] (transfers[{i}] = ({s}, {d}, {a}))"
        if a == 0:
            raise InvalidBatch(f"{what}: a deposit, withdrawal or refund moves a nonzero amount")
        if kind == KIND_REFUND:
            if s or d:
                raise InvalidBatch(f"{what}: a refund's entry is (0, 0, amount)")
        elif s != d:
            kind_name = "deposit" if kind == KIND_DEPOSIT else "withdrawal"
            raise InvalidBatch(f"{what}: a {kind_name}'s entry names its slot twice (from_slot = to_slot)")
        elif kind == KIND_DEPOSIT and address != addr_new[d]:
            held = f"{addr_new[d]:#042x}" if addr_new[d] else "nobody"
            raise InvalidBatch(f"{what}: the deposit is for {address:#042x} but slot {d} belongs to {held} "
                               "after the claims")
        is_deposit[i] = kind & 1
        is_withdrawal[i] = kind >> 1
        bridge_addr[i] = address
    return is_deposit, is_withdrawal, bridge_addr


def _bridge_entries_at(slot: int, bridge, src: np.ndarray, amount: np.ndarray) -> str:
    """The withdrawals that debit `slot`, for an error message."""
    named = [f"transfers[{int(i)}] withdraws {int(amount[int(i)])}" for i, kind, _ in bridge
             if kind == KIND_WITHDRAWAL and int(src[int(i)]) == slot]
    return f" ({'; '.join(named)})" if named else ""
