"""The ledger circuit end to end: one JSON line per batch size.

    python -m bench.ledger [--log2 12 16] [--backend cpu|gpu|auto] [--repeat 1] [--packs N]

A batch of 2^k transfers fills a 2^k-row trace (half the slots funded accounts, a few claimed
by new addresses in the batch). Fields: log2_rows, transfers, backend, witness/fixed/
interaction/chunk column counts, witness_packs and groups (the L1 pays one ecMul per group;
`--packs N` overrides the circuit's pack width to measure the other side of that knob), setup_ms (insecure development SRS and keys; not part of
proving), trace_ms (build_trace from the job), prove_ms and one `<phase>_ms` per prover phase,
transfers_per_s (transfers / prove time), verify_ms (the Python verifier), commitments_ms
(recomputing the batch's public commitments, as `zkpipe verify` does), proof_bytes, loadavg_1m
(just before the batch). A small batch is proven first so that JIT compilation is not timed.

Peers in the same run, as in bench.prove (`--python-peers`, default all): after each size, the
proof's longest commitment MSM and its NTTs timed through ours and arkworks, mcl and frx
("op": "msm" / "ntt" lines with `python_peers` and `best_peer_ratio`, ratio = ours / peer), and
a line "op": "prove" with our median proof time beside arkworks Groth16 (`groth16py`, a
different statement at the same 2^k domain, one of its proofs after each of ours) under
`whole_proof_peers`, or the reason it cannot run here.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time


def batch_job(log2_rows: int, seed: int = 1):
    """A full batch: 2^k transfers between funded accounts; 16 of them fund new accounts."""
    from circuits.ledger import LedgerJob

    rnd = random.Random(seed)
    n = 1 << log2_rows
    funded = n // 2
    new = min(16, n - funded)
    addresses = [rnd.getrandbits(160) | 1 for _ in range(funded)]
    balances = [rnd.randrange(1 << 50, 1 << 60) for _ in range(funded)]
    # Amounts below 2^32 from balances of at least 2^50: no slot can run dry in 2^16 transfers.
    transfers = [(rnd.randrange(funded), rnd.randrange(funded), rnd.randrange(1 << 32)) for _ in range(n - new)]
    transfers += [(rnd.randrange(funded), funded + i, rnd.randrange(1, 1 << 32)) for i in range(new)]
    claims = [(funded + i, rnd.getrandbits(160) | 1) for i in range(new)]
    return LedgerJob(1, log2_rows, addresses, balances, transfers, claims)


def measure(log2_rows: int, be, repeat: int = 1, print_rows: bool = True, peers: dict | None = None,
            whole_peer=None, peer_reps: int = 3, packs: int | None = None) -> list[dict]:
    """Prove a full batch `repeat` times (one line each); with `peers` ({name: peer or reason},
    bench.python_peers) the proof's MSM and NTTs beside theirs, and with `whole_peer` (a
    Groth16Proof or the reason it is missing) our median proof time beside its. Returns every
    line (printed unless `print_rows` is False)."""
    from bench.primitives import load_average, machine_description
    from bench.prove import peer_operation_lines, timed, whole_proof_prover, whole_proof_summary
    from circuits.ledger import Ledger, build_trace, trace_commitments
    from circuits.ledger_commitments import pinned
    from prover.air import compile_air
    from prover.groups import commitment_groups
    from prover.keys import dev_keys
    from prover.types import GroupKind
    from prover.prove import prove
    from prover.verify import verify

    air = Ledger(log2_rows)
    if packs is not None:  # the same circuit but for its pack width (a different key)
        blinded = len(air.witness_columns) - len(air.public_columns)
        air.max_pack_width = -(-blinded // packs) if packs > 1 else None
    cs = compile_air(air)
    n = air.n
    groups = commitment_groups(cs, n)
    t = time.perf_counter()
    pk, vk = dev_keys(air, log2_rows, b"bench.ledger", be)
    setup_ms = (time.perf_counter() - t) * 1e3
    job = batch_job(log2_rows)
    rows = []

    def emit(line: dict) -> None:
        if print_rows:
            print(json.dumps(line), flush=True)
        rows.append(line)

    workdir = tempfile.TemporaryDirectory(prefix="bench-ledger-")
    whole_call, whole_info = (whole_proof_prover(whole_peer, log2_rows, workdir.name)
                              if whole_peer is not None else (None, {}))
    whole_ms: list[float] = []
    for _ in range(repeat):
        load = load_average()
        t = time.perf_counter()
        trace, pub = build_trace(job)
        trace_ms = (time.perf_counter() - t) * 1e3
        proof = prove(air, pk, trace, pub, be)
        data = proof.to_bytes()
        t = time.perf_counter()
        expected = trace_commitments(air, pk.srs_g1, trace, be)
        commitments_ms = (time.perf_counter() - t) * 1e3
        t = time.perf_counter()
        verify(air, vk, pub, data, public_commitments=pinned(expected))
        verify_ms = (time.perf_counter() - t) * 1e3
        tm = proof.timings
        row = {"bench": "ledger", "log2_rows": log2_rows, "transfers": len(job.transfers), "backend": be.name,
               "witness_columns": cs.num_witness, "fixed_columns": cs.num_fixed,
               "interaction_columns": cs.num_interaction, "quotient_chunks": cs.quotient_chunks(n),
               "witness_packs": [g.width for g in groups if g.kind == GroupKind.WITNESS], "groups": len(groups),
               "setup_ms": round(setup_ms, 1), "trace_ms": round(trace_ms, 1),
               **{k: v for k, v in tm.items() if k.endswith("_ms")},
               "transfers_per_s": round(len(job.transfers) / (tm["prove_ms"] / 1e3), 1),
               "verify_ms": round(verify_ms, 1), "commitments_ms": round(commitments_ms, 1),
               "proof_bytes": len(data), "loadavg_1m": load}
        if whole_call is not None:
            # one peer proof after each of ours, so that both meet the same load
            row["whole_proof_peer_ms"] = round(timed(whole_call), 1)
            whole_ms.append(row["whole_proof_peer_ms"])
        emit(row)
    fields = {"bench": "ledger", "log2_n": log2_rows, "backend": be.name, "machine": machine_description()}
    if peers:
        peer_operation_lines(be, pk.srs_g1, log2_rows, air, peers, peer_reps, fields, emit)
    if whole_info:
        ours = statistics.median(r["prove_ms"] for r in rows if "prove_ms" in r)
        emit({"op": "prove", **fields, "median_ms": round(ours, 1), "runs": repeat,
              "loadavg_1m": [r["loadavg_1m"] for r in rows if "prove_ms" in r],
              "whole_proof_peers": whole_proof_summary(whole_info, whole_ms, ours)})
    workdir.cleanup()
    return rows


def main(argv=None) -> None:
    from kernels import get_backend

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--log2", type=int, nargs="+", default=[12, 16], help="batch sizes as log2 (default 12 16)")
    ap.add_argument("--backend", default="cpu", choices=("cpu", "gpu", "auto"))
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--python-peers", nargs="*", default=None, metavar="NAME",
                    help="peers beside ours: arkworks mcl frx groth16 (default: all; none given: none)")
    ap.add_argument("--peer-reps", type=int, default=3, help="timed turns of each peer operation")
    ap.add_argument("--packs", type=int, default=None,
                    help="witness packs instead of the circuit's choice (the gas-for-prover-time knob)")
    a = ap.parse_args(argv)
    if a.peer_reps < 1:
        ap.error("--peer-reps must be at least 1")
    if a.packs is not None and a.packs < 1:
        ap.error("--packs must be at least 1")
    from bench.python_peers import available_peers, whole_proof_peer

    be = get_backend(a.backend)
    names = a.python_peers
    peers = available_peers([p for p in names if p != "groth16"] if names is not None else None)
    whole = whole_proof_peer() if names is None or "groth16" in names else None
    measure(8, be, print_rows=False)  # JIT warm-up
    for k in a.log2:
        measure(k, be, a.repeat, peers=peers, whole_peer=whole, peer_reps=a.peer_reps, packs=a.packs)


if __name__ == "__main__":
    main()
