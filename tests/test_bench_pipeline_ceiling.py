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


def test_batch_steps_split_a_batch_after_its_seal():
    from node.pipeline.summary import batch_steps

    log = EventLog()
    phases = {"witness": 50.0, "msm": 400.0}                  # 450 ms of the worker's own work
    for b, t in ((1, 0.0), (2, 0.52)):                        # batch 2 sealed after proof 1 ended
        for stage, dt in (("executed", 0.0), ("proof_queued", 0.004), ("proof_started", 0.005),
                          ("proof_done", 0.505), ("l1_submitted", 0.515), ("l1_verified", 0.535)):
            log(batch_event(b, stage, t=t + dt, transfers=10,
                            **({"phases_ms": phases} if stage == "proof_done" else {})))
    steps = batch_steps(log)
    assert steps == {"to_coordinator": 4.0, "queued": 1.0, "to_submitter": 10.0, "l1_verification": 20.0,
                     "proving": 450.0, "worker_hand_off": 50.0, "prover_idle_gap": 20.0}
    log(batch_event(3, "executed", t=0.9))                    # sealed while proof 2 ran: no gap
    log(batch_event(3, "proof_started", t=1.03))
    assert batch_steps(log)["prover_idle_gap"] == 20.0
