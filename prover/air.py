"""AIR circuits: columns, constraint expressions, and the builder a circuit writes them against.

A circuit is a small class that names its columns and writes its constraints once, in `eval`:

    class Fibonacci(Air):
        witness_columns = ("a", "b")
        public_inputs = ("out",)

        def eval(self, b):
            b.when_transition().assert_eq(b.next("a"), b.cur("b"))
            b.when_transition().assert_eq(b.next("b"), b.cur("a") + b.cur("b"))
            b.when_last_row().assert_eq(b.cur("b"), b.public("out"))

`eval` runs once under the recording builder of this module, which turns it into expression
trees (a `ConstraintSystem`). Those trees are then interpreted for their degree (here) and,
folded by prover.fold, over three algebras: backend arrays on the prover's coset (prover.prove),
Python ints at the verifier's point ζ (prover.verify) and Yul expressions (prover.solidity). logUp arguments (lookups, weighted multiset sums) are compiled
here into helper columns, a running-sum column and the constraints that tie them together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence, Union

from kernels.params import R_MODULUS

from .errors import InvalidCircuit
from .keccak import keccak256
from .state_layout import StateLayout
from .types import ChallengeName, ColumnKind, Selector

# ---------------------------------------------------------------------------------------------
# Expressions


class Expr:
    """A polynomial expression over the trace, public inputs and verifier challenges."""

    __slots__ = ()

    def __add__(self, other):
        return Add(self, lift(other))

    def __radd__(self, other):
        return Add(lift(other), self)

    def __sub__(self, other):
        return Sub(self, lift(other))

    def __rsub__(self, other):
        return Sub(lift(other), self)

    def __mul__(self, other):
        return Mul(self, lift(other))

    def __rmul__(self, other):
        return Mul(lift(other), self)

    def __neg__(self):
        return Neg(self)


class Const(Expr):
    __slots__ = ("value",)

    def __init__(self, value: int):
        self.value = int(value) % R_MODULUS


class Column(Expr):
    """The value of a column at the current row, or at the next row when `next` is set
    (the last row's next row is the first: the trace is read cyclically)."""

    __slots__ = ("kind", "index", "name", "next")

    def __init__(self, kind: ColumnKind, index: int, name: str, next: bool = False):
        self.kind, self.index, self.name, self.next = kind, index, name, next


class PublicInput(Expr):
    __slots__ = ("index", "name")

    def __init__(self, index: int, name: str):
        self.index, self.name = index, name


class Challenge(Expr):
    """A verifier challenge of the interaction round: β, γ or λ (types.LOGUP_CHALLENGES)."""

    __slots__ = ("name",)

    def __init__(self, name: ChallengeName):
        self.name = name


class Add(Expr):
    __slots__ = ("a", "b")

    def __init__(self, a: Expr, b: Expr):
        self.a, self.b = a, b


class Sub(Expr):
    __slots__ = ("a", "b")

    def __init__(self, a: Expr, b: Expr):
        self.a, self.b = a, b


class Mul(Expr):
    __slots__ = ("a", "b")

    def __init__(self, a: Expr, b: Expr):
        self.a, self.b = a, b


class Neg(Expr):
    __slots__ = ("a",)

    def __init__(self, a: Expr):
        self.a = a


ExprLike = Union[Expr, int]


def lift(value: ExprLike) -> Expr:
    if isinstance(value, Expr):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Const(value)
    raise InvalidCircuit(f"cannot use {type(value).__name__} in a constraint expression")


def degree(e: Expr) -> int:
    """The degree of `e` in the trace columns (public inputs and challenges are constants)."""
    if isinstance(e, Column):
        return 1
    if isinstance(e, (Const, PublicInput, Challenge)):
        return 0
    if isinstance(e, Mul):
        return degree(e.a) + degree(e.b)
    if isinstance(e, (Add, Sub)):
        return max(degree(e.a), degree(e.b))
    if isinstance(e, Neg):
        return degree(e.a)
    raise InvalidCircuit(f"unknown expression node {type(e).__name__}")


def columns_of(e: Expr, out: set | None = None) -> set:
    """The (kind, index, next) triples that `e` reads."""
    out = set() if out is None else out
    if isinstance(e, Column):
        out.add((e.kind, e.index, e.next))
    elif isinstance(e, (Add, Sub, Mul)):
        columns_of(e.a, out)
        columns_of(e.b, out)
    elif isinstance(e, Neg):
        columns_of(e.a, out)
    return out


def to_text(e: Expr) -> str:
    """A canonical prefix form of `e`, hashed into the circuit digest."""
    if isinstance(e, Const):
        return str(e.value)
    if isinstance(e, Column):
        return f"{e.kind}[{e.index}]{chr(39) if e.next else ''}"
    if isinstance(e, PublicInput):
        return f"pub[{e.index}]"
    if isinstance(e, Challenge):
        return str(e.name)
    if isinstance(e, Neg):
        return f"(- {to_text(e.a)})"
    op = {Add: "+", Sub: "-", Mul: "*"}[type(e)]
    return f"({op} {to_text(e.a)} {to_text(e.b)})"


def evaluate(e: Expr, algebra, leaf: Callable[[Expr], object], cache: dict | None = None):
    """Interpret `e` with `algebra` (add, sub, mul, neg, const, and `share`, which sees the
    value of every inner node) and `leaf` for columns, public inputs and challenges. `cache`
    shares the value of a subtree used in several places (prover.fold says more)."""
    cache = {} if cache is None else cache
    key = id(e)
    if key in cache:
        return cache[key][1]
    if isinstance(e, Const):
        v = algebra.const(e.value)
    elif isinstance(e, (Column, PublicInput, Challenge)):
        v = leaf(e)
    elif isinstance(e, Add):
        v = algebra.add(evaluate(e.a, algebra, leaf, cache), evaluate(e.b, algebra, leaf, cache))
    elif isinstance(e, Sub):
        v = algebra.sub(evaluate(e.a, algebra, leaf, cache), evaluate(e.b, algebra, leaf, cache))
    elif isinstance(e, Mul):
        v = algebra.mul(evaluate(e.a, algebra, leaf, cache), evaluate(e.b, algebra, leaf, cache))
    elif isinstance(e, Neg):
        v = algebra.neg(evaluate(e.a, algebra, leaf, cache))
    else:
        raise InvalidCircuit(f"unknown expression node {type(e).__name__}")
    if not isinstance(e, (Const, Column, PublicInput, Challenge)):
        v = algebra.share(e, v)
    # Keep the node alive with its value: ids are only unique among live objects.
    cache[key] = (e, v)
    return v


# ---------------------------------------------------------------------------------------------
# Circuits and the builder they write constraints against

class Air:
    """Base class of a circuit. Subclasses set the column tuples and write `eval`.

    witness_columns: the prover's columns, committed in round 1, in this order.
    public_groups: an ordered mapping group name → witness column names. Each group is
        committed unblinded as one packed commitment, so that anyone holding its columns'
        values can recompute that commitment (a rollup's old state, new state, batch data).
    public_columns: the simple form: these columns form one public group named "public"
        (used when `public_groups` is not set).
    max_pack_width: the most blinded witness columns packed into one commitment; None packs
        them all into one. Each extra pack costs the L1 verifier one ecMul (6000 gas); a
        narrower pack shortens the prover's opening polynomials (docs/protocol.md §1).
    logup_arity: how many terms of a logUp argument share one interaction column (2 or more).
        Each column then carries a constraint of degree arity + 1 (more with weighted terms):
        fewer, shorter-lived columns for a longer quotient (docs/protocol.md §1).
    fixed_columns: preprocessed columns, committed once (as one pack) in the verification key.
    public_inputs: values the verifier supplies; constraints read them with `b.public(name)`.
    state_layout: for a rollup's circuit, which public groups are its old state, new state and
        batch data (prover.state_layout); None for a circuit no L1 contract chains.
    publication: the rows the L1 receives as calldata, bound to the public groups
        (prover.publication); None for a circuit that publishes nothing.
    """

    name: str = "air"
    witness_columns: tuple[str, ...] = ()
    public_groups: Mapping[str, tuple[str, ...]] | None = None
    public_columns: tuple[str, ...] = ()
    max_pack_width: int | None = None
    logup_arity: int = 2
    fixed_columns: tuple[str, ...] = ()
    public_inputs: tuple[str, ...] = ()
    state_layout: StateLayout | None = None
    publication: "Publication | None" = None

    def fixed_values(self, n: int) -> Mapping[str, Sequence[int]]:
        """The fixed columns' values for a trace of n rows."""
        return {}

    def eval(self, b: "AirBuilder") -> None:
        raise NotImplementedError

    def min_rows(self) -> int:
        """The smallest trace size the circuit supports."""
        return 8

    def parameters(self) -> str:
        """Anything that changes the circuit beyond its class (hashed into the digest)."""
        return ""


@dataclass
class Constraint:
    selector: Selector
    expr: Expr
    label: str

    @property
    def degree(self) -> int:
        return degree(self.expr)


@dataclass
class LogUpArgument:
    """Σ over rows of Σ over terms of weight / (β − fingerprint(values)) must be zero.

    A lookup of values f into a table t with multiplicities m is the argument with terms
    (1, f) and (−m, t); a weighted multiset sum is any list of terms."""

    name: str
    terms: list[tuple[Expr, tuple[Expr, ...]]]


class _Scoped:
    """The builder restricted to one selector (`b.when_transition()` and friends)."""

    def __init__(self, builder: "AirBuilder", selector: Selector):
        self.builder, self.selector = builder, selector

    def assert_zero(self, e: ExprLike, label: str = "") -> None:
        self.builder._add(self.selector, lift(e), label)

    def assert_eq(self, a: ExprLike, b: ExprLike, label: str = "") -> None:
        self.assert_zero(lift(a) - lift(b), label)


class AirBuilder:
    """Records a circuit's constraints as expression trees."""

    def __init__(self, air: Air):
        self.air = air
        self.constraints: list[Constraint] = []
        self.arguments: list[LogUpArgument] = []
        self._columns: dict[str, tuple[ColumnKind, int]] = {}
        for i, name in enumerate(air.witness_columns):
            self._columns[name] = (ColumnKind.WITNESS, i)
        for i, name in enumerate(air.fixed_columns):
            if name in self._columns:
                raise InvalidCircuit(f"{air.name}: column name {name!r} used twice")
            self._columns[name] = (ColumnKind.FIXED, i)
        if len(self._columns) != len(air.witness_columns) + len(air.fixed_columns):
            raise InvalidCircuit(f"{air.name}: column names must be unique")
        for _, names in public_groups_of(air):
            for name in names:
                if self._columns.get(name, ("",))[0] != ColumnKind.WITNESS:
                    raise InvalidCircuit(f"{air.name}: public column {name!r} is not a witness column")
        width = air.max_pack_width
        if width is not None and (not isinstance(width, int) or isinstance(width, bool) or width < 1):
            raise InvalidCircuit(f"{air.name}: max_pack_width must be None or an int ≥ 1, got {width!r}")
        if len(set(air.public_inputs)) != len(air.public_inputs):
            raise InvalidCircuit(f"{air.name}: public input names must be unique")

    def _column(self, name: str, nxt: bool) -> Column:
        if name not in self._columns:
            raise InvalidCircuit(f"{self.air.name}: unknown column {name!r}")
        kind, index = self._columns[name]
        return Column(kind, index, name, nxt)

    def cur(self, name: str) -> Column:
        """Column `name` at the current row."""
        return self._column(name, False)

    def next(self, name: str) -> Column:
        """Column `name` at the next row (only meaningful under `when_transition`)."""
        return self._column(name, True)

    def public(self, name: str) -> PublicInput:
        if name not in self.air.public_inputs:
            raise InvalidCircuit(f"{self.air.name}: unknown public input {name!r}")
        return PublicInput(self.air.public_inputs.index(name), name)

    def _add(self, selector: Selector, e: Expr, label: str) -> None:
        for kind, _, nxt in columns_of(e):
            if nxt and selector != Selector.TRANSITION:
                raise InvalidCircuit(f"{self.air.name}: next-row values only in transition constraints")
        self.constraints.append(Constraint(selector, e, label or f"c{len(self.constraints)}"))

    def assert_zero(self, e: ExprLike, label: str = "") -> None:
        """`e` is zero on every row."""
        self._add(Selector.EVERY_ROW, lift(e), label)

    def assert_eq(self, a: ExprLike, b: ExprLike, label: str = "") -> None:
        self.assert_zero(lift(a) - lift(b), label)

    def when_first_row(self) -> _Scoped:
        return _Scoped(self, Selector.FIRST_ROW)

    def when_last_row(self) -> _Scoped:
        return _Scoped(self, Selector.LAST_ROW)

    def when_transition(self) -> _Scoped:
        """Rows 0 … n−2, each with its successor."""
        return _Scoped(self, Selector.TRANSITION)

    def logup_lambda(self) -> Challenge:
        """λ, the challenge that keeps the logUp arguments apart (argument a is scaled by λ^a).
        A circuit may use it inside its own terms to keep the parts of one sum apart (the
        ledger does): any challenge drawn before the interaction columns binds like β."""
        return Challenge(ChallengeName.LAMBDA)

    def lookup(self, values, table, multiplicity: ExprLike, name: str = "") -> None:
        """Every row's `values` (an expression or a tuple of them) occurs among the rows of
        `table`; `multiplicity` says how often each table row is used (a witness column the
        trace builder fills with `lookup_multiplicities`)."""
        values, table = _as_tuple(values), _as_tuple(table)
        if len(values) != len(table):
            raise InvalidCircuit(f"{self.air.name}: lookup of {len(values)} values into a {len(table)}-wide table")
        self.multiset_sum([(1, values), (-lift(multiplicity), table)], name or f"lookup{len(self.arguments)}")

    def multiset_sum(self, terms, name: str = "") -> None:
        """Σ over all rows of Σ weight/(β − values) is zero: each term is (weight, values)
        with expressions of the current row. Moving value between keys (the ledger's balance
        changes) and lookups are both such sums. Tuples of different widths may mix: a
        shorter one is read as padded with zeros, which leaves its fingerprint unchanged
        (v₀ + γ·v₁ + … + γ^k·0 = v₀ + γ·v₁ + …), so no padding is written."""
        clean = []
        for weight, values in terms:
            values = _as_tuple(values)
            if not values:
                raise InvalidCircuit(f"{self.air.name}: a multiset term with no values")
            w = lift(weight)
            for e in (w,) + values:
                if any(nxt for _, _, nxt in columns_of(e)):
                    raise InvalidCircuit(f"{self.air.name}: logUp terms read the current row only")
            clean.append((w, values))
        if not clean:
            raise InvalidCircuit(f"{self.air.name}: an empty multiset sum")
        self.arguments.append(LogUpArgument(name or f"sum{len(self.arguments)}", clean))


def public_groups_of(air: Air) -> list[tuple[str, tuple[str, ...]]]:
    """The circuit's public groups in commitment order: `public_groups` when declared, else
    one group "public" of `public_columns` (none when there are no public columns)."""
    if air.public_groups is None:
        cols = tuple(air.public_columns)
        if len(set(cols)) != len(cols):
            raise InvalidCircuit(f"{air.name}: a public column is listed twice")
        return [("public", cols)] if cols else []
    if not isinstance(air.public_groups, Mapping):
        raise InvalidCircuit(f"{air.name}: public_groups maps group names to column tuples")
    groups, seen = [], set()
    for name, cols in air.public_groups.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise InvalidCircuit(f"{air.name}: public group name {name!r} is not an identifier")
        cols = (cols,) if isinstance(cols, str) else tuple(cols)
        if not cols:
            raise InvalidCircuit(f"{air.name}: public group {name!r} has no columns")
        for c in cols:
            if c in seen:
                raise InvalidCircuit(f"{air.name}: column {c!r} is in two public groups (or twice in one)")
            seen.add(c)
        groups.append((name, cols))
    if air.public_columns and set(air.public_columns) != seen:
        raise InvalidCircuit(f"{air.name}: public_columns and public_groups name different columns")
    return groups


def _as_tuple(values) -> tuple[Expr, ...]:
    if isinstance(values, (tuple, list)):
        return tuple(lift(v) for v in values)
    return (lift(values),)


# ---------------------------------------------------------------------------------------------
# The compiled constraint system


def fingerprint(values: Sequence[Expr]) -> Expr:
    """values[0] + γ·values[1] + γ²·values[2] + …: one field element per tuple."""
    gamma = Challenge(ChallengeName.GAMMA)
    acc = values[-1]
    for v in reversed(values[:-1]):
        acc = v + gamma * acc
    return acc


@dataclass
class HelperColumn:
    """One interaction column h = λ^a · Σ_t w_t / (β − fingerprint_t) over up to the circuit's
    `logup_arity` terms of argument a."""

    argument: int
    terms: list[tuple[Expr, tuple[Expr, ...]]]


@dataclass
class ConstraintSystem:
    """A circuit's constraints after logUp compilation, with the shape the protocol needs."""

    air: Air
    constraints: list[Constraint]
    arguments: list[LogUpArgument]
    helpers: list[HelperColumn] = field(default_factory=list)
    digest: bytes = b""

    @property
    def num_witness(self) -> int:
        return len(self.air.witness_columns)

    @property
    def num_fixed(self) -> int:
        return len(self.air.fixed_columns)

    @property
    def num_interaction(self) -> int:
        """Helper columns plus the running sum (none without logUp arguments)."""
        return len(self.helpers) + 1 if self.helpers else 0

    @property
    def has_interaction(self) -> bool:
        return bool(self.helpers)

    @property
    def public_groups(self) -> list[tuple[str, list[int]]]:
        """(name, witness column indices) of each public group, in commitment order."""
        w = self.air.witness_columns
        return [(name, [w.index(c) for c in cols]) for name, cols in public_groups_of(self.air)]

    @property
    def public_column_indices(self) -> list[int]:
        return [i for _, cols in self.public_groups for i in cols]

    def read_at_next_row(self) -> set[tuple[str, int]]:
        """The (kind, index) of every column some constraint reads at the next row."""
        used = set()
        for c in self.constraints:
            for kind, index, nxt in columns_of(c.expr):
                if nxt:
                    used.add((kind, index))
        return used

    def max_degree(self) -> int:
        return max([c.degree for c in self.constraints] + [1])

    def quotient_degree_bound(self, n: int) -> int:
        """An upper bound on deg Q for an honest trace of n rows. Every committed column has
        degree ≤ n + 2 (three blinding coefficients); dividing by Z_H removes n, dividing a
        boundary constraint by (X − ω^i) removes 1; the transition selector adds 1."""
        bound = 0
        for c in self.constraints:
            num = c.degree * (n + 2) + (1 if c.selector == Selector.TRANSITION else 0)
            den = n if c.selector in (Selector.EVERY_ROW, Selector.TRANSITION) else 1
            bound = max(bound, num - den)
        return bound

    def quotient_chunks(self, n: int) -> int:
        """Q is committed as k chunks of n coefficients, the last one taking the remainder."""
        return max(1, (self.quotient_degree_bound(n) + 1) // n)

    def extension(self, n: int) -> int:
        """The blow-up E of the coset on which Q is computed: the smallest power of two with
        E·n > deg Q + 1, so that at least one coefficient above the bound must vanish (a trace
        that breaks a constraint is refused there)."""
        need = self.quotient_degree_bound(n) + 2
        e = 1
        while e * n < need:
            e *= 2
        return e


def compile_air(air: Air) -> ConstraintSystem:
    """Run `air.eval` under the recording builder and compile its logUp arguments.

    Each argument's terms are cut into helper columns h of `air.logup_arity` terms (with two:
    degree-3 constraints h·d₁·d₂ = λ^a·(w₁·d₂ + w₂·d₁), d = β − fingerprint; with t terms
    h·Π d = λ^a·Σ_i w_i·Π_{m≠i} d_m), and one running sum S ties all helpers together:
    S(first) = 0, S(next) = S + Σh on transitions, S(last) + Σh = 0. The powers of λ keep the
    arguments apart, so that one sum cannot be balanced by another."""
    arity = air.logup_arity
    if not isinstance(arity, int) or arity < 2:
        raise InvalidCircuit(f"{air.name}: logup_arity must be an int ≥ 2, got {arity!r}")
    b = AirBuilder(air)
    air.eval(b)
    constraints = list(b.constraints)
    helpers: list[HelperColumn] = []
    for a, arg in enumerate(b.arguments):
        for i in range(0, len(arg.terms), arity):
            helpers.append(HelperColumn(a, arg.terms[i:i + arity]))
    if helpers:
        beta, lam = Challenge(ChallengeName.BETA), Challenge(ChallengeName.LAMBDA)
        for j, h in enumerate(helpers):
            col = Column(ColumnKind.INTERACTION, j, f"logup_helper{j}")
            scale = Const(1)
            for _ in range(h.argument):
                scale = scale * lam
            dens = [beta - fingerprint(values) for _, values in h.terms]
            lhs = col
            for d in dens:
                lhs = lhs * d
            # Σ_i w_i·Π_{m≠i} d_m, written as the pair form above when there are two terms.
            rhs = None
            for i, (w, _) in enumerate(h.terms):
                term = w
                for m, d in enumerate(dens):
                    if m != i:
                        term = term * d
                rhs = term if rhs is None else rhs + term
            expr = lhs - scale * rhs
            constraints.append(Constraint(Selector.EVERY_ROW, expr, f"logup_helper{j}"))
        s = Column(ColumnKind.INTERACTION, len(helpers), "logup_sum")
        s_next = Column(ColumnKind.INTERACTION, len(helpers), "logup_sum", next=True)
        total = Const(0)
        for j in range(len(helpers)):
            total = total + Column(ColumnKind.INTERACTION, j, f"logup_helper{j}")
        constraints.append(Constraint(Selector.FIRST_ROW, s, "logup_sum_starts_at_zero"))
        constraints.append(Constraint(Selector.TRANSITION, s_next - s - total, "logup_sum_accumulates"))
        constraints.append(Constraint(Selector.LAST_ROW, s + total, "logup_sum_ends_at_zero"))
    cs = ConstraintSystem(air, constraints, list(b.arguments), helpers)
    cs.digest = circuit_digest(cs)
    return cs


def circuit_digest(cs: ConstraintSystem) -> bytes:
    """Keccak-256 of the circuit's canonical description: names, shape and every constraint."""
    air = cs.air
    lines = [f"air {air.name} {air.parameters()}",
             "witness " + " ".join(air.witness_columns),
             "public_groups " + " ".join(f"{name}:{','.join(cols)}" for name, cols in public_groups_of(air)),
             f"max_pack_width {air.max_pack_width or 0}",
             "fixed " + " ".join(air.fixed_columns),
             "public_inputs " + " ".join(air.public_inputs)]
    if air.state_layout is not None:  # the new state's groups get a degree bound (prover.groups)
        lines.append("degree_bound " + " ".join(air.state_layout.new_state))
    if air.publication is not None:
        lines.append("publication " + air.publication.describe())
    lines += [f"{c.selector} {to_text(c.expr)}" for c in cs.constraints]
    for h in cs.helpers:
        lines.append(f"helper {h.argument} " + " ".join(
            f"[{to_text(w)} : {' '.join(to_text(v) for v in vals)}]" for w, vals in h.terms))
    return keccak256("\n".join(lines).encode())


def lookup_multiplicities(values: Sequence[int], table: Sequence[int]) -> list[int]:
    """How many times each table row is looked up by `values` (the first row holding a value
    takes all its uses). A value missing from the table raises InvalidCircuit: no honest
    multiplicity column exists for it."""
    first: dict[int, int] = {}
    for i, t in enumerate(table):
        first.setdefault(int(t), i)
    m = [0] * len(table)
    for v in values:
        i = first.get(int(v))
        if i is None:
            raise InvalidCircuit(f"value {int(v)} is not in the lookup table")
        m[i] += 1
    return m
