"""Proofs of ledger batches: honest batches verify, chained batches share their state
commitments, and every way of cheating that docs/ledger.md rules out is rejected, by the Python
verifier and by the generated Solidity verifier on the embedded L1 (pyrevm) alike.

A cheating trace is built directly (complete_trace derives its auxiliary columns from whatever
public columns it is given, bypassing build_trace's checks) and proven with
`refuse_invalid=False`, so that the verifiers alone have to reject it; the honest prover must
refuse it too. What the verifier cannot see on its own (which state the L1 holds, which batch
comes next) the rollup contract checks: those cases are submitted to it."""

import dataclasses
import random
from contextlib import contextmanager

import pytest

from circuits.ledger import Ledger, LedgerJob, build_trace, proof_commitments, state_commitment, trace_commitments
from circuits.ledger_commitments import pinned
from kernels.params import R_MODULUS
from node.l1.abi import decode_error
from node.l1.embedded import EmbeddedL1
from node.l1.rollup import RollupContract
from node.l1.rollup import state_commitment as l1_state_commitment
from prover.errors import InvalidProof
from prover.prove import prove
from prover.verify import verify

from .ledger_util import BE, assert_rejected, assert_solidity_rejects, broken_rules, honest_public, solidity_verifiers
from .ledger_util import keys as ledger_keys

K = 8
N = 1 << K
MAX = (1 << 64) - 1
ACCOUNTS = 40


def keys(k: int = K):
    return ledger_keys(k)


def genesis(seed: int = 1):
    rnd = random.Random(seed)
    addresses = [rnd.getrandbits(160) | 1 for _ in range(ACCOUNTS)]
    balances = [rnd.randrange(1 << 40) for _ in range(ACCOUNTS - 1)] + [MAX - 1000]
    return addresses, balances


def random_job(index, addresses, balances, count, seed, new_accounts=0) -> LedgerJob:
    """`count` transfers between funded accounts (each affordable when made), then one transfer
    to each of `new_accounts` fresh addresses, which claim the next empty slots."""
    rnd = random.Random(seed)
    cur = list(balances)
    claimed = sum(1 for a in addresses if a)
    transfers, claims = [], []
    for _ in range(count):
        s, d = rnd.randrange(claimed), rnd.randrange(claimed)
        a = rnd.randrange(min(cur[s], MAX - cur[d]) + 1) if s != d else rnd.randrange(MAX)
        cur[s] -= a
        cur[d] += a
        transfers.append((s, d, a))
    for i in range(new_accounts):
        slot = claimed + i
        claims.append((slot, rnd.getrandbits(160) | 1))
        transfers.append((rnd.randrange(claimed), slot, 0))
    return LedgerJob(index, K, list(addresses), list(balances), transfers, claims)


def next_state(job: LedgerJob, trace):
    claimed = [a for a in trace["addr_new"] if a]
    return claimed, [int(b) for b in trace["bal_new"][:len(claimed)]]


def prove_and_verify(job: LedgerJob):
    air = Ledger(job.log2_rows)
    pk, vk = keys(job.log2_rows)
    trace, pub = build_trace(job)
    assert broken_rules(job.log2_rows, trace) == set()
    proof = prove(air, pk, trace, pub, BE).to_bytes()
    expected = trace_commitments(air, pk.srs_g1, trace, BE)
    assert verify(air, vk, pub, proof, public_commitments=pinned(expected))
    return trace, proof


# ---------------------------------------------------------------------------------------------
# Completeness


def test_new_accounts_claim_slots():
    addresses, balances = genesis()
    job = random_job(1, addresses, balances, 30, seed=2, new_accounts=5)
    job.transfers[-1] = (0, job.claims[-1][0], 123)
    trace, _ = prove_and_verify(job)
    assert trace["addr_new"][ACCOUNTS:ACCOUNTS + 5] == [a for _, a in job.claims]
    assert int(trace["bal_new"][ACCOUNTS + 4]) == 123


def test_full_batch_between_existing_accounts():
    addresses, balances = genesis()
    prove_and_verify(random_job(2, addresses, balances, N, seed=3))


def test_empty_batch():
    addresses, balances = genesis()
    trace, _ = prove_and_verify(LedgerJob(3, K, addresses, balances, []))
    assert trace["addr_new"] == trace["addr_old"]


def test_empty_ledger_and_empty_batch():
    prove_and_verify(LedgerJob(0, K, [], [], []))


def test_balances_at_the_top_of_the_range():
    addresses, balances = genesis()
    # The last account ends at 2^64 − 1 exactly; another sends its whole balance away.
    job = LedgerJob(4, K, addresses, balances, [(0, ACCOUNTS - 1, 1000), (1, 2, balances[1])])
    job.old_balances[0] = 1000
    trace, _ = prove_and_verify(job)
    assert int(trace["bal_new"][ACCOUNTS - 1]) == MAX and int(trace["bal_new"][1]) == 0


def test_short_top_limb_size():
    # At 2^6 rows the limbs have 6 bits and the top one only 4: the scaled second lookup.
    rnd = random.Random(5)
    addresses = [rnd.getrandbits(160) | 1 for _ in range(10)]
    balances = [MAX - (1 << 60) - i for i in range(10)]   # the receivers end at 2^64 − 1 − i
    prove_and_verify(LedgerJob(5, 6, addresses, balances, [(i, 9 - i, 1 << 60) for i in range(5)]))


# ---------------------------------------------------------------------------------------------
# The state chain


def test_new_state_of_one_batch_is_old_state_of_the_next():
    air = Ledger(K)
    pk, vk = keys()
    addresses, balances = genesis(7)
    chain = state_commitment(pk.srs_g1, K, addresses, balances, BE)
    for index in range(1, 4):
        job = random_job(index, addresses, balances, 20, seed=index, new_accounts=2)
        trace, proof = prove_and_verify(job)
        carried = proof_commitments(air, vk, proof)
        # The proof's old state is the commitment the L1 holds; its new state is the next one,
        # and it is what anyone recomputes from the state after the batch.
        assert carried["old_state"] == chain
        addresses, balances = next_state(job, trace)
        assert carried["new_state"] == state_commitment(pk.srs_g1, K, addresses, balances, BE)
        assert carried["new_state"] != carried["old_state"]
        chain = carried["new_state"]


def test_a_state_does_not_depend_on_how_it_was_reached():
    # An empty batch keeps the state: its new state commitment is its old one.
    air = Ledger(K)
    _, vk = keys()
    addresses, balances = genesis()
    _, proof = prove_and_verify(LedgerJob(9, K, addresses, balances, []))
    carried = proof_commitments(air, vk, proof)
    assert carried["new_state"] == carried["old_state"]


# ---------------------------------------------------------------------------------------------
# The verifiers on the L1


@pytest.fixture(scope="module")
def l1():
    return EmbeddedL1()


@pytest.fixture(scope="module")
def solidity(l1):
    return solidity_verifiers(l1)



def l1_state(pk, job: LedgerJob) -> bytes:
    """What the rollup holds for a job's old state: keccak256 of its packed old_state commitment."""
    return l1_state_commitment(list(state_commitment(pk.srs_g1, job.log2_rows, job.old_addresses,
                                                     job.old_balances, BE)))


def deploy_rollup(l1, job: LedgerJob) -> RollupContract:
    """A rollup whose genesis state is the job's old state (batch 1 is the next it takes)."""
    pk, vk = keys(job.log2_rows)
    return RollupContract.deploy(l1, Ledger(job.log2_rows), vk, Ledger.state_layout, l1_state(pk, job))


def assert_refused(rollup: RollupContract, receipt, error: str, *args):
    """The submission reverted with the rollup's custom error `error` (with these arguments, if
    given) and emitted nothing; `unchanged` checks that the L1's state stayed as it was."""
    assert not receipt.status, "the rollup accepted a submission it must refuse"
    decoded = decode_error(rollup.artifact.abi, receipt.revert_data)
    assert decoded is not None, f"undecodable revert data 0x{receipt.revert_data.hex()}"
    assert decoded[0] == error, f"reverted with {receipt.revert_reason}, expected {error}"
    if args:
        assert tuple(decoded[1]) == args
    assert not rollup.events(receipt)


# ---------------------------------------------------------------------------------------------
# Cheating provers


def rebalance(public: dict) -> None:
    """bal_new = bal_old + net flow of the transfers, over the field (so it may wrap)."""
    bal = list(public["bal_old"])
    for s, d, a in zip(public["from_slot"], public["to_slot"], public["amount"]):
        if s < len(bal):
            bal[s] -= a
        if d < len(bal):
            bal[d] += a
    public["bal_new"] = [b % R_MODULUS for b in bal]


def add_transfers(job: LedgerJob, public: dict, rows) -> None:
    """Write transfers into the unused rows after the job's own."""
    at = len(job.transfers)
    for i, (s, d, a) in enumerate(rows):
        public["from_slot"][at + i], public["to_slot"][at + i], public["amount"][at + i] = s, d, a


@pytest.fixture(scope="module")
def base():
    """A batch 1 with transfers between funded accounts and two new accounts."""
    addresses, balances = genesis(3)
    return random_job(1, addresses, balances, 25, seed=11, new_accounts=2)


def test_minting_value_is_rejected(base, solidity):
    public = honest_public(base)
    public["bal_new"][5] += 1000
    assert_rejected(base, public, "value", solidity)


def test_moving_value_from_an_account_not_in_the_transfer_list_is_rejected(base, solidity):
    public = honest_public(base)
    listed = {s for s, _, _ in base.transfers} | {d for _, d, _ in base.transfers}
    victim = next(a for a in range(ACCOUNTS) if a not in listed and public["bal_old"][a] >= 500)
    public["bal_new"][victim] -= 500       # the total supply is kept: only who holds it changes
    public["bal_new"][0] += 500
    assert_rejected(base, public, "value", solidity)


def test_negative_balance_is_rejected(base, solidity):
    # Slot 1 sends 10 more than it holds: its balance wraps around the field to r − 10 and
    # every value-moving equation still holds; only the range check can object.
    public = honest_public(base)
    add_transfers(base, public, [(1, 2, public["bal_new"][1] + 10)])
    rebalance(public)
    assert public["bal_new"][1] == R_MODULUS - 10
    assert_rejected(base, public, "lookup", solidity)


@pytest.mark.parametrize("amount", [1 << 64, R_MODULUS - 5])
def test_amount_outside_64_bits_is_rejected(base, solidity, amount):
    # Two transfers that cancel: every balance is right and in range, only the amounts are not.
    # (r − 5 is "−5": it would move value against the direction the data shows.)
    public = honest_public(base)
    add_transfers(base, public, [(1, 2, amount), (2, 1, amount)])
    assert_rejected(base, public, "lookup", solidity)


def test_top_limb_wider_than_its_bits_is_rejected(solidity):
    # At 2^6 rows the top limb has 4 bits but the table holds 6: 2^64 splits into low limbs 0
    # and a top limb of 16, which the table alone would accept.
    job = LedgerJob(1, 6, [0xA1, 0xB2], [5, 5], [])
    public = honest_public(job)
    add_transfers(job, public, [(0, 1, 1 << 64), (1, 0, 1 << 64)])
    assert_rejected(job, public, "lookup", solidity)


def test_overwriting_a_claimed_slot_is_rejected(base, solidity):
    public = honest_public(base)
    public["addr_new"][3] = 0xBAD
    assert_rejected(base, public, "claim", solidity)
    # Releasing a slot (its address back to 0) is an overwrite too, even with nothing in it.
    job = LedgerJob(2, K, [0xA1, 0xB2], [100, 0], [(0, 1, 100)])
    public = honest_public(job)
    assert public["bal_new"][0] == 0
    public["addr_new"][0] = 0
    assert_rejected(job, public, "claim", solidity)


def test_value_left_in_an_unclaimed_slot_is_rejected(base, solidity):
    public = honest_public(base)
    empty = ACCOUNTS + 10
    assert public["addr_new"][empty] == 0
    add_transfers(base, public, [(0, empty, 7)])
    rebalance(public)
    assert_rejected(base, public, "empty", solidity)


def test_transfer_through_a_slot_that_does_not_exist_is_rejected(base, solidity):
    # Value routed through slot N + 5 nets to zero there, so the balances alone would agree.
    public = honest_public(base)
    add_transfers(base, public, [(0, N + 5, 9), (N + 5, 1, 9)])
    rebalance(public)
    assert_rejected(base, public, "lookup", solidity)


@pytest.fixture(scope="module")
def honest(base):
    """base's trace, public inputs and honest proof (batch 1)."""
    trace, pub = build_trace(base)
    return trace, pub, prove(Ledger(K), keys()[0], trace, pub, BE).to_bytes()


@pytest.fixture(scope="module")
def on_another_state(base):
    """(job, proof): an honest proof of base's transfers as batch 1, but applied to another
    old state (slot 0 holding one more) than the one base starts from."""
    other = dataclasses.replace(base, old_balances=list(base.old_balances))
    other.old_balances[0] += 1
    trace, pub = build_trace(other)
    return other, prove(Ledger(K), keys()[0], trace, pub, BE).to_bytes()


@pytest.fixture(scope="module")
def as_batch_2(base):
    """An honest proof of base made for batch index 2 (its only public input)."""
    trace, pub = build_trace(dataclasses.replace(base, batch_index=2))
    return prove(Ledger(K), keys()[0], trace, pub, BE).to_bytes()


@contextmanager
def unchanged(rollup: RollupContract):
    """The body must leave the rollup's state commitment and batch counter as they were."""
    before = (rollup.state_commitment(), rollup.last_batch_index())
    yield
    assert (rollup.state_commitment(), rollup.last_batch_index()) == before


def test_proof_on_another_old_state_is_rejected(base, honest, on_another_state, solidity):
    # An honest proof of the batch applied to another state (the old state of another batch)
    # verifies on its own, but not against the state commitment the L1 holds.
    air = Ledger(K)
    pk, vk = keys()
    trace, pub, _ = honest
    l1_groups = trace_commitments(air, pk.srs_g1, trace, BE)
    _, proof = on_another_state
    assert verify(air, vk, pub, proof)
    with pytest.raises(InvalidProof, match="not the expected one"):
        verify(air, vk, pub, proof, public_commitments=pinned({"old_state": l1_groups["old_state"]}))
    # The L1 pins the new state and the data through the same commitments.
    with pytest.raises(InvalidProof):
        verify(air, vk, pub, proof, public_commitments=pinned({"new_state": l1_groups["new_state"]}))
    # The verifier contract alone accepts it too: refusing it is the rollup's part (below).
    assert solidity(K).accepts(proof, [pub["batch_index"]])


def test_rollup_refuses_a_proof_on_another_old_state(l1, base, honest, on_another_state):
    pk, _ = keys()
    rollup = deploy_rollup(l1, base)
    other, proof = on_another_state
    assert l1_state(pk, other) != l1_state(pk, base)
    with unchanged(rollup):
        assert_refused(rollup, rollup.submit_batch(1, proof, [1]), "StateMismatch", l1_state(pk, base),
                       l1_state(pk, other))
    # The honest batch then goes through, and the L1 holds its new state.
    trace, _, good = honest
    rollup.submit_batch(1, good, [1]).check()
    new_state = trace_commitments(Ledger(K), pk.srs_g1, trace, BE)["new_state"]
    assert rollup.last_batch_index() == 1
    assert rollup.state_commitment() == l1_state_commitment(list(new_state))


def test_proof_for_another_batch_index_is_rejected(base, honest, as_batch_2, solidity):
    air = Ledger(K)
    _, vk = keys()
    _, pub, proof = honest
    assert pub == {"batch_index": 1}
    with pytest.raises(InvalidProof):
        verify(air, vk, {"batch_index": 2}, proof)
    with pytest.raises(InvalidProof):
        verify(air, vk, {"batch_index": 1}, as_batch_2)
    verifier = solidity(K)
    assert_solidity_rejects(verifier, proof, 2)
    assert_solidity_rejects(verifier, as_batch_2, 1)
    assert verifier.accepts(as_batch_2, [2]) and verifier.accepts(proof, [1])


def test_rollup_refuses_a_proof_for_another_batch_index(l1, base, honest, as_batch_2):
    pk, _ = keys()
    rollup = deploy_rollup(l1, base)
    with unchanged(rollup):
        # Proven as batch 2, offered as batch 1: its old state is the one held, but it is not
        # this batch's proof.
        assert_refused(rollup, rollup.submit_batch(1, as_batch_2, [2]), "BatchIndexNotProven", 1)
        # Its public input rewritten to 1, it no longer verifies.
        assert_refused(rollup, rollup.submit_batch(1, as_batch_2, [1]), "InvalidProof")
        assert_refused(rollup, rollup.submit_batch(2, as_batch_2, [2]), "UnexpectedBatchIndex", 1, 2)
    _, _, good = honest
    rollup.submit_batch(1, good, [1]).check()
    assert rollup.last_batch_index() == 1 and rollup.state_commitment() != l1_state(pk, base)
    # Now batch 2 is due, but the proof made for it starts from the state batch 1 replaced.
    with unchanged(rollup):
        assert_refused(rollup, rollup.submit_batch(2, as_batch_2, [2]), "StateMismatch",
                       rollup.state_commitment(), l1_state(pk, base))


def test_changed_data_commitment_is_rejected(base, honest):
    air = Ledger(K)
    pk, vk = keys()
    _, pub, proof = honest
    other = LedgerJob(base.batch_index, K, base.old_addresses, base.old_balances,
                      base.transfers[:-1], base.claims[:-1])
    other_trace, _ = build_trace(other)
    data = trace_commitments(air, pk.srs_g1, other_trace, BE)["data"]
    with pytest.raises(InvalidProof, match="not the expected one"):
        verify(air, vk, pub, proof, public_commitments=pinned({"data": data}))
