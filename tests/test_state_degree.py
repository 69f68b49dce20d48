"""The new state's degree bound (docs/protocol.md §1, §9): a prover that commits the new state
as another polynomial with the same values on H (the interpolant plus a multiple of Z_H) would
leave a commitment nobody else can continue from. Both verifiers refuse such a proof unless its
author holds powers of τ past the end of the key's SRS, which the setup never publishes."""

import numpy as np
import pytest

from circuits.examples.state_update import StateUpdate
from prover import schedule
from prover.air import compile_air
from prover.errors import InvalidProof
from prover.groups import commitment_groups
from prover.keys import ProvingKey
from prover.polynomials import pack
from prover.prove import ProofInProgress, public_commitment
from prover.transcript import Transcript
from prover.types import ChallengeName, GroupKind
from prover.verify import verify

from .l1_util import BE
from .prover_util import keys_for, srs_for

pytest.importorskip("pyrevm")

from node.l1.embedded import EmbeddedL1  # noqa: E402
from node.l1.rollup import VerifierContract  # noqa: E402

LOG2_N = 3


class HighDegreeState(ProofInProgress):
    """Commits the new state as interpolant + c·Z_H (same values on H, one coefficient more per
    column) and its degree bound as `bound` says: "exact" is X^s·P with every coefficient (it
    needs the SRS powers D … D+k−1), "truncated" drops the coefficients past the SRS's end,
    "short_shift" multiplies by X^(s−k) instead, so that it fits."""

    def __init__(self, air, pk, extra, bound):
        super().__init__(air, pk, BE, np.random.default_rng(5), True)
        self.extra, self.bound = extra, bound
        self.new_index = next(gi for gi, g in enumerate(self.groups) if g.name == "new_state")

    def load_trace(self, trace, public_inputs):
        super().load_trace(trace, public_inputs)
        fr, n = BE.fr, self.dom.n
        for key in self.groups[self.new_index].columns:
            f = BE.xp.concatenate([self.polys[key], fr.zeros(1)], axis=0)
            c = BE.asarray(fr.from_ints([self.extra]))
            f[0:1] = fr.sub(f[0:1], c)
            f[n:n + 1] = c  # + c·(X^n − 1)
            self.polys[key] = f

    def commit_group(self, gi, challenges):
        g = self.groups[gi]
        if gi == self.new_index:
            self.packed[gi] = pack(BE, [self.polys[key] for key in g.columns], self.dom.n + 1)
            self.commitments[gi] = BE.g1.to_ints(BE.msm(self.srs[:self.packed[gi].shape[0]], self.packed[gi]))[0]
            return self.commitments[gi]
        if g.kind != GroupKind.BOUND:
            return super().commit_group(gi, challenges)
        source, size = self.packed[g.source], g.width * g.length
        shift = g.shift - g.width if self.bound == "short_shift" else g.shift
        poly = BE.xp.concatenate([BE.fr.zeros(shift), source], axis=0)
        if self.bound == "truncated":
            poly = poly[:size]
        self.packed[gi] = poly
        self.commitments[gi] = BE.g1.to_ints(BE.msm(self.srs[:poly.shape[0]], poly))[0]
        return self.commitments[gi]


def cheat(air, pk, trace, pub, extra, bound):
    run = HighDegreeState(air, pk, extra, bound)
    run.load_trace(trace, pub)
    challenges = schedule.run(Transcript(pk.vk.digest), run.cs.has_interaction, run.message)
    return run.finish(challenges[ChallengeName.Z])


def verdicts(air, vk, pub, proof) -> tuple[bool, bool]:
    try:
        py = verify(air, vk, pub, proof.to_bytes())
    except InvalidProof:
        py = False
    sol = VerifierContract.deploy(EmbeddedL1(), air, vk).accepts(proof.to_bytes(), [int(pub["net"])])
    return py, sol


@pytest.fixture(scope="module")
def setting():
    air = StateUpdate()
    pk, vk = keys_for(air, LOG2_N)
    n = 1 << LOG2_N
    trace, pub = air.trace([3 * i + 1 for i in range(n)], [i % 3 for i in range(n)])
    return air, pk, vk, trace, pub


def test_the_new_state_group_carries_a_degree_bound(setting):
    air, pk, vk, _, _ = setting
    groups = commitment_groups(compile_air(air), vk.n)
    bound = [g for g in groups if g.kind == GroupKind.BOUND]
    assert [groups[g.source].name for g in bound] == ["new_state"]
    # X^s·P fills the SRS exactly: a P one coefficient longer does not fit.
    assert bound[0].shift + vk.n * bound[0].width == len(pk.srs_g1)


@pytest.mark.parametrize("bound", ["truncated", "short_shift"])
def test_a_new_state_of_too_high_degree_is_refused_by_both(setting, bound):
    air, pk, vk, trace, pub = setting
    proof = cheat(air, pk, trace, pub, 11, bound)
    # The proof would lock the state: its new-state commitment is not the one anyone
    # recomputes from the new state's values.
    honest_commitment = public_commitment(pk.srs_g1, [trace["new"]], BE)
    new_state_at = [g.name for g in commitment_groups(compile_air(air), vk.n)
                    if g.kind != GroupKind.FIXED].index("new_state")
    assert proof.commitments[new_state_at] != honest_commitment
    assert verdicts(air, vk, pub, proof) == (False, False)


def test_the_same_cheat_passes_only_with_powers_past_the_srs(setting):
    """The control: with the powers D … D+k−1 (which the setup must never publish) the same
    high-degree state makes a proof both verifiers accept, so the refusals above come from the
    degree bound alone; and with c = 0 the cheating path is the honest prover."""
    air, pk, vk, trace, pub = setting
    d = len(pk.srs_g1)
    beyond = ProvingKey(vk, srs_for(1 << 14).g1_powers[:d + 1], pk.fixed_coeffs)
    assert verdicts(air, vk, pub, cheat(air, beyond, trace, pub, 11, "exact")) == (True, True)
    assert verdicts(air, vk, pub, cheat(air, pk, trace, pub, 0, "truncated")) == (True, True)
