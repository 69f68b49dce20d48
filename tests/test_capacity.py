"""The capacity model (bench.capacity) drives the node's JobBook and reproduces known behaviour."""

import math

import pytest

from bench import capacity
from bench.capacity import ProofCost, Scenario, Stages, simulate

ONE_DOMAIN = ProofCost("test", {10: 0.4})


def test_deadline_batching_reproduces_the_measured_devnet_runs():
    # Today's executor (2 s deadline, one worker, 0.39 s proofs): the README's bench.pipeline runs.
    for run in capacity.validate(capacity.MEASURED_RUNS[:2], duration_s=20.0):
        assert run["simulated_p50_s"] == pytest.approx(run["measured_p50_s"], rel=0.1)
        assert run["simulated_p99_s"] == pytest.approx(run["measured_p99_s"], rel=0.1)


def test_work_conserving_batching_bounds_latency_by_two_proofs():
    # A batch waits at most for the proof in progress, then takes one proof: p99 ≤ 2 proofs + L1.
    r = simulate(Scenario(tps=300, workers=1, cost=ONE_DOMAIN, policy="work_conserving", duration_s=10))
    assert r["complete"] and r["l1_p99_s"] <= 2 * 0.4 + 0.05
    assert r["l1_p50_s"] >= 0.4                 # nothing is faster than one proof
    d = simulate(Scenario(tps=300, workers=1, cost=ONE_DOMAIN, policy="deadline", duration_s=10))
    assert d["l1_p99_s"] > 2.0                  # the deadline dominates today


def test_overload_is_detected_and_the_limit_named():
    # 1 worker × 1024 transfers / 0.4 s ≈ 2 560 tx/s at most; offer 5 000.
    r = simulate(Scenario(tps=5000, workers=1, cost=ONE_DOMAIN, duration_s=6, warmup_s=1))
    assert r["verified_tps"] < 2700 and r["l1_p99_s"] > 2.0
    assert r["admission_closed_share"] > 0      # the book closed admission under back-pressure
    # Admission slower than the load: admission is the limit, more workers do not help.
    slow = Stages(admission_tps=1000)
    n, last = capacity.workers_needed(Scenario(tps=2000, cost=ONE_DOMAIN, stages=slow, duration_s=5, warmup_s=1))
    assert n is None and last["limit"] == "admission"


def test_workers_needed_is_the_smallest_that_meets_the_target():
    base = Scenario(tps=20000, cost=ProofCost("test", {10: 0.1}), stages=Stages(admission_processes=2),
                    duration_s=4, warmup_s=1)
    n, r = capacity.workers_needed(base)
    assert n is not None and r["l1_p99_s"] < 1.0
    assert not capacity.meets(simulate(Scenario(**{**base.__dict__, "workers": n - 1})), 1.0)
    # Throughput alone needs 20 000 / (1024 / 0.1 s) ≈ 2 workers; latency asks for more.
    assert n >= math.ceil(20000 / (1024 / 0.1))


def test_l1_gas_per_second_limits_batches():
    stages = Stages(l1_gas_per_s=253_365 * 2)   # two batches a second
    r = simulate(Scenario(tps=5000, workers=8, cost=ONE_DOMAIN, stages=stages, duration_s=6, warmup_s=1))
    assert r["limit"] == "l1_gas" and not r["complete"]


def test_proof_cost_picks_the_smallest_domain_and_the_gpu_estimate_is_labelled():
    cost = ProofCost("t", {10: 1.0, 12: 2.0})
    assert cost.for_batch(1) == 1.0 and cost.for_batch(1024) == 1.0 and cost.for_batch(1025) == 2.0
    with pytest.raises(ValueError):
        cost.for_batch(4097)
    assert capacity.GPU_ESTIMATE.estimate and "estimate" in capacity.GPU_ESTIMATE.label
    assert not capacity.CPU_MEASURED.estimate
    assert capacity.percentiles([(1.0, 99), (5.0, 1)], (50, 99)) == {50: 1.0, 99: 1.0}


def test_pacing_lets_many_workers_take_turns_on_larger_batches():
    # Small batches still pay a whole proof (here 0.1 s at 2^10): unpaced, eight idle workers
    # each grab a sliver of the load; paced, they start one batch every T/N.
    cost = ProofCost("test", {10: 0.1, 14: 0.2})
    runs = {paced: simulate(Scenario(tps=20000, workers=8, cost=cost, max_log2=14, paced=paced,
                                     stages=Stages(admission_processes=6), duration_s=4, warmup_s=1))
            for paced in (True, False)}
    assert runs[True]["transfers_per_batch"] > 1.5 * runs[False]["transfers_per_batch"]
    assert runs[True]["l1_p99_s"] < runs[False]["l1_p99_s"]
