"""`zkpipe verify --batch FILE.json --proof PROOF`: check that a proof proves this batch.

The batch is applied again (its trace built from the file), and the proof must carry exactly
the commitments of the batch's old state, new state and data, with the batch index as its
public input. Keys as for `zkpipe prove` (the proving key's SRS recomputes the commitments).

Exit status: 0 valid, 1 proof rejected, 2 bad input (batch file, proof file, keys, arguments).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from .prove_command import CommandError, add_key_arguments, backend, ledger_keys, load_batch, point_hex


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch", required=True, metavar="FILE.json", help="the batch: a LedgerJob as JSON")
    parser.add_argument("--proof", required=True, metavar="PROOF", help="the proof file `zkpipe prove` wrote")
    add_key_arguments(parser)


def command(args) -> int:
    from prover.errors import InvalidProof

    try:
        return run(args)
    except CommandError as e:
        print(f"zkpipe verify: {e}", file=sys.stderr)
        return 2
    except InvalidProof as e:
        print(f"zkpipe verify: proof {args.proof} rejected: {e}", file=sys.stderr)
        return 1


def run(args) -> int:
    from circuits.ledger_commitments import pinned, trace_commitments
    from prover.verify import verify

    try:
        with open(args.proof, "rb") as f:
            data = f.read()
    except OSError as e:
        raise CommandError(f"cannot read proof file {args.proof}: {e.strerror or e}") from None
    job, air, trace, pub, _ = load_batch(args.batch)
    be = backend(args.backend)
    pk, vk = ledger_keys(air, args, be)
    expected = trace_commitments(air, pk.srs_g1, trace, be)
    t = time.perf_counter()
    verify(air, vk, pub, data, public_commitments=pinned(expected))
    ms = (time.perf_counter() - t) * 1e3
    print(json.dumps({"valid": True, "batch_index": job.batch_index, "log2_rows": job.log2_rows,
                      "transfers": len(job.transfers), "verify_ms": round(ms, 3),
                      "commitments": {name: [point_hex(p) for p in pts] for name, pts in expected.items()}}))
    return 0
