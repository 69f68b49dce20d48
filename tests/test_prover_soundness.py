"""Every soundness property has a cheating prover that fails.

The cheating proofs are made with `refuse_invalid=False`: the prover skips its own refusal and
commits to whatever a bad trace gives, so the verifier alone has to reject them."""

import random

import pytest

from kernels import get_backend
from kernels.params import R_MODULUS
from prover.air import Air, AirBuilder
from prover.errors import InvalidProof, InvalidTrace
from prover.proof import Proof
from prover.prove import prove
from prover.verify import verify

from .prover_util import EXAMPLES, example, keys_for, with_one_cell_changed

BE = get_backend("cpu")


def rejected(air, vk, pub, make_proof) -> bool:
    """The honest prover refuses, or the verifier rejects."""
    try:
        proof = make_proof()
    except InvalidTrace:
        return True
    try:
        verify(air, vk, pub, proof.to_bytes())
    except InvalidProof:
        return True
    return False


@pytest.mark.parametrize("name", EXAMPLES)
def test_any_changed_cell_is_rejected(name):
    air, trace, pub = example(name, 3, seed=7)
    pk, vk = keys_for(air, 3)
    rnd = random.Random(name)
    for _ in range(16):
        bad = with_one_cell_changed(air, trace, rnd, 8)
        # The honest prover refuses ...
        with pytest.raises(InvalidTrace):
            prove(air, pk, bad, pub, BE)
        # ... and a cheating one that commits anyway is caught by the verifier.
        with pytest.raises(InvalidProof):
            verify(air, vk, pub, prove(air, pk, bad, pub, BE, refuse_invalid=False).to_bytes())


def test_lookup_value_outside_table_is_rejected():
    air, trace, pub = example("range_check", 3)
    pk, vk = keys_for(air, 3)
    bad = {c: list(v) for c, v in trace.items()}
    bad["value"][5] = 8  # the table holds 0 … 7
    with pytest.raises(InvalidTrace):
        prove(air, pk, bad, pub, BE)
    with pytest.raises(InvalidProof):
        verify(air, vk, pub, prove(air, pk, bad, pub, BE, refuse_invalid=False).to_bytes())
    # Charging the out-of-range value to some table row's multiplicity does not help either.
    bad["mult"][7] += 1
    bad["mult"][[i for i in range(8) if trace["value"][i] == trace["value"][5]][0]] -= 1
    with pytest.raises(InvalidProof):
        verify(air, vk, pub, prove(air, pk, bad, pub, BE, refuse_invalid=False).to_bytes())


def test_unbalanced_multiset_sum_is_rejected():
    air, trace, pub = example("multiset", 3)
    pk, vk = keys_for(air, 3)
    bad = {c: list(v) for c, v in trace.items()}
    bad["delta"][2] = (bad["delta"][2] + 1) % R_MODULUS  # one slot gains value from nowhere
    with pytest.raises(InvalidTrace):
        prove(air, pk, bad, pub, BE)
    with pytest.raises(InvalidProof):
        verify(air, vk, pub, prove(air, pk, bad, pub, BE, refuse_invalid=False).to_bytes())


class _ValuesIntoPairs(Air):
    """A lookup of single values v into the pairs (slot, tag): v counts as the pair (v, 0)."""

    name = "values_into_pairs"
    witness_columns = ("v", "tag", "uses")
    fixed_columns = ("slot",)

    def fixed_values(self, n: int):
        return {"slot": list(range(n))}

    def eval(self, b: AirBuilder) -> None:
        b.multiset_sum([(1, b.cur("v")), (-b.cur("uses"), (b.cur("slot"), b.cur("tag")))], "mixed_widths")


def test_single_values_and_pairs_share_one_sum():
    air = _ValuesIntoPairs()
    pk, vk = keys_for(air, 3)
    v = [3, 3, 5, 0, 7, 3, 1, 1]
    trace = {"v": v, "tag": [0] * 8, "uses": [v.count(i) for i in range(8)]}
    assert verify(air, vk, {}, prove(air, pk, trace, {}, BE).to_bytes())
    # Slot 3's pair is (3, 5) now: the single value 3 is (3, 0), which is not in the table.
    bad = dict(trace, tag=[0, 0, 0, 5, 0, 0, 0, 0])
    with pytest.raises(InvalidTrace):
        prove(air, pk, bad, {}, BE)
    with pytest.raises(InvalidProof):
        verify(air, vk, {}, prove(air, pk, bad, {}, BE, refuse_invalid=False).to_bytes())


def test_every_single_byte_change_is_rejected():
    from circuits.examples import Fibonacci
    air = Fibonacci(2)
    trace, pub = air.trace(8)
    pk, vk = keys_for(air, 3)
    data = prove(air, pk, trace, pub, BE).to_bytes()
    assert verify(air, vk, pub, data)
    rnd = random.Random(1)
    for pos in range(len(data)):
        changed = bytearray(data)
        changed[pos] ^= rnd.randrange(1, 256)
        with pytest.raises(InvalidProof):
            verify(air, vk, pub, bytes(changed))


def test_different_public_input_is_rejected():
    air, trace, pub = example("fibonacci", 4)
    pk, vk = keys_for(air, 4)
    data = prove(air, pk, trace, pub, BE).to_bytes()
    for key in pub:
        other = dict(pub)
        other[key] = (other[key] + 1) % R_MODULUS
        with pytest.raises(InvalidProof):
            verify(air, vk, other, data)


def test_proof_against_another_circuits_key_is_rejected():
    fib, ftrace, fpub = example("fibonacci", 3)
    rng_air, rtrace, rpub = example("range_check", 3)
    _, fvk = keys_for(fib, 3)
    rpk, rvk = keys_for(rng_air, 3)
    rproof = prove(rng_air, rpk, rtrace, rpub, BE).to_bytes()
    with pytest.raises(InvalidProof):
        verify(fib, fvk, fpub, rproof)
    with pytest.raises(InvalidProof):
        verify(rng_air, fvk, rpub, rproof)
    # The same circuit at another size has another key too.
    _, rvk16 = keys_for(rng_air, 4)
    with pytest.raises(InvalidProof):
        verify(rng_air, rvk16, rpub, rproof)


@pytest.mark.parametrize("name", EXAMPLES)
def test_commitments_of_one_proof_with_evaluations_of_another_are_rejected(name):
    air, trace, pub = example(name, 3)
    pk, vk = keys_for(air, 3)
    a = prove(air, pk, trace, pub, BE)
    b = prove(air, pk, trace, pub, BE)
    mixed = Proof(a.commitments, b.evals_zeta, b.evals_zeta_omega, b.opening, b.opening_at_z)
    with pytest.raises(InvalidProof):
        verify(air, vk, pub, mixed.to_bytes())
    mixed = Proof(a.commitments, b.evals_zeta, b.evals_zeta_omega, a.opening, a.opening_at_z)
    with pytest.raises(InvalidProof):
        verify(air, vk, pub, mixed.to_bytes())
    # One group's commitment from the other proof, everything else from the first.
    mixed = Proof([b.commitments[0]] + a.commitments[1:], a.evals_zeta, a.evals_zeta_omega,
                  a.opening, a.opening_at_z)
    with pytest.raises(InvalidProof):
        verify(air, vk, pub, mixed.to_bytes())


def _zeta_of(air, vk, pub, proof):
    """ζ as the verifier derives it (docs/protocol.md §3), for a circuit with logUp."""
    from prover.transcript import Transcript
    t = Transcript(vk.digest)
    t.absorb_scalars([pub[k] for k in air.public_inputs])
    t.absorb_points(proof.commitments[:-2])           # public groups and witness packs
    for _ in range(3):
        t.challenge()                                 # β, γ, λ
    t.absorb_point(proof.commitments[-2])             # interaction
    t.challenge()                                     # α
    t.absorb_point(proof.commitments[-1])             # quotient chunks
    return t.challenge()


def test_evaluations_that_satisfy_the_constraints_but_not_the_commitments_are_rejected():
    """Moving value between the quotient chunks' claimed evaluations keeps Σ ζ^{nj}·q_j(ζ), so
    the constraint check at ζ passes; only the opening (the pairing) can catch it."""
    from prover.air import compile_air
    from prover.groups import commitment_groups, evaluation_slots
    air, trace, pub = example("range_check", 3)
    pk, vk = keys_for(air, 3)
    proof = prove(air, pk, trace, pub, BE)
    zeta = _zeta_of(air, vk, pub, proof)
    at_zeta, _ = evaluation_slots(commitment_groups(compile_air(air), 8))
    q0, q1 = at_zeta[("quotient", 0)], at_zeta[("quotient", 1)]
    evals = list(proof.evals_zeta)
    evals[q0] = (evals[q0] + 1) % R_MODULUS
    evals[q1] = (evals[q1] - pow(zeta, -8, R_MODULUS)) % R_MODULUS
    bad = Proof(proof.commitments, evals, proof.evals_zeta_omega, proof.opening, proof.opening_at_z)
    with pytest.raises(InvalidProof, match="pairing"):
        verify(air, vk, pub, bad.to_bytes())


def test_other_valid_points_as_openings_are_rejected():
    from py_ecc import optimized_bn128 as bn
    from prover.srs import g1_from_py_ecc, g1_to_py_ecc
    air, trace, pub = example("multiset", 3)
    pk, vk = keys_for(air, 3)
    proof = prove(air, pk, trace, pub, BE)
    for field in ("opening", "opening_at_z"):
        moved = g1_from_py_ecc(bn.add(g1_to_py_ecc(getattr(proof, field)), bn.G1))
        for point in (moved, (0, 0)):
            bad = Proof(proof.commitments, proof.evals_zeta, proof.evals_zeta_omega, proof.opening,
                        proof.opening_at_z)
            setattr(bad, field, point)
            with pytest.raises(InvalidProof, match="pairing"):
                verify(air, vk, pub, bad.to_bytes())


def test_changed_cell_in_a_public_group_or_a_narrow_pack_is_rejected():
    """Public groups (unblinded) and several witness packs are checked like any column."""
    from .test_prover_completeness import GroupedFib
    air = GroupedFib.make(8)
    trace, pub = air.trace(8)
    pk, vk = keys_for(air, 3)
    rnd = random.Random(3)
    for col in ("f0", "f1", "f7", "f3", "f6"):
        bad = {c: list(v) for c, v in trace.items()}
        bad[col][rnd.randrange(8)] += 1
        with pytest.raises(InvalidProof):
            verify(air, vk, pub, prove(air, pk, bad, pub, BE, refuse_invalid=False).to_bytes())
