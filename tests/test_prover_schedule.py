"""The round schedule is written once (prover.schedule): change it there, and the prover, the
Python verifier and the generated Solidity verifier all follow; a proof made under one schedule
is refused under another by both verifiers."""

import pytest

from kernels import get_backend
from prover import schedule
from prover.errors import InvalidProof
from prover.prove import prove
from prover.schedule import Absorb, Draw, Message
from prover.solidity import verifier_source
from prover.types import ChallengeName
from prover.verify import verify

from .prover_util import example, keys_for

pytest.importorskip("pyrevm")

from node.l1.embedded import EmbeddedL1  # noqa: E402
from node.l1.rollup import VerifierContract  # noqa: E402

BE = get_backend("cpu")
LOG2_N = 3


def reordered(steps):
    """The schedule with γ drawn before β and the evaluations at ζω absorbed before those at ζ."""
    out = list(steps)
    beta, gamma = out.index(Draw(ChallengeName.BETA, logup=True)), out.index(Draw(ChallengeName.GAMMA, logup=True))
    out[beta], out[gamma] = out[gamma], out[beta]
    at_zeta, at_next = out.index(Absorb(Message.EVALS_ZETA)), out.index(Absorb(Message.EVALS_ZETA_OMEGA))
    out[at_zeta], out[at_next] = out[at_next], out[at_zeta]
    return tuple(out)


def python_accepts(air, vk, pub, data) -> bool:
    try:
        return verify(air, vk, pub, data)
    except InvalidProof:
        return False


def test_changing_the_schedule_in_one_place_changes_all_three_verifier_paths(monkeypatch):
    air, trace, pub = example("multiset", LOG2_N)  # a logUp circuit: every draw of the schedule
    pk, vk = keys_for(air, LOG2_N)
    words = [int(pub[k]) for k in air.public_inputs]
    l1 = EmbeddedL1()
    original = prove(air, pk, trace, pub, BE).to_bytes()
    original_source = verifier_source(air, vk)
    original_contract = VerifierContract.deploy(l1, air, vk)

    monkeypatch.setattr(schedule, "SCHEDULE", reordered(schedule.SCHEDULE))
    changed = prove(air, pk, trace, pub, BE).to_bytes()
    changed_source = verifier_source(air, vk)
    assert changed_source != original_source
    changed_contract = VerifierContract.deploy(l1, air, vk)

    # Under the changed schedule: its proof is accepted, the old schedule's proof refused.
    assert python_accepts(air, vk, pub, changed)
    assert changed_contract.accepts(changed, words)
    assert not python_accepts(air, vk, pub, original)
    assert not changed_contract.accepts(original, words)

    # And the verifier generated under the original schedule refuses the changed proof.
    assert original_contract.accepts(original, words)
    assert not original_contract.accepts(changed, words)
    monkeypatch.undo()
    assert python_accepts(air, vk, pub, original) and not python_accepts(air, vk, pub, changed)


def test_logup_draws_leave_the_schedule_of_a_circuit_without_logup():
    with_logup = schedule.steps(True)
    without = schedule.steps(False)
    assert [s for s in with_logup if not (isinstance(s, Draw) and s.logup)] == without
    assert {s.challenge for s in with_logup if isinstance(s, Draw)} == set(ChallengeName)
