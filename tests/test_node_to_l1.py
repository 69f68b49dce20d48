"""From a wallet to the L1: web3.py sends signed transfers (legacy EIP-155 and EIP-1559) to the
node's JSON-RPC server, the executor applies them and seals them into a proof batch, a prover
worker proves that batch with the ledger circuit, and the in-order submitter puts it on a
rollup contract on the embedded L1, which then holds the commitment of the executor's state.
The receipts follow: executed, then proven, then verified. Every part is the one the pipeline
runs, without Ray around it."""

from __future__ import annotations

import pytest
from eth_account import Account
from web3 import Web3

from circuits.ledger import proof_commitments
from node.executor import ledger_job
from node.genesis import dev_genesis
from node.pipeline.circuit import LedgerCircuit
from node.pipeline.submitter import InOrderSubmitter
from node.pipeline.worker import ProverWorker
from node.local_node import LocalNode
from node.state import LedgerState

from .prover_util import keys_for

pytest.importorskip("pyrevm")

from node.l1.embedded import EmbeddedL1  # noqa: E402
from node.l1.rollup import RollupContract, state_commitment as l1_state_hash  # noqa: E402

CHAIN = 23116
FUNDS = 10**15
LOG2_ROWS = 6
# The L1 numbers batches from 1 (0 is its genesis state), the executor from 0; the pipeline
# adds the difference when it hands a batch on (node/pipeline/node_actors.py).
L1_OFFSET = 1


def sign(account, nonce: int, to: str, value: int, kind: int) -> bytes:
    """A transfer as a wallet signs it: EIP-1559 (kind 2) or legacy with EIP-155 replay
    protection (kind 0, the chain id folded into v)."""
    if kind == 2:
        tx = dict(type=2, chainId=CHAIN, nonce=nonce, maxFeePerGas=2 * 10**9, maxPriorityFeePerGas=10**9,
                  gas=21000, to=to, value=value)
    else:
        tx = dict(chainId=CHAIN, nonce=nonce, gasPrice=10**9, gas=21000, to=to, value=value)
    return bytes(account.sign_transaction(tx).raw_transaction)


class Wallets:
    """Funded and fresh accounts, each sender's next nonce, and the balances the transfers
    sent so far should leave (what the client expects, kept apart from the node's books)."""

    def __init__(self, w3, funded):
        self.w3 = w3
        self.nonce = {a.address: 0 for a in funded}
        self.expected = {a.address: FUNDS for a in funded}

    def send(self, sender, to: str, value: int, kind: int):
        nonce = self.nonce.get(sender.address, 0)
        h = self.w3.eth.send_raw_transaction(sign(sender, nonce, to, value, kind))
        self.nonce[sender.address] = nonce + 1
        self.expected[sender.address] = self.expected.get(sender.address, 0) - value
        self.expected[to] = self.expected.get(to, 0) + value
        return h


@pytest.fixture
def setup(tmp_path):
    """A node over a genesis funding alice and bob (and the development faucet), the ledger
    circuit's development keys, and a rollup at the genesis state on a fresh embedded L1."""
    alice, bob = Account.create(), Account.create()
    genesis = dev_genesis(CHAIN, {bytes.fromhex(a.address[2:]): FUNDS for a in (alice, bob)})
    circuit = LedgerCircuit(LOG2_ROWS)
    pk, vk = keys_for(circuit.air(), LOG2_ROWS)
    start = LedgerState.from_genesis(genesis, circuit.rows)
    genesis_state = circuit.state_commitment(pk, start.address_column(), start.balances)
    rollup = RollupContract.deploy(EmbeddedL1(), circuit.air(), vk, circuit.layout(), genesis_state,
                                   genesis_accounts=list(zip(start.address_column(), start.balances)))
    sealed = []
    # Batches seal only when asked (the deadline is far away), so each holds exactly the
    # transfers sent for it; sealed batches go to `sealed`, the prover side's queue.
    node = LocalNode(genesis, tmp_path / "wal", log2_rows=LOG2_ROWS, cut_interval=0.002, batch_deadline=600,
                     on_batch=sealed.append).start()
    try:
        yield dict(node=node, alice=alice, bob=bob, circuit=circuit, pk=pk, vk=vk, rollup=rollup,
                   genesis_state=genesis_state, sealed=sealed)
    finally:
        node.stop()


def wait_receipts(w3, hashes):
    return [w3.eth.wait_for_transaction_receipt(h, timeout=10, poll_latency=0.01) for h in hashes]


def finality(w3, hashes) -> set[str]:
    return {w3.eth.get_transaction_receipt(h)["finality"] for h in hashes}


def l1_state_of(setup, w3) -> bytes:
    """The state commitment of the node's ledger, from the executor's slot order and the
    balances the client reads over JSON-RPC."""
    state = setup["node"].executor.state
    addresses = state.address_column()
    balances = [w3.eth.get_balance(Web3.to_checksum_address("0x" + a.hex())) for a in state.addresses]
    assert state.balances[:len(balances)] == balances
    return setup["circuit"].state_commitment(setup["pk"], addresses, balances)


def test_transfers_sent_with_web3_reach_the_l1(setup):
    node, alice, bob, rollup = setup["node"], setup["alice"], setup["bob"], setup["rollup"]
    carol, dave = Account.create(), Account.create()
    w3 = Web3(Web3.HTTPProvider(node.url))
    assert w3.is_connected() and w3.eth.chain_id == CHAIN
    wallets = Wallets(w3, [alice, bob])
    worker = ProverWorker(setup["circuit"], setup["pk"], backend="cpu", name="prover-test", node="local")
    submitter = InOrderSubmitter(rollup)
    assert rollup.state_commitment() == setup["genesis_state"] and rollup.last_batch_index() == 0

    # Batch 1: both kinds of transaction, between funded accounts and to a fresh one (which
    # claims a slot), and carol spending what she received earlier in the same batch.
    sends = [(alice, bob.address, 1000, 0), (alice, carol.address, 20_000, 2), (bob, carol.address, 3000, 0),
             (bob, alice.address, 4000, 2), (carol, dave.address, 15_000, 0), (carol, alice.address, 500, 2)]
    hashes = [wallets.send(*s) for s in sends]
    receipts = wait_receipts(w3, hashes)
    for (sender, to, value, kind), h, r in zip(sends, hashes, receipts):
        assert r["transactionHash"] == h and r["status"] == 1 and r["type"] == kind
        assert (r["from"], r["to"]) == (sender.address, to)
        assert r["finality"] == "executed"
    for address, balance in wallets.expected.items():
        assert w3.eth.get_balance(address) == balance
    assert w3.eth.get_transaction_count(carol.address) == 2

    node.seal()   # between two blocks: the cutting thread may be applying an idle one
    (batch,) = setup["sealed"]
    setup["sealed"].clear()
    assert {int(r["batchIndex"], 16) for r in receipts} == {batch.index}
    assert len(batch.transfers) == len(sends)
    job = ledger_job(batch)
    job.batch_index = batch.index + L1_OFFSET
    assert job.batch_index == 1
    # Carol and dave take the next free slots, in the order they were first credited.
    assert [a for _, a in job.claims] == [int(carol.address, 16), int(dave.address, 16)]

    result = worker.prove(job)
    assert result.batch == 1 and result.public_inputs == [1]
    # The proof starts from the state the L1 holds.
    carried = proof_commitments(setup["circuit"].air(), setup["vk"], result.proof)
    assert l1_state_hash(list(carried["old_state"])) == setup["genesis_state"]
    assert setup["circuit"].state_commitment(setup["pk"], job.old_addresses, job.old_balances) == setup["genesis_state"]
    node.mark_proven(batch.index)
    assert finality(w3, hashes) == {"proven"}

    assert submitter.offer(result)
    (verified,) = submitter.run()
    assert verified.batch == 1 and not verified.found_on_l1
    node.mark_verified(verified.batch - L1_OFFSET)
    assert finality(w3, hashes) == {"verified"}
    assert rollup.last_batch_index() == 1
    after_1 = l1_state_of(setup, w3)
    assert rollup.state_commitment() == after_1 != setup["genesis_state"]
    assert l1_state_hash(list(carried["new_state"])) == after_1

    # Batch 2 on top: dave, whose slot batch 1 claimed, spends; batch 1's receipts stay
    # verified while batch 2's are only executed until its proof lands.
    more = [(dave, bob.address, 7000, 2), (bob, alice.address, 1, 0)]
    hashes_2 = [wallets.send(*s) for s in more]
    wait_receipts(w3, hashes_2)
    node.seal()   # between two blocks: the cutting thread may be applying an idle one
    (batch_2,) = setup["sealed"]
    assert finality(w3, hashes_2) == {"executed"} and finality(w3, hashes) == {"verified"}
    job_2 = ledger_job(batch_2)
    job_2.batch_index = batch_2.index + L1_OFFSET
    assert setup["circuit"].state_commitment(setup["pk"], job_2.old_addresses, job_2.old_balances) == after_1
    result_2 = worker.prove(job_2)
    node.mark_proven(batch_2.index)
    submitter.offer(result_2)
    (verified_2,) = submitter.run()
    node.mark_verified(verified_2.batch - L1_OFFSET)
    assert finality(w3, hashes + hashes_2) == {"verified"}
    assert rollup.last_batch_index() == 2
    assert rollup.state_commitment() == l1_state_of(setup, w3)
    for address, balance in wallets.expected.items():
        assert w3.eth.get_balance(address) == balance
