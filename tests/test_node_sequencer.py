"""The sequencer: admission against pending state, the log before the acknowledgement, the
cutting policy, the bulk path (also over processes), restart from the log, back-pressure."""

import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor

import pytest

from node.errors import InvalidTransaction, NodeFailed
from node.genesis import parse_genesis
from node.sequencer import GENESIS_HASH, MiniBatch, Sequencer, block_hash
from node.transactions import LEGACY, Transfer, address_of, sign_transfer

CHAIN = 31337


class Accounts:
    """Funded keys and a nonce counter per key, to sign valid transfers quickly."""

    def __init__(self, n, balance=10**12):
        self.keys = [os.urandom(32) for _ in range(n)]
        self.addresses = [address_of(k) for k in self.keys]
        self.nonces = [0] * n
        self.genesis = parse_genesis({"chainId": CHAIN, "alloc": {
            "0x" + a.hex(): {"balance": balance} for a in self.addresses}})

    def transfer(self, i, to, value=1, nonce=None, **kw):
        if nonce is None:
            nonce = self.nonces[i]
            self.nonces[i] += 1
        return sign_transfer(self.keys[i], chain_id=CHAIN, nonce=nonce, to=to, value=value, **kw)


class FakeClock:
    def __init__(self, t=100.0):
        self.t = t

    def __call__(self):
        return self.t


def sequencer(tmp_path, accounts, **kw):
    kw.setdefault("capacity", 64)
    return Sequencer(accounts.genesis, tmp_path / "wal", **kw)


def test_admit_cut_and_acknowledge_after_fsync(tmp_path, monkeypatch):
    acc = Accounts(2)
    seq = sequencer(tmp_path, acc)
    events = []
    real_fsync = os.fsync
    monkeypatch.setattr("node.wal.os.fsync", lambda fd: (events.append("fsync"), real_fsync(fd)))
    seq.set_consumer(lambda mb: events.append(("cut", mb.number)))
    raws = [acc.transfer(0, acc.addresses[1], 5), acc.transfer(1, acc.addresses[0], 7, kind=LEGACY)]
    results, ticket = seq.admit(seq.recover(raws))
    assert all(isinstance(r, Transfer) for r in results) and ticket == 2
    acked = threading.Event()
    waiter = threading.Thread(target=lambda: (seq.wait_durable(ticket, 5), acked.set()))
    waiter.start()
    assert not acked.wait(0.05)           # admitted, but not acknowledged before the cut
    assert seq.state.nonce(acc.addresses[0]) == 1   # pending state already moved
    mb = seq.cut()
    waiter.join(5)
    assert acked.is_set()
    assert events == ["fsync", ("cut", 1)]  # on disk, then executed, then acknowledged
    assert mb.number == 1 and mb.parent_hash == GENESIS_HASH
    assert mb.hash == block_hash(GENESIS_HASH, 1, results)
    assert [t.hash for t in mb.transfers] == [t.hash for t in results]
    assert seq.cut() is None              # nothing open
    seq.stop()


def test_cutting_policy(tmp_path):
    acc = Accounts(1)
    clock = FakeClock()
    seq = sequencer(tmp_path, acc, clock=clock, cut_interval=0.010, max_mini_batch=3)
    to = os.urandom(20)
    assert seq.cut_delay(clock()) is None                     # no work, no cut
    seq.admit(seq.recover([acc.transfer(0, to)]))
    assert seq.cut_delay(clock()) == 0.0                      # idle: cut at once, no timer
    seq.cut()
    clock.t += 0.004
    seq.admit(seq.recover([acc.transfer(0, to)]))
    assert seq.cut_delay(clock()) == pytest.approx(0.006)     # at most one cut per interval
    seq.admit(seq.recover([acc.transfer(0, to), acc.transfer(0, to)]))
    assert seq.cut_delay(clock()) == 0.0                      # unless the batch is full
    seq.admit(seq.recover([acc.transfer(0, to)]))
    assert len(seq.cut().transfers) == 3                      # at most max_mini_batch per cut
    assert seq.pending == 1
    clock.t += 0.010
    assert len(seq.cut().transfers) == 1
    seq.stop()


def test_refusals_leave_pending_state_and_log_alone(tmp_path):
    acc = Accounts(2, balance=100)
    seq = sequencer(tmp_path, acc)
    seq.queue.wait_s = 0.05   # a nonce gap is held this long, then refused
    to = os.urandom(20)
    seq.admit(seq.recover([acc.transfer(0, to, 10)]))
    seq.cut()
    log_size = seq.wal.size
    before = (list(seq.state.balances), list(seq.state.nonces))
    cases = [
        (acc.transfer(0, to, 1, nonce=0), "nonce too low"),
        (acc.transfer(0, to, 1, nonce=5), "nonce too high"),
        (acc.transfer(1, to, 101), "insufficient funds"),
        (b"\xf8\x01", "rlp"),
    ]
    for raw, message in cases:
        with pytest.raises(InvalidTransaction, match=message):
            seq.submit(raw, timeout=1)  # refused before any wait for a cut
    assert (list(seq.state.balances), list(seq.state.nonces)) == before
    assert seq.wal.size == log_size and seq.pending == 0 and seq.rejected == len(cases)
    seq.stop()


def test_future_nonces_are_held_until_the_gap_fills(tmp_path):
    acc = Accounts(2, balance=100)
    seq = sequencer(tmp_path, acc)
    to = os.urandom(20)
    raws = [acc.transfer(0, to, 1, nonce=n) for n in range(6)]
    # Out of order within one call: held, then promoted as the call admits the rest.
    results, _ = seq.admit(seq.recover([raws[i] for i in (2, 0, 3, 1)]))
    assert [r.nonce for r in results] == [2, 0, 3, 1] and seq.state.nonce(acc.addresses[0]) == 4
    assert len(seq.queue) == 0
    # Held by one caller, promoted by another's admission.
    got = []
    waiter = threading.Thread(target=lambda: got.append(seq.admit(seq.recover([raws[5]]))[0][0]))
    waiter.start()
    deadline = time.monotonic() + 5
    while len(seq.queue) == 0:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    assert seq.queue.held(acc.addresses[0]) == 1
    (dup,), _ = seq.admit(seq.recover([raws[5]]))
    assert str(dup) == "already known"
    (other,), _ = seq.admit(seq.recover([acc.transfer(0, to, 2, nonce=5)]))
    assert str(other) == "replacement transaction underpriced"
    seq.admit(seq.recover([raws[4]]))
    waiter.join(5)
    assert got[0].nonce == 5 and seq.state.nonce(acc.addresses[0]) == 6 and len(seq.queue) == 0
    # Refused at once: a nonce past the queue's reach, an unfunded sender (what a tampered
    # signature recovers), a full queue for this sender.
    seq.queue.per_sender = 2
    for raw, message in [(acc.transfer(0, to, 1, nonce=9), "at most 2 ahead are held"),
                         (sign_transfer(os.urandom(32), chain_id=CHAIN, nonce=3, to=to, value=1),
                          "insufficient funds")]:
        (r,), _ = seq.admit(seq.recover([raw]))
        assert isinstance(r, InvalidTransaction) and message in str(r)
    seq.queue.wait_s, seq.queue.total = 0.05, 2
    results, _ = seq.admit(seq.recover([acc.transfer(0, to, 1, nonce=n) for n in (7, 8)]
                                       + [acc.transfer(1, to, 1, nonce=1)]))
    assert [type(r) for r in results] == [InvalidTransaction] * 3
    assert str(results[2]) == "txpool is full: 2 transactions wait for earlier nonces"
    assert all("did not arrive within 0.05 s" in str(r) for r in results[:2])
    # Nothing held reached the log: only the six admitted transfers are there.
    while seq.cut():
        pass
    seq.stop()
    again = sequencer(tmp_path, acc)
    assert again.state.nonce(acc.addresses[0]) == 6
    again.stop()


# `submit` blocks until a cut; these tests run the cutting thread where they use it.
@pytest.fixture
def running(tmp_path):
    made = []

    def start(acc, **kw):
        seq = sequencer(tmp_path, acc, **kw)
        cuts = []
        seq.start(on_cut=cuts.append, tick=0.005)
        made.append(seq)
        return seq, cuts
    yield start
    for seq in made:
        seq.stop()


def test_submit_and_bulk_with_a_cutting_thread(running):
    acc = Accounts(3)
    seq, cuts = running(acc)
    to = os.urandom(20)
    t = seq.submit(acc.transfer(0, to, 9))
    assert cuts and cuts[-1].transfers[-1] == t         # acknowledged means cut and handed on
    raws = [acc.transfer(i % 3, to, 1) for i in range(30)]
    raws.insert(4, acc.transfer(0, to, 1, nonce=0))     # a replay
    raws.insert(9, b"\x02\x03")                         # garbage
    results = seq.submit_many(raws)
    assert [type(r) for r in results].count(InvalidTransaction) == 2
    assert "nonce too low" in str(results[4]) and "rlp" in str(results[9])
    logged = {t.hash for mb in cuts for t in mb.transfers}
    accepted = [r for r in results if isinstance(r, Transfer)]
    assert len(accepted) == 30 and all(r.hash in logged for r in accepted)
    assert seq.state.balance(to) == 9 + 30
    assert [mb.number for mb in cuts] == list(range(1, len(cuts) + 1))


def test_bulk_recovery_over_processes(tmp_path):
    acc = Accounts(4)
    to = os.urandom(20)
    raws = [acc.transfer(i % 4, to, 1) for i in range(200)] + [b"\x00bad"]
    with ProcessPoolExecutor(2) as pool:
        seq = sequencer(tmp_path, acc, recover_pool=pool, recover_chunk=32)
        on_pool = seq.recover(raws)
        seq.stop()
    other = Sequencer(acc.genesis, tmp_path / "other", capacity=64)
    inline = other.recover(raws)
    other.stop()
    assert on_pool[:-1] == inline[:-1] and str(on_pool[-1]) == str(inline[-1])


def test_restart_replays_the_log(tmp_path):
    acc = Accounts(3)
    to = os.urandom(20)
    seq = sequencer(tmp_path, acc, max_mini_batch=4)
    cut = []
    for round_ in range(3):
        seq.admit(seq.recover([acc.transfer(i % 3, to, round_ + 1) for i in range(6)]))
        while (mb := seq.cut()) is not None:
            cut.append(mb)
    seq.record_seal(0, cut[2].number)
    seq.admit(seq.recover([acc.transfer(0, to, 1)]))   # admitted, never cut: not acknowledged
    state = (list(seq.state.balances), list(seq.state.nonces))
    seq.wal.close()                                    # a crash: no orderly stop

    again = sequencer(tmp_path, acc, max_mini_batch=4)
    replayed = again.take_replayed()
    assert [e.hash for e in replayed if isinstance(e, MiniBatch)] == [mb.hash for mb in cut]
    assert [(e.batch_index, e.last_block) for e in replayed if not isinstance(e, MiniBatch)] == [(0, 3)]
    assert again.height == cut[-1].number and again.head_hash == cut[-1].hash
    # the pending state is the logged one: the uncut transfer is gone (it was never acknowledged)
    logged = [t for mb in cut for t in mb.transfers]
    assert again.state.balance(to) == sum(t.value for t in logged)
    for a in acc.addresses:
        assert again.state.nonce(a) == sum(t.sender == a for t in logged)
    assert again.state.nonce(acc.addresses[0]) == state[1][seq.state.slot_of[acc.addresses[0]]] - 1
    assert again.take_replayed() == []
    # and it goes on: its next nonce for sender 0 is the uncut transfer's
    t = again.admit(again.recover([acc.transfer(0, to, 1, nonce=acc.nonces[0] - 1)]))[0][0]
    assert isinstance(t, Transfer)
    assert again.cut().number == cut[-1].number + 1
    again.stop()


def test_back_pressure(tmp_path):
    acc = Accounts(1)
    seq = sequencer(tmp_path, acc, max_mini_batch=2, max_pending=3, admit_timeout=0.05)
    to = os.urandom(20)
    results, _ = seq.admit(seq.recover([acc.transfer(0, to) for _ in range(4)]))
    assert [isinstance(r, Transfer) for r in results[:3]] == [True] * 3
    with pytest.raises(InvalidTransaction, match="txpool is full"):
        raise results[3]
    assert seq.pending == 3
    seq.stop()
    assert seq.pending == 0           # stopping logs what was admitted


def test_log_failure_stops_the_sequencer(tmp_path, monkeypatch):
    acc = Accounts(1)
    seq = sequencer(tmp_path, acc)
    to = os.urandom(20)
    _, ticket = seq.admit(seq.recover([acc.transfer(0, to)]))

    def broken(fd):
        raise OSError(5, "Input/output error")
    monkeypatch.setattr("node.wal.os.fsync", broken)
    with pytest.raises(NodeFailed, match="Input/output error"):
        seq.cut()
    with pytest.raises(NodeFailed):
        seq.wait_durable(ticket, 1)                 # never acknowledged
    with pytest.raises(NodeFailed):
        seq.admit(seq.recover([acc.transfer(0, to)]))
    seq.wal.close()


def test_consumer_failure_acknowledges_what_is_logged_then_stops_admission(tmp_path):
    acc = Accounts(1)
    seq = sequencer(tmp_path, acc)
    to = os.urandom(20)

    def broken_executor(mb):
        raise RuntimeError("executor bug")
    seq.set_consumer(broken_executor)
    _, ticket = seq.admit(seq.recover([acc.transfer(0, to)]))
    assert seq.cut().number == 1
    seq.wait_durable(ticket, 1)                    # logged: acknowledged
    with pytest.raises(NodeFailed, match="executor bug"):
        seq.admit(seq.recover([acc.transfer(0, to)]))
    seq.wal.close()
    again = sequencer(tmp_path, acc)               # a restart re-applies the logged cut
    assert again.height == 1 and again.state.balance(to) == 1
    again.stop()
