"""Honest proofs verify: every example circuit, trace sizes 2^3 … 2^16, CPU and (marked gpu) GPU."""

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
    from prover.prove import column_to_field, commit

    class PublicFib(Fibonacci):
        public_columns = ("f0",)

    air = PublicFib(2)
    trace, pub = air.trace(8)
    pk, vk = keys_for(air, 3)
    be = get_backend("cpu")
    proof = prove(air, pk, trace, pub, be)
    coeffs = be.ntt(column_to_field(be, trace["f0"], 8, "f0"), inverse=True)
    expected = commit(be, be.asarray(pk.srs_g1), coeffs)
    assert proof.witness_commitments[0] == expected
    assert verify(air, vk, pub, proof, public_commitments={"f0": expected})
    from prover.errors import InvalidProof
    with pytest.raises(InvalidProof):
        verify(air, vk, pub, proof, public_commitments={"f0": proof.witness_commitments[1]})


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
