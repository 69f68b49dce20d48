"""The `zkpipe` command line.

Each subcommand lives in its own module, which defines `add_arguments(parser)` and
`command(args) -> int`; it is imported only when that subcommand runs, so `zkpipe bench` does not
pay for importing the L1 or Ray. Add a command with one line in COMMANDS.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name → (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "bench": ("bench.primitives", "benchmark MSM and NTT side by side with snarkjs's engine"),
    "dashboard": ("node.dashboard_command", "open a saved run's metrics in the web dashboard"),
    "node": ("node.node_command", "run the rollup node as a service on a data directory, until stopped"),
    "sync": ("node.sync_command", "rebuild the L2 state from the L1 alone, checked against its commitments"),
    "devnet": ("node.devnet_command", "run the whole pipeline on this machine under load, then summarize"),
    "submit": ("node.submit_command", "submit the pipeline to a Ray cluster as a Ray job"),
    "prove": ("node.prove_command", "prove a ledger batch file"),
    "verify": ("node.verify_command", "verify a ledger batch's proof against the batch file"),
    "export-verifier": ("node.export_verifier", "write the Solidity verifier (and rollup contract) for a verification key"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="zkpipe", description="GPU-targeted ZK proving pipeline for a real-time rollup")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    if not argv or argv[0] not in COMMANDS:
        parser.parse_args(argv)  # prints usage and exits (or the list of commands for -h)
        return 2
    name, rest = argv[0], argv[1:]
    module = importlib.import_module(COMMANDS[name][0])
    cmd = argparse.ArgumentParser(prog=f"zkpipe {name}", description=COMMANDS[name][1])
    module.add_arguments(cmd)
    return module.command(cmd.parse_args(rest)) or 0


if __name__ == "__main__":
    sys.exit(main())
