"""`zkpipe devnet` end to end on this machine: the load generator's signed transfers go in over
JSON-RPC, so do a user's beside them, and every one of them ends in a batch verified by the rollup
contract on the embedded L1, whose state then equals the executor's. Under a load the provers
cannot keep up with, admission slows down instead of queueing without bound, and still nothing
is lost."""

import json
import threading
import time

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("pyrevm")

from node.pipeline.devnet import DevnetConfig, run_devnet  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def one_ray():
    """One local Ray for both devnets (starting one costs ~5 s on two cores): a devnet joins a
    Ray already running in its process, as it does inside a Ray job, and leaves it running."""
    import os
    ray.init(address="local", num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def quiet(line):
    print(line)


def user_sends(url: str, count: int, acked: list) -> None:
    """A user of the devnet, not its load: the faucet's transfers over eth_sendRawTransaction."""
    import requests

    from node.genesis import DEFAULT_CHAIN_ID, DEV_FAUCET_PRIVATE_KEY
    from node.transactions import sign_transfer
    deadline = time.monotonic() + 120
    while len(acked) < count and time.monotonic() < deadline:
        raw = sign_transfer(DEV_FAUCET_PRIVATE_KEY, chain_id=DEFAULT_CHAIN_ID, nonce=len(acked), to=b"\x22" * 20, value=3)
        try:
            reply = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction",
                                             "params": ["0x" + raw.hex()]}, timeout=30).json()
        except requests.ConnectionError:
            time.sleep(0.5)                  # not serving yet
            continue
        assert "result" in reply, reply
        acked.append(reply["result"])
        time.sleep(0.3)


def test_devnet_every_transfer_reaches_the_l1(tmp_path):
    from node.l1.anvil import free_port
    port = free_port()
    cfg = DevnetConfig(duration=6, tps=60, workers=1, provers="cpu", log2_rows=7, accounts=16,
                       batch_deadline=0.5, rpc_port=port, dashboard_port=None, run_dir=str(tmp_path / "run"),
                       out=quiet)
    acked: list = []
    user = threading.Thread(target=user_sends, args=(f"http://127.0.0.1:{port}", 5, acked), daemon=True)
    user.start()
    summary, ok = run_devnet(cfg)
    user.join(10)
    checks = summary["checks"]
    assert ok, checks
    assert len(acked) == 5
    assert checks["accepted"] == 360 and checks["executed"] == checks["in_verified_batches"] == 365
    assert checks["l1_last_batch"] == checks["batches"] >= 6 and checks["l1_state_matches_executor"]
    lat = summary["latency_s"]
    assert lat["executed"]["count"] == lat["l1_verified"]["count"] == 365
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
