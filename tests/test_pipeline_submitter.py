"""The in-order submitter (node.pipeline.submitter) without Ray, against the rollup contract on
the embedded L1 with real proofs of chained batches: order, exactly-once, restarts, refusals;
and on anvil, an L1 that goes back past verified batches."""

import pickle

import pytest

pytest.importorskip("pyrevm")

from node.l1.embedded import EmbeddedL1  # noqa: E402
from node.l1.rollup import RollupContract, state_commitment  # noqa: E402
from node.pipeline.errors import RollupMissing, SubmissionRejected  # noqa: E402
from node.pipeline.events import EventLog  # noqa: E402
from node.pipeline.jobs import ProofResult  # noqa: E402
from node.pipeline.submitter import InOrderSubmitter  # noqa: E402

from .l1_util import LAYOUT, ToyLedger, column_commitment, toy_batches, toy_keys  # noqa: E402


def deploy(l1=None):
    pk, vk = toy_keys()
    genesis, batches = toy_batches(3)
    l1 = l1 or EmbeddedL1()
    rollup = RollupContract.deploy(l1, ToyLedger(), vk, LAYOUT, state_commitment([column_commitment(pk, genesis)]))
    results = [ProofResult(batch=i + 1, proof=proof, public_inputs=pub, transfers=8, worker="w", node="n",
                           device="cpu", attempt=1, started=0.0, finished=0.0)
               for i, (proof, pub, _) in enumerate(batches)]
    return rollup, results


def verified_events(rollup, receipts):
    return [ev.batch_index for r in receipts for ev in rollup.events(r)]


def test_out_of_order_proofs_go_in_order_once():
    rollup, results = deploy()
    log = EventLog()
    sub = InOrderSubmitter(rollup, sink=log)
    assert sub.offer(results[2]) and sub.offer(results[1])
    assert sub.step() == []                       # batch 1 missing: nothing can go
    assert rollup.last_batch_index() == 0 and sub.sent == 0
    assert sub.offer(results[1]) is False         # already waiting
    assert sub.offer(results[0])
    done = sub.step()
    assert [v.batch for v in done] == [1, 2, 3]
    assert all(v.gas and not v.found_on_l1 for v in done)
    assert rollup.last_batch_index() == 3 and sub.sent == 3 and not sub.pending
    assert sorted(log.batches) == [1, 2, 3] and all("l1_submitted" in s for s in log.batches.values())
    assert sub.offer(results[0]) is False         # on the L1 already
    assert sub.step() == [] and sub.sent == 3


def test_restarted_submitter_sends_nothing_twice():
    """A predecessor sent batch 1 and died before it heard back; its successor is offered every
    proof again and sends only what the L1 does not hold."""
    rollup, results = deploy()
    rollup.submit_batch(1, results[0].proof, results[0].public_inputs).check()
    successor = InOrderSubmitter(connect=lambda: rollup)
    for r in results:
        successor.offer(r)
    done = successor.step()
    assert [(v.batch, v.found_on_l1) for v in done] == [(1, True), (2, False), (3, False)]
    assert successor.sent == 2 and rollup.last_batch_index() == 3


def test_refused_proof_is_dropped_and_reported():
    rollup, results = deploy()
    bad = ProofResult(**{**results[0].__dict__, "proof": results[1].proof})   # batch 2's proof as batch 1
    sub = InOrderSubmitter(rollup)
    sub.offer(bad)
    with pytest.raises(SubmissionRejected, match="batch 1") as e:
        sub.step()
    assert e.value.batch == 1 and "StateMismatch" in e.value.reason
    # Ray pickles it to the caller of the submitter actor: it must arrive whole.
    back = pickle.loads(pickle.dumps(e.value))
    assert (type(back), back.batch, back.reason, str(back)) == (SubmissionRejected, 1, e.value.reason, str(e.value))
    gone = pickle.loads(pickle.dumps(RollupMissing("0xabc", "chain id 31337")))
    assert (gone.address, gone.chain) == ("0xabc", "chain id 31337") and "no rollup contract at 0xabc" in str(gone)
    assert rollup.last_batch_index() == 0 and not sub.pending
    sub.offer(results[0])                          # the right proof still goes through
    assert [v.batch for v in sub.step()] == [1]


def test_unreachable_l1_loses_nothing():
    """The L1 refuses connections (a JSON-RPC URL where nothing listens): the round raises,
    the proofs stay, and run() keeps trying until told to stop."""
    from node.l1.anvil import free_port
    from node.pipeline.l1spec import L1Spec, connect_l1

    _, results = deploy()
    url = f"http://127.0.0.1:{free_port()}"
    log = EventLog()
    sub = InOrderSubmitter(sink=log, connect=lambda: connect_l1(L1Spec("rpc", url=url, timeout=1.0)))
    sub.offer(results[0])
    with pytest.raises(Exception) as e:
        sub.step()
    assert not isinstance(e.value, SubmissionRejected)
    rounds = []
    sub.run(until_idle=False, retry_delay=0.01, stop=lambda: rounds.append(1) or len(rounds) > 3)
    assert list(sub.pending) == [1] and sub.sent == 0
    assert log.counters["retries"] == 3 and "retried" in log.batches[1]


def test_own_receipt_spares_the_height_read_and_a_stale_height_is_resolved():
    """After a round that ended with its own receipt the submitter sends the next batch without
    reading the L1's height first; when someone else moved the L1 on meanwhile, the refusal
    (UnexpectedBatchIndex) is resolved by reading it, and nothing is sent twice."""
    rollup, results = deploy()
    sub = InOrderSubmitter(rollup)
    sub.offer(results[0])
    assert [v.batch for v in sub.step()] == [1]
    reads = []
    read = sub.read_height
    sub.read_height = lambda: reads.append(1) or read()
    rollup.submit_batch(2, results[1].proof, results[1].public_inputs).check()   # another sender
    sub.offer(results[1])
    sub.offer(results[2])
    done = sub.step()
    assert [(v.batch, v.found_on_l1) for v in done] == [(2, True), (3, False)]
    assert len(reads) == 1 and sub.sent == 3 and rollup.last_batch_index() == 3
    sub.offer(ProofResult(**{**results[2].__dict__, "batch": 4}))    # batch 3's proof as batch 4
    with pytest.raises(SubmissionRejected, match="batch 4"):
        sub.step()
    assert len(reads) == 1                                  # 3 was its own: no read before 4
    assert sub.step() == [] and len(reads) == 2             # after a refusal the round reads again


@pytest.mark.parametrize("keep", [64, 1])
def test_an_l1_that_goes_back_gets_the_lost_batches_again(keep):
    """anvil's evm_revert takes batches 1 and 2 out of the L1 with their transactions (a
    reorganisation whose transactions do not return). With both proofs kept, the next round
    sends 1 and 2 again, then 3; with only batch 2 kept, the round raises L1Behind (not a
    refusal: 3 stays waiting) until batch 1 is on the L1 again, sent by someone else."""
    from node.l1.anvil import find_anvil, start_anvil
    from node.l1.rpc import RpcL1
    from node.pipeline.errors import L1Behind

    if find_anvil() is None:
        pytest.skip("anvil binary absent (run `npm ci` in contracts/, as scripts/setup.sh does)")
    with start_anvil() as node, RpcL1(node.url, name="anvil") as l1:
        rollup, results = deploy(l1)
        snapshot = l1.w3.provider.make_request("evm_snapshot", [])["result"]
        events = []
        sub = InOrderSubmitter(rollup, sink=events.append, keep=keep)
        sub.offer(results[0])
        sub.offer(results[1])
        assert [v.batch for v in sub.step()] == [1, 2] and rollup.last_batch_index() == 2
        assert l1.w3.provider.make_request("evm_revert", [snapshot])["result"] is True
        assert rollup.last_batch_index() == 0
        sub.offer(results[2])
        # Batch 3 is sent on the height the submitter's own receipts left, and refused as
        # UnexpectedBatchIndex(1, 3): the L1 went back.
        if keep == 1:
            with pytest.raises(L1Behind, match="at batch 0, behind batch 2"):
                sub.step()
            with pytest.raises(L1Behind):
                sub.step()                     # still behind: tried again, nothing sent
            assert sub.sent == 3 and sorted(sub.pending) == [3]
            rollup.submit_batch(1, results[0].proof, results[0].public_inputs).check()   # someone else
            assert [v.batch for v in sub.step()] == [2, 3]
            assert sub.sent == 5
        else:
            assert [v.batch for v in sub.step()] == [1, 2, 3]
            assert sub.sent == 6
            assert [e["error"] for e in events if e.get("stage") == "retried"] == \
                ["L1 behind: at batch 0; sent again"] * 2
        assert rollup.last_batch_index() == 3 and not sub.pending
