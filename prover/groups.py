"""Commitment groups: the columns that share one packed commitment (docs/protocol.md §1, §4).

The k columns f_0 … f_{k−1} of a group are packed into one polynomial

    P(X) = Σ_i f_i(X^k)·X^i        (coefficient j·k + i of P is coefficient j of f_i),

committed with one MSM. P mod (X^k − c) = Σ_i f_i(c)·X^i, so the claimed evaluations of a
group's columns at a point c are exactly the remainder of P by X^k − c, and one commitment
opens all of them (fflonk). The L1 verifier pays one ecMul per group, whatever k is.

Groups, in commitment order: the fixed columns (committed in the verification key), each public
group (unblinded), the degree bound of each bounded public group (below), the blinded witness columns (one pack, or several under `max_pack_width`),
the interaction columns, the quotient chunks. A group whose columns some constraint reads at the
next row is opened at ζω as well as at ζ, all of its columns.

A *degree bound* (docs/protocol.md §1) proves that a public group's P has fewer than k·n
coefficients, i.e. that its commitment is the one anyone recomputes from the values: its group
commits X^s·P with s = D − k·n, D the SRS's size, and claims at ζ the remainder
ζ^(s/k)·r_ζ(X) (X^s ≡ ζ^(s/k) mod X^k − ζ), reusing the public group's evaluations. A P of
higher degree would make X^s·P exceed the D powers anyone holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from .air import ConstraintSystem
from .errors import InvalidCircuit
from .types import ColumnKind, GroupKind

# The kind of a group as the verification key encodes it.
KIND_CODES = {GroupKind.FIXED: 1, GroupKind.PUBLIC: 2, GroupKind.BOUND: 3, GroupKind.WITNESS: 4,
              GroupKind.INTERACTION: 5, GroupKind.QUOTIENT: 6}

# Blinded columns (witness, interaction) carry this many random coefficients times Z_H: each is
# opened at up to two points, plus the commitment (docs/protocol.md §7).
BLINDING_COEFFICIENTS = 3


@dataclass(frozen=True)
class Group:
    """One packed commitment. `columns` are (kind, index) keys of the constraint system
    ((QUOTIENT, j) for chunk j); `length` bounds every member's coefficient count, so the
    packed polynomial has width·length coefficients."""

    kind: GroupKind
    name: str
    columns: tuple[tuple[ColumnKind, int], ...]
    next_row: bool
    length: int
    source: int = -1      # BOUND: the index of the group it bounds
    shift: int = 0        # BOUND: s, the power of X the source is multiplied by

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


def witness_packs(cs: ConstraintSystem) -> list[list[int]]:
    """The blinded witness columns (every witness column outside the public groups), in
    declaration order, cut into ⌈count / max_pack_width⌉ packs of near-equal width (the
    longest pack sets the length of the prover's opening polynomials)."""
    public = set(cs.public_column_indices)
    cols = [i for i in range(cs.num_witness) if i not in public]
    if not cols:
        return []
    width = cs.air.max_pack_width or len(cols)
    count = -(-len(cols) // width)
    base, extra = divmod(len(cols), count)
    packs, at = [], 0
    for p in range(count):
        size = base + (1 if p < extra else 0)
        packs.append(cols[at:at + size])
        at += size
    return packs


def degree_bounded_groups(cs: ConstraintSystem) -> tuple[str, ...]:
    """The public groups whose degree the verifier bounds: a rollup's new state (the commitment
    the next batch must start from, so that anyone holding the state can continue it)."""
    layout = cs.air.state_layout
    return tuple(layout.new_state) if layout is not None else ()


def commitment_groups(cs: ConstraintSystem, n: int) -> list[Group]:
    """The circuit's groups at n rows, in commitment order."""
    groups = _groups_without_bounds(cs, n)
    bounded = degree_bounded_groups(cs)
    if not bounded:
        return groups
    sources = [gi for gi, g in enumerate(groups) if g.kind == GroupKind.PUBLIC and g.name in bounded]
    if len(sources) != len(set(bounded)):
        raise InvalidCircuit(f"{cs.air.name}: its new state {bounded} names a group that is not public")
    size = max(g.width * g.length for g in groups)
    # D is a multiple of every bounded width, so that s = D − k·n is one too.
    for gi in sources:
        size = -(-size // groups[gi].width) * groups[gi].width
    at = max(gi for gi, g in enumerate(groups) if g.kind in (GroupKind.FIXED, GroupKind.PUBLIC)) + 1
    bounds = [Group(GroupKind.BOUND, f"{groups[gi].name}_bound", groups[gi].columns, False,
                    size // groups[gi].width, gi, size - groups[gi].width * groups[gi].length)
              for gi in sources]
    return groups[:at] + bounds + groups[at:]


def _groups_without_bounds(cs: ConstraintSystem, n: int) -> list[Group]:
    nxt = cs.read_at_next_row()
    blinded = n + BLINDING_COEFFICIENTS
    groups: list[Group] = []

    def add(kind, name, cols, length):
        cols = tuple(cols)
        groups.append(Group(kind, name, cols, any(c in nxt for c in cols), length))

    if cs.num_fixed:
        add(GroupKind.FIXED, "fixed", [(ColumnKind.FIXED, i) for i in range(cs.num_fixed)], n)
    for name, idx in cs.public_groups:
        add(GroupKind.PUBLIC, name, [(ColumnKind.WITNESS, i) for i in idx], n)
    for p, idx in enumerate(witness_packs(cs)):
        add(GroupKind.WITNESS, f"witness{p}", [(ColumnKind.WITNESS, i) for i in idx], blinded)
    if cs.has_interaction:
        add(GroupKind.INTERACTION, "interaction",
            [(ColumnKind.INTERACTION, i) for i in range(cs.num_interaction)], blinded)
    add(GroupKind.QUOTIENT, "quotient", [(ColumnKind.QUOTIENT, j) for j in range(cs.quotient_chunks(n))],
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
        if g.kind == GroupKind.BOUND:  # claims its source's evaluations, scaled
            continue
        for key in g.columns:
            at_zeta[key] = len(at_zeta)
    for g in groups:
        if g.next_row and g.kind != GroupKind.BOUND:
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
