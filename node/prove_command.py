"""`zkpipe prove --batch FILE.json --out PROOF`: prove one ledger batch.

The batch file is a LedgerJob as JSON (circuits/ledger_job.py). Keys come from `--keys DIR`
(the file `ledger-2^k.pk.npz`, made from a real setup; it carries the verification key, which
is also kept alone as `ledger-2^k.vk`) or, for development only, from `--insecure-dev-setup`,
which derives them from a public seed (anyone can forge proofs with them) and caches them
under `--cache` (default .zkpipe/). The proof file holds
the proof's bytes (docs/protocol.md §5); a JSON summary goes to stdout.

Exit status: 0 proven, 2 bad input (batch file, keys, arguments).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


class CommandError(Exception):
    """A problem with the command's input; the message is what the user sees."""


def add_key_arguments(parser: argparse.ArgumentParser) -> None:
    keys = parser.add_mutually_exclusive_group()
    keys.add_argument("--keys", metavar="DIR", help="directory holding ledger-2^k.pk.npz and ledger-2^k.vk")
    keys.add_argument("--insecure-dev-setup", action="store_true",
                      help="use development keys from a public seed (INSECURE: anyone can forge proofs); "
                           "made once and cached under --cache")
    parser.add_argument("--cache", metavar="DIR", default=os.environ.get("ZKPIPE_CACHE", ".zkpipe"),
                        help="where development keys are cached (default .zkpipe, or $ZKPIPE_CACHE)")
    parser.add_argument("--backend", default="auto", choices=("auto", "cpu", "gpu"),
                        help="arithmetic backend (default auto: the GPU where there is one)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch", required=True, metavar="FILE.json", help="the batch: a LedgerJob as JSON")
    parser.add_argument("--out", required=True, metavar="PROOF", help="where to write the proof")
    add_key_arguments(parser)


def command(args) -> int:
    try:
        return run(args)
    except CommandError as e:
        print(f"zkpipe prove: {e}", file=sys.stderr)
        return 2


def run(args) -> int:
    from circuits.ledger_commitments import proof_commitments
    from prover.prove import prove

    job, air, trace, pub, trace_ms = load_batch(args.batch)
    be = backend(args.backend)
    pk, vk = ledger_keys(air, args, be)
    proof = prove(air, pk, trace, pub, be)
    data = proof.to_bytes()
    write_atomically(args.out, data)
    groups = proof_commitments(air, vk, data)
    summary = {"batch_index": job.batch_index, "log2_rows": job.log2_rows, "transfers": len(job.transfers),
               "proof": args.out, "proof_bytes": len(data), "trace_ms": round(trace_ms, 3),
               **{k: v for k, v in proof.timings.items() if k.endswith("_ms")},
               "backend": be.name, "commitments": {name: [point_hex(p) for p in pts] for name, pts in groups.items()}}
    print(json.dumps(summary))
    return 0


# ---------------------------------------------------------------------------------------------
# Shared with `zkpipe verify`


def load_batch(path: str):
    """(job, circuit, trace, public inputs, trace build ms) of a batch file."""
    from circuits.ledger import Ledger
    from circuits.ledger_job import InvalidBatch, load_job
    from circuits.ledger_trace import build_trace

    try:
        job = load_job(path)
        t = time.perf_counter()
        trace, pub = build_trace(job)
        ms = (time.perf_counter() - t) * 1e3
    except InvalidBatch as e:
        raise CommandError(f"invalid batch: {e}" if path in str(e) else f"invalid batch {path}: {e}") from None
    return job, Ledger(job.log2_rows), trace, pub, ms


def backend(name: str):
    from kernels import get_backend
    from kernels.errors import BackendUnavailable
    try:
        return get_backend(name)
    except BackendUnavailable as e:
        raise CommandError(str(e)) from None


def ledger_keys(air, args, be):
    """(proving key, verification key) for `air`, from --keys or the cached development setup.
    The proving key is needed by `verify` too: its SRS recomputes the batch's commitments."""
    from circuits.ledger_keys import cached_dev_keys, load_keys
    from prover.errors import InvalidSetup

    def announce(directory):
        print(f"zkpipe: making INSECURE development keys for 2^{air.log2_rows} rows (once; cached in "
              f"{directory})", file=sys.stderr, flush=True)

    try:
        if args.keys:
            return load_keys(args.keys, air, be)
        if args.insecure_dev_setup:
            return cached_dev_keys(args.cache, air, be, on_make=announce)
    except (InvalidSetup, OSError) as e:
        raise CommandError(str(e)) from None
    raise CommandError("no keys: pass --keys DIR, or --insecure-dev-setup for development "
                       "(its keys come from a public seed, so anyone can forge proofs)")


def write_atomically(path: str, data: bytes) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError as e:
        raise CommandError(f"cannot write {path}: {e.strerror or e}") from None


def point_hex(p) -> str:
    return "0x" + p[0].to_bytes(32, "big").hex() + p[1].to_bytes(32, "big").hex()
