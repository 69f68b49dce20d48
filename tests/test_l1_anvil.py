"""The L1 over JSON-RPC: anvil (npm package @foundry-rs/anvil-linux-amd64), started by the test
on 127.0.0.1 and stopped by its process id whatever happens.

End to end: prove a batch, deploy the rollup, submit, read the new state commitment back; the
verifier's gas is the embedded EVM's to the unit. Also the clear errors of a missing anvil or solcjs and an
unreachable URL, which need no anvil."""

from __future__ import annotations

import os
import random

import pytest

from kernels.params import R_MODULUS
from prover.prove import prove

from .l1_util import BE, LAYOUT, LOG2_N, ToyLedger, column_commitment, toy_keys

pytest.importorskip("web3")

from node.l1.anvil import find_anvil, free_port, launch_anvil, start_anvil  # noqa: E402
from node.l1.errors import L1Unavailable  # noqa: E402
from node.l1.rollup import RollupContract, VerifierContract, state_commitment  # noqa: E402
from node.l1.rpc import RpcL1  # noqa: E402

needs_anvil = pytest.mark.skipif(find_anvil() is None,
                                 reason="anvil binary absent (run `npm ci` in contracts/, as scripts/setup.sh does)")


def assert_gone(pid: int) -> None:
    """No process has id `pid` any more (stopped and reaped)."""
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not os.path.exists(f"/proc/{pid}")


@pytest.fixture(scope="module")
def anvil():
    node = launch_anvil()
    try:
        yield node
    finally:
        node.stop()
        assert_gone(node.pid)


def prove_batch(pk, old, seed: int):
    """(proof bytes, public inputs, new state) of one batch moving state `old`."""
    rnd = random.Random(seed)
    trace, pub = ToyLedger().trace(old, [rnd.randrange(1, 100) for _ in old])
    return prove(ToyLedger(), pk, trace, pub, BE).to_bytes(), [pub["net"]], trace["new"]


@needs_anvil
def test_prove_deploy_submit_read_back(anvil):
    pk, vk = toy_keys()
    genesis = [random.Random(1).randrange(10**6) for _ in range(1 << LOG2_N)]
    proof, pub, new = prove_batch(pk, genesis, seed=2)
    held0 = state_commitment([column_commitment(pk, genesis)])
    held1 = state_commitment([column_commitment(pk, new)])

    l1 = RpcL1(anvil.url, name="anvil")
    assert l1.chain_id == 31337
    rollup = RollupContract.deploy(l1, ToyLedger(), vk, LAYOUT, held0, submitter=l1.accounts[0])
    assert rollup.state_commitment() == held0 and rollup.last_batch_index() == 0
    receipt = rollup.submit_batch(1, proof, pub).check()
    assert rollup.state_commitment() == held1
    assert rollup.last_batch_index() == 1
    (event,) = rollup.events(receipt)
    assert (event.batch_index, event.state_commitment) == (1, held1)
    assert event.new_state_commitments == [column_commitment(pk, new)]
    assert receipt.tx_hash and receipt.block_number == l1.block_number()

    # A chain's gas, the first batch included, within the budget.
    assert receipt.exec_gas < 200_000, receipt
    # Verification alone (no storage) costs the embedded EVM exactly what it costs anvil.
    from node.l1.embedded import EmbeddedL1
    on_anvil = VerifierContract.deploy(l1, ToyLedger(), vk).verify(proof, pub).check()
    embedded = VerifierContract.deploy(EmbeddedL1(), ToyLedger(), vk).verify(proof, pub).check()
    assert (embedded.tx_gas, embedded.exec_gas) == (on_anvil.tx_gas, on_anvil.exec_gas)


@needs_anvil
def test_refusals_are_decoded_over_rpc(anvil):
    pk, vk = toy_keys()
    genesis = [random.Random(3).randrange(10**6) for _ in range(1 << LOG2_N)]
    proof1, pub1, new1 = prove_batch(pk, genesis, seed=4)
    proof2, pub2, _ = prove_batch(pk, new1, seed=5)
    l1 = RpcL1(anvil.url)
    held0 = state_commitment([column_commitment(pk, genesis)])
    rollup = RollupContract.deploy(l1, ToyLedger(), vk, LAYOUT, held0, submitter=l1.accounts[1])

    stranger = rollup.submit_batch(1, proof1, pub1, sender=l1.accounts[2])
    assert not stranger.status
    assert stranger.revert_reason.lower() == f"UnauthorizedSubmitter({l1.accounts[2]})".lower()
    stale = rollup.submit_batch(1, proof2, pub2, sender=l1.accounts[1])
    held1 = state_commitment([column_commitment(pk, new1)])
    assert not stale.status
    assert stale.revert_reason == f"StateMismatch(0x{held0.hex()}, 0x{held1.hex()})"
    bad = rollup.submit_batch(1, proof1, [(pub1[0] + 1) % R_MODULUS], sender=l1.accounts[1])
    assert not bad.status and bad.revert_reason == "InvalidProof()"
    assert rollup.state_commitment() == held0 and rollup.last_batch_index() == 0

    # A read-only call that reverts is decoded too.
    verifier = VerifierContract.deploy(l1, ToyLedger(), vk)
    assert verifier.accepts(proof1, pub1) is True
    assert verifier.accepts(proof2, pub1) is False


def test_anvil_is_stopped_when_the_body_raises():
    if find_anvil() is None:
        pytest.skip("anvil binary absent (run `npm ci` in contracts/, as scripts/setup.sh does)")
    with pytest.raises(RuntimeError, match="on purpose"):
        with start_anvil() as node:
            pid = node.pid
            os.kill(pid, 0)  # running
            assert RpcL1(node.url).block_number() == 0
            raise RuntimeError("the body fails on purpose")
    assert_gone(pid)


def test_missing_anvil_binary_is_a_clear_error(tmp_path):
    with pytest.raises(L1Unavailable, match="missing or not executable"):
        launch_anvil(binary=tmp_path / "anvil")


def test_missing_solcjs_is_a_clear_error(tmp_path):
    from node.l1.solc import compile_sources

    with pytest.raises(L1Unavailable, match="npm ci"):
        compile_sources({"A.sol": "pragma solidity 0.8.28; contract A {}"}, cache_dir=None, contracts_dir=tmp_path)


def test_unreachable_rpc_url_is_a_clear_error():
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(L1Unavailable, match=f"no JSON-RPC node answers at {url}"):
        RpcL1(url, timeout=2.0)
    with pytest.raises(L1Unavailable, match="not an HTTP JSON-RPC URL"):
        RpcL1("127.0.0.1:8545")


def test_an_l1_that_never_answers_is_asked_once():
    """A hung L1 (accepts, never answers) is reported after one timeout: no retries inside
    the client multiply it (the callers retry on their own terms)."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def accept():
        while True:
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                return
    threading.Thread(target=accept, daemon=True).start()
    try:
        with pytest.raises(L1Unavailable, match="Read timed out"):
            RpcL1(f"http://127.0.0.1:{listener.getsockname()[1]}", timeout=0.5)
        assert len(accepted) == 1
    finally:
        listener.close()
        for c in accepted:
            c.close()


@needs_anvil
def test_bench_gas_prints_both_backends(capsys):
    import json

    from bench.gas import main

    assert main(["--circuits", "state_update", "--log2-n", "3"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    by = {(ln["l1"], ln["op"], ln.get("batch")): ln for ln in lines}
    assert set(by) == {(l1, op, b) for l1 in ("pyrevm", "anvil")
                       for op, b in (("verify", None), ("submit_batch", 1), ("submit_batch", 2))}
    for ln in lines:
        assert {"l1", "exec_gas", "tx_gas", "public_inputs", "circuit", "columns", "log2_n", "op"} <= set(ln)
        assert (ln["circuit"], ln["log2_n"], ln["columns"], ln["public_inputs"]) == ("state_update", 3, 4, 1)
        # exec_gas leaves out at least the 21000 base and 4 gas per calldata byte.
        assert 0 < ln["exec_gas"] <= ln["tx_gas"] - 21_000 - 4 * ln["calldata_bytes"]
    assert by["pyrevm", "verify", None]["tx_gas"] == by["anvil", "verify", None]["tx_gas"]
    for b in (1, 2):
        assert by["anvil", "verify", None]["exec_gas"] < by["anvil", "submit_batch", b]["exec_gas"] < 200_000
        # The split adds up; a circuit without published data or bridge records spends none on them.
        ln = by["anvil", "submit_batch", b]
        assert ln["tx_gas"] == 21_000 + sum(ln[k] for k in ("calldata_gas", "proof_check_gas", "da_check_gas",
                                                                "bridge_gas", "rollup_gas"))
        assert (ln["da_check_gas"], ln["bridge_gas"], ln["proof_check_gas"]) == \
            (0, 0, by["anvil", "verify", None]["exec_gas"])


@needs_anvil
def test_bench_gas_splits_a_ledger_batch_with_bridge_records(capsys):
    import json

    from bench.gas import main

    assert main(["--circuits", "ledger", "--log2-n", "3", "--l1", "anvil"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    by = {(ln["op"], ln.get("batch")): ln for ln in lines}
    assert set(by) == {("verify", None), ("deposit", 1), ("submit_batch", 1), ("submit_batch", 2), ("withdraw", 1)}
    bridged, plain = by["submit_batch", 1], by["submit_batch", 2]
    assert (bridged["deposits"], bridged["withdrawals"], plain["deposits"], plain["withdrawals"]) == (1, 1, 0, 0)
    for ln in (bridged, plain):
        parts = [ln[k] for k in ("calldata_gas", "proof_check_gas", "da_check_gas", "bridge_gas", "rollup_gas")]
        assert ln["tx_gas"] == 21_000 + sum(parts) and min(parts) >= 0
        assert ln["da_check_gas"] > 0 and ln["transfers"] > 0
        assert ln["tx_gas_per_transfer"] == round(ln["tx_gas"] / ln["transfers"], 1)
    # Batch 1 consumes a deposit and records a withdrawal root: stores batch 2 does not make.
    assert plain["bridge_gas"] == 0 and bridged["bridge_gas"] > 20_000
    assert bridged["rollup_gas"] == plain["rollup_gas"] and bridged["proof_check_gas"] == plain["proof_check_gas"]
    assert by["withdraw", 1]["path_length"] == 0
