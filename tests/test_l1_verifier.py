"""The Solidity verifier and the Python verifier decide alike: every proof of the proof
system's soundness cases (tests/test_prover_soundness.py), every malformed encoding and every
honest proof gets the same verdict from both, the Solidity one running on the embedded EVM."""

import random

import pytest

from kernels.params import P_MODULUS, R_MODULUS
from prover.errors import InvalidProof, InvalidTrace
from prover.proof import Proof, proof_length
from prover.prove import prove, public_input_values
from prover.verify import verify

from .l1_util import BE
from .prover_util import EXAMPLES, example, keys_for

pytest.importorskip("pyrevm")

from node.l1.embedded import EmbeddedL1  # noqa: E402
from node.l1.rollup import VerifierContract  # noqa: E402

_L1 = None
_DEPLOYED: dict = {}


def solidity_verifier(air, vk) -> VerifierContract:
    global _L1
    if _L1 is None:
        _L1 = EmbeddedL1()
    key = vk.digest
    if key not in _DEPLOYED:
        _DEPLOYED[key] = VerifierContract.deploy(_L1, air, vk)
    return _DEPLOYED[key]


def python_accepts(air, vk, pub, data) -> bool:
    try:
        return verify(air, vk, pub, data)
    except InvalidProof:
        return False


def pub_words(air, pub) -> list[int]:
    """Public inputs as the contract takes them (a uint256[]); values the Python side refuses
    (not below r) are passed as they are, for the contract to refuse too."""
    if isinstance(pub, dict):
        return [int(pub[k]) for k in air.public_inputs]
    return [int(v) for v in pub]


def assert_agree(air, vk, pub, data, expect=None):
    py = python_accepts(air, vk, pub, data)
    sol = solidity_verifier(air, vk).accepts(data, pub_words(air, pub))
    assert py == sol, f"Python verifier says {py}, Solidity verifier says {sol}"
    if expect is not None:
        assert py == expect
    return py


@pytest.mark.parametrize("name", EXAMPLES)
@pytest.mark.parametrize("log2_n", [3, 5])
def test_honest_proofs_accepted_by_both(name, log2_n):
    air, trace, pub = example(name, log2_n, seed=log2_n)
    pk, vk = keys_for(air, log2_n)
    data = prove(air, pk, trace, pub, BE).to_bytes()
    assert_agree(air, vk, pub, data, expect=True)
    # Gas of a standalone verification, for the record (the budget is checked in bench.gas).
    receipt = solidity_verifier(air, vk).verify(data, pub_words(air, pub))
    assert receipt.status and 100_000 < receipt.exec_gas < 400_000


@pytest.mark.parametrize("name", EXAMPLES)
def test_cheating_prover_rejected_by_both(name):
    air, trace, pub = example(name, 3, seed=7)
    pk, vk = keys_for(air, 3)
    rnd = random.Random(name)
    for _ in range(4):
        col = rnd.choice(air.witness_columns)
        row = rnd.randrange(8)
        bad = {c: list(v) for c, v in trace.items()}
        bad[col][row] = (bad[col][row] + rnd.randrange(1, R_MODULUS)) % R_MODULUS
        try:
            data = prove(air, pk, bad, pub, BE, refuse_invalid=False).to_bytes()
        except InvalidTrace:
            continue  # a logUp sum that does not close cannot even be committed
        assert_agree(air, vk, pub, data, expect=False)


def test_lookup_outside_table_and_unbalanced_sum_rejected_by_both():
    air, trace, pub = example("range_check", 3)
    pk, vk = keys_for(air, 3)
    bad = {c: list(v) for c, v in trace.items()}
    bad["value"][5] = 8
    bad["mult"][7] += 1
    bad["mult"][[i for i in range(8) if trace["value"][i] == trace["value"][5]][0]] -= 1
    assert_agree(air, vk, pub, prove(air, pk, bad, pub, BE, refuse_invalid=False).to_bytes(), expect=False)

    air, trace, pub = example("multiset", 3)
    pk, vk = keys_for(air, 3)
    bad = {c: list(v) for c, v in trace.items()}
    bad["delta"][2] = (bad["delta"][2] + 1) % R_MODULUS
    assert_agree(air, vk, pub, prove(air, pk, bad, pub, BE, refuse_invalid=False).to_bytes(), expect=False)


def test_byte_changes_rejected_by_both():
    from circuits.examples import Fibonacci
    air = Fibonacci(2)
    trace, pub = air.trace(8)
    pk, vk = keys_for(air, 3)
    data = prove(air, pk, trace, pub, BE).to_bytes()
    rnd = random.Random(1)
    # Every word's first and last byte, across every section of the proof.
    for pos in sorted({w + k for w in range(0, len(data), 32) for k in (0, 31)}):
        changed = bytearray(data)
        changed[pos] ^= rnd.randrange(1, 256)
        assert_agree(air, vk, pub, bytes(changed), expect=False)


def test_different_public_input_rejected_by_both():
    air, trace, pub = example("fibonacci", 4)
    pk, vk = keys_for(air, 4)
    data = prove(air, pk, trace, pub, BE).to_bytes()
    for key in pub:
        other = dict(pub)
        other[key] = (other[key] + 1) % R_MODULUS
        assert_agree(air, vk, other, data, expect=False)
        other[key] = pub[key] + R_MODULUS  # the same value mod r, but not a canonical scalar
        sol = solidity_verifier(air, vk).accepts(data, pub_words(air, other))
        assert sol is False
        with pytest.raises(Exception):
            public_input_values(air, other)


def test_proof_for_another_key_rejected_by_both():
    fib, _, fpub = example("fibonacci", 3)
    rng_air, rtrace, rpub = example("range_check", 3)
    _, fvk = keys_for(fib, 3)
    rpk, rvk = keys_for(rng_air, 3)
    rproof = prove(rng_air, rpk, rtrace, rpub, BE).to_bytes()
    assert solidity_verifier(fib, fvk).accepts(rproof, pub_words(fib, fpub)) is False
    assert python_accepts(fib, fvk, fpub, rproof) is False
    _, rvk16 = keys_for(rng_air, 4)
    assert_agree(rng_air, rvk16, rpub, rproof, expect=False)


@pytest.mark.parametrize("name", EXAMPLES)
def test_mixed_proofs_rejected_by_both(name):
    air, trace, pub = example(name, 3)
    pk, vk = keys_for(air, 3)
    a = prove(air, pk, trace, pub, BE)
    b = prove(air, pk, trace, pub, BE)
    mixed = Proof(a.witness_commitments, a.interaction_commitments, a.quotient_commitments,
                  b.evals_zeta, b.evals_zeta_omega, b.opening_zeta, b.opening_zeta_omega)
    assert_agree(air, vk, pub, mixed.to_bytes(), expect=False)
    mixed = Proof(a.witness_commitments, a.interaction_commitments, a.quotient_commitments,
                  b.evals_zeta, b.evals_zeta_omega, a.opening_zeta, a.opening_zeta_omega)
    assert_agree(air, vk, pub, mixed.to_bytes(), expect=False)


def _put(data: bytes, off: int, value: int) -> bytes:
    out = bytearray(data)
    out[off:off + 32] = value.to_bytes(32, "big")
    return bytes(out)


@pytest.mark.parametrize("name", EXAMPLES)
def test_malformed_proofs_rejected_by_both(name):
    air, trace, pub = example(name, 3, seed=2)
    pk, vk = keys_for(air, 3)
    proof = prove(air, pk, trace, pub, BE)
    data = proof.to_bytes()
    assert len(data) == proof_length(vk)
    points = len(proof.witness_commitments) + len(proof.interaction_commitments) + len(proof.quotient_commitments)
    off_ez = 64 * points
    off_w = len(data) - 128
    cases = {
        "short": data[:-1],
        "long": data + b"\x00",
        "empty": b"",
        "one word more": data + bytes(32),
        # a point off the curve: (1, 1) in the first commitment, then in the opening proof
        "off curve (commitment)": _put(_put(data, 0, 1), 32, 1),
        "off curve (opening)": _put(_put(data, off_w, 1), off_w + 32, 1),
        # the same point with a coordinate not reduced below p
        "x + p": _put(data, 0, proof.witness_commitments[0][0] + P_MODULUS),
        "y + p (opening)": _put(data, off_w + 32, proof.opening_zeta[1] + P_MODULUS),
        # a claimed evaluation not below r, and the same value + r (equal mod r)
        "scalar = r": _put(data, off_ez, R_MODULUS),
        "scalar + r": _put(data, off_ez, proof.evals_zeta[0] + R_MODULUS),
        "last scalar + r": _put(data, off_w - 32, (proof.evals_zeta + proof.evals_zeta_omega)[-1] + R_MODULUS),
        "scalar = 2^256 - 1": _put(data, off_ez, 2**256 - 1),
        # the point at infinity in place of a commitment and of an opening proof
        "infinity commitment": _put(_put(data, 0, 0), 32, 0),
        "infinity opening": _put(_put(data, off_w, 0), off_w + 32, 0),
    }
    for what, bad in cases.items():
        assert_agree(air, vk, pub, bad, expect=False), what
