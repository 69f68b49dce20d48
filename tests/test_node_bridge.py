"""The node's side of the bridge: deposits logged before they are applied, applied in queue order
(credited, or refunded when they cannot be), never twice across a restart; withdrawals as
transfers to WITHDRAWAL_ADDRESS; the bridge rows of the proof batch (accepted by the ledger
circuit's trace builder); receipts and transaction objects; withdrawal paths; snapshots."""

import pytest

from circuits.ledger import build_trace
from node.bridge import (KIND_DEPOSIT, KIND_REFUND, KIND_WITHDRAWAL, WITHDRAWAL_ADDRESS, deposit_hash,
                         make_deposit)
from node.errors import InvalidGenesis, InvalidInput, InvalidTransaction
from node.eth_api import NodeApi
from node.executor import EXECUTED, VERIFIED, Executor, ledger_job
from node.genesis import parse_genesis
from node.l1.withdrawals import root_of_path, withdrawal_leaf, withdrawal_tree
from node.sequencer import Sequencer
from node.snapshot import read_snapshot, write_snapshot
from node.transactions import MAX_VALUE, address_of, sign_transfer

CHAIN = 5
LOG2_ROWS = 3                   # 8 slots (5 funded at genesis), 4 rows a batch: small enough to fill
KEY = bytes.fromhex("11" * 32)
ALICE = address_of(KEY)
L1_SENDER = bytes.fromhex("f39fd6e51aad88f6f4ce6ab8827279cfffb92266")


def addr(n: int) -> bytes:
    return n.to_bytes(20, "big")


def open_node(path, genesis):
    seq = Sequencer(genesis, path, capacity=1 << LOG2_ROWS, max_mini_batch=4)
    ex = Executor(genesis, log2_rows=LOG2_ROWS, max_batch_transfers=4, batch_deadline=None)
    ex.replay(seq.take_replayed())
    seq.set_consumer(ex.apply)
    return seq, ex


def send(seq, nonce, to, value):
    (t,), ticket = seq.admit([seq.recover([sign_transfer(KEY, chain_id=CHAIN, nonce=nonce, to=to,
                                                         value=value)])[0]])
    if isinstance(t, Exception):
        raise t
    return t


@pytest.fixture
def genesis():
    # Alice in slot 0, then four accounts above her address in slots 1-4.
    fillers = {"0x" + (b"\xff" * 19 + bytes([k])).hex(): {"balance": 1} for k in range(1, 5)}
    return parse_genesis({"chainId": CHAIN, "alloc": {"0x" + ALICE.hex(): {"balance": 1000}, **fillers}})


def test_deposits_credit_or_refund_in_queue_order_and_never_twice(tmp_path, genesis):
    wal = tmp_path / "sequencer.wal"
    seq, ex = open_node(wal, genesis)
    t = send(seq, 0, addr(0xB0B), 100)          # admitted before the deposits: cut before them
    deposits = [make_deposit(0, addr(0xC), 50, L1_SENDER),             # a new address: slot 6
                make_deposit(1, ALICE, MAX_VALUE - 899, L1_SENDER),    # would pass 2^64 - 1
                make_deposit(2, WITHDRAWAL_ADDRESS, 5, L1_SENDER),     # holds no balance
                make_deposit(3, addr(0xD), 7, L1_SENDER),              # slot 7, the last
                make_deposit(4, addr(0xE), 9, L1_SENDER)]              # no free slot
    blocks = seq.add_deposits(deposits)
    assert [b.number for b in blocks] == [2, 3] and [len(b.transfers) for b in blocks] == [4, 1]
    assert ex.block(1).transfers == [t]
    assert seq.deposits == ex.deposits == 5
    assert seq.state.balances == ex.state.balances == [900, 1, 1, 1, 1, 100, 50, 7]
    first, batch = ex.take_sealed()             # a mini-batch never straddles two batches
    assert first.transfers == [(0, 5, 100)] and first.bridge == []
    assert batch.transfers == [(6, 6, 50), (0, 0, MAX_VALUE - 899), (0, 0, 5), (7, 7, 7)]
    assert batch.bridge == [(0, KIND_DEPOSIT, 0xC), (1, KIND_REFUND, int.from_bytes(ALICE, "big")),
                            (2, KIND_REFUND, int.from_bytes(WITHDRAWAL_ADDRESS, "big")), (3, KIND_DEPOSIT, 0xD)]
    assert batch.claims == [(6, 0xC), (7, 0xD)]
    assert [ex.receipt(deposit_hash(i)).success for i in range(5)] == [True, False, False, True, False]
    assert ex.receipt(t.hash).success
    # a refund is a withdrawal leaf paid to the deposit's L2 address on the L1
    w = ex.withdrawal(deposit_hash(2))
    assert (w.batch_index, w.index, w.recipient, w.amount) == (1, 1, WITHDRAWAL_ADDRESS, 5)
    # the same deposits handed on again (a watcher restarted) change nothing; a gap is refused
    assert seq.add_deposits(deposits[2:]) == []
    with pytest.raises(InvalidInput, match="next in the queue is 5"):
        seq.add_deposits([make_deposit(6, addr(0xF), 1, L1_SENDER)])
    last = ex.seal()
    seq.record_seal(last.index, last.last_block)          # as the node logs a seal
    sealed = [ledger_job(b) for b in [first, batch] + ex.take_sealed()]
    state = list(ex.state.balances)
    seq.stop()

    # a restart replays the deposit blocks from the log: the same state and batches, and the
    # deposits it already logged are not applied again
    seq, ex = open_node(wal, genesis)
    assert seq.deposits == ex.deposits == 5 and ex.state.balances == state
    assert seq.add_deposits(deposits) == []
    assert [vars(ledger_job(b)) for b in ex.take_sealed()] == [vars(j) for j in sealed]
    for job in sealed:                          # the circuit's trace builder takes the rows
        build_trace(job)
    seq.stop()


def test_withdrawal_debits_the_sender_and_is_claimable_once_verified(tmp_path, genesis):
    seq, ex = open_node(tmp_path / "sequencer.wal", genesis)
    seq.add_deposits([make_deposit(0, ALICE, 20, L1_SENDER)])
    w1 = send(seq, 0, WITHDRAWAL_ADDRESS, 300)
    send(seq, 1, addr(0xB0B), 10)
    w2 = send(seq, 2, WITHDRAWAL_ADDRESS, 5)
    with pytest.raises(InvalidTransaction, match="insufficient funds"):
        send(seq, 3, WITHDRAWAL_ADDRESS, 10**6)
    seq.cut()
    assert seq.state.balance(ALICE) == 1020 - 315 and seq.state.nonce(ALICE) == 3
    assert WITHDRAWAL_ADDRESS not in seq.state.slot_of and WITHDRAWAL_ADDRESS not in ex.state.slot_of
    (batch,) = ex.take_sealed()
    assert batch.transfers == [(0, 0, 20), (0, 0, 300), (0, 5, 10), (0, 0, 5)]
    alice = int.from_bytes(ALICE, "big")
    assert batch.bridge == [(0, KIND_DEPOSIT, alice), (1, KIND_WITHDRAWAL, alice), (3, KIND_WITHDRAWAL, alice)]
    build_trace(ledger_job(batch))
    assert ex.balance(ALICE) == 705 and ex.balance(WITHDRAWAL_ADDRESS) == 0
    # history: balances and nonces before each block
    assert [ex.balance_at(ALICE, n) for n in range(3)] == [1000, 1020, 705]
    assert [ex.nonce_at(ALICE, n) for n in range(3)] == [0, 0, 3]
    assert ex.balance_at(WITHDRAWAL_ADDRESS, 1) == 0

    api = NodeApi(seq, ex)
    got = api.zkpipe_getWithdrawal(["0x" + w2.hash.hex()])
    assert got == {"batchIndex": "0x1", "index": "0x1", "recipient": "0x" + ALICE.hex(),
                   "amount": hex(5), "status": EXECUTED, "path": None}
    assert api.zkpipe_getWithdrawal(["0x" + deposit_hash(0).hex()]) is None   # credited: no leaf
    ex.mark_verified(0)
    got = api.zkpipe_getWithdrawal(["0x" + w1.hash.hex()])
    assert got["status"] == VERIFIED and (got["index"], got["amount"]) == ("0x0", hex(300))
    root, _ = withdrawal_tree([withdrawal_leaf(alice, 300), withdrawal_leaf(alice, 5)])
    path = [bytes.fromhex(x[2:]) for x in got["path"]]
    assert root_of_path(withdrawal_leaf(alice, 300), 0, path) == root
    # claimed on the L1 (as the L1 answers for L1 batch 1, leaf 0); an L1 that fails changes nothing
    api.withdrawn = lambda b, i: (b, i) == (1, 0)
    assert api.zkpipe_getWithdrawal(["0x" + w1.hash.hex()])["status"] == "withdrawn"
    assert api.zkpipe_getWithdrawal(["0x" + w2.hash.hex()])["status"] == VERIFIED
    api.withdrawn = lambda b, i: 1 / 0
    assert api.zkpipe_getWithdrawal(["0x" + w1.hash.hex()])["status"] == VERIFIED
    seq.stop()


def test_deposit_is_a_transaction_wallets_read(tmp_path, genesis):
    seq, ex = open_node(tmp_path / "sequencer.wal", genesis)
    seq.add_deposits([make_deposit(0, addr(0xC), 50, L1_SENDER, l1_block=9),
                      make_deposit(1, WITHDRAWAL_ADDRESS, 5, L1_SENDER)])
    api = NodeApi(seq, ex)
    h0, h1 = ("0x" + deposit_hash(i).hex() for i in range(2))
    tx = api.eth_getTransactionByHash([h0])
    assert (tx["type"], tx["from"], tx["to"], tx["value"], tx["sourceIndex"], tx["blockNumber"]) == \
        ("0x7e", "0x" + L1_SENDER.hex(), "0x" + addr(0xC).hex(), hex(50), "0x0", "0x1")
    r0, r1 = api.eth_getTransactionReceipt([h0]), api.eth_getTransactionReceipt([h1])
    assert (r0["status"], r1["status"], r0["type"]) == ("0x1", "0x0", "0x7e")
    block = api.eth_getBlockByNumber(["0x1", True])
    assert [x["hash"] for x in block["transactions"]] == [h0, h1]
    assert api.eth_getBalance(["0x" + addr(0xC).hex(), "latest"]) == hex(50)
    assert api.eth_getBalance(["0x" + addr(0xC).hex(), "0x0"]) == "0x0"
    seq.stop()


def test_snapshot_carries_the_bridge(tmp_path, genesis):
    seq, ex = open_node(tmp_path / "sequencer.wal", genesis)
    seq.add_deposits([make_deposit(0, addr(0xC), 50, L1_SENDER), make_deposit(1, WITHDRAWAL_ADDRESS, 4, L1_SENDER)])
    send(seq, 0, WITHDRAWAL_ADDRESS, 30)
    send(seq, 1, addr(0xC), 10)
    seq.cut()                                   # batch 0 full; batch 1 below stays open
    seq.add_deposits([make_deposit(2, addr(0xC), 1, L1_SENDER)])
    w = send(seq, 2, WITHDRAWAL_ADDRESS, 3)
    seq.cut()
    live = [vars(ledger_job(b)) for b in ex.take_sealed()]
    path = write_snapshot(tmp_path / "snapshots", ex.snapshot(genesis.digest))
    restored = Executor(genesis, log2_rows=LOG2_ROWS, max_batch_transfers=4, batch_deadline=None)
    restored.restore(read_snapshot(path, genesis.digest, 1 << LOG2_ROWS))
    assert restored.deposits == 3 and restored.state.balances == ex.state.balances
    assert [vars(ledger_job(b)) for b in restored.take_sealed()] == live
    assert restored.withdrawal(w.hash) == ex.withdrawal(w.hash)
    assert not restored.receipt(deposit_hash(1)).success
    a, b = ex.seal(), restored.seal()
    assert vars(ledger_job(a)) == vars(ledger_job(b))
    assert a.bridge == [(0, KIND_DEPOSIT, 0xC), (1, KIND_WITHDRAWAL, int.from_bytes(ALICE, "big"))]
    seq.stop()
    # a sequencer started from the snapshot knows the deposits it logged before it
    seq = Sequencer(genesis, tmp_path / "sequencer.wal", capacity=1 << LOG2_ROWS,
                    snapshot=read_snapshot(path, genesis.digest, 1 << LOG2_ROWS))
    assert seq.snapshot is not None and seq.deposits == 3 and seq.state.balances == ex.state.balances
    assert seq.add_deposits([make_deposit(2, addr(0xC), 1, L1_SENDER)]) == []
    seq.stop()


def test_withdrawal_address_is_reserved():
    with pytest.raises(InvalidGenesis, match="withdrawal address"):
        parse_genesis({"chainId": 1, "alloc": {"0x" + WITHDRAWAL_ADDRESS.hex(): {"balance": 1}}})
    with pytest.raises(InvalidInput):
        make_deposit(0, bytes(20), 1, L1_SENDER)
    with pytest.raises(InvalidInput):
        make_deposit(0, addr(1), 2**64, L1_SENDER)
    assert deposit_hash(0) != deposit_hash(1) and len(deposit_hash(0)) == 32
