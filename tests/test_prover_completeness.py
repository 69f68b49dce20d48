"""Honest proofs verify: every example circuit, trace sizes 2^3 … 2^16, CPU and (marked gpu) GPU;
public groups are recomputable and the packing knob changes nothing but the packing."""

import time

import pytest

from kernels import get_backend, gpu_available
from prover.proof import Proof
from prover.prove import prove
from prover.verify import verify

from .prover_util import EXAMPLES, example, keys_for


@pytest.mark.parametrize("name", EXAMPLES)
@pytest.mark.parametrize("log2_n", [3, 4, 5, 7, 10])
def test_honest_proof_verifies(name, log2_n):
    air, trace, pub = example(name, log2_n, seed=log2_n)
    pk, vk = keys_for(air, log2_n)
    proof = prove(air, pk, trace, pub, get_backend("cpu"))
    assert verify(air, vk, pub, proof.to_bytes())
    for phase in ("witness_ms", "ntt_ms", "msm_ms", "quotient_ms", "openings_ms", "prove_ms"):
        assert proof.timings[phase] >= 0


@pytest.mark.parametrize("name", EXAMPLES)
def test_honest_proof_verifies_at_2_16(name):
    air, trace, pub = example(name, 16)
    pk, vk = keys_for(air, 16)
    proof = prove(air, pk, trace, pub, get_backend("cpu"))
    assert verify(air, vk, pub, proof.to_bytes())


def test_public_column_commitment_is_recomputable():
    from circuits.examples import Fibonacci
    from prover.errors import InvalidProof
    from prover.prove import public_commitment

    class PublicFib(Fibonacci):
        public_columns = ("f0",)

    air = PublicFib(2)
    trace, pub = air.trace(8)
    pk, vk = keys_for(air, 3)
    be = get_backend("cpu")
    proof = prove(air, pk, trace, pub, be)
    expected = public_commitment(pk.srs_g1, [trace["f0"]], be)
    assert proof.commitments[0] == expected  # the one public group, named "public", comes first
    assert verify(air, vk, pub, proof, public_commitments={"public": expected})
    with pytest.raises(InvalidProof):
        verify(air, vk, pub, proof, public_commitments={"public": proof.commitments[1]})


class GroupedFib:
    """Fibonacci with two public groups and the blinded columns in packs of at most two."""

    @staticmethod
    def make(width: int = 8):
        from circuits.examples import Fibonacci

        class Grouped(Fibonacci):
            public_groups = {"head": ("f0", "f1"), "tail": (f"f{width - 1}",)}
            max_pack_width = 2

        return Grouped(width)


def test_public_groups_and_pack_width():
    """Each public group is one unblinded commitment anyone can recompute, in declaration order,
    before the blinded witness packs; max_pack_width splits the rest into balanced packs."""
    from prover.air import compile_air
    from prover.errors import InvalidProof
    from prover.groups import commitment_groups
    from prover.prove import public_commitment

    air = GroupedFib.make(8)
    cs = compile_air(air)
    groups = commitment_groups(cs, 16)
    assert [(g.kind, g.name, g.width) for g in groups] == [
        ("public", "head", 2), ("public", "tail", 1), ("witness", "witness0", 2),
        ("witness", "witness1", 2), ("witness", "witness2", 1), ("quotient", "quotient", 1)]
    trace, pub = air.trace(16)
    pk, vk = keys_for(air, 4)
    be = get_backend("cpu")
    proof = prove(air, pk, trace, pub, be)
    head = public_commitment(pk.srs_g1, [trace["f0"], trace["f1"]], be)
    tail = public_commitment(pk.srs_g1, [trace["f7"]], be)
    assert proof.commitments[:2] == [head, tail]
    assert verify(air, vk, pub, proof, public_commitments={"head": head, "tail": tail})
    with pytest.raises(InvalidProof):
        verify(air, vk, pub, proof, public_commitments={"head": tail})
    # The same circuit packed differently is another key, and its proofs do not cross over.
    from circuits.examples import Fibonacci
    wide = Fibonacci(8)
    _, wide_vk = keys_for(wide, 4)
    assert len(wide_vk.groups) == 2
    with pytest.raises(InvalidProof):
        verify(wide, wide_vk, pub, proof)


def test_bad_public_groups_are_refused():
    from circuits.examples import Fibonacci
    from prover.air import compile_air
    from prover.errors import InvalidCircuit

    cases = [{"a": ("f0",), "b": ("f0",)}, {"a": ()}, {"not a name": ("f0",)}, {"a": ("nope",)}]
    for groups in cases:
        class Bad(Fibonacci):
            public_groups = groups
        with pytest.raises(InvalidCircuit):
            compile_air(Bad(2))

    class BadWidth(Fibonacci):
        max_pack_width = 0
    with pytest.raises(InvalidCircuit):
        compile_air(BadWidth(2))


def test_keys_round_trip_through_files(tmp_path):
    from prover.keys import ProvingKey, VerificationKey
    air, trace, pub = example("range_check", 4)
    pk, vk = keys_for(air, 4)
    pk.save(str(tmp_path / "pk.npz"))
    vk.save(str(tmp_path / "vk.bin"))
    pk2 = ProvingKey.load(str(tmp_path / "pk.npz"))
    vk2 = VerificationKey.load(str(tmp_path / "vk.bin"))
    assert vk2 == vk and vk2.digest == vk.digest
    proof = prove(air, pk2, trace, pub, get_backend("cpu"))
    assert verify(air, vk2, pub, Proof.from_bytes(proof.to_bytes(), vk2))


@pytest.mark.gpu
@pytest.mark.skipif(not gpu_available(), reason="no CUDA device (CuPy) on this machine")
@pytest.mark.parametrize("name", EXAMPLES)
@pytest.mark.parametrize("log2_n", [3, 10, 16])
def test_honest_proof_verifies_on_gpu(name, log2_n):
    air, trace, pub = example(name, log2_n)
    pk, vk = keys_for(air, log2_n, "gpu")
    proof = prove(air, pk, trace, pub, get_backend("gpu"))
    assert verify(air, vk, pub, proof.to_bytes())
