"""`zkpipe devnet` end to end on this machine: the load generator's signed transfers go in over
JSON-RPC, and every one of them ends in a batch verified by the rollup contract on the embedded
L1, whose state then equals the executor's. Under a load the provers cannot keep up with,
admission slows down instead of queueing without bound, and still nothing is lost."""

import json

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("pyrevm")

from node.pipeline.devnet import DevnetConfig, run_devnet  # noqa: E402


def quiet(line):
    print(line)


def test_devnet_every_transfer_reaches_the_l1(tmp_path):
    cfg = DevnetConfig(duration=6, tps=60, workers=1, provers="cpu", log2_rows=7, accounts=16,
                       batch_deadline=0.5, rpc_port=0, dashboard_port=None, run_dir=str(tmp_path / "run"),
                       out=quiet)
    summary, ok = run_devnet(cfg)
    checks = summary["checks"]
    assert ok, checks
    assert checks["accepted"] == 360 == checks["executed"] == checks["in_verified_batches"]
    assert checks["l1_last_batch"] == checks["batches"] >= 6 and checks["l1_state_matches_executor"]
    lat = summary["latency_s"]
    assert lat["executed"]["count"] == lat["l1_verified"]["count"] == 360
    assert 0 < lat["executed"]["p50"] <= lat["l1_verified"]["p50"] <= lat["l1_verified"]["p99"]
    saved = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert saved["checks"] == checks
    events = tmp_path / "run" / ("metrics.jsonl" if (tmp_path / "run" / "metrics.jsonl").exists() else "events.jsonl")
    stages = {json.loads(line).get("stage") for line in events.read_text().splitlines()[1:]}
    assert {"proof_done", "l1_verified", "executed"} <= stages


def test_devnet_back_pressure_slows_admission_and_loses_nothing(tmp_path):
    """One batch may wait for a proof at a time; the load is far above what one CPU prover
    with short batches sustains, so admission waits (and refuses whole chunks, which the
    load generator sends again)."""
    cfg = DevnetConfig(duration=5, tps=400, workers=1, provers="cpu", log2_rows=8, accounts=32,
                       batch_deadline=0.2, max_unproven=1, max_unverified=2, admit_wait_s=0.3,
                       rpc_port=None, dashboard_port=None, run_dir=str(tmp_path / "run"), out=quiet)
    summary, ok = run_devnet(cfg)
    checks = summary["checks"]
    assert ok, checks
    assert checks["admission_waited"] > 0
    assert checks["accepted"] == checks["executed"] == checks["in_verified_batches"] > 0
