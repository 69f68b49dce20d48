"""The Solidity verifier and the Python verifier decide alike: every proof of the proof
system's soundness cases (tests/test_prover_soundness.py), every malformed encoding and every
honest proof gets the same verdict from both, the Solidity one running on the embedded EVM.
The verifier's gas does not grow with the number of columns, and a rollup contract chains
batches on the old- and new-state groups' commitments."""

import random

import pytest

from kernels.params import P_MODULUS, R_MODULUS
from prover.errors import InvalidProof, InvalidTrace
from prover.proof import Proof, proof_length
from prover.inputs import public_input_values
from prover.prove import prove
from prover.verify import verify

from .l1_util import BE
from .prover_util import EXAMPLES, example, keys_for, with_one_cell_changed

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


GAS_BUDGET = 200_000  # execution gas of one verification on the L1


def ledger_batch(log2_rows: int = 6, seed: int = 0):
    """The rollup's ledger circuit on a small batch: three public groups, blinded limbs, a
    lookup, a multiset sum, one new account claiming a slot."""
    from circuits.ledger import Ledger, LedgerJob, build_trace
    rnd = random.Random(seed)
    held = 6
    job = LedgerJob(batch_index=1, log2_rows=log2_rows,
                    old_addresses=[rnd.randrange(1, 1 << 160) for _ in range(held)],
                    old_balances=[rnd.randrange(100, 1000) for _ in range(held)],
                    transfers=[(rnd.randrange(held), rnd.randrange(held), rnd.randrange(1, 50)) for _ in range(8)]
                    + [(0, held, 7)],
                    claims=[(held, rnd.randrange(1, 1 << 160))])
    trace, pub = build_trace(job)
    return Ledger(log2_rows), trace, pub


@pytest.mark.parametrize("name", EXAMPLES)
@pytest.mark.parametrize("log2_n", [3, 5])
def test_honest_proofs_accepted_by_both(name, log2_n):
    air, trace, pub = example(name, log2_n, seed=log2_n)
    pk, vk = keys_for(air, log2_n)
    data = prove(air, pk, trace, pub, BE).to_bytes()
    assert_agree(air, vk, pub, data, expect=True)
    receipt = solidity_verifier(air, vk).verify(data, pub_words(air, pub))
    assert receipt.status and 100_000 < receipt.exec_gas < GAS_BUDGET


def ecmul_calls(air, vk) -> int:
    """ecMuls in the generated verifier's straight-line body: the direct call and the calls of
    `mul_acc` (each definition line counted out)."""
    from prover.solidity import verifier_source
    src = verifier_source(air, vk)
    return (src.count("staticcall(6000, 0x07") - 1) + (src.count("mul_acc(") - 1)


def test_ledger_within_budget_and_rejected_when_cheating():
    air, trace, pub = ledger_batch()
    pk, vk = keys_for(air, air.log2_rows)
    data = prove(air, pk, trace, pub, BE).to_bytes()
    assert_agree(air, vk, pub, data, expect=True)
    receipt = solidity_verifier(air, vk).verify(data, pub_words(air, pub))
    # The proof check within budget; the published data's check (docs/protocol.md §10) costs
    # about 2 500 gas a batch and under 1 000 a record on top (10 records here).
    assert receipt.status and receipt.exec_gas < GAS_BUDGET + 2_500 + 1_000 * 10
    # 8 commitments (fixed, 3 public groups, the new state's degree bound, witness, interaction,
    # quotient) → 10 ecMuls.
    assert ecmul_calls(air, vk) == len(vk.groups) + 2 == 10
    bad = {c: [int(x) for x in v] for c, v in trace.items()}
    bad["bal_new"][0] = (bad["bal_new"][0] + 1) % R_MODULUS   # value from nowhere
    bad[air.limbs.limb_columns("bal_new")[0]][0] = (bad[air.limbs.limb_columns("bal_new")[0]][0] + 1) % R_MODULUS
    assert_agree(air, vk, pub, prove(air, pk, bad, pub, BE, refuse_invalid=False).to_bytes(), expect=False)


def test_gas_does_not_grow_with_the_columns():
    """Fibonacci of width 2 and of width 20: one witness pack either way, so the same number
    of ecMuls; only the per-evaluation arithmetic (tens of gas each) differs."""
    from circuits.examples import Fibonacci
    class Packs5(Fibonacci):
        max_pack_width = 5

    gas = {}
    for label, air in (("w2", Fibonacci(2)), ("w20", Fibonacci(20)), ("w20 packs of 5", Packs5(20))):
        trace, pub = air.trace(8)
        pk, vk = keys_for(air, 3)
        data = prove(air, pk, trace, pub, BE).to_bytes()
        receipt = solidity_verifier(air, vk).verify(data, pub_words(air, pub))
        assert receipt.status
        assert ecmul_calls(air, vk) == len(vk.groups) + 2
        gas[label] = receipt.exec_gas
    assert 0 <= gas["w20"] - gas["w2"] < 6_000, gas  # less than one ecMul apart
    # The knob: four witness packs instead of one are three more ecMuls (and ecAdds).
    assert 3 * 6_000 < gas["w20 packs of 5"] - gas["w20"] < 3 * 7_000, gas


@pytest.mark.parametrize("name", EXAMPLES)
def test_cheating_prover_rejected_by_both(name):
    air, trace, pub = example(name, 3, seed=7)
    pk, vk = keys_for(air, 3)
    rnd = random.Random(name)
    for _ in range(8):
        bad = with_one_cell_changed(air, trace, rnd, 8)
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
    for pos in range(len(data)):
        changed = bytearray(data)
        changed[pos] ^= rnd.randrange(1, 256)
        assert_agree(air, vk, pub, bytes(changed), expect=False)


def test_openings_checked_only_by_the_pairing_rejected_by_both():
    """Claims that pass the constraint check at ζ but not the commitments, and other valid
    points in place of W and W': only the pairing catches these, in both verifiers."""
    from py_ecc import optimized_bn128 as bn
    from prover.srs import g1_from_py_ecc, g1_to_py_ecc
    from .test_prover_soundness import _zeta_of
    air, trace, pub = example("range_check", 3)
    pk, vk = keys_for(air, 3)
    proof = prove(air, pk, trace, pub, BE)
    zeta = _zeta_of(air, vk, pub, proof)
    k = len(proof.evals_zeta)
    evals = list(proof.evals_zeta)        # the two quotient chunks' values come last
    evals[k - 2] = (evals[k - 2] + 1) % R_MODULUS
    evals[k - 1] = (evals[k - 1] - pow(zeta, -8, R_MODULUS)) % R_MODULUS
    bad = Proof(proof.commitments, evals, proof.evals_zeta_omega, proof.opening, proof.opening_at_z)
    assert_agree(air, vk, pub, bad.to_bytes(), expect=False)
    for field in ("opening", "opening_at_z"):
        moved = g1_from_py_ecc(bn.add(g1_to_py_ecc(getattr(proof, field)), bn.G1))
        for point in (moved, (0, 0)):
            bad = Proof(proof.commitments, proof.evals_zeta, proof.evals_zeta_omega, proof.opening,
                        proof.opening_at_z)
            setattr(bad, field, point)
            assert_agree(air, vk, pub, bad.to_bytes(), expect=False)


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
    mixed = Proof(a.commitments, b.evals_zeta, b.evals_zeta_omega, b.opening, b.opening_at_z)
    assert_agree(air, vk, pub, mixed.to_bytes(), expect=False)
    mixed = Proof(a.commitments, b.evals_zeta, b.evals_zeta_omega, a.opening, a.opening_at_z)
    assert_agree(air, vk, pub, mixed.to_bytes(), expect=False)
    mixed = Proof([b.commitments[0]] + a.commitments[1:], a.evals_zeta, a.evals_zeta_omega,
                  a.opening, a.opening_at_z)
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
    off_ez = 64 * len(proof.commitments)
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
        "x + p": _put(data, 0, proof.commitments[0][0] + P_MODULUS),
        "y + p (W)": _put(data, off_w + 32, proof.opening[1] + P_MODULUS),
        "y + p (W')": _put(data, off_w + 96, proof.opening_at_z[1] + P_MODULUS),
        "y = p - y (W negated)": _put(data, off_w + 32, P_MODULUS - proof.opening[1]),
        # a claimed evaluation not below r, and the same value + r (equal mod r)
        "scalar = r": _put(data, off_ez, R_MODULUS),
        "scalar + r": _put(data, off_ez, proof.evals_zeta[0] + R_MODULUS),
        "last scalar + r": _put(data, off_w - 32, (proof.evals_zeta + proof.evals_zeta_omega)[-1] + R_MODULUS),
        "scalar = 2^256 - 1": _put(data, off_ez, 2**256 - 1),
        # the point at infinity in place of a commitment and of an opening proof
        "infinity commitment": _put(_put(data, 0, 0), 32, 0),
        "infinity opening": _put(_put(data, off_w, 0), off_w + 32, 0),
        "infinity W'": _put(_put(data, off_w + 64, 0), off_w + 96, 0),
        "off curve (W')": _put(_put(data, off_w + 64, 1), off_w + 96, 1),
    }
    for what, bad in cases.items():
        assert not python_accepts(air, vk, pub, bad), what
        assert not solidity_verifier(air, vk).accepts(bad, pub_words(air, pub)), what


def test_rollup_chains_batches_on_the_state_groups():
    """The rollup contract holds keccak256 of the old-state group's commitment, accepts the
    next batch only on top of it, and moves to the new-state group's commitment."""
    from node.l1.rollup import RollupContract, state_commitment
    from .l1_util import LAYOUT, ToyLedger, column_commitment, toy_batches, toy_keys
    air = ToyLedger()
    pk, vk = toy_keys()
    genesis, batches = toy_batches()
    l1 = EmbeddedL1()
    rollup = RollupContract.deploy(l1, air, vk, LAYOUT, state_commitment([column_commitment(pk, genesis)]))
    for index, (proof, pub, new) in enumerate(batches, start=1):
        if index == 2:  # the proof of batch 3 does not start from the state after batch 1
            assert not rollup.submit_batch(index, batches[2][0], batches[2][1]).status
        receipt = rollup.submit_batch(index, proof, pub)
        # The first batch also pays 20 000 for lastBatchIndex leaving zero; later ones do not.
        assert receipt.status and receipt.exec_gas < GAS_BUDGET + (20_000 if index == 1 else 0)
        expected = state_commitment([column_commitment(pk, new)])
        assert rollup.state_commitment() == expected and rollup.last_batch_index() == index
        event, = rollup.events(receipt)
        assert event.state_commitment == expected
        assert event.new_state_commitments == [column_commitment(pk, new)]
    assert not rollup.submit_batch(len(batches) + 1, batches[0][0], batches[0][1]).status
