"""Proving and verification time of the AIR prover, one JSON line per run.

    python -m bench.prove --log2-n 16 --columns 20 [--backend cpu|gpu|auto] [--circuit fibonacci|range_check]
                          [--max-pack-width W] [--repeat R]

Fields: log2_n, columns, max_pack_width, groups, backend, circuit, prove_ms, one `<phase>_ms`
per prover phase (witness, ntt, msm, quotient, openings, other), outside_ntt_msm_share,
verify_ms, proof_bytes, setup_ms, trace_ms (building the trace, outside the prover), loadavg_1m
(just before the run). After the runs, one line with "summary": true holds the median of each
timing over the runs after the first (the first includes JIT warm-up) and the load averages seen.
The SRS is the insecure development setup: timings do not depend on where τ came from.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from kernels import get_backend


def run(log2_n: int, columns: int, backend: str, circuit: str, repeat: int,
        max_pack_width: int | None = None) -> list[dict]:
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
    out = []
    for _ in range(repeat):
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
        print(json.dumps(row), flush=True)
        out.append(row)
    warm = out[1:] or out
    summary = {"summary": True, "runs": len(warm), "log2_n": log2_n, "columns": len(air.witness_columns),
               "max_pack_width": max_pack_width, "circuit": circuit, "backend": be.name}
    for key in ("prove_ms", "witness_ms", "ntt_ms", "msm_ms", "quotient_ms", "openings_ms", "other_ms", "verify_ms"):
        summary["median_" + key] = round(statistics.median(r[key] for r in warm), 1)
    summary["loadavg_1m"] = [r["loadavg_1m"] for r in out]
    print(json.dumps(summary), flush=True)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--log2-n", type=int, default=16)
    ap.add_argument("--columns", type=int, default=20)
    ap.add_argument("--backend", default="cpu", choices=("cpu", "gpu", "auto"))
    ap.add_argument("--circuit", default="fibonacci", choices=("fibonacci", "range_check"))
    ap.add_argument("--repeat", type=int, default=2, help="the first run includes JIT warm-up")
    ap.add_argument("--max-pack-width", type=int, default=None,
                    help="blinded witness columns per commitment (default: all in one)")
    a = ap.parse_args(argv)
    run(a.log2_n, a.columns, a.backend, a.circuit, a.repeat, a.max_pack_width)


if __name__ == "__main__":
    main()
