"""bench.pipeline --find-ceiling's reading of a run: the load's rate kept up with, and which
stage saturated, from the pipeline's own events."""

from bench.pipeline import kept_up_tps, prover_use, saturating_stage
from node.pipeline.events import EventLog, batch_event
from node.pipeline.loadgen import LoadReport


def run_log(batches):
    """An EventLog of batches (index, transfers, proof start, proof end, L1 verified), as the
    coordinator and executor report them."""
    log = EventLog()
    for b, n, start, done, verified in batches:
        log(batch_event(b, "executed", t=start, transfers=n))
        log(batch_event(b, "proof_started", t=start))
        log(batch_event(b, "proof_done", t=done, transfers=n, phases_ms={"witness": 10.0, "msm": 90.0}))
        log(batch_event(b, "l1_verified", t=verified, transfers=n))
    return log


def test_kept_up_counts_what_the_l1_verified_within_two_proofs_of_the_load_end():
    load = LoadReport(started=0.0, finished=10.0)
    load.accepted = 1000
    log = run_log([(1, 500, 0.0, 5.0, 5.1), (2, 400, 5.0, 10.0, 11.4), (3, 100, 10.0, 20.0, 20.1)])
    assert kept_up_tps(log, load, proof_s=0.5) == 90.0     # batch 3 came 10 s after the load
    assert kept_up_tps(log, load, proof_s=5.0) == 100.0    # within 2 × 5 s + 0.5 s: kept up
    use = prover_use(log, workers=1)
    assert use == {"provers_busy": 1.0, "trace_share": 0.1}


def test_saturating_stage():
    first = {"stage_delay_p50_s": {"admission and signature recovery": 0.01, "execution": 0.01,
                                   "batching and proving": 0.6, "L1": 0.05}}
    row = {"provers_busy": 0.97, "batch_fill": 0.95, "trace_share": 0.04, "accepted_tps": 1000.0,
           "offered_tps": 1000.0, "follow": 0.9, "admission_waited": 12,
           "stage_delay_p50_s": {"admission and signature recovery": 0.01, "execution": 0.01,
                                 "batching and proving": 5.0, "L1": 0.05}}
    assert saturating_stage(row, first) == "proving"
    assert saturating_stage({**row, "trace_share": 0.6}, first) == "trace building"
    # Busy on batches far from full: the prover keeps up; the L1's delay grew.
    light = {**row, "batch_fill": 0.2, "stage_delay_p50_s": {**first["stage_delay_p50_s"], "L1": 3.0}}
    assert saturating_stage(light, first) == "L1"
    # Not even admitted, and no back-pressure from downstream.
    slow = {**light, "accepted_tps": 500.0, "admission_waited": 0}
    assert saturating_stage(slow, first) == "admission and signature recovery"
