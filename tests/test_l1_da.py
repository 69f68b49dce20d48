"""Data availability on the L1: a batch's transfers and claims travel in its calldata, at the
end of its proof, and both verifiers refuse data other than the rows the proof opens
(docs/protocol.md §10)."""

import random

import pytest

from circuits.ledger import Ledger, LedgerJob, build_trace
from circuits.ledger_data import batch_data, read_batch_data
from prover.prove import prove

from .l1_util import BE
from .ledger_util import verdicts
from .prover_util import keys_for

pytest.importorskip("pyrevm")

from node.l1.embedded import EmbeddedL1  # noqa: E402
from node.l1.rollup import VerifierContract  # noqa: E402

LOG2 = 6


@pytest.fixture(scope="module")
def batch():
    # Six accounts, eight transfers among them, then one to a slot a new account claims.
    rnd = random.Random(3)
    addresses = [rnd.getrandbits(160) | 1 for _ in range(6)]
    transfers = [(i % 6, (3 * i + 1) % 6, 10 + i) for i in range(8)] + [(0, 6, 7)]
    job = LedgerJob(1, LOG2, addresses, [500 + 10 * i for i in range(6)], transfers,
                    [(6, rnd.getrandbits(160) | 1)])
    trace, pub = build_trace(job)
    air = Ledger(LOG2)
    pk, vk = keys_for(air, LOG2)
    contract = VerifierContract.deploy(EmbeddedL1(), air, vk)
    return job, air, pk, vk, trace, pub, contract


def test_the_calldata_reads_back_as_the_batch(batch):
    job, *_ = batch
    data = batch_data(job)
    assert len(data) == 4 + 16 * len(job.transfers) + 4 + 24 * len(job.claims) + 4
    assert read_batch_data(data, LOG2) == ([tuple(t) for t in job.transfers], [tuple(c) for c in job.claims], [])


def test_honest_data_accepted_and_other_data_refused_by_both(batch):
    job, air, pk, vk, trace, pub, contract = batch
    data = batch_data(job)
    proof = prove(air, pk, trace, pub, BE).to_bytes()
    assert verdicts(air, vk, pub, contract, proof, data) == (True, True)
    changed = bytearray(data)
    changed[4 + 15] ^= 1                                  # the first transfer's amount
    for other in (bytes(changed), data[:-24 - 4] + b"\0\0\0\0", b"", data + b"\0"):
        assert verdicts(air, vk, pub, contract, proof, other) == (False, False)


@pytest.mark.parametrize("where", ["amount", "to_slot", "claim_address", "claim_slot", "dropped_transfer"])
def test_a_prover_publishing_other_rows_is_refused_by_both(batch, where):
    """The cheating prover absorbs the digest of the data it publishes (so the transcript
    matches the calldata), but its trace's rows are the honest ones."""
    job, air, pk, vk, trace, pub, contract = batch
    transfers, claims = [list(t) for t in job.transfers], [list(c) for c in job.claims]
    if where == "amount":
        transfers[2][2] += 1
    elif where == "to_slot":
        transfers[2][1] ^= 1
    elif where == "claim_address":
        claims[0][1] ^= 1 << 100
    elif where == "claim_slot":
        claims[0][0] += 1
    else:
        transfers = transfers[:-2] + transfers[-1:]
    other = air.publication.encode([list(enumerate(transfers)), [(s, [a]) for s, a in claims], []])
    assert other != batch_data(job)
    proof = prove(air, pk, trace, pub, BE, refuse_invalid=False, published=other).to_bytes()
    assert verdicts(air, vk, pub, contract, proof, other) == (False, False)
    # The same cheating path with the honest data is an accepted proof.
    if where == "amount":
        honest = prove(air, pk, trace, pub, BE, refuse_invalid=False, published=batch_data(job)).to_bytes()
        assert verdicts(air, vk, pub, contract, honest, batch_data(job)) == (True, True)
