"""The round schedule: what enters the Fiat–Shamir transcript, and when each challenge is drawn
(docs/protocol.md §3).

Written once, as data. The prover (prover.prove), the Python verifier (prover.verify) and the
Solidity writer (prover.solidity) all iterate `steps(...)`: the prover computes each message
when the schedule asks for it, the verifier reads it from the proof, the Yul code copies it from
the calldata. A change here changes all three.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from .types import ChallengeName, GroupKind, NameEnum


class Message(NameEnum):
    """A value the prover sends, as the transcript absorbs it."""

    PUBLIC_INPUTS = "public_inputs"        # scalars, in declaration order
    PUBLISHED = "published"                # keccak256(published data) mod r; none without a publication
    COMMITMENTS = "commitments"            # points: the groups of the step's kinds, commitment order
    EVALS_ZETA = "evals_zeta"              # scalars: every group's columns at ζ
    EVALS_ZETA_OMEGA = "evals_zeta_omega"  # scalars: the columns of the groups opened at ζω
    OPENING = "opening"                    # the point W = [h]


POINT_MESSAGES = (Message.COMMITMENTS, Message.OPENING)


@dataclass(frozen=True)
class Absorb:
    """The transcript absorbs a message (for COMMITMENTS: the groups of `kinds`)."""

    message: Message
    kinds: tuple[GroupKind, ...] = ()


@dataclass(frozen=True)
class Draw:
    """The transcript yields a challenge. `logup` draws only for circuits with logUp arguments."""

    challenge: ChallengeName
    logup: bool = False


Step = Absorb | Draw

SCHEDULE: tuple[Step, ...] = (
    # round 1: the statement and the trace
    Absorb(Message.PUBLIC_INPUTS),
    Absorb(Message.PUBLISHED),
    Absorb(Message.COMMITMENTS, (GroupKind.PUBLIC, GroupKind.BOUND, GroupKind.WITNESS)),
    # round 2: the logUp interaction columns
    Draw(ChallengeName.BETA, logup=True),
    Draw(ChallengeName.GAMMA, logup=True),
    Draw(ChallengeName.LAMBDA, logup=True),
    Absorb(Message.COMMITMENTS, (GroupKind.INTERACTION,)),
    # round 3: the quotient
    Draw(ChallengeName.ALPHA),
    Absorb(Message.COMMITMENTS, (GroupKind.QUOTIENT,)),
    # round 4: the evaluations
    Draw(ChallengeName.ZETA),
    Absorb(Message.EVALS_ZETA),
    Absorb(Message.EVALS_ZETA_OMEGA),
    # round 5: the combined opening
    Draw(ChallengeName.NU),
    Absorb(Message.OPENING),
    Draw(ChallengeName.Z),
)


def steps(has_logup: bool) -> list[Step]:
    """The schedule of a circuit: SCHEDULE without the logUp draws when it has no logUp
    argument. Read at call time, so that the one definition above is the one in force."""
    return [s for s in SCHEDULE if not (isinstance(s, Draw) and s.logup and not has_logup)]


def run(transcript, has_logup: bool,
        message: Callable[[Absorb, dict], Sequence]) -> dict[ChallengeName, int]:
    """Drive `transcript` through the schedule. `message(step, challenges)` gives the values of
    each absorption (points for COMMITMENTS and OPENING, scalars otherwise), knowing every
    challenge drawn before it. Returns every challenge by name."""
    challenges: dict[ChallengeName, int] = {}
    for step in steps(has_logup):
        if isinstance(step, Draw):
            challenges[step.challenge] = transcript.challenge()
        elif step.message in POINT_MESSAGES:
            transcript.absorb_points(message(step, challenges))
        else:
            transcript.absorb_scalars(message(step, challenges))
    return challenges
