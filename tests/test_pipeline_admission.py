"""The admission gate counts transactions, not calls: a bulk call is admitted up to the backlog
bound and the rest refused, callers are served in the order they came, room comes back as
batches are proven; and the load generator defers what was refused for the bound, counting the
time deferred."""

import threading
import time

import pytest

from node.genesis import parse_genesis
from node.pipeline.admission import FULL, AdmissionGate
from node.pipeline.errors import AdmissionClosed
from node.pipeline.loadgen import LoadGenerator, dev_keys, presign
from node.pipeline.node_actors import GatedSequencer
from node.sequencer import Sequencer
from node.transactions import address_of


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def test_room_per_transaction_and_in_order():
    gate = AdmissionGate(wait_s=5.0, limit=10)
    assert gate.take(25) == 10 and gate.backlog == 10 and not gate.is_open
    order = []

    def caller(name, want):
        order.append((name, gate.take(want)))
    lone = threading.Thread(target=caller, args=("lone", 1))
    lone.start()
    wait_for(lambda: gate.waited == 1)
    bulk = threading.Thread(target=caller, args=("bulk", 50))
    bulk.start()
    wait_for(lambda: gate.waited == 2)
    gate.proven(1)                    # one place: the lone client came first, it gets it
    lone.join(5)
    assert order == [("lone", 1)] and gate.backlog == 10
    gate.proven(6)
    bulk.join(5)
    assert order == [("lone", 1), ("bulk", 6)] and gate.backlog == gate.limit == gate.high_water
    gate.proven(100)
    assert gate.backlog == 0          # never below zero


def test_no_room_for_wait_s_refuses_the_call():
    gate = AdmissionGate(wait_s=0.05, limit=2)
    gate.take(2)
    with pytest.raises(AdmissionClosed, match=FULL):
        gate.take(1)
    assert gate.refused == 1
    gate.set(False)                   # closed by the coordinator: no room at all
    gate.proven(2)
    with pytest.raises(AdmissionClosed):
        gate.take(1)
    gate.set(True)
    assert gate.take(5) == 2


def test_backlog_replayed_from_the_log_counts():
    gate = AdmissionGate(wait_s=0.05, limit=10)
    gate.carry(12)                    # a restart: more than the bound waits for proofs
    with pytest.raises(AdmissionClosed):
        gate.take(1)
    gate.proven(5)
    assert gate.take(8) == 3 and gate.high_water == 12


@pytest.fixture
def gated(tmp_path):
    keys = dev_keys(4, "admission")
    genesis = parse_genesis({"chainId": 99, "alloc": {"0x" + address_of(k).hex(): {"balance": 10**9} for k in keys}})
    seq = Sequencer(genesis, tmp_path / "wal", capacity=64)
    seq.start()
    gate = AdmissionGate(wait_s=0.2, limit=10)
    seen = []
    yield GatedSequencer(seq, gate, lambda acc, refused, t: seen.append((len(acc), refused))), gate, keys, seen
    seq.stop()


def test_bulk_call_admitted_up_to_the_bound(gated):
    front, gate, keys, seen = gated
    txs = presign(keys, 25, 99)
    results = front.submit_many(txs[:3] + [b"\x01not rlp"] + txs[3:])     # one invalid among them
    assert [isinstance(r, Exception) for r in results[:10]] == [False] * 3 + [True] + [False] * 6
    assert all(str(r).startswith(FULL) for r in results[10:]) and "#10" in str(results[10])
    assert gate.backlog == 9          # the invalid one gave its place back
    assert seen == [(9, 17)]
    first, second = front.submit_many(txs[9:11])                         # one place left
    assert first.hash and str(second).startswith(FULL) and gate.backlog == 10
    with pytest.raises(AdmissionClosed, match="nothing was accepted"):
        front.submit_many(txs[11:13])


def test_load_generator_defers_what_the_bound_refused():
    calls = []
    room = {"left": 5}

    def submit(chunk):
        calls.append(len(chunk))
        out = []
        for raw in chunk:
            if room["left"]:
                room["left"] -= 1
                out.append(raw[:4].hex())
            else:
                out.append(RuntimeError(f"{FULL}: bound"))
        room["left"] = 5                  # some room again by the next call
        return out
    txs = [bytes([i]) * 8 for i in range(40)]
    rep = LoadGenerator(submit, txs, tps=400, duration=0.1).run()
    assert rep.accepted == rep.offered == 40 and rep.rejected == 0 and rep.deferred_chunks > 0
    assert len(rep.ack_s) == 40 and max(rep.ack_s) > 0
