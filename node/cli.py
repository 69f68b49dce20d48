"""The `zkpipe` command line."""

from __future__ import annotations

import argparse
import sys


def _bench(args: argparse.Namespace, rest: list[str]) -> int:
    from bench import primitives

    return primitives.main(rest) or 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="zkpipe", description="GPU-targeted ZK proving pipeline for a real-time rollup")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("bench", help="benchmark MSM and NTT side by side with snarkjs's engine (options: see python -m bench.primitives --help)",
                       add_help=False)
    p.set_defaults(run=_bench)
    args, rest = parser.parse_known_args(argv)
    return args.run(args, rest)


if __name__ == "__main__":
    sys.exit(main())
