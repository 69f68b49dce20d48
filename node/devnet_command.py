"""`zkpipe devnet`: the whole pipeline on this machine (or, with --ray-address, on a Ray
cluster), under a steady load, then a summary of throughput and latency per stage.

    zkpipe devnet --duration 30 --tps 100

It is `zkpipe node` (node/node_command.py) on --run-dir as its data directory, plus a built-in
load. It prints the JSON-RPC and dashboard URLs while it runs, and exits 0 only if every batch
was proven and verified on the L1 and no transfer was lost. The run's metrics and summary are
written under --run-dir (`zkpipe dashboard --run DIR/metrics.jsonl` replays them).
"""

from __future__ import annotations

import argparse
import json
import sys

from node.executor import RETAIN_BLOCKS


def add_node_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the node itself, shared with `zkpipe node`."""
    parser.add_argument("--workers", type=int, default=None,
                        help="prover workers (default: one per GPU, or 1 on the CPU)")
    parser.add_argument("--provers", choices=("auto", "gpu", "cpu"), default="auto",
                        help="GPU or CPU prover workers (default: GPU where Ray has GPUs)")
    parser.add_argument("--l1", default="embedded", metavar="embedded|anvil|URL",
                        help="the L1: the embedded EVM (default), a local anvil, or a JSON-RPC URL")
    parser.add_argument("--l1-key", default=None,
                        help="private key (hex) to submit from on a URL L1 (default: its first unlocked account)")
    parser.add_argument("--l1-confirmations", type=l1_confirmations, default=0, metavar="N",
                        help="take a deposit once N L1 blocks lie on top of its own (default 0: at once); on a "
                             "public L1 a few blocks keep a reorganisation from taking back a credited deposit")
    parser.add_argument("--port", type=int, default=8545,
                        help="JSON-RPC port on 127.0.0.1 (default 8545; 0 picks a free one)")
    parser.add_argument("--no-rpc", action="store_true", help="no JSON-RPC server")
    parser.add_argument("--dashboard-port", type=int, default=0,
                        help="dashboard port on 127.0.0.1 (default 0: a free one)")
    parser.add_argument("--no-dashboard", action="store_true")
    parser.add_argument("--log2-rows", type=int, default=10,
                        help="ledger circuit size: 2^k account slots and transfers per batch (default 10)")
    parser.add_argument("--batch-deadline", type=float, default=2.0,
                        help="upper bound on how long a proof batch stays open (default 2); batches close "
                             "sooner, when a prover is free or the batch is full")
    parser.add_argument("--idle-block-interval", type=idle_block_interval, default=1.0, metavar="SECONDS",
                        help="make an empty block after this many seconds without one (default 1; 0 or off: "
                             "never), so that clients waiting for the next block or for confirmations go on")
    parser.add_argument("--max-unproven", type=int, default=4,
                        help="batches waiting for a proof before admission slows (default 4)")
    parser.add_argument("--ray-address", default=None,
                        help="join this Ray cluster (\"auto\" inside a Ray job) instead of starting one of its own")
    parser.add_argument("--prover-resource", default=None, metavar="NAME",
                        help="place provers only on the nodes offering this custom Ray resource, one unit each "
                             "(default workers: every unit the cluster offers)")
    parser.add_argument("--retain-blocks", type=retain_blocks, default=RETAIN_BLOCKS, metavar="N",
                        help=f"recent blocks kept in memory (default {RETAIN_BLOCKS}, the state-query window; "
                             "blocks of unverified proof batches are kept too); older ones are read back from "
                             "the log")


def idle_block_interval(text: str):
    """--idle-block-interval's value: seconds, or None for 0 and off (argparse reports a bad one)."""
    from node.errors import InvalidInput
    from node.sequencer import parse_idle_block_interval
    try:
        return parse_idle_block_interval(text)
    except InvalidInput as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def retain_blocks(text: str) -> int:
    """--retain-blocks's value: a count of at least 1 (argparse reports a bad one)."""
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number of blocks, got {text!r}") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (the node holds its newest block), got {count}")
    return count


def l1_confirmations(text: str) -> int:
    """--l1-confirmations's value: a count of L1 blocks in [0, MAX_L1_CONFIRMATIONS] (argparse
    reports a bad one)."""
    from node.pipeline.node import MAX_L1_CONFIRMATIONS
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number of L1 blocks, got {text!r}") from None
    if not 0 <= count <= MAX_L1_CONFIRMATIONS:
        raise argparse.ArgumentTypeError(f"must lie in [0, {MAX_L1_CONFIRMATIONS}], got {count}")
    return count


def node_settings(args) -> dict:
    """The node's settings from the options of add_node_arguments (checked by the config)."""
    return dict(workers=args.workers, provers=args.provers, prover_resource=args.prover_resource,
                l1=args.l1, l1_key=args.l1_key, l1_confirmations=args.l1_confirmations,
                rpc_port=None if args.no_rpc else args.port,
                dashboard_port=None if args.no_dashboard else args.dashboard_port,
                log2_rows=args.log2_rows, batch_deadline=args.batch_deadline,
                idle_block_interval=args.idle_block_interval, max_unproven=args.max_unproven,
                max_unverified=max(16, 4 * args.max_unproven), ray_address=args.ray_address,
                retain_blocks=args.retain_blocks)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load (default 30)")
    parser.add_argument("--tps", type=float, default=100.0,
                        help="transfers per second offered (default 100; 0: no built-in load, JSON-RPC only)")
    parser.add_argument("--accounts", type=int, default=64, help="funded load-generator accounts (default 64)")
    parser.add_argument("--run-dir", default=None,
                        help="the node's data directory (default runs/devnet-TIME); a directory used before "
                             "continues its chain")
    parser.add_argument("--drain-timeout", type=float, default=300.0,
                        help="seconds to wait, after the load, for the last batch on the L1")
    parser.add_argument("--json", action="store_true", help="also print the summary as one JSON line")
    add_node_arguments(parser)


def command(args) -> int:
    from node.errors import ZkpipeError
    from node.pipeline.devnet import DevnetConfig, run_devnet

    try:
        cfg = DevnetConfig(duration=args.duration, tps=args.tps, accounts=args.accounts, run_dir=args.run_dir,
                           drain_timeout=args.drain_timeout, out=lambda line: print(line, flush=True),
                           **node_settings(args))
    except ZkpipeError as e:
        print(f"zkpipe devnet: {e}", file=sys.stderr)
        return 2
    try:
        summary, ok = run_devnet(cfg)
    except (ValueError, OSError) as e:
        print(f"zkpipe devnet: {e}", file=sys.stderr)
        return 2
    except ZkpipeError as e:
        print(f"zkpipe devnet: stopped: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(summary, default=str))
    return 0 if ok else 1
