"""Published data: the rows of a trace that the L1 receives in calldata, bound to the proof
(docs/protocol.md §10).

A circuit that publishes declares a `Publication`: parts, each a list of records. A record is a
row of the trace and one value per field; a field is a linear combination of witness columns of
public groups (the ledger publishes its transfers as the data group's columns, and each claimed
slot's address as addr_new − addr_old). Rows a part does not list hold 0 in every one of its
fields. The encoding is compact and canonical: per part a 4-byte count, then each record (its
row in `row_bytes` bytes unless the part's rows are 0, 1, 2, … in order, then each field
big-endian in its width).

The binding: the transcript absorbs keccak256(data) mod r before any commitment
(prover.schedule), and the verifier checks, for each field, that the value the proof opens at ζ
equals the published rows' interpolant at ζ:

    Σ_j v_j·L_{row_j}(ζ) = Σ_c coeff_c·y_c(ζ),     L_i(ζ) = ω^i·(ζ^n − 1) / (n·(ζ − ω^i)).

The data is fixed before ζ is drawn, so published rows that differ from the committed ones make
two different polynomials agree at a random point: probability ≈ n/r.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from kernels.params import R_MODULUS

from .errors import InvalidInput, InvalidProof
from .keccak import keccak256
from .opening import batch_inverse

COUNT_BYTES = 4


@dataclass(frozen=True)
class PublishedField:
    """One value per record: `width` bytes big-endian, equal on its row to Σ coeff·column."""

    name: str
    width: int
    terms: tuple[tuple[str, int], ...]      # (witness column of a public group, coefficient)


@dataclass(frozen=True)
class PublishedPart:
    """A list of records. `row_bytes` = 0: record j is row j (consecutive from 0); otherwise each
    record starts with its row in that many bytes, rows strictly increasing."""

    name: str
    fields: tuple[PublishedField, ...]
    row_bytes: int = 0

    @property
    def record_bytes(self) -> int:
        return self.row_bytes + sum(f.width for f in self.fields)


@dataclass(frozen=True)
class Publication:
    parts: tuple[PublishedPart, ...]

    def describe(self) -> str:
        """The canonical text hashed into the circuit digest."""
        return " ".join(f"{p.name}:{p.row_bytes}:" + ",".join(
            f"{f.name}/{f.width}/" + "+".join(f"{c}*{col}" for col, c in f.terms) for f in p.fields)
            for p in self.parts)

    # -- the records of a trace, and their bytes ------------------------------------------
    def records_of(self, trace: Mapping[str, Sequence[int]], n: int) -> list[list[tuple[int, list[int]]]]:
        """Per part, (row, field values) of every row where some field is nonzero; a part of
        consecutive rows lists rows 0 … (the last such row), zero rows between included."""
        out = []
        for part in self.parts:
            direct = _direct_columns(part, trace, n)
            if direct is not None:  # every field one integer column as it is: whole-array work
                busy = np.flatnonzero(np.any(np.stack(direct) != 0, axis=0))
                if part.row_bytes:
                    rows = busy.tolist()
                else:
                    rows = list(range(int(busy[-1]) + 1 if busy.size else 0))
                picked = [d[np.asarray(rows, dtype=np.int64)].tolist() for d in direct]
                out.append([(i, list(v)) for i, v in zip(rows, zip(*picked))])
                continue
            names = sorted({col for f in part.fields for col, _ in f.terms})
            # Only rows where some column read is nonzero can hold a nonzero value.
            candidates = sorted(set().union(*(_nonzero_rows(trace[c], n) for c in names)))
            cols = {c: trace[c].tolist() if isinstance(trace[c], np.ndarray) else trace[c] for c in names}
            fields = [[(cols[col], c) for col, c in f.terms] for f in part.fields]

            def values(i):
                return [sum(c * int(col[i]) for col, c in terms) % R_MODULUS for terms in fields]

            rows = [(i, v) for i in candidates for v in [values(i)] if any(v)]
            if not part.row_bytes:
                last = rows[-1][0] if rows else -1
                rows = [(i, values(i)) for i in range(last + 1)]
            out.append(rows)
        return out

    def encode(self, records: Sequence[Sequence[tuple[int, Sequence[int]]]], wrap: bool = False) -> bytes:
        """The calldata of these records (InvalidInput for a value that does not fit its width,
        or rows out of order). `wrap` writes such a value modulo its width instead, as a
        cheating prover would publish it."""
        out = bytearray()
        for part, rows in zip(self.parts, records, strict=True):
            out += len(rows).to_bytes(COUNT_BYTES, "big")
            last = -1
            for j, (row, values) in enumerate(rows):
                if part.row_bytes:
                    if row <= last:
                        raise InvalidInput(f"published part {part.name}: rows must increase")
                    out += _fit(row, part.row_bytes, f"{part.name}[{j}].row")
                    last = row
                elif row != j:
                    raise InvalidInput(f"published part {part.name}: record {j} must be row {j}")
                for f, v in zip(part.fields, values, strict=True):
                    v = int(v) % (1 << 8 * f.width) if wrap else int(v)
                    out += _fit(v, f.width, f"{part.name}[{j}].{f.name}")
        return bytes(out)

    def decode(self, data: bytes, n: int) -> list[list[tuple[int, list[int]]]]:
        """The records in `data`; InvalidProof when it is not a canonical encoding for n rows."""
        at, out = 0, []
        for part in self.parts:
            if at + COUNT_BYTES > len(data):
                raise InvalidProof(f"published data ends inside part {part.name}'s count ({len(data) - at} bytes left)")
            count = int.from_bytes(data[at:at + COUNT_BYTES], "big")
            at += COUNT_BYTES
            if count > n:
                raise InvalidProof(f"published part {part.name}: {count} records for {n} rows")
            if at + count * part.record_bytes > len(data):
                raise InvalidProof(f"published part {part.name}: {count} records of {part.record_bytes} bytes "
                                   f"do not fit in the {len(data) - at} bytes left")
            rows, last = [], -1
            for j in range(count):
                row = j
                if part.row_bytes:
                    row = int.from_bytes(data[at:at + part.row_bytes], "big")
                    at += part.row_bytes
                    if row <= last or row >= n:
                        raise InvalidProof(f"published part {part.name}: row {row} out of order or range")
                    last = row
                values = []
                for f in part.fields:
                    values.append(int.from_bytes(data[at:at + f.width], "big"))
                    at += f.width
                rows.append((row, values))
            out.append(rows)
        if at != len(data):
            raise InvalidProof(f"published data has {len(data) - at} bytes past its last part")
        return out


def published_data(publication: Publication, trace: Mapping[str, Sequence[int]], n: int,
                   wrap: bool = False) -> bytes:
    """The calldata a trace publishes (its canonical records, encoded; `wrap`: see encode).
    A part whose fields are unsigned NumPy columns taken as they are (a batch's transfers) is
    encoded by whole-array work, byte for byte as `encode` writes it."""
    out = bytearray()
    for part in publication.parts:
        data = _encode_direct(part, trace, n, wrap)
        if data is None:
            alone = Publication((part,))
            data = alone.encode(alone.records_of(trace, n), wrap)
        out += data
    return bytes(out)


def _encode_direct(part: PublishedPart, trace, n: int, wrap: bool) -> bytes | None:
    direct = _direct_columns(part, trace, n)
    if direct is None or any(d.dtype.kind != "u" for d in direct) or part.row_bytes > 8:
        return None
    busy = np.flatnonzero(np.any(np.stack(direct) != 0, axis=0))
    if part.row_bytes:
        rows = busy
    else:
        rows = np.arange(int(busy[-1]) + 1 if busy.size else 0)
    columns = [(rows, part.row_bytes, "row")] if part.row_bytes else []
    columns += [(d[rows].astype(np.uint64), f.width, f.name) for d, f in zip(direct, part.fields)]
    record = np.zeros((rows.size, part.record_bytes), dtype=np.uint8)
    at = 0
    for values, width, name in columns:
        values = values.astype(np.uint64)
        if width < 8:
            limit = np.uint64(1 << (8 * width))
            if wrap and name != "row":
                values = values % limit
            bad = np.flatnonzero(values >= limit)
            if bad.size:  # as `encode` says it
                j = int(bad[0])
                what = f"{part.name}[{j}].row" if name == "row" else f"{part.name}[{j}].{name}"
                raise InvalidInput(f"{what} = {int(values[j])} does not fit in {width} bytes")
        big_endian = values.astype(">u8").view(np.uint8).reshape(-1, 8)
        take = min(width, 8)   # a field wider than 8 bytes starts with zero bytes
        record[:, at + width - take:at + width] = big_endian[:, 8 - take:]
        at += width
    return rows.size.to_bytes(COUNT_BYTES, "big") + record.tobytes()


def data_digest(data: bytes) -> int:
    """keccak256(data) mod r: what the transcript absorbs for the published data."""
    return int.from_bytes(keccak256(bytes(data)), "big") % R_MODULUS


def published_values_at(publication: Publication, records, n: int, omega: int, zeta: int) -> list[list[int]]:
    """Per part, per field, Σ_j v_j·L_{row_j}(ζ) — the published rows' interpolant at ζ, with
    one inversion for every record's ζ − ω^row (ζ is not in H: the verifier checked Z_H(ζ) ≠ 0)."""
    r = R_MODULUS
    dens, points = [], []
    for rows in records:
        for row, _ in rows:
            w = pow(omega, row, r)
            points.append(w)
            dens.append((zeta - w) % r)
    inv = batch_inverse(dens) if dens else []
    scale = (pow(zeta, n, r) - 1) * pow(n, -1, r) % r
    out, k = [], 0
    for part, rows in zip(publication.parts, records):
        sums = [0] * len(part.fields)
        for _, values in rows:
            lag = points[k] * inv[k] % r
            k += 1
            for i, v in enumerate(values):
                sums[i] = (sums[i] + v * lag) % r
        out.append([s * scale % r for s in sums])
    return out


def _direct_columns(part: PublishedPart, trace, n: int):
    """The fields' columns as NumPy integer arrays when every field is one column taken as it
    is (coefficient 1); None otherwise."""
    out = []
    for f in part.fields:
        if len(f.terms) != 1 or f.terms[0][1] != 1:
            return None
        col = trace[f.terms[0][0]]
        if not (isinstance(col, np.ndarray) and col.dtype.kind in "iu" and col.ndim == 1):
            return None
        out.append(col[:n])
    return out


def _nonzero_rows(column, n: int) -> set[int]:
    if isinstance(column, np.ndarray) and column.dtype.kind in "iu":
        return set(np.flatnonzero(column[:n]).tolist())
    return {i for i in range(n) if int(column[i])}


def _fit(v: int, width: int, what: str) -> bytes:
    if not 0 <= v < 1 << (8 * width):
        raise InvalidInput(f"{what} = {v} does not fit in {width} bytes")
    return v.to_bytes(width, "big")
