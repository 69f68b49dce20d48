"""The proof system's small types, in one home: points, and the names the protocol uses for
selectors, column kinds, group kinds and challenges.

The names are string enums whose values are the words the circuit digest, the verification
key and the Solidity comments have always used, so that `Selector.TRANSITION == "transition"`
and a member formats as its value.
"""

from __future__ import annotations

from enum import Enum

G1Point = tuple[int, int]                                # affine (x, y); (0, 0) is infinity
G2Point = tuple[tuple[int, int], tuple[int, int]]        # ((x.c0, x.c1), (y.c0, y.c1))


class NameEnum(str, Enum):
    """A string enum that prints and formats as its value."""

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


class Selector(NameEnum):
    """The rows a constraint holds on."""

    EVERY_ROW = "every_row"
    TRANSITION = "transition"      # rows 0 … n−2, each with its successor
    FIRST_ROW = "first_row"
    LAST_ROW = "last_row"


class ColumnKind(NameEnum):
    """Where a committed column comes from."""

    WITNESS = "witness"            # the prover's trace (public groups included)
    FIXED = "fixed"                # preprocessed, committed in the verification key
    INTERACTION = "interaction"    # logUp helpers and running sum, after β, γ, λ
    QUOTIENT = "quotient"          # the quotient's chunks, after α


class GroupKind(NameEnum):
    """What a packed commitment holds, in commitment order (docs/protocol.md §1)."""

    FIXED = "fixed"
    PUBLIC = "public"
    BOUND = "bound"                # a public group shifted to the SRS's top: its degree bound
    WITNESS = "witness"
    INTERACTION = "interaction"
    QUOTIENT = "quotient"


class ChallengeName(NameEnum):
    """The verifier's challenges, each drawn from the transcript (prover.schedule)."""

    BETA = "beta"        # logUp: the point 1/(β − value) is taken at
    GAMMA = "gamma"      # logUp: folds a tuple of values into one
    LAMBDA = "lambda"    # logUp: keeps the arguments of one circuit apart
    ALPHA = "alpha"      # folds the constraints
    ZETA = "zeta"        # where the columns are opened
    NU = "nu"            # folds the opening claims
    Z = "z"              # where the combined opening polynomial is opened


LOGUP_CHALLENGES = (ChallengeName.BETA, ChallengeName.GAMMA, ChallengeName.LAMBDA)
