"""Deposits, withdrawals and refunds in the ledger circuit (docs/ledger.md §2–§4): an honest
batch with every kind verifies and publishes its bridge entries, and every way of cheating with
them is refused by the honest prover and, proven anyway, by the Python verifier and the
generated Solidity verifier on the embedded L1 alike.

A cheating trace is built from changed public columns (complete_trace derives the auxiliary
ones, bypassing build_trace's checks); tests.ledger_util.broken_rules names the one rule each
breaks, checked directly over the field, so that each case tests the rule it means to."""

import pytest

from circuits.ledger import (KIND_DEPOSIT, KIND_REFUND, KIND_WITHDRAWAL, Ledger, LedgerJob, build_trace,
                             trace_commitments)
from circuits.ledger_commitments import pinned
from circuits.ledger_data import batch_data, read_batch_data
from kernels.params import R_MODULUS
from prover.prove import prove
from prover.verify import verify

from .ledger_util import BE, assert_rejected, broken_rules, honest_public, keys, solidity_verifiers, verdicts

pytest.importorskip("pyrevm")

from node.l1.embedded import EmbeddedL1  # noqa: E402

K = 8
ADDRESSES = [0xA0 + i << 150 | i + 1 for i in range(6)]
NEW = 0x7F3C << 144 | 7          # claims slot 6 in the batch
RECIPIENT = 0xE1 << 152 | 9      # an L1 address a withdrawal pays
DEPOSITOR = 0xD5 << 152 | 3      # a deposit the batch could not credit, returned on the L1


def bridge_job() -> LedgerJob:
    """Plain transfers, a deposit to an existing account, a deposit to a slot claimed in the
    batch (then spent from), a withdrawal and a refund."""
    transfers = [(0, 1, 100),       # 0 plain
                 (2, 2, 500),       # 1 deposit to slot 2
                 (6, 6, 300),       # 2 deposit to slot 6, claimed in this batch
                 (3, 3, 50),        # 3 withdrawal from slot 3
                 (0, 0, 70),        # 4 refund
                 (1, 4, 20),        # 5 plain
                 (6, 5, 10)]        # 6 plain, from the new account
    bridge = [(1, KIND_DEPOSIT, ADDRESSES[2]), (2, KIND_DEPOSIT, NEW), (3, KIND_WITHDRAWAL, RECIPIENT),
              (4, KIND_REFUND, DEPOSITOR)]
    return LedgerJob(1, K, list(ADDRESSES), [1000, 200, 0, 80, 5, 0], transfers, [(6, NEW)], bridge)


@pytest.fixture(scope="module")
def solidity():
    return solidity_verifiers(EmbeddedL1())


@pytest.fixture(scope="module")
def honest():
    """(job, trace, public inputs, honest proof)."""
    job = bridge_job()
    trace, pub = build_trace(job)
    return job, trace, pub, prove(Ledger(K), keys(K)[0], trace, pub, BE).to_bytes()


# ---------------------------------------------------------------------------------------------
# Completeness


def test_a_batch_with_every_kind_verifies_and_publishes_its_bridge_entries(honest, solidity):
    job, trace, pub, proof = honest
    air = Ledger(K)
    pk, vk = keys(K)
    assert broken_rules(K, trace) == set()
    # Deposits credit, the withdrawal debits, the refund moves nothing.
    assert [int(b) for b in trace["bal_new"][:7]] == [900, 280, 500, 30, 25, 10, 290]
    assert verify(air, vk, pub, proof, public_commitments=pinned(trace_commitments(air, pk.srs_g1, trace, BE)))
    assert solidity(K).accepts(proof, [pub["batch_index"]])
    data = batch_data(job)
    assert len(data) == 4 + 16 * 7 + 4 + 24 * 1 + 4 + 25 * 4
    assert read_batch_data(data, K) == (job.transfers, job.claims, job.bridge)


def test_a_batch_of_only_bridge_entries_verifies(solidity):
    # One deposit that the same batch withdraws again, to another L1 address.
    job = LedgerJob(2, K, [ADDRESSES[0]], [0], [(0, 0, 9), (0, 0, 9)], [],
                    [(0, KIND_DEPOSIT, ADDRESSES[0]), (1, KIND_WITHDRAWAL, RECIPIENT)])
    trace, pub = build_trace(job)
    assert int(trace["bal_new"][0]) == 0
    proof = prove(Ledger(K), keys(K)[0], trace, pub, BE).to_bytes()
    assert verify(Ledger(K), keys(K)[1], pub, proof)
    assert solidity(K).accepts(proof, [2])


# ---------------------------------------------------------------------------------------------
# Cheating provers


def test_a_deposit_flagged_as_a_plain_transfer_is_rejected(solidity):
    # The credit stays but the row no longer says deposit: nothing on the L1 would be consumed
    # for it, so the value would be minted from nothing.
    job = bridge_job()
    public = honest_public(job)
    public["is_deposit"][1], public["bridge_addr"][1] = 0, 0
    assert_rejected(job, public, "value", solidity)


def test_a_mint_without_a_deposit_row_is_rejected(solidity):
    # A row (s, s, amount) of kind 0 moves nothing; crediting s by it is a mint.
    job = bridge_job()
    public = honest_public(job)
    public["from_slot"][7], public["to_slot"][7], public["amount"][7] = 4, 4, 1000
    public["bal_new"][4] += 1000
    assert_rejected(job, public, "value", solidity)


def test_a_deposit_for_another_address_is_rejected(solidity):
    # Slot 2's deposit published as made for slot 1's address (which would let an operator
    # credit anyone's deposit to an account of its choice).
    job = bridge_job()
    public = honest_public(job)
    public["bridge_addr"][1] = ADDRESSES[1]
    assert_rejected(job, public, "address", solidity)


def test_a_deposit_credited_to_another_slot_is_rejected(solidity):
    # The deposit for slot 2's address credits slot 4 instead; every balance is consistent.
    job = bridge_job()
    public = honest_public(job)
    public["from_slot"][1] = public["to_slot"][1] = 4
    public["bal_new"][2] -= 500
    public["bal_new"][4] += 500
    assert_rejected(job, public, "address", solidity)


def test_a_withdrawal_not_backed_by_a_debit_is_rejected(solidity):
    job = bridge_job()
    public = honest_public(job)
    public["bal_new"][3] += 50            # slot 3 keeps what the L1 pays out
    assert_rejected(job, public, "value", solidity)


def test_a_transfer_turned_withdrawal_that_still_credits_is_rejected(solidity):
    # Row 0 (0 → 1, 100) also published as a withdrawal: the L1 would pay 100 while slot 1
    # keeps its credit, so value appears.
    job = bridge_job()
    public = honest_public(job)
    public["is_withdrawal"][0], public["bridge_addr"][0] = 1, RECIPIENT
    assert_rejected(job, public, "value", solidity)


def test_a_refund_that_also_credits_is_rejected(solidity):
    # The refund's amount returns to the depositor on the L1 and is credited on the L2 as well.
    job = bridge_job()
    public = honest_public(job)
    public["to_slot"][4] = 5
    public["bal_new"][5] += 70
    assert_rejected(job, public, "value", solidity)


def test_kind_flags_that_are_not_bits_are_rejected(solidity):
    # is_deposit = 2 turns the from side's weight 0 into +amount: the deposit credits its slot
    # twice. The λ⁰ and λ² parts are both consistent with it; only the bit constraint objects.
    job = bridge_job()
    public = honest_public(job)
    public["is_deposit"][1] = 2
    public["bal_new"][2] += 500
    assert_rejected(job, public, "kind", solidity)
    # is_withdrawal = −1 on a withdrawal row credits its slot twice the amount (to side weight
    # a·(1 − (−1)) = 2a, from side a·(1 − 0)): +a net instead of −a.
    public = honest_public(job)
    public["is_withdrawal"][3] = R_MODULUS - 1
    public["bal_new"][3] += 100
    assert_rejected(job, public, "kind", solidity)


def test_a_plain_transfer_naming_a_bridge_address_is_rejected(solidity):
    job = bridge_job()
    public = honest_public(job)
    public["bridge_addr"][5] = RECIPIENT
    assert_rejected(job, public, "kind", solidity)


# ---------------------------------------------------------------------------------------------
# Calldata other than the proven bridge entries


@pytest.mark.parametrize("change", ["kind_flipped", "address_changed", "record_dropped", "record_added"])
def test_calldata_whose_bridge_part_differs_is_refused_by_both(honest, solidity, change):
    """The cheating prover absorbs the digest of the data it publishes (so the transcript
    matches the calldata), but its trace holds the honest rows."""
    job, trace, pub, _ = honest
    air = Ledger(K)
    pk, vk = keys(K)
    transfers, claims, bridge = read_batch_data(batch_data(job), K)
    bridge = [list(b) for b in bridge]
    if change == "kind_flipped":
        bridge[3][1] = KIND_WITHDRAWAL        # the refund, published as a withdrawal of slot 0
    elif change == "address_changed":
        bridge[2][2] ^= 1 << 80               # the withdrawal pays someone else
    elif change == "record_dropped":
        del bridge[0]                         # a deposit that the L1 would never see consumed
    else:
        bridge.insert(0, [0, KIND_WITHDRAWAL, RECIPIENT])   # a transfer that also pays out
    other = air.publication.encode([list(enumerate(transfers)), [(s, [a]) for s, a in claims],
                                    [(row, [kind, address]) for row, kind, address in bridge]])
    assert other != batch_data(job)
    proof = prove(air, pk, trace, pub, BE, refuse_invalid=False, published=other).to_bytes()
    assert verdicts(air, vk, pub, solidity(K), proof, other) == (False, False)
    if change == "kind_flipped":  # the same path with the honest data is accepted
        proof = prove(air, pk, trace, pub, BE, refuse_invalid=False, published=batch_data(job)).to_bytes()
        assert verdicts(air, vk, pub, solidity(K), proof, batch_data(job)) == (True, True)
