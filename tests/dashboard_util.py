"""Helpers for the dashboard tests: a real-time event producer, the figures a list of events
implies, scraping /metrics, and `check_dashboard`, the headless-browser check of a served
dashboard (reused by the devnet test against a real run)."""

from __future__ import annotations

import json
import math
import shutil
import threading
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
COUNTERS = ("transactions_received", "transactions_rejected", "retries", "failures", "batches_proven",
            "batches_verified")
HEIGHTS = ("verified_height", "proven_height", "executed_height")
TX_STAGES = ("received", "sequenced", "executed", "proven", "l1_verified")


def browser_missing() -> str | None:
    """Why the browser test cannot run here, or None when it can."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} not found (bash scripts/setup_browser.sh installs Debian's chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed"
    return None


class Replay(threading.Thread):
    """Feeds events to `sink` at their own times: event times are shifted so the first lands
    `lead_s` from now, and each is delivered when the clock reaches it."""

    def __init__(self, events: list[dict], sink, lead_s: float = 0.2):
        super().__init__(name="event-replay", daemon=True)
        self.events, self.sink = events, sink
        self.shift = time.time() + lead_s - events[0]["t"]
        self.error: BaseException | None = None
        self.delivered = 0

    def shifted(self) -> list[dict]:
        """The events as they will be delivered (with their shifted times)."""
        return [dict(ev, t=ev["t"] + self.shift) for ev in self.events]

    def run(self):
        try:
            for ev in self.shifted():
                delay = ev["t"] - time.time()
                if delay > 0:
                    time.sleep(delay)
                self.sink(ev)
                self.delivered += 1
        except BaseException as e:  # reported by the test that joins the thread
            self.error = e


def expected_figures(events: list[dict]) -> dict:
    """What a dashboard fed `events` must show, computed directly from the events."""
    counters = dict.fromkeys(COUNTERS, 0)
    gauges: dict[str, dict] = {}
    tx_counts = dict.fromkeys(TX_STAGES, 0)
    batches: dict[int, dict] = {}
    gas = []
    for ev in events:
        if ev["type"] == "counter":
            counters[ev["name"]] += ev["inc"]
        elif ev["type"] == "gauge":
            gauges.setdefault(ev["name"], {})[ev.get("worker", "")] = ev["value"]
        elif ev["type"] == "txs":
            tx_counts[ev["stage"]] += len(ev["latencies_s"])
        elif ev["type"] == "batch":
            b = batches.setdefault(ev["batch"], {"batch": ev["batch"]})
            b["status"] = ev["stage"]
            for key in ("transfers", "gas", "phases_ms", "attempt", "worker"):
                if key in ev:
                    b[key] = ev[key]
            if "gas" in ev:
                gas.append(ev["gas"])
    return {
        "counters": counters,
        "gauges": {name: sum(v.values()) for name, v in gauges.items()},
        "tx_counts": tx_counts,
        "batches": batches,
        "gas_count": len(gas),
        "gas_mean": sum(gas) / len(gas) if gas else None,
    }


def get(url: str, path: str) -> bytes:
    with urllib.request.urlopen(url.rstrip("/") + path, timeout=10) as r:
        return r.read()


def get_json(url: str, path: str):
    return json.loads(get(url, path))


def scrape(url: str) -> dict[tuple, float]:
    """/metrics parsed with Prometheus's text parser: (sample name, sorted labels) → value."""
    out = {}
    for fam in text_string_to_metric_families(get(url, "/metrics").decode()):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def close(a, b, rel=1e-9) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=1e-12)


# ------------------------------------------------------------------------------------ the page

_READ_PAGE = """() => {
  const v = (el) => (el == null || el.dataset.value === "" ? null : Number(el.dataset.value));
  const keyed = {};
  document.querySelectorAll("[data-key]").forEach((el) => { keyed[el.dataset.key] = v(el); });
  const rows = [...document.querySelectorAll("#batches tbody tr")].map((tr) => {
    const row = {batch: Number(tr.dataset.batch)};
    tr.querySelectorAll("td[data-col]").forEach((td) => {
      row[td.dataset.col] = td.dataset.col === "status" || td.dataset.col === "worker"
        ? (td.dataset.value || null) : v(td);
    });
    return row;
  });
  const charts = {};
  document.querySelectorAll("svg[data-chart]").forEach((svg) => {
    const series = {};
    svg.querySelectorAll("path[data-series]").forEach((p) => {
      series[p.dataset.series] = {count: Number(p.dataset.count), last: p.dataset.last === "" ? null : Number(p.dataset.last),
                                  drawn: (p.getAttribute("d") || "").split(/[ML]/).length - 1};
    });
    const bars = [...svg.querySelectorAll("g.bar-row")].map((g) => ({batch: Number(g.dataset.key),
      total: Number(g.dataset.total), rects: g.querySelectorAll("rect").length - 1}));
    charts[svg.dataset.chart] = {points: Number(svg.dataset.points || 0), stage: svg.dataset.stage || null,
                                 series, bars, width: svg.getBoundingClientRect().width};
  });
  const workers = [...document.querySelectorAll(".worker[data-worker]")].map((w) => ({worker: w.dataset.worker,
    state: w.dataset.state, batch: w.dataset.batch === "" ? null : Number(w.dataset.batch)}));
  return {status: document.body.dataset.status, updates: Number(document.body.dataset.updates || 0),
          events: Number(document.body.dataset.events || 0), keyed, rows, charts, workers,
          text: document.body.innerText};
}"""


def read_page(page) -> dict:
    return page.evaluate(_READ_PAGE)


def _mismatches(pg: dict, url: str, expected: dict | None) -> list[str]:
    """Every disagreement between the page, /metrics, /api and the expected figures."""
    bad = []
    prom = scrape(url)
    summary = get_json(url, "/api/summary")
    api_batches = get_json(url, f"/api/batches?limit={max(1, len(pg['rows']))}")["batches"]
    k = pg["keyed"]

    def check(what, page_value, reference):
        if not close(page_value, reference):
            bad.append(f"{what}: page shows {page_value!r}, reference {reference!r}")

    if pg["events"] != summary["events"]:
        bad.append(f"page has {pg['events']} events, /api/summary {summary['events']}")
    for name in COUNTERS:
        check(f"counter {name} vs /metrics", k.get(f"counters.{name}"), prom.get((f"zkpipe_{name}_total", ())))
        if expected:
            check(f"counter {name} vs the events fed", k.get(f"counters.{name}"), expected["counters"][name])
    for name in HEIGHTS:
        check(f"gauge {name} vs /metrics", k.get(f"gauges.{name}"), prom.get((f"zkpipe_{name}", ())))
        if expected and name in expected["gauges"]:
            check(f"gauge {name} vs the events fed", k.get(f"gauges.{name}"), expected["gauges"][name])
    check("queue depth vs /metrics", k.get("gauges.queue_depth"), prom.get(("zkpipe_queue_depth", ())))
    for stage in ("executed", "proven", "l1_verified"):
        count = prom.get(("zkpipe_transaction_latency_seconds_count", (("stage", stage),)))
        check(f"{stage} transactions vs /metrics", k.get(f"transactions.{stage}.count"), count)
        if expected:
            check(f"{stage} transactions vs the events fed", k.get(f"transactions.{stage}.count"),
                  expected["tx_counts"][stage])
        for q in ("p50", "p99"):
            check(f"{stage} {q} vs /api/summary", k.get(f"transactions.{stage}.{q}"), summary["transactions"][stage][q])
        p99 = summary["transactions"][stage]["p99"]
        if p99 is not None:  # the fine percentile must sit in the right Prometheus bucket
            le = [float(dict(lb)["le"]) for (n, lb), v in prom.items()
                  if n == "zkpipe_transaction_latency_seconds_bucket" and dict(lb)["stage"] == stage and v >= 0.99 * count]
            if p99 > min(le) * 1.011:
                bad.append(f"{stage} p99 {p99} above the first bucket holding 99% ({min(le)})")
    check("proofs vs /metrics", k.get("batch_stages.proof_done.count"),
          prom.get(("zkpipe_batch_stage_seconds_count", (("stage", "proof_done"),))))
    check("proof p99 vs /api/summary", k.get("batch_stages.proof_done.p99"), summary["batch_stages"]["proof_done"]["p99"])
    gas_count = prom.get(("zkpipe_l1_verification_gas_count", ()))
    check("gas count vs /metrics", k.get("gas.count"), gas_count)
    if gas_count:
        check("gas mean vs /metrics", k.get("gas.mean"), prom[("zkpipe_l1_verification_gas_sum", ())] / gas_count)
    if expected:
        check("gas count vs the events fed", k.get("gas.count"), expected["gas_count"])
        check("gas mean vs the events fed", k.get("gas.mean"), expected["gas_mean"])

    # The table: the newest batches, in order, with their figures.
    if [r["batch"] for r in pg["rows"]] != [b["batch"] for b in api_batches]:
        bad.append(f"table rows {[r['batch'] for r in pg['rows']]} ≠ /api/batches {[b['batch'] for b in api_batches]}")
    for row, b in zip(pg["rows"], api_batches):
        exp = expected["batches"].get(row["batch"], {}) if expected else {}
        for col, ref, fed in (("transfers", b["transfers"], exp.get("transfers")), ("gas", b["gas"], exp.get("gas")),
                              ("proof", b["stage_s"].get("proof_done"), None)):
            check(f"batch {row['batch']} {col} vs /api/batches", row.get(col), ref)
            if expected and fed is not None:
                check(f"batch {row['batch']} {col} vs the events fed", row.get(col), fed)
        if row.get("status") != b["status"] or (expected and row.get("status") != exp.get("status")):
            bad.append(f"batch {row['batch']} status {row.get('status')} vs {b['status']} / {exp.get('status')}")
        for phase in ("witness", "ntt", "msm", "quotient", "openings"):
            ref = (b["phases_ms"] or {}).get(phase)
            check(f"batch {row['batch']} {phase} vs /api/batches", row.get(phase), ref)
            if expected and "phases_ms" in exp:
                check(f"batch {row['batch']} {phase} vs the events fed", row.get(phase), exp["phases_ms"].get(phase))

    # The charts: drawn from the API's series, with the latest values where the API has them.
    series = get_json(url, "/api/series")
    lat = pg["charts"].get("tx_latency", {})
    stage = lat.get("stage") or "executed"
    for q in ("p50", "p99"):
        api_values = [v for v in series["tx_latency"][stage][q] if v is not None]
        drawn = lat.get("series", {}).get(q)
        if drawn is None or drawn["count"] < min(2, len(api_values)) or drawn["drawn"] < min(2, len(api_values)):
            bad.append(f"latency chart {q}: {drawn} for {len(api_values)} points in /api/series")
        elif api_values:
            check(f"latency chart {q} latest vs /api/series", drawn["last"], api_values[-1])
    thr = pg["charts"].get("throughput", {}).get("series", {})
    if not thr or thr.get("received", {}).get("drawn", 0) < 2:
        bad.append(f"throughput chart has no line: {thr}")
    bars = pg["charts"].get("waterfall", {}).get("bars", [])
    by_batch = {b["batch"]: b for b in api_batches}
    if not bars:
        bad.append("the waterfall shows no batches")
    for bar in bars:
        b = by_batch.get(bar["batch"])
        if b is None:
            bad.append(f"waterfall batch {bar['batch']} not among the newest batches")
            continue
        if not close(bar["total"], sum(b["stage_s"].values()), rel=1e-6):
            bad.append(f"waterfall batch {bar['batch']}: bar total {bar['total']} ≠ stage sum {sum(b['stage_s'].values())}")
    # The workers, with what each is proving.
    want = {w["worker"]: (w["state"], w["batch"]) for w in summary["workers"]}
    got = {w["worker"]: (w["state"], w["batch"]) for w in pg["workers"]}
    if want != got:
        bad.append(f"workers on the page {got} ≠ /api/summary {want}")
    for w in summary["workers"]:
        check(f"worker {w['worker']} busy seconds vs /metrics", w["busy_s"],
              round(prom.get(("zkpipe_worker_busy_seconds_total", (("node", w["node"]), ("worker", w["worker"])))), 6))
    return bad


def check_dashboard(url: str, expected: dict | None = None, *, screenshot: str | Path | None = None,
                    timeout: float = 30.0, min_batches: int = 1, during=None) -> dict:
    """Opens the dashboard at `url` in headless Chromium, waits for live data, and checks that the
    tiles, charts, table and workers agree with /metrics and /api (and with `expected`, the
    figures from `expected_figures`, once the page has caught up with them). `during(page)` runs
    once the page shows live data, while the run may still be going. Saves a full-page
    screenshot to `screenshot`. Returns the page as read at the end; raises AssertionError
    listing every mismatch if they do not settle within `timeout`."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium") or CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
            page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.goto(url)
            # Live data: the page has drawn the run's events and at least min_batches rows.
            page.wait_for_function(
                f"Number(document.body.dataset.events || 0) > 0 && "
                f"document.querySelectorAll('#batches tbody tr').length >= {min_batches}",
                timeout=timeout * 1000)
            if during is not None:
                during(page)
            deadline = time.monotonic() + timeout
            while True:
                pg = read_page(page)
                bad = _mismatches(pg, url, expected)
                if not bad and read_page(page)["events"] == pg["events"]:
                    break
                if time.monotonic() > deadline:
                    raise AssertionError("dashboard does not match its sources:\n  " + "\n  ".join(bad[:30]))
                time.sleep(0.5)
            if screenshot is not None:
                page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    if errors:
        raise AssertionError("the page reported errors:\n  " + "\n  ".join(errors))
    return pg
