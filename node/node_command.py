"""`zkpipe node`: the rollup node as a service, on a data directory, until SIGINT or SIGTERM.

    zkpipe node --data-dir /var/lib/zkpipe --port 8545

The data directory keeps everything the node needs to resume (docs/node.md, "Running the node as
a service"): started again on the same directory, after a stop or a crash, the node continues its
chain where it was. Exit status: 0 after a stop by signal, 1 when the node stopped on an error it
cannot get past (the reason is printed), 2 for bad arguments or a data directory that does not fit.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from node.devnet_command import add_node_arguments, node_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", required=True, help="where the node keeps its chain, log, proofs and L1")
    parser.add_argument("--genesis", default=None,
                        help="genesis JSON for a new data directory (default: the development faucet's)")
    add_node_arguments(parser)


def command(args) -> int:
    from node.errors import ZkpipeError
    from node.genesis import load_genesis
    from node.pipeline.node import NodeConfig, RollupNode

    def say(line):
        print(line, flush=True)

    try:
        genesis = load_genesis(args.genesis) if args.genesis else None
        cfg = NodeConfig(data_dir=args.data_dir, genesis=genesis, out=say, **node_settings(args))
    except (ZkpipeError, OSError) as e:
        print(f"zkpipe node: {e}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum, _frame):
        say(f"{signal.Signals(signum).name}: stopping")
        stop.set()
    node = RollupNode(cfg)
    try:
        node.start()
        # After start: Ray's start-up installs handlers of its own, which these replace.
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        say(f"running on {cfg.data_dir}; SIGINT or SIGTERM stops")
        node.run_until(stop)
        return 0
    except (ValueError, OSError) as e:      # what the data directory or the settings do not allow
        print(f"zkpipe node: {e}", file=sys.stderr)
        return 2
    except ZkpipeError as e:
        print(f"zkpipe node: stopped: {e}", file=sys.stderr)
        return 1
    finally:
        node.stop()
        say("stopped")
