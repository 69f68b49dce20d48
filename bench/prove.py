"""Proving and verification time of the AIR prover, one JSON line per run.

    python -m bench.prove --log2-n 16 --columns 20 [--backend cpu|gpu|auto] [--circuit fibonacci|range_check]
                          [--max-pack-width W] [--repeat R]

Fields: log2_n, columns, max_pack_width, groups, backend, circuit, prove_ms, one `<phase>_ms`
per prover phase (witness, ntt, msm, quotient, openings, other), outside_ntt_msm_share,
verify_ms, proof_bytes, setup_ms, trace_ms (building the trace, outside the prover), loadavg_1m
(just before the run). After the runs, one line with "summary": true holds the median of each
timing over the runs after the first (the first includes JIT warm-up) and the load averages seen.
The SRS is the insecure development setup: timings do not depend on where τ came from.

Peers in the same run (`--python-peers`, default all; bench/python_peers.py): after the proofs,
one line per operation of the proof timed through ours and each peer at the same size, taking
turns rep by rep (`--peer-reps`), each peer's result checked against ours:
  {"bench": "prove", "op": "msm", "what": "...", "points": P, "median_ms": ours,
   "python_peers": {label: {median_ms, ratio, agrees, note} or {error}}, "best_peer_ratio": ...}
for the proof's longest commitment MSM (the packed witness: width·(n+3) points, over the SRS),
and "op": "ntt" for one column at n (the trace's interpolation) and at E·n (the quotient's
coset). `ratio` is ours / peer: below 1, ours is faster. The whole-proof peer (arkworks Groth16
through `groth16py`, a different statement at the same 2^k domain) proves once after each of
ours; its median and ratio are in the summary under `whole_proof_peers`, with its reason when
it cannot run here.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from kernels import get_backend


PROOF_NTT_NOTE = {"n": "one column at n, as the trace columns are interpolated",
                  "extended": "one column at E·n, the size of the quotient's coset NTT"}


def proof_operations(air, log2_n: int) -> tuple[int, str, list[tuple[int, str]]]:
    """The proof's longest commitment MSM (points, which group) and its NTT sizes, as the
    prover runs them (prover/prove.py: `commit` of each packed group, the quotient's coset)."""
    from prover.air import compile_air
    from prover.groups import GroupKind, commitment_groups

    cs = compile_air(air)
    n = 1 << log2_n
    # a degree-bound group spans the SRS's top powers but its MSM is only its source's length
    longest = max((g for g in commitment_groups(cs, n) if g.kind != GroupKind.BOUND),
                  key=lambda g: g.width * g.length)
    what = f"the {longest.name} commitment: {longest.width} column(s) x {longest.length} coefficients"
    return longest.width * longest.length, what, [(n, PROOF_NTT_NOTE["n"]),
                                                  (cs.extension(n) * n, PROOF_NTT_NOTE["extended"])]


def peer_operation_lines(be, srs_g1, log2_n: int, air, peers: dict, reps: int, fields: dict, emit) -> list[dict]:
    """Our MSM and NTTs at the proof's sizes beside each Python peer's (same run, same inputs,
    taking turns), one line each; the MSM runs over the proof's own SRS points."""
    import numpy as np

    from bench.primitives import device_synchronizer, load_average, measure_with_python_peers
    from kernels import MSMConfig

    synchronize = device_synchronizer(be.name)
    rng = np.random.default_rng(7)
    points_count, what, ntts = proof_operations(air, log2_n)
    lines = []
    host_points = np.asarray(srs_g1[:points_count])
    points = be.asarray(host_points)
    scalars = be.asarray(be.fr.random(points_count, rng))
    load = load_average()
    unchecked = MSMConfig(check_points=False)  # as the prover commits: the SRS was checked once
    ms, side = measure_with_python_peers("msm", lambda: be.msm(points, scalars, unchecked), peers, reps,
                                         synchronize, (host_points, be.to_host(scalars)))
    lines.append({"op": "msm", "what": what, "points": points_count, **fields, "median_ms": round(ms, 3),
                  "reps": reps, "loadavg_1m": load, **side})
    emit(lines[-1])
    for size, note in ntts:
        column = be.asarray(be.fr.random(size, rng))
        load = load_average()
        ms, side = measure_with_python_peers("ntt", lambda: be.ntt(column), peers, reps, synchronize,
                                             (be.to_host(column),))
        lines.append({"op": "ntt", "what": note, "size": size, **fields, "median_ms": round(ms, 3),
                      "reps": reps, "loadavg_1m": load, **side})
        emit(lines[-1])
    return lines


def whole_proof_prover(peer, log2_n: int, workdir):
    """(the peer's prove call or None, {label: {statement} or {error}}) for the summary."""
    if isinstance(peer, str):
        return None, {"groth16py": {"error": peer}}
    try:
        call = peer.prover(log2_n, workdir)
    except Exception as exc:  # a peer that breaks is reported; our figures still stand
        return None, {peer.label: {"error": f"{type(exc).__name__}: {exc}"[:300]}}
    return call, {peer.label: {"statement": peer.statement}}


def whole_proof_summary(info: dict, peer_ms: list[float], ours_ms: float) -> dict:
    """The summary's `whole_proof_peers`: the peer's median proof time and ours / it."""
    for entry in info.values():
        if "error" not in entry and peer_ms:
            median = statistics.median(peer_ms)
            entry.update(median_ms=round(median, 1), ratio=round(ours_ms / median, 4), runs=len(peer_ms))
    return info


def timed(call) -> float:
    t = time.perf_counter()
    call()
    return (time.perf_counter() - t) * 1e3


def run(log2_n: int, columns: int, backend: str, circuit: str, repeat: int,
        max_pack_width: int | None = None, python_peers: list[str] | None = None,
        peer_reps: int = 3) -> list[dict]:
    """Prove `repeat` times (one JSON line each), then the peer lines and the summary; returns
    every line printed. `python_peers`: names to time beside ours (None: all, []: none)."""
    import tempfile

    from bench.primitives import machine_description
    from bench.python_peers import available_peers, whole_proof_peer
    from circuits.examples import Fibonacci, RangeCheck
    from prover.keys import dev_keys
    from prover.prove import prove
    from prover.verify import verify

    be = get_backend(backend)
    n = 1 << log2_n
    if circuit == "fibonacci":
        air = Fibonacci(columns)
    else:
        air = RangeCheck(min(16, log2_n))
    air.max_pack_width = max_pack_width
    t = time.perf_counter()
    pk, vk = dev_keys(air, log2_n, b"bench", be)
    setup_ms = (time.perf_counter() - t) * 1e3
    t = time.perf_counter()
    if circuit == "fibonacci":
        trace, pub = air.trace(n)
    else:
        import numpy as np
        values = np.random.default_rng(1).integers(0, 1 << air.bits, n).tolist()
        trace, pub = air.trace(values, n)
    trace_ms = (time.perf_counter() - t) * 1e3
    out, printed = [], []

    def emit(line: dict) -> None:
        printed.append(line)
        print(json.dumps(line), flush=True)

    wanted = python_peers is None or "groth16" in python_peers
    workdir = tempfile.TemporaryDirectory(prefix="bench-prove-")
    whole_call, whole_info = whole_proof_prover(whole_proof_peer(), log2_n, workdir.name) if wanted else (None, {})
    whole_ms: list[float] = []
    for i in range(repeat):
        load = round(os.getloadavg()[0], 2)
        proof = prove(air, pk, trace, pub, be)
        data = proof.to_bytes()
        t = time.perf_counter()
        verify(air, vk, pub, data)
        verify_ms = (time.perf_counter() - t) * 1e3
        tm = dict(proof.timings)
        core = tm["ntt_ms"] + tm["msm_ms"]
        row = {"log2_n": log2_n, "columns": len(air.witness_columns), "max_pack_width": max_pack_width,
               "groups": len(vk.groups), "backend": be.name, "circuit": circuit,
               **{k: v for k, v in tm.items() if k not in ("log2_n", "backend")},
               "outside_ntt_msm_share": round(1 - core / tm["prove_ms"], 4),
               "verify_ms": round(verify_ms, 3), "proof_bytes": len(data),
               "setup_ms": round(setup_ms, 3), "trace_ms": round(trace_ms, 3), "loadavg_1m": load}
        if whole_call is not None:
            # one peer proof after each of ours, so that both meet the same load; the first is warm
            row["whole_proof_peer_ms"] = round(timed(whole_call), 1)
            if i > 0 or repeat == 1:
                whole_ms.append(row["whole_proof_peer_ms"])
        emit(row)
        out.append(row)
    warm = out[1:] or out
    fields = {"bench": "prove", "log2_n": log2_n, "columns": len(air.witness_columns), "circuit": circuit,
              "max_pack_width": max_pack_width, "backend": be.name, "machine": machine_description()}
    peers = available_peers([p for p in python_peers if p != "groth16"] if python_peers is not None else None)
    if peers:
        peer_operation_lines(be, pk.srs_g1, log2_n, air, peers, peer_reps, fields, emit)
    summary = {"summary": True, "runs": len(warm), "log2_n": log2_n, "columns": len(air.witness_columns),
               "max_pack_width": max_pack_width, "circuit": circuit, "backend": be.name,
               "machine": fields["machine"]}
    for key in ("prove_ms", "witness_ms", "ntt_ms", "msm_ms", "quotient_ms", "openings_ms", "other_ms", "verify_ms"):
        summary["median_" + key] = round(statistics.median(r[key] for r in warm), 1)
    summary["loadavg_1m"] = [r["loadavg_1m"] for r in out]
    if whole_info:
        summary["whole_proof_peers"] = whole_proof_summary(whole_info, whole_ms, summary["median_prove_ms"])
    emit(summary)
    workdir.cleanup()
    return printed


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--log2-n", type=int, default=16)
    ap.add_argument("--columns", type=int, default=20)
    ap.add_argument("--backend", default="cpu", choices=("cpu", "gpu", "auto"))
    ap.add_argument("--circuit", default="fibonacci", choices=("fibonacci", "range_check"))
    ap.add_argument("--repeat", type=int, default=2, help="the first run includes JIT warm-up")
    ap.add_argument("--max-pack-width", type=int, default=None,
                    help="blinded witness columns per commitment (default: all in one)")
    ap.add_argument("--python-peers", nargs="*", default=None, metavar="NAME",
                    help="peers beside ours: arkworks mcl frx groth16 (default: all; none given: none)")
    ap.add_argument("--peer-reps", type=int, default=3, help="timed turns of each peer operation")
    a = ap.parse_args(argv)
    if a.peer_reps < 1:
        ap.error("--peer-reps must be at least 1")
    run(a.log2_n, a.columns, a.backend, a.circuit, a.repeat, a.max_pack_width, a.python_peers, a.peer_reps)


if __name__ == "__main__":
    main()
