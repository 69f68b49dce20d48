"""Screenshot of the latency dashboard during a real devnet run, for the docs.

Starts a short devnet on this machine (CPU provers, the embedded L1), sends a moderate load, and
once the page has been showing verified batches for most of the run, saves a full-page screenshot
of it from headless Chromium (Debian's /usr/bin/chromium, driven by Playwright; see
scripts/setup_browser.sh). The run is then drained and checked, and everything it started is
stopped; its files go to a temporary folder unless --run-dir is given.

    .venv/bin/python scripts/dashboard_screenshot.py                  # → docs/img/dashboard.png
    .venv/bin/python scripts/dashboard_screenshot.py --duration 30 --tps 200 --out /tmp/d.png
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from node.pipeline.devnet import Devnet, DevnetConfig  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def screenshot_when_filled(url: str, out: Path, *, at: float, min_rows: int, width: int, timeout: float) -> dict:
    """Opens `url`, waits until the monotonic clock reaches `at` and the page shows at least
    `min_rows` batches verified on the L1, then saves a full-page PNG. Returns what it saw."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium") or CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 1000})
            page.goto(url)
            page.wait_for_function(
                "document.querySelectorAll(\"#batches td[data-col='status'][data-value='l1_verified']\").length"
                f" >= {min_rows}", timeout=timeout * 1000)
            time.sleep(max(0.0, at - time.monotonic()))
            # One more live update after the wait, so the tiles and charts are the newest.
            updates = page.evaluate("Number(document.body.dataset.updates || 0)")
            page.wait_for_function(f"Number(document.body.dataset.updates || 0) > {updates}", timeout=10_000)
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out), full_page=True)
            return page.evaluate("({status: document.body.dataset.status, events: Number(document.body.dataset.events),"
                                 " rows: document.querySelectorAll('#batches tbody tr').length})")
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "dashboard.png")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds of load")
    ap.add_argument("--tps", type=float, default=100.0, help="offered transfers per second")
    ap.add_argument("--log2-rows", type=int, default=7, help="ledger circuit size (transfers per batch: 2^k)")
    ap.add_argument("--batch-deadline", type=float, default=1.0, help="seconds a batch stays open at most")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--width", type=int, default=1400, help="viewport width in CSS pixels")
    ap.add_argument("--shot-at", type=float, default=0.85, help="when to shoot, as a fraction of the load")
    ap.add_argument("--run-dir", type=Path, default=None, help="keep the run's files here (default: discarded)")
    args = ap.parse_args(argv)

    run_dir = args.run_dir or Path(tempfile.mkdtemp(prefix="zkpipe-screenshot-"))
    cfg = DevnetConfig(duration=args.duration, tps=args.tps, workers=args.workers, provers="cpu",
                       log2_rows=args.log2_rows, accounts=32, batch_deadline=args.batch_deadline,
                       rpc_port=0, dashboard_port=0, run_dir=str(run_dir))
    net = Devnet(cfg)
    result: dict = {}

    def run():
        try:
            load = net.run_load()
            result["checks"] = net.check(load, net.drain())
        except BaseException as e:  # reported after the screenshot
            result["error"] = e

    try:
        net.start()
        runner = threading.Thread(target=run, name="devnet-run", daemon=True)
        started = time.monotonic()
        runner.start()
        seen = screenshot_when_filled(net.dashboard_url, args.out, at=started + args.shot_at * args.duration,
                                      min_rows=3, width=args.width, timeout=args.duration + 60)
        print(f"screenshot: {args.out} ({args.out.stat().st_size // 1024} KB; page {seen['status']}, "
              f"{seen['events']} events, {seen['rows']} batches shown)")
        runner.join(timeout=cfg.drain_timeout + args.duration)
    finally:
        net.stop()
        if args.run_dir is None:
            shutil.rmtree(run_dir, ignore_errors=True)
    if "error" in result:
        raise result["error"]
    checks = result.get("checks") or {}
    print("checks: " + ", ".join(f"{k} {v}" for k, v in checks.items()))
    return 0 if checks.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
