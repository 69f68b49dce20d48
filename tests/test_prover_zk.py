"""Zero knowledge: proofs of one trace differ, and openings do not give away trace values."""

from kernels import get_backend
from kernels.params import R_MODULUS
from prover.prove import column_to_field, prove

from .prover_util import example, keys_for

BE = get_backend("cpu")


def test_two_proofs_of_the_same_trace_differ():
    air, trace, pub = example("multiset", 4)
    pk, vk = keys_for(air, 4)
    a, b = prove(air, pk, trace, pub, BE), prove(air, pk, trace, pub, BE)
    assert a.to_bytes() != b.to_bytes()
    # Every group of this circuit is blinded (witness pack, interaction, quotient chunks).
    assert not set(a.commitments) & set(b.commitments)
    assert not set(a.evals_zeta) & set(b.evals_zeta)


def test_witness_openings_do_not_reveal_trace_values():
    air, trace, pub = example("fibonacci", 4)
    pk, vk = keys_for(air, 4)
    n = 16
    proof = prove(air, pk, trace, pub, BE)
    # Recover ζ the way the verifier does, then compare each witness opening with the value
    # the unblinded interpolant of the trace column would have at ζ.
    from prover.air import compile_air
    from prover.groups import commitment_groups, evaluation_slots
    from prover.transcript import Transcript
    t = Transcript(vk.digest)
    t.absorb_scalars([pub[k] for k in air.public_inputs])
    t.absorb_point(proof.commitments[0])                # the witness pack
    t.challenge()                                       # α
    t.absorb_point(proof.commitments[1])                # the quotient chunks
    zeta = t.challenge()
    at_zeta, _ = evaluation_slots(commitment_groups(compile_air(air), n))
    from prover.polynomials import evaluate_many
    for i, col in enumerate(air.witness_columns):
        coeffs = BE.ntt(column_to_field(BE, trace[col], n, col), inverse=True)
        unblinded = evaluate_many(BE, coeffs[None], zeta)[0]
        assert proof.evals_zeta[at_zeta[("witness", i)]] != unblinded
    # No trace value (nor its negation) appears anywhere among the proof's scalars.
    cells = {v % R_MODULUS for c in trace.values() for v in c}
    cells |= {(-v) % R_MODULUS for v in cells}
    assert not cells & set(proof.evals_zeta + proof.evals_zeta_omega)
    assert len(compile_air(air).public_column_indices) == 0


def test_blinding_hides_which_trace_was_proven():
    """With the verifier's challenges fixed, the blinding can give the opening at ζ any value:
    for two different columns on H there is a blinding under which they open alike."""
    from prover.polynomials import Domain
    n, zeta = 16, 123456789
    zh = Domain(4).vanishing(zeta)
    air, t1, _ = example("fibonacci", 4, seed=1)
    _, t2, _ = example("fibonacci", 4, seed=2)
    from prover.polynomials import evaluate_many
    e1 = evaluate_many(BE, BE.ntt(column_to_field(BE, t1["f0"], n, "f0"), inverse=True)[None], zeta)[0]
    e2 = evaluate_many(BE, BE.ntt(column_to_field(BE, t2["f0"], n, "f0"), inverse=True)[None], zeta)[0]
    # b(ζ) = (e2 − e1)/Z_H(ζ) is one admissible blinding value: P1 + b·Z_H opens to e2.
    b = (e2 - e1) * pow(zh, -1, R_MODULUS) % R_MODULUS
    assert (e1 + b * zh) % R_MODULUS == e2
