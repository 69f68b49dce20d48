"""The bridge on the L1 (docs/bridge.md): the rollup escrows the genesis balances, queues
deposits, checks each batch's deposits against the queue and records its withdrawals, and pays
each withdrawal once. Every cheat is refused by the contract with the L1 state unchanged.

Proofs are real ledger proofs at 2^6 rows on the embedded L1 (one run on anvil, for its logs,
transaction inputs and value transfers over JSON-RPC). The circuit does not know the deposit
queue: a skipped or invented deposit is a valid proof, and only the contract can refuse it."""

from __future__ import annotations

import functools
from contextlib import contextmanager

import pytest
from eth_utils import keccak

from circuits.ledger import KIND_DEPOSIT, KIND_REFUND, KIND_WITHDRAWAL, Ledger, LedgerJob, build_trace
from circuits.ledger_commitments import state_commitment as ledger_state
from circuits.ledger_data import read_batch_data
from kernels.errors import InvalidInput
from prover.proof import proof_length
from prover.prove import prove

from .l1_util import BE
from .prover_util import keys_for

pytest.importorskip("pyrevm")

from node.l1.abi import decode_error  # noqa: E402
from node.l1.embedded import EmbeddedL1  # noqa: E402
from node.l1.errors import L1Error  # noqa: E402
from node.l1.rollup import (MAX_INIT_CODE_BYTES, RollupContract, compile_rollup, encode_genesis_accounts,  # noqa: E402
                            max_genesis_accounts, state_commitment)
from node.l1.withdrawals import root_of_path, withdrawal_leaf, withdrawal_tree  # noqa: E402

LOG2 = 6
CHAIN_ID = 901
ACCOUNTS = [0xA11CE0000000000000000000000000000000A1, 0xB0B0000000000000000000000000000000000B2,
            0xCA7000000000000000000000000000000000C3, 0xD0D0000000000000000000000000000000000D4]
BALANCES = [1000, 2000, 3000, 4000]
NEWCOMER = 0xE1E1000000000000000000000000000000000E5       # an L2 address first seen in a deposit
RECIPIENTS = [0x1000000000000000000000000000000000000001 + i for i in range(3)]   # fresh L1 addresses
DEPOSITS = [(ACCOUNTS[1], 100), (NEWCOMER, 50), (ACCOUNTS[2], 7)]    # the queue, in order


def job(bridge_entries, transfers=(), claims=()) -> LedgerJob:
    """Batch 1 on the genesis state: `transfers` first, then one entry per (kind, slot,
    amount, address) of `bridge_entries` (a refund's slot is ignored: it moves nothing)."""
    transfers, bridge = list(transfers), []
    for kind, slot, amount, address in bridge_entries:
        bridge.append((len(transfers), kind, address))
        transfers.append((0, 0, amount) if kind == KIND_REFUND else (slot, slot, amount))
    return LedgerJob(1, LOG2, ACCOUNTS, BALANCES, transfers, list(claims), bridge)


# The honest batch: deposits 0 and 1 credited (1 claims slot 4 for the newcomer), a transfer,
# two withdrawals, and deposit 2 refunded.
HONEST = dict(bridge_entries=[(KIND_DEPOSIT, 1, 100, ACCOUNTS[1]), (KIND_DEPOSIT, 4, 50, NEWCOMER),
                              (KIND_WITHDRAWAL, 2, 300, RECIPIENTS[0]), (KIND_WITHDRAWAL, 3, 20, RECIPIENTS[1]),
                              (KIND_REFUND, 0, 7, ACCOUNTS[2])],
              transfers=[(0, 2, 10)], claims=[(4, NEWCOMER)])
WITHDRAWALS = [(RECIPIENTS[0], 300), (RECIPIENTS[1], 20), (ACCOUNTS[2], 7)]     # leaves, in row order


@functools.lru_cache(maxsize=None)
def keys():
    return keys_for(Ledger(LOG2), LOG2)


@functools.lru_cache(maxsize=None)
def proven(name: str) -> tuple[bytes, list[int]]:
    """(proof bytes with the published data, public inputs) of one of the batches below."""
    pk, _ = keys()
    trace, pub = build_trace(job(**BATCHES[name]))
    return prove(Ledger(LOG2), pk, trace, pub, BE).to_bytes(), [pub["batch_index"]]


BATCHES = {
    "honest": HONEST,
    # Deposit 1 credited, deposit 0 left behind.
    "skips_deposit_0": dict(bridge_entries=[(KIND_DEPOSIT, 4, 50, NEWCOMER)], claims=[(4, NEWCOMER)]),
    # Deposit 0's amount, credited to another address than it named.
    "invents_address": dict(bridge_entries=[(KIND_DEPOSIT, 0, 100, ACCOUNTS[0])]),
    # Deposit 0's address, a larger amount.
    "invents_amount": dict(bridge_entries=[(KIND_DEPOSIT, 1, 101, ACCOUNTS[1])]),
    # The whole queue and one more deposit.
    "one_more_deposit": dict(bridge_entries=[(KIND_DEPOSIT, 1, 100, ACCOUNTS[1]), (KIND_DEPOSIT, 4, 50, NEWCOMER),
                                             (KIND_DEPOSIT, 2, 7, ACCOUNTS[2]), (KIND_DEPOSIT, 3, 5, ACCOUNTS[3])],
                             claims=[(4, NEWCOMER)]),
}


def genesis_commitment() -> bytes:
    pk, _ = keys()
    return state_commitment(ledger_state(pk.srs_g1, LOG2, ACCOUNTS, BALANCES, BE))


def deploy(l1, **kwargs) -> RollupContract:
    _, vk = keys()
    return RollupContract.deploy(l1, Ledger(LOG2), vk, Ledger.state_layout, genesis_commitment(),
                                 l2_chain_id=CHAIN_ID, genesis_accounts=list(zip(ACCOUNTS, BALANCES)), **kwargs)


def queue_deposits(rollup, deposits=DEPOSITS) -> None:
    for address, amount in deposits:
        rollup.deposit(address, amount).check()


def l1_state(rollup) -> tuple:
    """Everything a refused transaction must leave as it was."""
    watched = [rollup.address] + [f"0x{a:040x}" for a in RECIPIENTS + ACCOUNTS]
    return (rollup.state_commitment(), rollup.last_batch_index(), rollup.deposit_count(),
            rollup.deposits_consumed(), rollup.withdrawal_root(1), [rollup.l1.balance(a) for a in watched])


@contextmanager
def unchanged(rollup):
    before = l1_state(rollup)
    yield
    assert l1_state(rollup) == before


@functools.lru_cache(maxsize=None)
def rollup_abi() -> list:
    _, vk = keys()
    return compile_rollup(Ledger(LOG2), vk, Ledger.state_layout).abi


def refused(receipt, error: str) -> tuple:
    """The arguments of the custom error `error` a refused transaction reverted with."""
    assert not receipt.status
    name, args = decode_error(rollup_abi(), receipt.revert_data)
    assert name == error, receipt.revert_reason
    return args


@pytest.fixture(scope="module")
def l1() -> EmbeddedL1:
    return EmbeddedL1()


@pytest.fixture
def rollup(l1) -> RollupContract:
    rollup = deploy(l1)
    queue_deposits(rollup)
    return rollup


# --- genesis and the deposit queue ------------------------------------------------------------


def test_genesis_escrows_the_balances_and_announces_the_accounts(l1):
    rollup = deploy(l1)
    assert rollup.escrow() == sum(BALANCES)
    assert rollup.genesis_event() == (CHAIN_ID, genesis_commitment(), list(zip(ACCOUNTS, BALANCES)))
    assert (rollup.last_batch_index(), rollup.deposit_count(), rollup.deposits_consumed()) == (0, 0, 0)
    # Trailing empty slots are left out of the announcement (slots past it are empty).
    _, vk = keys()
    padded = RollupContract.deploy(l1, Ledger(LOG2), vk, Ledger.state_layout, genesis_commitment(),
                                   genesis_accounts=list(zip(ACCOUNTS, BALANCES)) + [(0, 0)] * 3)
    assert padded.genesis_event().accounts == list(zip(ACCOUNTS, BALANCES))
    for bad in ([(ACCOUNTS[0], 1 << 64)], [(1 << 160, 1)], [(ACCOUNTS[0], -1)]):
        with pytest.raises(InvalidInput):
            RollupContract.deploy(l1, Ledger(LOG2), vk, Ledger.state_layout, genesis_commitment(), genesis_accounts=bad)


@pytest.mark.parametrize("value", [sum(BALANCES) - 1, sum(BALANCES) + 1, 0])
def test_genesis_not_funded_is_refused(l1, value):
    with pytest.raises(L1Error) as e:
        deploy(l1, value=value)
    assert decode_error(rollup_abi(), e.value.data) == ("GenesisNotFunded", (sum(BALANCES), value))


def test_genesis_accounts_of_a_broken_length_are_refused(l1):
    from node.l1.abi import encode_constructor

    _, vk = keys()
    art = compile_rollup(Ledger(LOG2), vk, Ledger.state_layout)
    args = encode_constructor(art.abi, genesis_commitment(), "0x" + "00" * 20, CHAIN_ID, bytes(27))
    with pytest.raises(L1Error) as e:
        l1.deploy(art.bytecode, args, gas=8_000_000)
    assert decode_error(rollup_abi(), e.value.data) == ("InvalidGenesisAccounts", (27,))


def test_deposits_queue_in_order_with_their_chain(l1):
    rollup = deploy(l1)
    sender = l1.accounts[3]
    for address, amount in DEPOSITS:
        rollup.deposit(address, amount, sender=sender).check()
    assert rollup.escrow() == sum(BALANCES) + sum(a for _, a in DEPOSITS)
    events = rollup.deposit_events()
    assert [(d.index, d.l2_address, d.amount, d.l1_sender) for d in events] == \
        [(i, a, v, int(sender, 16)) for i, (a, v) in enumerate(DEPOSITS)]
    assert len({d.tx_hash for d in events}) == 3 and all(d.block > 0 for d in events)
    assert [d.index for d in rollup.deposit_events(from_index=2)] == [2]
    # A watcher polling for new deposits finds each once, and a reader from 0 finds them all.
    assert rollup.deposit_events(from_index=3) == []
    rollup.deposit(NEWCOMER, 9, sender=sender).check()
    assert [(d.index, d.amount) for d in rollup.deposit_events(from_index=3)] == [(3, 9)]
    assert [d.index for d in rollup.deposit_events()] == [0, 1, 2, 3]
    chain = bytes(32)
    for i, (address, amount) in enumerate(DEPOSITS):
        assert rollup.deposit_chain_at(i) == chain
        chain = keccak(chain + address.to_bytes(20, "big") + amount.to_bytes(8, "big"))
    assert rollup.deposit_chain_at(3) == chain
    assert (rollup.deposit_count(), rollup.deposits_consumed()) == (4, 0)


def test_the_embedded_chain_file_replays_the_history_with_the_same_hashes(tmp_path):
    """A chain continued from its journal answers the same logs and inputs: a reader (a node
    catching up, a sync) finds the rollup's history whether or not the L1 restarted."""
    first = EmbeddedL1(journal=tmp_path / "chain.jsonl")
    rollup = deploy(first)
    queue_deposits(rollup)
    rollup.submit_batch(1, *proven("honest")).check()
    history = (rollup.genesis_event(), rollup.deposit_events(), rollup.batch_calls())
    first.close()
    again = EmbeddedL1(journal=tmp_path / "chain.jsonl")
    try:
        _, vk = keys()
        replayed = RollupContract.at(again, Ledger(LOG2), vk, Ledger.state_layout, rollup.address)
        assert (replayed.genesis_event(), replayed.deposit_events(), replayed.batch_calls()) == history
        assert replayed.escrow() == sum(BALANCES) + sum(v for _, v in DEPOSITS)
        with pytest.raises(L1Error):
            again.transaction_input("0x" + "00" * 32)
    finally:
        again.close()


@pytest.mark.parametrize("address, amount, error", [
    (NEWCOMER, 0, "InvalidDepositAmount"),
    (NEWCOMER, 1 << 64, "InvalidDepositAmount"),
    (0, 5, "InvalidDepositAddress"),
])
def test_bad_deposits_are_refused(rollup, address, amount, error):
    with unchanged(rollup):
        refused(rollup.deposit(address, amount), error)
    assert len(rollup.deposit_events()) == len(DEPOSITS)


# --- batches: deposits consumed in order, withdrawals recorded -----------------------------


def test_a_batch_consumes_its_deposits_in_order_and_records_its_withdrawals(l1, rollup):
    proof, pub = proven("honest")
    receipt = rollup.submit_batch(1, proof, pub).check()
    assert (rollup.last_batch_index(), rollup.deposits_consumed()) == (1, 3)
    leaves = [withdrawal_leaf(a, v) for a, v in WITHDRAWALS]
    root, paths = withdrawal_tree(leaves)
    assert rollup.withdrawal_root(1) == root
    events = rollup.events(receipt)
    assert len(events) == 1 and events[0].batch_index == 1
    # What anyone reads back from the chain: the calldata the batch was proven with.
    (call,) = rollup.batch_calls()
    assert (call.batch_index, call.proof, call.public_inputs) == (1, proof, pub)
    assert call.state_commitment == rollup.state_commitment()
    data = read_batch_data(call.proof[proof_length(keys()[1]):], LOG2)
    assert [(k, a) for _, k, a in data.bridge] == [(k, a) for k, _, _, a in HONEST["bridge_entries"]]

    # Each withdrawal pays its recipient exactly its amount, once; anyone may send the claim.
    escrow = rollup.escrow()
    for index, ((recipient, amount), path) in enumerate(zip(WITHDRAWALS, paths)):
        assert root_of_path(leaves[index], index, path) == root
        before = l1.balance(f"0x{recipient:040x}")
        rollup.withdraw(1, index, recipient, amount, path, sender=l1.accounts[5]).check()
        assert l1.balance(f"0x{recipient:040x}") == before + amount
        assert rollup.is_withdrawn(1, index)
        with unchanged(rollup):
            assert refused(rollup.withdraw(1, index, recipient, amount, path), "AlreadyWithdrawn") == (1, index)
    assert rollup.escrow() == escrow - sum(v for _, v in WITHDRAWALS)


def test_five_withdrawals_root_and_paths_agree_with_the_python_tree(l1, rollup):
    """Five leaves pad to eight: three levels, padding at each."""
    paid = [(RECIPIENTS[i % 3] + 0x100 * i, 11 * (i + 1)) for i in range(5)]
    pk, _ = keys()
    trace, pub = build_trace(job([(KIND_WITHDRAWAL, i % 4, v, r) for i, (r, v) in enumerate(paid)]))
    rollup.submit_batch(1, prove(Ledger(LOG2), pk, trace, pub, BE).to_bytes(), [pub["batch_index"]]).check()
    root, paths = withdrawal_tree([withdrawal_leaf(r, v) for r, v in paid])
    assert rollup.withdrawal_root(1) == root and all(len(p) == 3 for p in paths)
    for index in (4, 0, 3):
        recipient, amount = paid[index]
        before = l1.balance(f"0x{recipient:040x}")
        rollup.withdraw(1, index, recipient, amount, paths[index]).check()
        assert l1.balance(f"0x{recipient:040x}") == before + amount
    assert [rollup.is_withdrawn(1, i) for i in range(8)] == [True, False, False, True, True, False, False, False]


def test_withdrawal_paths_for_another_leaf_are_refused(rollup):
    rollup.submit_batch(1, *proven("honest")).check()
    leaves = [withdrawal_leaf(a, v) for a, v in WITHDRAWALS]
    _, paths = withdrawal_tree(leaves)
    (r0, v0), (r1, v1) = WITHDRAWALS[:2]
    attempts = [
        (1, 0, r0, v0 + 1, paths[0]),                    # another amount
        (1, 0, r0, v0 + (1 << 64), paths[0]),            # the amount modulo 2^64 would match
        (1, 0, RECIPIENTS[2], v0, paths[0]),             # another recipient
        (1, 1, r0, v0, paths[0]),                        # leaf 0's path at index 1
        (1, 0, r1, v1, paths[1]),                        # leaf 1 at index 0
        (1, 0 + 4, r0, v0, paths[0]),                    # an index past the path (the same leaf again)
        (1, 0, r0, v0, paths[0][:-1]),                   # a path one level short
        (2, 0, r0, v0, paths[0]),                        # a batch with no withdrawals
        (1, 3, 0, 0, paths[0]),                          # the padding leaf
    ]
    for attempt in attempts:
        with unchanged(rollup):
            refused(rollup.withdraw(*attempt), "UnknownWithdrawal")
    assert not any(rollup.is_withdrawn(1, i) for i in range(8))


def test_a_refused_payment_reverts_and_stays_claimable(l1, rollup):
    # A recipient whose code reverts on every call: PUSH0 PUSH0 REVERT.
    refuser = l1.deploy(bytes.fromhex("625f5ffd6000526003601df3"), gas=100_000)
    pk, _ = keys()
    trace, pub = build_trace(job([(KIND_WITHDRAWAL, 0, 40, int(refuser, 16))]))
    rollup.submit_batch(1, prove(Ledger(LOG2), pk, trace, pub, BE).to_bytes(), [pub["batch_index"]]).check()
    root, (path,) = withdrawal_tree([withdrawal_leaf(int(refuser, 16), 40)])
    assert rollup.withdrawal_root(1) == root
    with unchanged(rollup):
        refused(rollup.withdraw(1, 0, refuser, 40, path), "PaymentFailed")
    assert not rollup.is_withdrawn(1, 0) and l1.balance(refuser) == 0


def test_a_bridge_record_past_the_published_transfers_is_refused(rollup):
    """A zero-amount withdrawal on an unused row satisfies the constraints (the trace builder
    refuses it, a prover need not): its row is past the published transfers, which list rows
    up to the last that moves anything, so the L1 has no amount for it."""
    from circuits.ledger_trace import complete_trace

    trace, pub = build_trace(job([(KIND_WITHDRAWAL, 2, 300, RECIPIENTS[0])], transfers=[(0, 2, 10)]))
    public = {name: trace[name].copy() for name in Ledger(LOG2).public_columns}
    public["is_withdrawal"][5], public["bridge_addr"][5] = 1, RECIPIENTS[1]
    pk, _ = keys()
    proof = prove(Ledger(LOG2), pk, complete_trace(LOG2, public), pub, BE).to_bytes()
    with unchanged(rollup):
        assert refused(rollup.submit_batch(1, proof, [pub["batch_index"]]), "EmptyBridgeRow") == (5,)


@pytest.mark.parametrize("name, first, count", [
    ("skips_deposit_0", 0, 1),
    ("invents_address", 0, 1),
    ("invents_amount", 0, 1),
    ("one_more_deposit", 0, 4),
])
def test_a_batch_with_other_deposits_than_the_queue_is_refused(rollup, name, first, count):
    proof, pub = proven(name)
    with unchanged(rollup):
        assert refused(rollup.submit_batch(1, proof, pub), "DepositsMismatch") == (first, count)
    # The honest batch still goes through on the unchanged state.
    rollup.submit_batch(1, *proven("honest")).check()


def test_deposits_not_yet_queued_are_refused_until_they_are(l1):
    rollup = deploy(l1)
    queue_deposits(rollup, DEPOSITS[:2])
    proof, pub = proven("honest")
    with unchanged(rollup):
        assert refused(rollup.submit_batch(1, proof, pub), "DepositsMismatch") == (0, 3)
    queue_deposits(rollup, DEPOSITS[2:])
    rollup.submit_batch(1, proof, pub).check()
    assert rollup.deposits_consumed() == 3


@pytest.mark.parametrize("where", ["kind", "address", "row", "dropped"])
def test_calldata_differing_from_the_proven_bridge_records_is_refused(rollup, where):
    proof, pub = proven("honest")
    _, vk = keys()
    data = bytearray(proof[proof_length(vk):])
    bridge = len(data) - 4 - 25 * len(HONEST["bridge_entries"])      # the bridge part's count
    first = bridge + 4
    if where == "kind":             # deposit 0 as a refund: pays ACCOUNTS[1] on the L1
        data[first + 4] = KIND_REFUND
    elif where == "address":        # withdrawal 0 to another recipient
        data[first + 2 * 25 + 5 + 19] ^= 1
    elif where == "row":            # withdrawal 0 read on the transfer's row
        data[first + 2 * 25 + 3] = 0
    else:                           # the refund dropped
        data[bridge + 3] -= 1
        del data[-25:]
    with unchanged(rollup):
        refused(rollup.submit_batch(1, proof[:proof_length(vk)] + bytes(data), pub), "InvalidProof")


# --- the same flow on anvil: logs, transaction inputs and payments over JSON-RPC -------------


def test_bridge_flow_on_anvil():
    from node.l1.anvil import find_anvil, start_anvil
    from node.l1.rpc import RpcL1

    if find_anvil() is None:
        pytest.skip("anvil binary absent (run `npm ci` in contracts/, as scripts/setup.sh does)")
    with start_anvil() as node, RpcL1(node.url, name="anvil") as l1:
        rollup = deploy(l1)
        assert rollup.genesis_event() == (CHAIN_ID, genesis_commitment(), list(zip(ACCOUNTS, BALANCES)))
        for address, amount in DEPOSITS:
            rollup.deposit(address, amount, sender=l1.accounts[2]).check()
        assert [(d.l2_address, d.amount, d.l1_sender) for d in rollup.deposit_events()] == \
            [(a, v, int(l1.accounts[2], 16)) for a, v in DEPOSITS]
        with unchanged(rollup):
            assert refused(rollup.submit_batch(1, *proven("skips_deposit_0")), "DepositsMismatch") == (0, 1)
        proof, pub = proven("honest")
        rollup.submit_batch(1, proof, pub).check()
        assert rollup.deposits_consumed() == 3
        assert [(c.batch_index, c.proof, c.public_inputs) for c in rollup.batch_calls()] == [(1, proof, pub)]
        leaves = [withdrawal_leaf(a, v) for a, v in WITHDRAWALS]
        _, paths = withdrawal_tree(leaves)
        recipient, amount = WITHDRAWALS[0]
        before = l1.balance(f"0x{recipient:040x}")
        rollup.withdraw(1, 0, recipient, amount, paths[0], sender=l1.accounts[3]).check()
        with unchanged(rollup):
            assert refused(rollup.withdraw(1, 0, recipient, amount, paths[0]), "AlreadyWithdrawn") == (1, 0)
        assert l1.balance(f"0x{recipient:040x}") == before + amount
        assert rollup.escrow() == sum(BALANCES) + sum(v for _, v in DEPOSITS) - amount


def test_a_genesis_over_the_init_code_limit_is_refused_before_anything_is_sent_on_anvil():
    """The most genesis accounts a deployment can carry, by anvil's own EIP-3860 check: that many
    deploy and are announced; one more is refused by deploy() with nothing sent, and the same
    creation sent by hand is refused by anvil."""
    from node.l1.abi import encode_constructor
    from node.l1.anvil import find_anvil, start_anvil
    from node.l1.rpc import RpcL1

    if find_anvil() is None:
        pytest.skip("anvil binary absent (run `npm ci` in contracts/, as scripts/setup.sh does)")
    _, vk = keys()
    art = compile_rollup(Ledger(LOG2), vk, Ledger.state_layout)
    most = max_genesis_accounts(art)
    assert 1000 < most < MAX_INIT_CODE_BYTES // 28
    accounts = [(0x1000 + i, 1 + i % 7) for i in range(most + 1)]
    with start_anvil() as node, RpcL1(node.url, name="anvil") as l1:
        rollup = RollupContract.deploy(l1, Ledger(LOG2), vk, Ledger.state_layout, genesis_commitment(),
                                       genesis_accounts=accounts[:most])
        assert rollup.genesis_event().accounts == accounts[:most]
        assert rollup.escrow() == sum(b for _, b in accounts[:most])
        height = l1.block_number()      # anvil mines a block for every transaction it takes
        with pytest.raises(InvalidInput, match=f"room for {most} accounts.*deposits"):
            RollupContract.deploy(l1, Ledger(LOG2), vk, Ledger.state_layout, genesis_commitment(),
                                  genesis_accounts=accounts)
        assert l1.block_number() == height
        args = encode_constructor(art.abi, genesis_commitment(), "0x" + "00" * 20, 0, encode_genesis_accounts(accounts))
        assert len(art.bytecode) + len(args) > MAX_INIT_CODE_BYTES
        with pytest.raises(L1Error, match="(?i)initcode"):
            l1.deploy(art.bytecode, args, gas=20_000_000, value=sum(b for _, b in accounts))


def test_the_hosted_embedded_l1_answers_the_history_readers():
    """The pipeline's L1 (the embedded EVM in its own Ray actor) deploys with value and reads
    logs, inputs and balances through the actor like any other L1."""
    ray = pytest.importorskip("ray")
    from node.pipeline.actors import L1HostRemote
    from node.pipeline.l1spec import L1Spec, connect_l1

    started = not ray.is_initialized()
    if started:
        ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False)   # never another test's Ray
    try:
        l1 = connect_l1(L1Spec("hosted", host=L1HostRemote.remote()))
        rollup = deploy(l1)
        queue_deposits(rollup)
        rollup.submit_batch(1, *proven("honest")).check()
        assert rollup.escrow() == sum(BALANCES) + sum(v for _, v in DEPOSITS)
        assert rollup.genesis_event().accounts == list(zip(ACCOUNTS, BALANCES))
        assert [(d.l2_address, d.amount) for d in rollup.deposit_events()] == DEPOSITS
        assert [c.proof for c in rollup.batch_calls()] == [proven("honest")[0]]
        with pytest.raises(L1Error):
            l1.transaction_input("0x" + "00" * 32)
    finally:
        if started:
            ray.shutdown()


@pytest.mark.parametrize("bridge_fields, row_bytes", [
    ((("kind", 2, "is_deposit"), ("address", 20, "bridge_addr")), 4),      # a kind of two bytes
    ((("kind", 1, "is_deposit"), ("address", 20, "bridge_addr")), 3),      # rows of three bytes
    ((("kind", 1, "is_deposit"),), 4),                                     # no address
])
def test_the_verifier_writer_refuses_a_bridge_part_the_rollup_cannot_read(bridge_fields, row_bytes):
    """Rollup.sol reads records of (row 4, kind 1, address 20): a circuit publishing another
    shape under the name `bridge` gets no verifier for the rollup, rather than one whose
    reader walks the wrong bytes."""
    from prover.errors import InvalidCircuit
    from prover.keys import dev_keys
    from prover.publication import Publication, PublishedField, PublishedPart
    from prover.solidity import verifier_source

    class OtherBridge(Ledger):
        publication = Publication(Ledger.publication.parts[:2] + (PublishedPart(
            "bridge", tuple(PublishedField(name, width, ((col, 1),)) for name, width, col in bridge_fields),
            row_bytes=row_bytes),))

    air = OtherBridge(3)
    _, vk = dev_keys(air, 3, b"other bridge", BE)
    verifier_source(air, vk)                      # the verifier alone does not care
    with pytest.raises(InvalidCircuit, match="bridge part"):
        verifier_source(air, vk, layout=air.state_layout)
