"""Commitment groups: the columns that share one packed commitment (docs/protocol.md §1, §4).

The k columns f_0 … f_{k−1} of a group are packed into one polynomial

    P(X) = Σ_i f_i(X^k)·X^i        (coefficient j·k + i of P is coefficient j of f_i),

committed with one MSM. P mod (X^k − c) = Σ_i f_i(c)·X^i, so the claimed evaluations of a
group's columns at a point c are exactly the remainder of P by X^k − c, and one commitment
opens all of them (fflonk). The L1 verifier pays one ecMul per group, whatever k is.

Groups, in commitment order: the fixed columns (committed in the verification key), each public
group (unblinded), the blinded witness columns (one pack, or several under `max_pack_width`),
the interaction columns, the quotient chunks. A group whose columns some constraint reads at the
next row is opened at ζω as well as at ζ, all of its columns.
"""

from __future__ import annotations

from dataclasses import dataclass

from .air import ConstraintSystem

FIXED, PUBLIC, WITNESS, INTERACTION, QUOTIENT = "fixed", "public", "witness", "interaction", "quotient"
# The kind of a group as the verification key encodes it.
KIND_CODES = {FIXED: 1, PUBLIC: 2, WITNESS: 3, INTERACTION: 4, QUOTIENT: 5}

# Blinded columns (witness, interaction) carry this many random coefficients times Z_H: each is
# opened at up to two points, plus the commitment (docs/protocol.md §7).
BLINDING_COEFFICIENTS = 3


@dataclass(frozen=True)
class Group:
    """One packed commitment. `columns` are (kind, index) keys of the constraint system
    (("quotient", j) for chunk j); `length` bounds every member's coefficient count, so the
    packed polynomial has width·length coefficients."""

    kind: str
    name: str
    columns: tuple[tuple[str, int], ...]
    next_row: bool
    length: int

    @property
    def width(self) -> int:
        return len(self.columns)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(kind code, width, opened at ζω) — what the verification key records."""
        return (KIND_CODES[self.kind], self.width, int(self.next_row))


def quotient_chunk_length(cs: ConstraintSystem, n: int) -> int:
    """The longest quotient chunk: n coefficients plus one blinding coefficient for all chunks
    but the last, which takes the rest of Q (docs/protocol.md §4.3)."""
    k = cs.quotient_chunks(n)
    last = cs.quotient_degree_bound(n) + 1 - (k - 1) * n
    return max(last, n + 1 if k > 1 else 1)


def commitment_groups(cs: ConstraintSystem, n: int) -> list[Group]:
    """The circuit's groups at n rows, in commitment order."""
    nxt = cs.read_at_next_row()
    blinded = n + BLINDING_COEFFICIENTS
    groups: list[Group] = []

    def add(kind, name, cols, length):
        cols = tuple(cols)
        groups.append(Group(kind, name, cols, any(c in nxt for c in cols), length))

    if cs.num_fixed:
        add(FIXED, "fixed", [("fixed", i) for i in range(cs.num_fixed)], n)
    for name, idx in cs.public_groups:
        add(PUBLIC, name, [("witness", i) for i in idx], n)
    for p, idx in enumerate(cs.witness_packs()):
        add(WITNESS, f"witness{p}", [("witness", i) for i in idx], blinded)
    if cs.has_interaction:
        add(INTERACTION, "interaction", [("interaction", i) for i in range(cs.num_interaction)], blinded)
    add(QUOTIENT, "quotient", [("quotient", j) for j in range(cs.quotient_chunks(n))],
        quotient_chunk_length(cs, n))
    return groups


def srs_size(cs: ConstraintSystem, n: int) -> int:
    """Powers [τ^i]₁ needed at n rows: the longest packed polynomial (the opening polynomials
    h and L are no longer than it)."""
    return max(g.width * g.length for g in commitment_groups(cs, n))


def evaluation_slots(groups: list[Group]) -> tuple[dict, dict]:
    """Where each column's claimed evaluation sits in the proof's lists at ζ and at ζω."""
    at_zeta, at_next = {}, {}
    for g in groups:
        for key in g.columns:
            at_zeta[key] = len(at_zeta)
    for g in groups:
        if g.next_row:
            for key in g.columns:
                at_next[key] = len(at_next)
    return at_zeta, at_next


def claims(groups: list[Group]) -> list[tuple[int, bool]]:
    """The opening claims in transcript order: (group index, at ζω) — each group at ζ, then
    at ζω when it is read at the next row. Claim t is weighted by ν^t."""
    out = []
    for gi, g in enumerate(groups):
        out.append((gi, False))
        if g.next_row:
            out.append((gi, True))
    return out


def pack(be, polys, length: int):
    """P with coefficient j·k + i = coefficient j of polys[i]; each poly `(L_i, 4)` with
    L_i ≤ length, padded with zeros. Returns `(k·length, 4)`."""
    from .polynomials import _xp
    xp = _xp(be)
    k = len(polys)
    out = xp.zeros((length, k, 4), dtype=xp.uint64)
    for i, p in enumerate(polys):
        out[:p.shape[0], i] = p
    return out.reshape(length * k, 4)


def divide_by_power(be, packed, k: int, c: int):
    """(P(X) − r(X)) / (X^k − c) and the k values f_i(c) (the coefficients of r), for a packed
    P of k·length coefficients: residue class i of P's exponents is f_i(Y) at Y = X^k, so this
    is the division of every f_i by (Y − c) at once."""
    from .polynomials import synthetic_division
    length = packed.shape[0] // k
    q, rem = synthetic_division(be, packed.reshape(length, k, 4), c)
    return q.reshape((length - 1) * k, 4), be.fr.to_ints(rem)

