"""The rollup contract on the embedded L1 (pyrevm): batches 1, 2, 3 move the state in order, and
every submission it must refuse reverts with its custom error and leaves the state as it was.
`zkpipe export-verifier` writes sources that compile to the same contracts and verify a proof.

Proofs are of the state_update example circuit (old state, new state and batch data as public
columns), proven once per module."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from kernels.params import P_MODULUS, R_MODULUS
from prover.errors import InvalidProof as PyInvalidProof
from prover.proof import proof_shape
from prover.verify import verify

from .l1_util import LAYOUT, ToyLedger, column_commitment, toy_batches, toy_keys

pytest.importorskip("pyrevm")

from node.l1.abi import decode_error, encode_constructor  # noqa: E402
from node.l1.embedded import DEV_ACCOUNTS, EmbeddedL1  # noqa: E402
from node.l1.errors import TransactionReverted  # noqa: E402
from node.l1.rollup import RollupContract, VerifierContract, compile_rollup, state_commitment  # noqa: E402

ZERO_ADDRESS = "0x" + "00" * 20
BUDGET = 200_000  # execution gas for one batch through the rollup (the target)


@dataclass
class Chain:
    """Keys, the genesis state and three proven batches on top of it."""

    pk: object
    vk: object
    genesis: list[int]
    batches: tuple      # (proof bytes, public inputs, new state) for batches 1, 2, 3

    def state_point(self, k: int):
        """The commitment to the state after batch k (0: genesis)."""
        return column_commitment(self.pk, self.genesis if k == 0 else self.batches[k - 1][2])

    def commitment(self, k: int) -> bytes:
        return state_commitment([self.state_point(k)])

    def delta(self, k: int) -> list[int]:
        old = self.genesis if k == 1 else self.batches[k - 2][2]
        return [(n - o) % R_MODULUS for o, n in zip(old, self.batches[k - 1][2])]

    def proof(self, k: int) -> bytes:
        return self.batches[k - 1][0]

    def pub(self, k: int) -> list[int]:
        return self.batches[k - 1][1]


@pytest.fixture(scope="module")
def chain() -> Chain:
    pk, vk = toy_keys()
    genesis, batches = toy_batches(3)
    return Chain(pk, vk, genesis, batches)


@pytest.fixture(scope="module")
def l1() -> EmbeddedL1:
    return EmbeddedL1()


def deploy(l1, chain, submitter: str | None = None) -> RollupContract:
    """A fresh rollup at the genesis state (the compiled contract is cached, deployment is cheap)."""
    return RollupContract.deploy(l1, ToyLedger(), chain.vk, LAYOUT, chain.commitment(0), submitter=submitter)


@pytest.fixture
def rollup(l1, chain) -> RollupContract:
    return deploy(l1, chain)


def submit(rollup, chain, index: int, k: int, **kw):
    """Submit batch k's proof as batch `index`."""
    return rollup.submit_batch(index, chain.proof(k), chain.pub(k), **kw)


@contextmanager
def unchanged(rollup):
    """The body must leave the contract's state commitment and batch index as they were."""
    before = (rollup.state_commitment(), rollup.last_batch_index())
    yield
    assert (rollup.state_commitment(), rollup.last_batch_index()) == before


def assert_refused(rollup, receipt, error: str, *args):
    """The transaction reverted with custom error `error` (and these arguments, if given)."""
    assert not receipt.status, "the contract accepted a submission it must refuse"
    decoded = decode_error(rollup.artifact.abi, receipt.revert_data)
    assert decoded is not None, f"undecodable revert data 0x{receipt.revert_data.hex()}"
    name, got = decoded
    assert name == error, f"reverted with {receipt.revert_reason}, expected {error}"
    if args:
        assert tuple(_norm(v) for v in got) == tuple(_norm(v) for v in args)
    assert receipt.revert_reason.startswith(error + "(")
    assert not rollup.events(receipt)
    with pytest.raises(TransactionReverted, match=error) as e:
        receipt.check()
    assert e.value.reason == receipt.revert_reason and e.value.data == receipt.revert_data


def _norm(v):
    return v.lower() if isinstance(v, str) else v


# --- the happy path --------------------------------------------------------------------------


def test_batches_1_2_3_in_sequence(l1, chain):
    rollup = deploy(l1, chain)
    assert rollup.state_commitment() == chain.commitment(0)
    assert rollup.last_batch_index() == 0
    assert rollup.submitter() == ZERO_ADDRESS
    for k in (1, 2, 3):
        receipt = submit(rollup, chain, k, k).check()
        # The stored state is the commitment to the new state column, as anyone holding the
        # balances computes it; the index moved by one.
        assert rollup.state_commitment() == chain.commitment(k)
        assert rollup.last_batch_index() == k
        (event,) = rollup.events(receipt)
        assert event.batch_index == k
        assert event.state_commitment == chain.commitment(k)
        assert event.new_state_commitments == [chain.state_point(k)]
        assert event.data_commitment == state_commitment([column_commitment(chain.pk, chain.delta(k))])
        assert receipt.exec_gas < BUDGET, f"batch {k}: {receipt.exec_gas} execution gas"
        # The Python verifier, told the state the L1 held, agrees.
        assert verify(ToyLedger(), chain.vk, {"net": chain.pub(k)[0]}, chain.proof(k),
                      public_commitments={"old_state": chain.state_point(k - 1), "new_state": chain.state_point(k)})


def test_anyone_may_submit_when_the_deployment_names_no_submitter(l1, chain):
    rollup = deploy(l1, chain)
    assert rollup.submitter() == ZERO_ADDRESS
    # Three different senders, none of them the deployer.
    for k, sender in zip((1, 2, 3), DEV_ACCOUNTS[3:6]):
        submit(rollup, chain, k, k, sender=sender).check()
    assert rollup.last_batch_index() == 3 and rollup.state_commitment() == chain.commitment(3)


# --- refusals --------------------------------------------------------------------------------


def test_replayed_batch_is_refused(rollup, chain):
    submit(rollup, chain, 1, 1).check()
    with unchanged(rollup):
        assert_refused(rollup, submit(rollup, chain, 1, 1), "UnexpectedBatchIndex", 2, 1)
        # The same proof under the next index: its old state is no longer the one held.
        assert_refused(rollup, submit(rollup, chain, 2, 1), "StateMismatch", chain.commitment(1), chain.commitment(0))
    submit(rollup, chain, 2, 2).check()
    submit(rollup, chain, 3, 3).check()
    with unchanged(rollup):
        assert_refused(rollup, submit(rollup, chain, 2, 2), "UnexpectedBatchIndex", 4, 2)
        assert_refused(rollup, submit(rollup, chain, 4, 3), "StateMismatch", chain.commitment(3), chain.commitment(2))


def test_skipped_batch_index_is_refused(rollup, chain):
    with unchanged(rollup):
        assert_refused(rollup, submit(rollup, chain, 2, 1), "UnexpectedBatchIndex", 1, 2)
        assert_refused(rollup, submit(rollup, chain, 2, 2), "UnexpectedBatchIndex", 1, 2)
        assert_refused(rollup, submit(rollup, chain, 0, 1), "UnexpectedBatchIndex", 1, 0)
        assert_refused(rollup, submit(rollup, chain, 2**256 - 1, 1), "UnexpectedBatchIndex", 1, 2**256 - 1)
    submit(rollup, chain, 1, 1).check()
    with unchanged(rollup):
        assert_refused(rollup, submit(rollup, chain, 3, 3), "UnexpectedBatchIndex", 2, 3)


def test_proof_for_another_old_state_is_refused(rollup, chain):
    with unchanged(rollup):
        # Valid proofs, but of later batches: they start from states the L1 does not hold.
        assert_refused(rollup, submit(rollup, chain, 1, 2), "StateMismatch", chain.commitment(0), chain.commitment(1))
        assert_refused(rollup, submit(rollup, chain, 1, 3), "StateMismatch", chain.commitment(0), chain.commitment(2))
        # A valid proof of another chain altogether.
        genesis, ((proof, pub, _),) = toy_batches(1, seed=99)
        other = state_commitment([column_commitment(chain.pk, genesis)])
        assert_refused(rollup, rollup.submit_batch(1, proof, pub), "StateMismatch", chain.commitment(0), other)


def test_submitter_named_by_the_deployment_is_the_only_one_accepted(l1, chain):
    submitter = DEV_ACCOUNTS[1]
    rollup = deploy(l1, chain, submitter=submitter)      # deployed from DEV_ACCOUNTS[0]
    assert rollup.submitter().lower() == submitter.lower()
    with unchanged(rollup):
        for sender in (DEV_ACCOUNTS[0], DEV_ACCOUNTS[2]):
            # A valid proof for the right index, from anyone else: refused before any check.
            assert_refused(rollup, submit(rollup, chain, 1, 1, sender=sender), "UnauthorizedSubmitter", sender)
    submit(rollup, chain, 1, 1, sender=submitter).check()
    assert rollup.last_batch_index() == 1
    with unchanged(rollup):
        assert_refused(rollup, submit(rollup, chain, 2, 2, sender=DEV_ACCOUNTS[2]), "UnauthorizedSubmitter",
                       DEV_ACCOUNTS[2])


def _put(data: bytes, off: int, value: int) -> bytes:
    out = bytearray(data)
    out[off:off + 32] = value.to_bytes(32, "big")
    return bytes(out)


def _malformed(chain, case: str) -> tuple[bytes, list[int], str]:
    """(proof, public inputs, the error the contract must raise) for a malformed batch 1."""
    vk = chain.vk
    data, pub = chain.proof(1), chain.pub(1)
    # state_update's commitments: the groups old_state, new_state, data (one column each), the
    # witness pack (acc), the quotient; no interaction.
    col = {name: 64 * i for i, name in enumerate(ToyLedger.witness_columns)}
    off_ez = proof_shape(vk).off_evals
    off_w = len(data) - 128
    x_acc = int.from_bytes(data[col["acc"]:col["acc"] + 32], "big")
    cases = {
        "short": (data[:-1], pub, "InvalidProof"),
        "long": (data + b"\x00", pub, "InvalidProof"),
        "empty": (b"", pub, "InvalidProof"),
        "one word more": (data + bytes(32), pub, "InvalidProof"),
        # Points off the curve: (1, 1) is not on y² = x³ + 3.
        "off curve: acc commitment": (_put(_put(data, col["acc"], 1), col["acc"] + 32, 1), pub, "InvalidProof"),
        "off curve: new state commitment": (_put(_put(data, col["new"], 1), col["new"] + 32, 1), pub, "InvalidProof"),
        "off curve: data commitment": (_put(_put(data, col["delta"], 1), col["delta"] + 32, 1), pub, "InvalidProof"),
        "off curve: quotient commitment": (_put(_put(data, off_ez - 64, 1), off_ez - 32, 1), pub, "InvalidProof"),
        "off curve: opening proof": (_put(_put(data, off_w, 1), off_w + 32, 1), pub, "InvalidProof"),
        # The old state's commitment is checked against the held hash before the proof is.
        "off curve: old state commitment": (_put(_put(data, col["old"], 1), col["old"] + 32, 1), pub,
                                            "StateMismatch"),
        "coordinate + p": (_put(data, col["acc"], x_acc + P_MODULUS), pub, "InvalidProof"),
        # Scalars (claimed evaluations) not below r.
        "scalar = r": (_put(data, off_ez, R_MODULUS), pub, "InvalidProof"),
        "scalar + r": (_put(data, off_ez, int.from_bytes(data[off_ez:off_ez + 32], "big") + R_MODULUS), pub,
                       "InvalidProof"),
        "last scalar + r": (_put(data, off_w - 32, int.from_bytes(data[off_w - 32:off_w], "big") + R_MODULUS), pub,
                            "InvalidProof"),
        "scalar = 2^256 - 1": (_put(data, off_ez, 2**256 - 1), pub, "InvalidProof"),
        # Public inputs: not below r, another value, too few, too many.
        "public input + r": (data, [pub[0] + R_MODULUS], "InvalidProof"),
        "public input changed": (data, [(pub[0] + 1) % R_MODULUS], "InvalidProof"),
        "no public input": (data, [], "InvalidProof"),
        "extra public input": (data, pub + [0], "InvalidProof"),
    }
    return cases[case]


MALFORMED = ["short", "long", "empty", "one word more", "off curve: acc commitment", "off curve: new state commitment",
             "off curve: data commitment", "off curve: quotient commitment", "off curve: opening proof",
             "off curve: old state commitment", "coordinate + p", "scalar = r", "scalar + r", "last scalar + r",
             "scalar = 2^256 - 1", "public input + r", "public input changed", "no public input",
             "extra public input"]


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_proof_is_refused(rollup, chain, case):
    proof, pub, error = _malformed(chain, case)
    with unchanged(rollup):
        assert_refused(rollup, rollup.submit_batch(1, proof, pub), error)
    # The Python verifier, pinned to the state the L1 holds, refuses it too.
    with pytest.raises(PyInvalidProof):
        verify(ToyLedger(), chain.vk, pub, proof, public_commitments={"old_state": chain.state_point(0)})
    # And the honest batch still goes through afterwards.
    submit(rollup, chain, 1, 1).check()


def test_standalone_verifier_and_rollup_agree_on_gas_budget(l1, chain):
    """The verifier alone accepts batch 1's proof and costs less than the rollup path, which
    adds the state checks, two stores and the event."""
    verifier = VerifierContract.deploy(l1, ToyLedger(), chain.vk)
    direct = verifier.verify(chain.proof(1), chain.pub(1)).check()
    rollup = deploy(l1, chain)
    submit(rollup, chain, 1, 1).check()
    through = submit(rollup, chain, 2, 2).check()
    assert direct.exec_gas < through.exec_gas < BUDGET
    assert verifier.accepts(chain.proof(1), chain.pub(1)) is True
    assert verifier.accepts(chain.proof(1), [chain.pub(1)[0] + 1]) is False


# --- zkpipe export-verifier ------------------------------------------------------------------


def test_exported_sources_compile_and_verify(tmp_path, l1, chain, capsys):
    from node.cli import main
    from node.l1.solc import compile_sources

    vk_file = tmp_path / "state_update.vk"
    chain.vk.save(str(vk_file))
    out = tmp_path / "sol"
    assert main(["export-verifier", "--vk", str(vk_file), "--circuit", "state_update", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["Rollup.sol", "ZkpipeVerifier.sol"]
    assert str(out / "ZkpipeVerifier.sol") in capsys.readouterr().out
    # A fresh solcjs run on the files gives byte for byte what the node deploys.
    artifacts = compile_sources({p.name: p.read_text() for p in out.iterdir()}, cache_dir=None)
    assert artifacts["Rollup"].bytecode == compile_rollup(ToyLedger(), chain.vk, LAYOUT).bytecode
    verifier = VerifierContract(l1, artifacts["ZkpipeVerifier"],
                                l1.deploy(artifacts["ZkpipeVerifier"].bytecode, gas=8_000_000))
    assert verifier.accepts(chain.proof(1), chain.pub(1)) is True
    assert verifier.accepts(chain.proof(2), chain.pub(1)) is False
    # Genesis state, no submitter named, L2 chain id 0, no genesis accounts (so no value).
    args = encode_constructor(artifacts["Rollup"].abi, chain.commitment(0), ZERO_ADDRESS, 0, b"")
    rollup = RollupContract(l1, artifacts["Rollup"], l1.deploy(artifacts["Rollup"].bytecode, args, gas=8_000_000))
    submit(rollup, chain, 1, 1).check()
    assert rollup.state_commitment() == chain.commitment(1)


def test_export_verifier_refuses_bad_input(tmp_path, chain, capsys):
    from node.cli import main
    from circuits import load_circuit
    from .prover_util import keys_for

    out = tmp_path / "sol"
    base = ["export-verifier", "--out", str(out)]
    assert main(base + ["--vk", str(tmp_path / "missing.vk"), "--circuit", "state_update"]) == 2
    assert "cannot read the verification key" in capsys.readouterr().err
    junk = tmp_path / "junk.vk"
    junk.write_bytes(b"\x01" * 100)
    assert main(base + ["--vk", str(junk), "--circuit", "state_update"]) == 2
    assert "is not a verification key" in capsys.readouterr().err
    # A key for another circuit: refused, nothing written.
    _, fib_vk = keys_for(load_circuit("fibonacci"), 3)
    fib = tmp_path / "fib.vk"
    fib_vk.save(str(fib))
    assert main(base + ["--vk", str(fib), "--circuit", "state_update"]) == 2
    assert "not for circuit 'state_update'" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(SystemExit):
        main(base + ["--vk", str(fib), "--circuit", "no_such_circuit"])
    assert "invalid choice" in capsys.readouterr().err
    # A circuit without a state layout: the verifier alone.
    assert main(base + ["--vk", str(fib), "--circuit", "fibonacci"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["ZkpipeVerifier.sol"]
    assert "no state layout" in capsys.readouterr().err
