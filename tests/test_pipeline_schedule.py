"""The coordinator's bookkeeping (node.pipeline.schedule.JobBook), without Ray: order of
dispatch, retry budget, stale results, admission, memory that follows the backlog."""

import random

import pytest

from node.pipeline.errors import PipelineError
from node.pipeline.schedule import FAILED, PROVEN, PROVING, VERIFIED, WAITING, JobBook


def test_lowest_batch_first_and_one_worker_per_batch():
    book = JobBook(max_unproven=10, max_unverified=10)
    for b in (3, 1, 2):
        book.add(b, 10, f"job{b}")
    a1 = book.next_assignment(["w0", "w1"])
    a2 = book.next_assignment(["w1"])
    assert (a1.batch, a1.worker, a1.attempt, a1.payload) == (1, "w0", 1, "job1")
    assert (a2.batch, a2.worker) == (2, "w1")
    assert book.next_assignment([]) is None
    assert book.state(1) == book.state(2) == PROVING and book.state(3) == WAITING
    assert book.queue_depth == 1 and book.unproven == 3


def test_a_batch_is_never_queued_twice():
    book = JobBook()
    book.add(1, 1, None)
    with pytest.raises(PipelineError, match="already queued"):
        book.add(1, 1, None)
    a = book.next_assignment(["w"])
    book.proven(1, a.attempt, "proof")
    book.verified(1)
    with pytest.raises(PipelineError):
        book.add(1, 1, None)       # verified and forgotten, still refused


def test_retry_goes_to_another_worker_then_backs_off_never_fails():
    book = JobBook(max_attempts=3)
    book.add(1, 5, "job")
    a = book.next_assignment(["w0", "w1"])
    assert book.attempt_failed(1, a.attempt, a.worker, "worker died") == "retry"
    b = book.next_assignment(["w0", "w1"])
    assert b.worker == "w1" and b.attempt == 2        # not the worker that failed it
    assert book.attempt_failed(1, b.attempt, b.worker, "timeout") == "retry"
    c = book.next_assignment(["w0"])                   # only failed workers idle: use one
    assert c.worker == "w0" and c.attempt == 3
    assert book.attempt_failed(1, c.attempt, c.worker, "oom") == "backoff"
    assert book.next_assignment(["w0", "w1"]) is None   # waits out its backoff
    assert book.state(1) == WAITING and book.unproven == 1 and not book.failed()
    book.requeue(1)
    book.requeue(1)                                     # twice is once
    d = book.next_assignment(["w0", "w1"])
    assert d.attempt == 4 and book.next_assignment(["w1"]) is None
    assert book.proven(1, d.attempt, "proof") and book.retries == 3
    assert book.entries[1].errors == ["worker died", "timeout", "oom"]


def test_a_proof_kept_from_before_is_not_proven_again():
    book = JobBook()
    book.add_proven(2, 5, "proof")
    assert book.state(2) == PROVEN and book.next_assignment(["w0"]) is None
    assert book.proofs_awaiting_l1() == ["proof"]
    with pytest.raises(PipelineError):
        book.add(2, 5, "job")


def test_error_that_a_retry_cannot_fix_fails_at_once():
    book = JobBook(max_attempts=5)
    book.add(1, 5, "job")
    a = book.next_assignment(["w0"])
    assert book.attempt_failed(1, a.attempt, "w0", "InvalidTrace", retryable=False) == "failed"
    assert book.state(1) == FAILED and [e.batch for e in book.failed()] == [1]


def test_stale_results_are_dropped():
    """An abandoned attempt that answers late neither proves the batch nor fails it again."""
    book = JobBook()
    book.add(7, 1, "job")
    first = book.next_assignment(["w0"])
    book.attempt_failed(7, first.attempt, "w0", "timeout")
    second = book.next_assignment(["w1"])
    assert book.proven(7, first.attempt, "late proof") is False
    assert book.attempt_failed(7, first.attempt, "w0", "died") == "stale"
    assert book.proven(7, second.attempt, "proof") is True
    assert book.proven(7, second.attempt, "again") is False      # proven once
    assert book.entries[7].result == "proof" and book.state(7) == PROVEN
    assert book.entries[7].payload is None                        # the job is released


def test_heights_and_memory_follow_the_backlog():
    book = JobBook(max_unproven=100, max_unverified=100)
    order = list(range(1, 21))
    for b in order:
        book.add(b, 1, b)
    rnd = random.Random(3)
    assignments = [book.next_assignment(["w"]) for _ in order]
    rnd.shuffle(assignments)
    proven = set()
    for a in assignments:
        book.proven(a.batch, a.attempt, a.batch)
        proven.add(a.batch)
        h = 0
        while h + 1 in proven:
            h += 1
        assert book.proven_height() == h
    for b in (2, 1, 3):
        assert book.verified(b)
    assert book.verified(2) is False
    assert book.verified_height == 3 and 1 not in book.entries and book.state(1) == VERIFIED
    assert [r for r in book.proofs_awaiting_l1()] == list(range(4, 21))


def test_admission_closes_when_proving_or_the_l1_falls_behind():
    book = JobBook(max_unproven=2, max_unverified=3)
    assert book.admission_open()
    book.add(1, 1, None)
    assert book.admission_open()
    book.add(2, 1, None)
    assert not book.admission_open()              # two batches wait for a proof
    for _ in range(2):
        a = book.next_assignment(["w"])
        book.proven(a.batch, a.attempt, "p")
    assert book.admission_open()
    book.add(3, 1, None)
    a = book.next_assignment(["w"])
    book.proven(3, a.attempt, "p")
    assert not book.admission_open()              # three proofs wait for the L1
    book.verified(1)
    assert book.admission_open()


def test_bad_limits_are_refused():
    with pytest.raises(ValueError):
        JobBook(max_attempts=0)
    with pytest.raises(ValueError):
        JobBook(max_unproven=5, max_unverified=2)
