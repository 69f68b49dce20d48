"""GPU NTT and MSM timings, one JSON line per measurement.

    python -m bench.gpu_primitives --sizes 16 18 20 22 24 [--scalar-bits 254 16] [--reps 7]

Data is generated and kept on the device (MSM bases as resident bases, as a prover keeps its
SRS); each figure is the median over the repetitions (after one warm-up call) of CUDA-event time
on the backend's stream, with the compute floor of bench/gpu_floor.py and the goal beside it.
Needs only kernels/ and CuPy (no galois, py_ecc, ray).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys


# Goals at 2^20 (ms): MSM over uniform and over 16-bit scalars, NTT.
GOALS_MS = {("msm", 20, 254): 6.0, ("msm", 20, 16): 1.0, ("ntt", 20, None): 0.25}


def _time_ms(fn, reps: int, stream) -> float:
    import cupy

    fn()  # warm-up: compilation, table building, allocator growth
    cupy.cuda.Device().synchronize()
    times = []
    for _ in range(reps):
        start, stop = cupy.cuda.Event(), cupy.cuda.Event()
        start.record(stream)
        fn()
        stop.record(stream)
        stop.synchronize()
        times.append(cupy.cuda.get_elapsed_time(start, stop))
    return statistics.median(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 18, 20])
    parser.add_argument("--scalar-bits", type=int, nargs="+", default=[254, 16])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--ops", nargs="+", default=["ntt", "msm"], choices=["ntt", "msm"])
    args = parser.parse_args(argv)
    args.reps = max(5, args.reps)

    from kernels import gpu_available, get_backend, MSMConfig
    from bench.gpu_floor import msm_floor_ms, ntt_floor_ms, ntt_memory_floor_ms

    if not gpu_available():
        print("gpu_primitives: no CUDA device (or no CuPy) on this machine", file=sys.stderr)
        return 2
    import numpy as np

    be = get_backend("gpu")
    device = be.device_name
    rng = np.random.default_rng(1)

    def emit(record):
        floor = record.get("floor_ms")
        record["floor_ratio"] = round(record["median_ms"] / floor, 2) if floor else None
        print(json.dumps(record), flush=True)

    for log_n in args.sizes:
        n = 1 << log_n
        if "ntt" in args.ops:
            a = be.fr.random(n, rng)
            ms = _time_ms(lambda: be.ntt(a), args.reps, be.stream)
            emit({"op": "ntt", "backend": "gpu", "device": device, "log2_n": log_n,
                  "median_ms": round(ms, 4), "floor_ms": ntt_floor_ms(log_n, device),
                  "memory_floor_ms": ntt_memory_floor_ms(log_n, device),
                  "goal_ms": GOALS_MS.get(("ntt", log_n, None))})
            del a
        if "msm" in args.ops:
            points = be.msm_bases(be.g1.random(n, rng))
            for bits in args.scalar_bits:
                if bits >= 254:
                    scalars = be.fr.random(n, rng)
                else:
                    limbs = np.zeros((n, 4), dtype=np.uint64)
                    limbs[:, 0] = rng.integers(0, 2**min(bits, 63), size=n, dtype=np.uint64)
                    scalars = be.fr.from_canonical_limbs(be.asarray(limbs))
                cfg = MSMConfig(scalar_bits=min(bits, 254))
                ms = _time_ms(lambda: be.msm(points, scalars, cfg), args.reps, be.stream)
                emit({"op": "msm", "backend": "gpu", "device": device, "log2_n": log_n,
                      "scalar_bits": bits, "median_ms": round(ms, 4),
                      "floor_ms": msm_floor_ms(log_n, min(bits, 254), device),
                      "goal_ms": GOALS_MS.get(("msm", log_n, min(bits, 254)))})
            del points
    return 0


if __name__ == "__main__":
    sys.exit(main())
