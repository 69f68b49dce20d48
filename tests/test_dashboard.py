"""The dashboard server: its JSON API and errors, the live channel, `zkpipe dashboard` on a saved
run, the page in a real headless browser (live and saved runs), and 10,000 batches of history."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bench.dashboard import simulated_run
from node.dashboard import start_dashboard
from node.metrics import Metrics

from .dashboard_util import Replay, browser_missing, check_dashboard, expected_figures, get, get_json

ROOT = Path(__file__).resolve().parents[1]
T = 1_700_000_000.0
needs_browser = pytest.mark.skipif(browser_missing() is not None, reason=str(browser_missing()))


@pytest.fixture
def serve():
    stops = []

    def start(metrics):
        url, stop = start_dashboard(metrics)
        stops.append(stop)
        return url

    yield start
    for stop in stops:
        stop()


def fed(events, **kwargs) -> Metrics:
    m = Metrics(**kwargs)
    for ev in events:
        m.event(ev)
    return m


def http_error(url: str) -> tuple[int, dict]:
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url, timeout=5)
    return e.value.code, json.loads(e.value.read())


# ------------------------------------------------------------------------------------ the API

def test_api_serves_the_metrics_and_rejects_bad_requests(serve):
    m = fed(simulated_run(40, t0=T, fail_every=9))
    url = serve(m)
    base = url.rstrip("/")
    assert url.startswith("http://127.0.0.1:")
    assert get_json(url, "/api/summary") == json.loads(json.dumps(m.summary()))
    page = get_json(url, "/api/batches?limit=10")
    assert [b["batch"] for b in page["batches"]] == list(range(39, 29, -1))
    assert [b["batch"] for b in get_json(url, "/api/batches?limit=3&before=30")["batches"]] == [29, 28, 27]
    assert get_json(url, "/api/batches?before=0")["batches"] == []
    series = get_json(url, "/api/series")
    assert series == json.loads(json.dumps(m.series_json()))
    tail = get_json(url, f"/api/series?since={series['t'][-3]}")
    assert tail["t"] == series["t"][-3:] and tail["tx_rate"]["executed"] == series["tx_rate"]["executed"][-3:]
    with urllib.request.urlopen(base + "/metrics") as r:
        assert r.headers["Content-Type"].startswith("text/plain") and b"zkpipe_batches_verified_total 40.0" in r.read()
    with urllib.request.urlopen(base + "/") as r:
        assert r.headers["Content-Type"].startswith("text/html") and b"/static/app.js" in r.read()
    for name, kind in (("app.js", "text/javascript"), ("charts.js", "text/javascript"), ("style.css", "text/css")):
        with urllib.request.urlopen(f"{base}/static/{name}") as r:
            assert r.headers["Content-Type"].startswith(kind)

    assert http_error(base + "/api/batches?limit=0") == (400, {"error": "limit must be between 1 and 500, got 0"})
    assert http_error(base + "/api/batches?limit=5000")[0] == 400
    assert http_error(base + "/api/batches?limit=ten") == (400, {"error": "limit must be an integer, got 'ten'"})
    assert http_error(base + "/api/batches?before=-4")[1]["error"] == "before must be at least 0, got -4"
    assert http_error(base + "/api/series?since=yesterday")[1]["error"].startswith("since must be a number")
    assert http_error(base + "/api/series?since=nan")[0] == 400
    assert http_error(base + "/api/nothing") == (404, {"error": "no such path: /api/nothing"})
    assert http_error(base + "/static/../metrics/sink.py")[0] == 404


def read_sse(stream) -> dict:
    """The next `update` event's data from an open SSE response."""
    kind, data = None, []
    for raw in stream:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            data.append(line[6:])
        elif line == "" and kind == "update":
            return json.loads("".join(data))
    raise AssertionError("the stream ended")


def test_live_channel_sends_changes_and_closes_on_stop():
    m = Metrics()
    url, stop = start_dashboard(m)
    try:
        stream = urllib.request.urlopen(url + "api/stream?limit=5", timeout=10)
        assert stream.headers["Content-Type"] == "text/event-stream"
        first = read_sse(stream)
        assert first["summary"]["events"] == 0 and first["batches"] == [] and first["series"]["t"] == []
        events = simulated_run(8, t0=T)
        for ev in events:
            m.event(ev)
        update = read_sse(stream)
        # Updates are sent when the metrics change; wait for the one carrying all the events.
        while update["summary"]["events"] < len(events):
            update = read_sse(stream)
        assert update["summary"]["events"] == len(events)
        assert [b["batch"] for b in update["batches"]] == [7, 6, 5, 4, 3]
        assert update["series"]["t"] == m.series_json()["t"]
        # The next update starts at the first bucket that could still change.
        m.event({"type": "counter", "name": "retries", "inc": 1, "t": events[-1]["t"]})
        nxt = read_sse(stream)
        assert nxt["series"]["t"][0] == update["series"]["closed_until"]
        assert nxt["summary"]["counters"]["retries"] == update["summary"]["counters"]["retries"] + 1
    finally:
        stop()
    assert stream.read() == b""  # stop() ends the live channel
    port = int(url.rsplit(":", 1)[1].strip("/"))
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2)


# ------------------------------------------------------------------------------------ the CLI

def test_zkpipe_dashboard_opens_a_saved_run(tmp_path):
    path = tmp_path / "run.jsonl"
    rec = Metrics(record=path)
    for ev in simulated_run(12, t0=T, fail_every=5):
        rec.event(ev)
    rec.close()
    proc = subprocess.Popen([sys.executable, "-m", "node.cli", "dashboard", "--run", str(path), "--port", "0"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        assert lines[0].startswith(f"saved run {path}: ") and "12 batches" in lines[0], lines
        url = lines[1].split()[1]
        summary = get_json(url, "/api/summary")
        assert summary["live"] is False and summary["source"] == str(path)
        want = rec.summary()
        for key in ("events", "counters", "gauges", "transactions", "batch_stages", "workers", "gas"):
            assert summary[key] == json.loads(json.dumps(want[key])), key
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=30)      # a bound for a stopped process, generous for a loaded CI machine
    assert rc == 0

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "gauge", "name": "queue_depth", "value": 1, "t": 5}\n{"type": "gauge", "t": 6}\n')
    res = subprocess.run([sys.executable, "-m", "node.cli", "dashboard", "--run", str(bad), "--port", "0"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip() == f"zkpipe dashboard: {bad}:2: gauge event: missing 'name', 'value'"


# ------------------------------------------------------------------------------- the browser

@needs_browser
def test_page_follows_a_live_run(serve, tmp_path):
    m = Metrics()
    url = serve(m)
    events = simulated_run(28, batch_interval_s=0.25, tps=3000, workers=3, proof_s=0.6, fail_every=8,
                           seed=int(time.time()))
    replay = Replay(events, m.event, lead_s=1.0)
    expected = expected_figures(replay.shifted())
    seen = {}

    def while_running(page):
        # The page shows the run while it is still going, and keeps up with it.
        seen["events"] = page.evaluate("Number(document.body.dataset.events)")
        assert page.evaluate("document.body.dataset.status") == "live"
        assert 0 < seen["events"] < len(events), "the run should still be going"
        page.wait_for_function(f"Number(document.body.dataset.events) > {seen['events']}", timeout=5000)
        page.wait_for_selector(".worker[data-state='busy'][data-batch]", timeout=10000)
        seen["updates"] = page.evaluate("Number(document.body.dataset.updates)")

    replay.start()
    shot = tmp_path / "dashboard-live.png"
    pg = check_dashboard(url, expected, screenshot=shot, timeout=40, min_batches=2, during=while_running)
    replay.join(timeout=5)
    assert replay.error is None and replay.delivered == len(events)
    assert pg["events"] == len(events) and pg["updates"] > seen["updates"] >= 2
    assert len(pg["rows"]) == 25 and pg["rows"][0]["batch"] == 27 and pg["rows"][0]["status"] == "l1_verified"
    assert pg["charts"]["tx_latency"]["points"] >= 5 and pg["charts"]["throughput"]["series"]["l1_verified"]["drawn"] >= 3
    assert len(pg["charts"]["waterfall"]["bars"]) == 20
    assert "prover-0" in pg["text"] and "Recent batches" in pg["text"]
    assert shot.stat().st_size > 50_000
    print(f"screenshot: {shot}")


@needs_browser
def test_page_shows_a_saved_run(tmp_path, serve):
    path = tmp_path / "run.jsonl"
    events = simulated_run(15, t0=T, fail_every=4, workers=2)
    rec = Metrics(record=path)
    for ev in events:
        rec.event(ev)
    rec.close()
    url = serve(Metrics.load(path))
    pg = check_dashboard(url, expected_figures(events), screenshot=tmp_path / "dashboard-saved.png", timeout=20)
    assert pg["status"] == "saved" and "saved run" in pg["text"]
    assert [r["batch"] for r in pg["rows"]] == list(range(14, -1, -1))
    assert sum(1 for r in pg["rows"] if r["attempt"] == 2) == 3  # batches 3, 7, 11 were retried


# ------------------------------------------------------------------------ 10,000 batches of history

@pytest.fixture(scope="module")
def long_run():
    # A batch every 0.36 s: 10,500 batches also fill the ring of 3600 one-second buckets.
    events = simulated_run(10_500, batch_interval_s=0.36, tps=400, workers=4, proof_s=0.6, fail_every=50,
                           t0=T, tx_event_s=1.0)
    m = Metrics()
    for ev in events:
        m.event(ev)
    url, stop = start_dashboard(m)
    yield m, url, events
    stop()


def test_api_answers_over_10000_batches(long_run):
    """Every API path answers correctly over the whole history; how fast is bench.dashboard's
    measure (`python -m bench.dashboard`), not a test's."""
    m, url, events = long_run
    s = get_json(url, "/api/summary")
    assert s["history"]["batches"] == 10_000 and s["history"]["dropped"] == 500
    assert s["history"]["oldest"] == 500 and s["history"]["newest"] == 10_499
    assert s["history"]["buckets"] == s["history"]["max_buckets"] == 3600
    assert s["counters"]["batches_verified"] == 10_500  # the totals still count every batch
    assert [b["batch"] for b in get_json(url, "/api/batches?limit=25")["batches"]] == list(range(10_499, 10_474, -1))
    assert [b["batch"] for b in get_json(url, "/api/batches?limit=25&before=5000")["batches"]] == list(range(4999, 4974, -1))
    assert len(get_json(url, "/api/batches?limit=500")["batches"]) == 500
    assert get_json(url, "/api/batches?before=500")["batches"] == []     # older ones were dropped
    every = get_json(url, "/api/series")                                   # the page's "all" window
    assert len(every["t"]) == 3600
    recent = get_json(url, f"/api/series?since={s['t_last'] - 300}")
    assert 0 < len(recent["t"]) < 3600 and recent["t"] == every["t"][-len(recent["t"]):]
    assert b"zkpipe_batches_verified_total 10500" in get(url, "/metrics")


@needs_browser
def test_page_stays_responsive_with_10000_batches(long_run, tmp_path):
    m, url, events = long_run
    timing = {}

    def page_through(page):
        timing["ready_ms"] = page.evaluate("performance.now()")
        first = page.evaluate("[...document.querySelectorAll('#batches tbody tr')].map(r => Number(r.dataset.batch))")
        assert first == list(range(10_499, 10_474, -1))
        t = time.perf_counter()
        page.click("#older")
        page.wait_for_function("document.querySelector('#batches tbody tr').dataset.batch === '10474'")
        timing["page_ms"] = (time.perf_counter() - t) * 1000
        older = page.evaluate("[...document.querySelectorAll('#batches tbody tr')].map(r => Number(r.dataset.batch))")
        assert older == list(range(10_474, 10_449, -1))
        page.click("button[data-window='0']")  # the whole history in the charts
        t = time.perf_counter()
        page.wait_for_function("document.querySelector('#chart-throughput').dataset.points >= 3600")
        timing["all_ms"] = (time.perf_counter() - t) * 1000
        page.click("#newest")
        page.wait_for_function("document.querySelector('#batches tbody tr').dataset.batch === '10499'")

    pg = check_dashboard(url, expected_figures(events), screenshot=tmp_path / "dashboard-10k.png", timeout=30,
                         during=page_through)
    assert pg["keyed"]["counters.batches_verified"] == 10_500
    assert timing["ready_ms"] < 8000 and timing["page_ms"] < 2000 and timing["all_ms"] < 5000, timing
    print(json.dumps({k: round(v) for k, v in timing.items()}))
