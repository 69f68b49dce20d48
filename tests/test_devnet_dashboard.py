"""The dashboard of a real devnet, in a real headless browser: while CPU provers prove the
load's batches and the embedded L1 verifies them, the page shows the run live; once the run has
drained, its tiles, charts, table and workers agree with /metrics and the JSON API, and with what
the devnet itself counted (transfers accepted, batches on the L1) and recorded (metrics.jsonl)."""

from __future__ import annotations

import json
import threading
import time

import pytest

from .dashboard_util import browser_missing, check_dashboard, expected_figures, get, scrape

ray = pytest.importorskip("ray")
pytest.importorskip("pyrevm")

from node.pipeline.devnet import Devnet, DevnetConfig  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

needs_browser = pytest.mark.skipif(browser_missing() is not None, reason=str(browser_missing()))


class RunInBackground(threading.Thread):
    """The load and the drain of a started devnet, from a thread, so that the test can watch the
    page meanwhile; the devnet (and so its dashboard) stays up until the test stops it."""

    def __init__(self, net: Devnet):
        super().__init__(name="devnet-run", daemon=True)
        self.net = net
        self.load = self.checks = self.error = None

    def run(self):
        try:
            self.load = self.net.run_load()
            self.checks = self.net.check(self.load, self.net.drain())
        except BaseException as e:  # reported by the test that joins the thread
            self.error = e


@needs_browser
def test_dashboard_follows_a_real_devnet(tmp_path):
    # The load's duration is only an upper bound: the test ends it (Devnet.load_ended) once the
    # page has shown a batch verified on the L1 while transfers were still being sent.
    cfg = DevnetConfig(duration=20, tps=60, workers=1, provers="cpu", log2_rows=7, accounts=16,
                       batch_deadline=0.5, rpc_port=0, dashboard_port=0, run_dir=str(tmp_path / "run"),
                       out=print)
    net = Devnet(cfg)
    try:
        net.start()
        url = net.dashboard_url
        assert url and url.startswith("http://127.0.0.1:")
        run = RunInBackground(net)
        run.start()
        seen = {}

        def while_running(page):
            # The page shows batches verified on the L1 while transfers are still being sent, and
            # keeps taking in new events.
            assert page.evaluate("document.body.dataset.status") == "live"
            page.wait_for_selector("#batches tbody td[data-col='status'][data-value='l1_verified']", timeout=20_000)
            seen["events"] = page.evaluate("Number(document.body.dataset.events)")
            page.wait_for_function(f"Number(document.body.dataset.events) > {seen['events']}", timeout=5_000)
            seen["load_running"] = run.load is None
            net.load_ended.set()
            seen["updates"] = page.evaluate("Number(document.body.dataset.updates)")
            # Compare the settled figures: wait for the devnet to drain (every batch on the L1).
            run.join(timeout=60)
            assert not run.is_alive() and run.error is None, run.error
            # The last batches' L1 events reach the metrics a moment after the drain returns:
            # let the page catch up before its figures are compared.
            page.wait_for_function(
                "[...document.querySelectorAll(\"#batches tbody td[data-col='status']\")]"
                ".every((td) => td.dataset.value === 'l1_verified')", timeout=20_000)

        shot = tmp_path / "devnet-dashboard.png"
        pg = check_dashboard(url, screenshot=shot, timeout=20, min_batches=1, during=while_running)
        assert seen["load_running"], "the page should show verified batches while the load is running"
        checks, load = run.checks, run.load
        assert checks["ok"], checks
        prom_text = get(url, "/metrics").decode()
        prom = scrape(url)
    finally:
        net.stop()

    # /metrics parses as Prometheus text, with every family the page reads.
    families = {f.name: f for f in text_string_to_metric_families(prom_text)}
    assert {"zkpipe_transaction_latency_seconds", "zkpipe_batch_stage_seconds", "zkpipe_batches_verified",
            "zkpipe_verified_height", "zkpipe_worker_busy_seconds"} <= set(families)
    assert families["zkpipe_transaction_latency_seconds"].type == "histogram"

    # The page against what the devnet itself counted.
    k = pg["keyed"]
    batches = checks["batches"]                   # batches are numbered from 1, as on the L1
    assert k["counters.transactions_received"] == load.accepted == checks["executed"] > 0
    assert k["transactions.executed.count"] == k["transactions.l1_verified.count"] == load.accepted
    assert k["counters.batches_verified"] == k["counters.batches_proven"] == batches
    assert k["gauges.verified_height"] == checks["l1_last_batch"] == prom[("zkpipe_verified_height", ())]
    assert k["gas.count"] == batches and k["gas.mean"] > 0
    rows = pg["rows"]
    assert [r["batch"] for r in rows] == list(range(batches, max(0, batches - 25), -1))
    assert all(r["status"] == "l1_verified" and r["proof"] > 0 and r["gas"] > 0 for r in rows), rows
    if batches <= 25:  # the table's first page holds the whole run
        assert sum(r["transfers"] for r in rows) == load.accepted
    assert pg["charts"]["tx_latency"]["series"]["p99"]["drawn"] >= 2
    assert pg["charts"]["throughput"]["series"]["l1_verified"]["drawn"] >= 2
    assert pg["charts"]["waterfall"]["bars"]
    assert len(pg["workers"]) == 1
    assert pg["updates"] > seen["updates"]

    # ... and against the run file the devnet recorded.
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    expected = expected_figures([json.loads(line) for line in lines[1:]])
    assert {name: k[f"counters.{name}"] for name in expected["counters"]} == expected["counters"]
    assert k["transactions.l1_verified.count"] == expected["tx_counts"]["l1_verified"]
    for r in rows:
        b = expected["batches"][r["batch"]]
        assert (r["status"], r["transfers"], r["gas"]) == (b["status"], b["transfers"], b["gas"])

    assert shot.stat().st_size > 50_000
    print(f"screenshot: {shot}")
