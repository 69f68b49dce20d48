"""`zkpipe export-verifier`: the Solidity sources for a verification key.

    zkpipe export-verifier --vk keys/state_update.vk --circuit state_update --out build/sol

writes ZkpipeVerifier.sol (the verifier generated for the key: its constants and the circuit's
constraints written out) and, for a circuit that declares a state layout, Rollup.sol beside it.
The circuit is needed as well as the key: the key holds the circuit's digest, not its
constraints. With --compile the pinned solcjs also compiles them, and each contract's ABI and
bytecode go to <Contract>.json; the same sources always give the same bytes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from circuits import CIRCUITS

PROG = "zkpipe export-verifier"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--vk", required=True, metavar="FILE", help="the verification key (VerificationKey.save)")
    parser.add_argument("--circuit", required=True, choices=sorted(CIRCUITS),
                        help="the circuit the key was made for")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the .sol files (created if needed)")
    parser.add_argument("--no-rollup", action="store_true",
                        help="the verifier only, even for a circuit with a state layout")
    parser.add_argument("--compile", action="store_true",
                        help="also compile with the pinned solcjs and write <Contract>.json (abi, bytecode)")


def fail(message: str, code: int = 2) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return code


def command(args) -> int:
    from circuits import load_circuit
    from kernels.errors import ZkpipeError
    from node.l1.errors import L1Error
    from node.l1.rollup import export_verifier
    from node.l1.solc import compile_sources
    from prover.keys import VerificationKey

    try:
        vk = VerificationKey.load(args.vk)
    except OSError as e:
        return fail(f"cannot read the verification key {args.vk}: {e.strerror or e}")
    except ZkpipeError as e:
        return fail(f"{args.vk} is not a verification key: {e}")
    try:
        air = load_circuit(args.circuit, vk.log2_n)
    except ZkpipeError as e:
        return fail(str(e))
    layout = None if args.no_rollup else air.state_layout
    try:
        written = export_verifier(air, vk, args.out, layout)
    except ZkpipeError as e:
        return fail(str(e))
    except OSError as e:
        return fail(f"cannot write to {args.out}: {e.strerror or e}")
    for path in written:
        print(path)
    if layout is None and not args.no_rollup:
        print(f"{args.circuit} declares no state layout: verifier only, no Rollup.sol", file=sys.stderr)
    if args.compile:
        try:
            artifacts = compile_sources({p.name: p.read_text() for p in written})
        except L1Error as e:
            return fail(f"compilation failed: {e}", 1)
        for name, art in sorted(artifacts.items()):
            if not art.bytecode:  # abstract contracts have no code
                continue
            path = Path(args.out) / f"{name}.json"
            path.write_text(json.dumps({"contractName": name, "abi": art.abi, "bytecode": "0x" + art.bytecode.hex(),
                                        "deployedBytecode": "0x" + art.deployed_bytecode.hex()}, indent=1) + "\n")
            print(f"{path}  ({len(art.deployed_bytecode)} bytes deployed)")
    return 0
