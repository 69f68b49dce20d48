"""The proof's byte encoding and its strict decoder; the transcript's hash."""

import pytest

from kernels import get_backend
from kernels.params import P_MODULUS, R_MODULUS
from prover.errors import InvalidInput, InvalidProof, InsecureSetup
from prover.keys import VerificationKey
from prover.keccak import keccak256, keccak256_python
from prover.proof import Proof, decode_proof, proof_length, proof_shape
from prover.prove import prove
from prover.srs import dev_setup

from .prover_util import example, keys_for


@pytest.mark.parametrize("digest", [keccak256, keccak256_python])
def test_keccak256_matches_known_digests(digest):
    assert digest(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert digest(b"abc").hex() == "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
    # Two rate blocks (136 bytes each) and an exact multiple of the rate.
    assert digest(b"a" * 200).hex() == "96ea54061def936c4be90b518992fdc6f12f535068a256229aca54267b4d084d"


def test_keccak256_python_and_c_agree_at_every_length_around_the_rate():
    import random
    rng = random.Random(5)
    for length in list(range(0, 300)) + [4096, 65_536 + 7]:
        data = bytes(rng.getrandbits(8) for _ in range(length))
        assert keccak256(data) == keccak256_python(data), length


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
    bad = Proof(proof.commitments, [R_MODULUS] + proof.evals_zeta[1:], proof.evals_zeta_omega,
                proof.opening, proof.opening_at_z)
    with pytest.raises(InvalidProof, match="below the group order"):
        decode_proof(bad.to_bytes(), vk)
    bad = Proof(proof.commitments, proof.evals_zeta, proof.evals_zeta_omega[:-1] + [2**256 - 1],
                proof.opening, proof.opening_at_z)
    with pytest.raises(InvalidProof, match="zeta\\*omega"):
        decode_proof(bad.to_bytes(), vk)


def test_point_off_curve_or_not_below_p(honest):
    vk, proof = honest
    for point, msg in (((1, 3), "not on the curve"), ((P_MODULUS, 2), "not below")):
        bad = Proof([point] + proof.commitments[1:], proof.evals_zeta, proof.evals_zeta_omega,
                    proof.opening, proof.opening_at_z)
        with pytest.raises(InvalidProof, match=msg):
            decode_proof(bad.to_bytes(), vk)
        bad = Proof(proof.commitments, proof.evals_zeta, proof.evals_zeta_omega, proof.opening, point)
        with pytest.raises(InvalidProof, match="W' at z"):
            decode_proof(bad.to_bytes(), vk)


def test_proof_layout_follows_the_key(honest):
    """Commitments of every group but the fixed one, then each group's evaluations at ζ, then
    those of the groups read at the next row at ζω, then W and W'."""
    vk, proof = honest
    shape = proof_shape(vk)
    groups = vk.groups  # range_check: fixed(1), witness(2), interaction(2, at ζω), quotient(2)
    assert [g[0] for g in groups] == [1, 4, 5, 6]  # kind codes; 2 public and 3 bound are absent
    assert shape.commitments == 3 == len(proof.commitments)
    assert shape.evals_zeta == sum(g[1] for g in groups) == len(proof.evals_zeta)
    assert shape.evals_zeta_omega == sum(g[1] for g in groups if g[2]) == len(proof.evals_zeta_omega)
    assert proof_length(vk) == 64 * 3 + 32 * (shape.evals_zeta + shape.evals_zeta_omega) + 128


def test_verification_key_round_trip_and_strict_decoding(honest):
    vk, _ = honest
    data = vk.to_bytes()
    assert VerificationKey.from_bytes(data) == vk
    assert int.from_bytes(data[:32], "big") == 3  # version
    with pytest.raises(InvalidInput, match="version"):
        VerificationKey.from_bytes((1).to_bytes(32, "big") + data[32:])
    with pytest.raises(InvalidInput, match="bytes"):
        VerificationKey.from_bytes(data + b"\x00")
    # A group table that does not account for the columns (the quotient's width changed).
    last = 288 + 96 * (len(vk.groups) - 1) + 32
    bad = data[:last] + (vk.groups[-1][1] + 1).to_bytes(32, "big") + data[last + 32:]
    with pytest.raises(InvalidInput, match="groups"):
        VerificationKey.from_bytes(bad)
