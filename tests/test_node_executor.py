"""The executor: soft finality, proof batches by size and deadline, the compact job, receipts and
their status, and replay that reproduces the same proof batches."""

import os

import pytest

from node.errors import InvalidInput, InvalidTransaction, WALCorrupt
from node.executor import EXECUTED, PROVEN, VERIFIED, Executor, ledger_job
from node.genesis import parse_genesis
from node.blocks import GENESIS_HASH, MiniBatch, Seal, block_hash
from node.transactions import Transfer


class FakeClock:
    def __init__(self, t=0.0):
        self.t = t

    def __call__(self):
        return self.t


class Chain:
    """Pre-verified transfers among a few funded accounts, cut into mini-batches."""

    def __init__(self, rng, n_funded=4, n_new=4):
        self.rng = rng
        self.funded = [os.urandom(20) for _ in range(n_funded)]
        self.everyone = self.funded + [os.urandom(20) for _ in range(n_new)]
        self.genesis = parse_genesis({"chainId": 1, "alloc": {
            "0x" + a.hex(): {"balance": 10**6} for a in self.funded}})
        self.balances = dict(self.genesis.alloc)
        self.nonces = {}
        self.height = 0
        self.head = GENESIS_HASH

    def mini_batch(self, n, first_to=None):
        transfers = []
        for k in range(n):
            s = self.funded[int(self.rng.integers(len(self.funded)))]
            d = self.everyone[int(self.rng.integers(len(self.everyone)))]
            if k == 0 and first_to is not None:
                d = first_to
            v = int(self.rng.integers(1, 1000))
            transfers.append(Transfer(s, d, v, self.nonces.get(s, 0), os.urandom(32), b"\x02raw"))
            self.nonces[s] = self.nonces.get(s, 0) + 1
            self.balances[s] -= v
            self.balances[d] = self.balances.get(d, 0) + v
        self.height += 1
        h = block_hash(self.head, self.height, transfers)
        mb = MiniBatch(self.height, self.head, h, 0.0, transfers)
        self.head = h
        return mb


def check_batch_chain(genesis, batches, executor):
    """Each batch's old state is the previous one's plus its transfers, starting from genesis,
    and the last one's plus its transfers is the executor's state (closed batches only)."""
    slot = executor.state.slot_of
    balances = [0] * executor.state.capacity
    for a, b in genesis.alloc.items():
        balances[slot[a]] = b
    claimed = len(genesis.alloc)
    ints = [int.from_bytes(a, "big") for a in executor.state.addresses]
    for batch in batches:
        assert batch.old_balances == balances
        assert batch.old_addresses[:claimed] == ints[:claimed]
        assert set(batch.old_addresses[claimed:]) <= {0}
        assert len(batch.old_addresses) == len(batch.old_balances) == 1 << batch.log2_rows
        for f, d, v in batch.transfers:
            balances[f] -= v
            balances[d] += v
        # the slots first credited in this batch, each with the address that took it
        now_claimed = max([claimed] + [d + 1 for _, d, _ in batch.transfers])
        assert batch.claims == [(slot, ints[slot]) for slot in range(claimed, now_claimed)]
        claimed = now_claimed
    return balances


def test_size_batches_receipts_and_status(rng):
    chain = Chain(rng)
    sealed = []
    ex = Executor(chain.genesis, log2_rows=4, max_batch_transfers=10, batch_deadline=1e9,
                  on_seal=sealed.append)
    mbs = [chain.mini_batch(4) for _ in range(5)]
    out = [ex.apply(mb) for mb in mbs]
    # 4 + 4 fit, the third would overflow: seal before it; the same after the fifth arrives
    assert [len(o) for o in out] == [0, 0, 1, 0, 1]
    assert [(b.index, b.first_block, b.last_block, len(b.transfers)) for b in sealed] == [(0, 1, 2, 8), (1, 3, 4, 8)]
    assert ex.take_sealed() == sealed and ex.take_sealed() == []
    assert ex.height == 5 and ex.open_transfers == 4 and ex.batch_count == 2
    balances = check_batch_chain(chain.genesis, sealed, ex)
    for f, d, v in [(ex.state.slot_of[t.sender], ex.state.slot_of[t.to], t.value) for t in mbs[4].transfers]:
        balances[f] -= v
        balances[d] += v
    assert balances == ex.state.balances
    for a in chain.everyone:    # soft finality: applied the moment it arrived
        assert ex.balance(a) == chain.balances.get(a, 0)
        assert ex.nonce(a) == chain.nonces.get(a, 0)

    t = mbs[3].transfers[2]
    r = ex.receipt(t.hash)
    assert (r.transfer, r.block_number, r.block_hash, r.position, r.batch_index) == (t, 4, mbs[3].hash, 2, 1)
    assert r.status == EXECUTED
    ex.mark_proven(1)
    assert ex.receipt(t.hash).status == PROVEN and ex.receipt(mbs[0].transfers[0].hash).status == EXECUTED
    ex.mark_verified(1)  # in order on the L1: batch 0 is verified too
    assert ex.receipt(mbs[0].transfers[0].hash).status == VERIFIED
    assert ex.receipt(mbs[4].transfers[0].hash).status == EXECUTED   # still in the open batch
    assert ex.receipt(os.urandom(32)) is None
    for bad in (2, -1, "0"):
        with pytest.raises(InvalidInput):
            ex.mark_proven(bad)


def test_full_batch_seals_at_once_and_deadline(rng):
    chain = Chain(rng)
    clock = FakeClock(10.0)
    ex = Executor(chain.genesis, log2_rows=3, batch_deadline=0.5, clock=clock)
    assert [b.last_block for b in ex.apply(chain.mini_batch(8))] == [1]   # 2^3 rows: full
    ex.apply(chain.mini_batch(3))
    clock.t = 10.4
    assert ex.poll() == []
    clock.t = 10.5
    (b,) = ex.poll()
    assert (b.index, b.first_block, b.last_block, b.opened_at, b.sealed_at) == (1, 2, 2, 10.0, 10.5)
    assert ex.poll() == [] and ex.seal() is None
    ex.apply(chain.mini_batch(2))
    assert ex.seal().first_block == 3
    check_batch_chain(chain.genesis, ex.take_sealed(), ex)


def test_free_prover_seals_without_a_timer_and_paced(rng):
    chain = Chain(rng)
    clock = FakeClock(10.0)
    ex = Executor(chain.genesis, log2_rows=4, batch_deadline=None, min_seal_interval=0.3, clock=clock)
    ex.apply(chain.mini_batch(2))
    clock.t = 1000.0
    assert ex.poll() == []                          # no prover free and no deadline: it stays open
    (b,) = ex.poll(provers_free=1)                   # a prover is free: it takes what is there
    assert (b.index, b.first_block, b.last_block, len(b.transfers)) == (0, 1, 1, 2)
    assert ex.poll(provers_free=1) == []             # nothing open
    ex.apply(chain.mini_batch(3))
    ex.apply(chain.mini_batch(1))
    clock.t = 1000.2
    assert ex.poll(provers_free=2) == []             # paced: the last seal was 0.2 s ago
    clock.t = 1000.31
    (b,) = ex.poll(provers_free=2)
    assert (b.first_block, b.last_block, len(b.transfers)) == (2, 3, 4)
    ex.apply(chain.mini_batch(16))                   # full seals ignore the pacing
    assert [len(b.transfers) for b in ex.take_sealed()] == [2, 4, 16]
    with pytest.raises(InvalidInput):
        Executor(chain.genesis, log2_rows=4, batch_deadline=0)


def test_bad_mini_batches_change_nothing(rng):
    chain = Chain(rng)
    ex = Executor(chain.genesis, log2_rows=3)
    mb = chain.mini_batch(9)
    with pytest.raises(InvalidInput, match="more than a proof batch holds"):
        ex.apply(mb)
    chain.height = 5
    with pytest.raises(InvalidInput, match="arrived after 0"):
        ex.apply(chain.mini_batch(1))
    s = chain.funded[0]
    overdraft = Transfer(s, chain.funded[1], 10**7, 0, os.urandom(32), b"")
    with pytest.raises(InvalidTransaction, match="does not apply"):
        ex.apply(MiniBatch(1, GENESIS_HASH, bytes(32), 0.0, [overdraft]))
    assert ex.height == 0 and ex.state.balances[:4] == [10**6] * 4 and ex.open_transfers == 0


def test_replay_reproduces_the_same_proof_batches(rng):
    chain = Chain(rng)
    clock = FakeClock()
    log = []
    live = Executor(chain.genesis, log2_rows=4, max_batch_transfers=12, batch_deadline=1.0, clock=clock,
                    on_seal=lambda b: log.append(Seal(b.index, b.last_block)))
    for i in range(12):
        mb = chain.mini_batch(int(rng.integers(1, 7)))
        log.append(mb)
        live.apply(mb)
        clock.t += 0.3
        live.poll()          # deadline seals: time-dependent, so only the log can repeat them
    first = live.take_sealed()
    assert len(first) >= 3
    replayed = Executor(chain.genesis, log2_rows=4, max_batch_transfers=12, batch_deadline=1.0,
                        clock=FakeClock(), on_seal=lambda b: pytest.fail("replay must not log seals"))
    replayed.replay(log)
    again = replayed.take_sealed()
    key = lambda b: (b.index, b.first_block, b.last_block, b.old_balances, b.old_addresses, b.transfers)
    assert list(map(key, again)) == list(map(key, first))
    assert replayed.state.balances == live.state.balances and replayed.height == live.height
    bad = Executor(chain.genesis, log2_rows=4, max_batch_transfers=12)
    with pytest.raises(WALCorrupt):
        bad.replay([log[0], Seal(3, 1)])


def test_size_seals_need_no_record(rng):
    # a crash between a size seal and its log record loses nothing: replay derives it again
    chain = Chain(rng)
    mbs = [chain.mini_batch(4) for _ in range(5)]
    live = Executor(chain.genesis, log2_rows=4, max_batch_transfers=10)
    for mb in mbs:
        live.apply(mb)
    replayed = Executor(chain.genesis, log2_rows=4, max_batch_transfers=10)
    replayed.replay(mbs)
    assert [(b.first_block, b.last_block, b.transfers) for b in replayed.take_sealed()] == \
        [(b.first_block, b.last_block, b.transfers) for b in live.take_sealed()]


@pytest.mark.parametrize("log2_rows", [3])
def test_ledger_job(rng, log2_rows):
    ledger = pytest.importorskip("circuits.ledger")
    if not hasattr(ledger, "LedgerJob"):
        pytest.skip("circuits.ledger has no LedgerJob yet")
    chain = Chain(rng)
    ex = Executor(chain.genesis, log2_rows=log2_rows)
    (batch,) = ex.apply(chain.mini_batch(8, first_to=chain.everyone[-1]))   # claims a slot
    job = ledger_job(batch)
    assert isinstance(job, ledger.LedgerJob)
    assert (job.batch_index, job.log2_rows) == (0, log2_rows)
    assert job.old_addresses == batch.old_addresses and job.old_balances == batch.old_balances
    assert job.transfers == batch.transfers and job.claims == batch.claims and job.claims
    # the circuit's own trace builder accepts it: the job is complete and consistent
    ledger.build_trace(job)
