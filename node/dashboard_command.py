"""`zkpipe dashboard --run FILE.jsonl`: opens a saved run (the metrics file a devnet writes) in the
web dashboard, served on 127.0.0.1 until SIGINT (Ctrl-C) or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, metavar="FILE.jsonl", help="a saved run: the metrics events file")
    parser.add_argument("--port", type=int, default=8090, help="port on 127.0.0.1 (0: any free port; default 8090)")
    parser.add_argument("--history", type=int, default=10_000, help="batches kept for the table (default 10000)")


def command(args) -> int:
    from node.dashboard import start_dashboard
    from node.metrics import InvalidEvent, Metrics

    if not 0 <= args.port <= 65535:
        print(f"zkpipe dashboard: --port must be between 0 and 65535, got {args.port}", file=sys.stderr)
        return 2
    try:
        metrics = Metrics.load(args.run, history=args.history)
    except InvalidEvent as e:
        print(f"zkpipe dashboard: {e}", file=sys.stderr)
        return 2
    try:
        url, stop = start_dashboard(metrics, port=args.port)
    except OSError as e:
        print(f"zkpipe dashboard: cannot listen on 127.0.0.1:{args.port}: {e.strerror or e}", file=sys.stderr)
        return 2
    s = metrics.summary()
    print(f"saved run {args.run}: {s['events']} events, {s['history']['batches']} batches", flush=True)
    print(f"dashboard: {url}  (metrics: {url}metrics; Ctrl-C or SIGTERM stops)", flush=True)
    # Handlers set here, not Python's default: a process started in the background by a
    # non-interactive shell inherits SIGINT ignored, and a service stops on SIGTERM too.
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    try:
        while not stopped.wait(0.5):
            pass
    finally:
        stop()
    return 0
