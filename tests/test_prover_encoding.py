"""The proof's byte encoding and its strict decoder; the transcript's hash."""

import pytest

from kernels import get_backend
from kernels.params import P_MODULUS, R_MODULUS
from prover.errors import InvalidProof, InsecureSetup
from prover.keccak import keccak256
from prover.proof import Proof, decode_proof, proof_length
from prover.prove import prove
from prover.srs import dev_setup

from .prover_util import example, keys_for


def test_keccak256_matches_known_digests():
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert keccak256(b"abc").hex() == "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
    # Two rate blocks (136 bytes each) and an exact multiple of the rate.
    assert keccak256(b"a" * 200).hex() == "96ea54061def936c4be90b518992fdc6f12f535068a256229aca54267b4d084d"


def test_dev_setup_refuses_without_insecure():
    with pytest.raises(InsecureSetup):
        dev_setup(16, b"seed")


@pytest.fixture(scope="module")
def honest():
    air, trace, pub = example("range_check", 3)
    pk, vk = keys_for(air, 3)
    return vk, prove(air, pk, trace, pub, get_backend("cpu"))


def test_round_trip(honest):
    vk, proof = honest
    data = proof.to_bytes()
    assert len(data) == proof_length(vk)
    assert decode_proof(data, vk) == proof


def test_wrong_length(honest):
    vk, proof = honest
    data = proof.to_bytes()
    for bad in (data[:-1], data + b"\x00", b""):
        with pytest.raises(InvalidProof, match="bytes"):
            decode_proof(bad, vk)


def test_scalar_not_below_r(honest):
    vk, proof = honest
    bad = Proof(proof.witness_commitments, proof.interaction_commitments, proof.quotient_commitments,
                [R_MODULUS] + proof.evals_zeta[1:], proof.evals_zeta_omega,
                proof.opening_zeta, proof.opening_zeta_omega)
    with pytest.raises(InvalidProof, match="below the group order"):
        decode_proof(bad.to_bytes(), vk)


def test_point_off_curve_or_not_below_p(honest):
    vk, proof = honest
    for point, msg in (((1, 3), "not on the curve"), ((P_MODULUS, 2), "not below")):
        bad = Proof([point] + proof.witness_commitments[1:], proof.interaction_commitments,
                    proof.quotient_commitments, proof.evals_zeta, proof.evals_zeta_omega,
                    proof.opening_zeta, proof.opening_zeta_omega)
        with pytest.raises(InvalidProof, match=msg):
            decode_proof(bad.to_bytes(), vk)
