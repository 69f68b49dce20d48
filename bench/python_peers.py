"""Peer engines reachable from Python, for figures side by side with ours in the same run:
arkworks (through the `zksnake` wheel), mcl (`mclbn256`) and Fractal JAX (`frx`).

Each peer takes our host arrays (the shared limb layout: Fr and Fq in Montgomery form, G1 as
affine (2, 4)), turns them into its own objects once, untimed, and returns a call that does
only what a user of that peer pays per operation. The result of that call is compared with ours
once (`agrees`), so a figure for a peer that computes something else never passes unnoticed.

| peer | MSM | NTT | what one timed call includes |
|---|---|---|---|
| arkworks (zksnake) | `multiscalar_mul_g1` | `polynomial_bn254.fft` | its Python API takes Python ints and point objects: converting them to field elements is inside the call, as for any user of the wheel |
| mcl (mclbn256) | `mclBnG1_mulVec` | none | the library re-initialised to Ethereum's alt_bn128 (the wheel starts on another 254-bit curve); one thread; slices of 2^16 points summed (its mulVec crashes on 2^18 at once) |
| Fractal JAX (frx) | `lax.msm` | `lax.ntt` | jitted; the arrays are zero-copy views of ours (frx uses the same Montgomery limbs); MSM up to 2^16 points (2^18 crashes the process) |

`Groth16Proof` is a whole-proof peer (bench.prove, bench.ledger): arkworks' Groth16 through the
`groth16py` wheel, proving a circuit of its own at the same 2^k domain; a different statement,
labelled so wherever its figure appears.

A peer that is not installed, or fails, is reported with its reason; it never stops the run.
Install them with `pip install -e '.[bench]'` (scripts/setup.sh does).

    peers = available_peers()          # {name: peer or the reason it is missing}
    call = peers["mcl"].msm(points, scalars)
    ms = interleaved_medians({"ours": lambda: be.msm(P, k), "mcl": call}, reps=5)
"""

from __future__ import annotations

import ctypes
import statistics
import time
from importlib import metadata
from typing import Callable, Optional

import numpy as np

from kernels.convert import limbs_to_ints
from kernels.params import MONTGOMERY_R, P_MODULUS, R_MODULUS

_R_INV = pow(MONTGOMERY_R, -1, R_MODULUS)
_P_INV = pow(MONTGOMERY_R, -1, P_MODULUS)


def fr_ints(montgomery) -> list[int]:
    """Fr Montgomery limbs (n, 4) → canonical Python ints."""
    return [x * _R_INV % R_MODULUS for x in limbs_to_ints(np.asarray(montgomery).reshape(-1, 4))]


def g1_ints(points) -> list[tuple[int, int]]:
    """Affine (n, 2, 4) Fq Montgomery points → [(x, y)] canonical ints; (0, 0) is infinity."""
    coords = [v * _P_INV % P_MODULUS for v in limbs_to_ints(np.asarray(points).reshape(-1, 4))]
    return list(zip(coords[0::2], coords[1::2]))


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "?"


class PythonPeer:
    """A peer engine. `msm` and `ntt` prepare one operation on our host arrays and return the
    call to time; the call returns the result as Python ints ((x, y) or a list)."""

    name = ""
    package = ""
    ops: tuple[str, ...] = ()
    note = ""

    @property
    def label(self) -> str:
        return f"{self.name} ({self.package} {_version(self.package)})"

    def msm(self, points, scalars) -> Callable[[], tuple[int, int]]:
        raise NotImplementedError(f"{self.name} has no MSM")

    def ntt(self, column) -> Callable[[], list[int]]:
        raise NotImplementedError(f"{self.name} has no NTT")


class Arkworks(PythonPeer):
    name, package, ops = "arkworks", "zksnake", ("msm", "ntt")
    note = "arkworks through zksnake's Python API: the call converts Python ints"

    def __init__(self):
        from zksnake._algebra import ec_bn254, polynomial_bn254  # noqa: F401 - fails when absent

        self._ec, self._poly = ec_bn254, polynomial_bn254

    def msm(self, points, scalars):
        ec = self._ec
        bases = [ec.PointG1(x, y) if (x, y) != (0, 0) else ec.PointG1.identity() for x, y in g1_ints(points)]
        ks = fr_ints(scalars)

        def call():
            r = ec.multiscalar_mul_g1(bases, ks)
            return (0, 0) if r.is_zero() else (int(r.x), int(r.y))
        return call

    def ntt(self, column):
        xs, n = fr_ints(column), np.asarray(column).shape[0]
        return lambda: [int(v) for v in self._poly.fft(xs, n)]


class Mcl(PythonPeer):
    name, package, ops = "mcl", "mclbn256", ("msm",)
    note = "mcl's mulVec on alt_bn128, one thread"
    _SNARK1 = 4   # mcl's MCL_BN_SNARK1: Ethereum's alt_bn128
    CHUNK = 1 << 16

    def __init__(self):
        from mclbn256 import mclbn256 as m

        if m.lib.mclBn_init(self._SNARK1, m.MCLBN_COMPILED_TIME_VAR) != 0:
            raise RuntimeError("mcl could not be initialised for alt_bn128")
        self._m = m

    def _set(self, setter, target, text: str):
        raw = text.encode()
        if setter(ctypes.byref(target), raw, len(raw), 10) != 0:
            raise ValueError(f"mcl refused {text[:40]}")

    def msm(self, points, scalars):
        m, lib = self._m, self._m.lib
        pts, ks = g1_ints(points), fr_ints(scalars)
        n = len(pts)
        bases, coeffs = (m.G1 * n)(), (m.Fr * n)()
        for i, (x, y) in enumerate(pts):
            self._set(lib.mclBnG1_setStr, bases[i], "0" if (x, y) == (0, 0) else f"1 {x} {y}")
        for i, k in enumerate(ks):
            self._set(lib.mclBnFr_setStr, coeffs[i], str(k))
        out, part = m.G1(), m.G1()
        buf = ctypes.create_string_buffer(512)
        g_size, f_size = ctypes.sizeof(m.G1), ctypes.sizeof(m.Fr)

        def call():
            # mulVec crashes past about 2^17 points in this build: sum slices of MCL_CHUNK
            lib.mclBnG1_clear(ctypes.byref(out))
            for lo in range(0, n, self.CHUNK):
                k = min(self.CHUNK, n - lo)
                lib.mclBnG1_mulVec(ctypes.byref(part), ctypes.byref(bases, lo * g_size),
                                   ctypes.byref(coeffs, lo * f_size), k)
                lib.mclBnG1_add(ctypes.byref(out), ctypes.byref(out), ctypes.byref(part))
            lib.mclBnG1_normalize(ctypes.byref(out), ctypes.byref(out))
            lib.mclBnG1_getStr(buf, len(buf), ctypes.byref(out), 10)
            parts = buf.value.decode().split()
            return (0, 0) if parts[0] == "0" else (int(parts[1]), int(parts[2]))
        return call


class FractalJax(PythonPeer):
    name, package, ops = "frx", "frx", ("msm", "ntt")
    note = "Fractal JAX on the CPU, jitted, zero-copy views of our arrays"
    MSM_MAX = 1 << 16

    def __init__(self):
        import frx
        import zk_dtypes
        from frx import lax

        self._dt = zk_dtypes
        self._msm = frx.jit(lambda k, p: lax.msm(k, p))
        self._ntt = frx.jit(lambda v: lax.ntt(v))

    def _scalars(self, a):
        a = np.ascontiguousarray(a, dtype=np.uint64)
        return a.reshape(-1, 4).view(self._dt.bn254_sf_mont).reshape(-1)

    def msm(self, points, scalars):
        if len(points) > self.MSM_MAX:
            # a segmentation fault would end the whole benchmark, so it is refused up front
            raise ValueError(f"frx's lax.msm crashes the process on 2^18 points; timed up to {self.MSM_MAX}")
        p = np.ascontiguousarray(points, dtype=np.uint64)
        bases = p.reshape(-1, 8).view(self._dt.bn254_g1_affine_mont).reshape(-1)
        ks = self._scalars(scalars)

        def call():
            r = np.asarray(self._msm(ks, bases))
            return g1_ints(r.reshape(1).view(np.uint64))[0]
        return call

    def ntt(self, column):
        xs = self._scalars(column)
        return lambda: fr_ints(np.asarray(self._ntt(xs)).view(np.uint64))


PEERS = (Arkworks, Mcl, FractalJax)


class Groth16Proof:
    """A whole-proof peer: arkworks' Groth16 prover through the `groth16py` wheel, on a circuit
    of its own at the same 2^k domain (a chain of k·n multiplications x_i = x_{i-1}^2 + b, circom
    compiled in-process). A different statement from ours: users compare seconds per proof, so
    the figure is given, never as the same work. Setup is untimed; the timed call includes the
    witness (circom's wasm under wasmi) and the proof, as `groth16py.prove` does for a user."""

    name, package = "groth16", "groth16py"
    statement = ("different statement: Groth16 (arkworks) of a chain of squarings with a 2^k "
                 "R1CS domain, not our AIR")

    def __init__(self):
        import groth16py

        self._g = groth16py

    @property
    def label(self) -> str:
        return f"arkworks Groth16 ({self.package} {_version(self.package)})"

    @staticmethod
    def constraints(log2_n: int) -> int:
        """Multiplications of the chain: the R1CS (with the public output and the one wire)
        fills the 2^k domain, as arkworks sizes it (constraints + instance variables)."""
        return (1 << log2_n) - 16

    def prover(self, log2_n: int, workdir) -> Callable[[], bytes]:
        """Compile and set up the chain for 2^log2_n, check one proof with groth16py's
        verifier, and return the call that proves it again."""
        import os
        import sys
        from pathlib import Path

        steps = self.constraints(log2_n)
        path = Path(workdir) / f"chain_{log2_n}.circom"
        path.write_text(
            "pragma circom 2.0.0;\n"
            "template Chain(N) {\n    signal input a;\n    signal input b;\n    signal output out;\n"
            "    signal x[N];\n    x[0] <== a * b;\n"
            "    for (var i = 1; i < N; i++) {\n        x[i] <== x[i - 1] * x[i - 1] + b;\n    }\n"
            "    out <== x[N - 1];\n}\n"
            f"component main = Chain({steps});\n")
        # circom's compiler reports on fd 1: keep stdout for the JSON lines
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            os.dup2(2, 1)
            pk, vk = self._g.setup_circom(str(path))
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        a, b = 3, 5
        out = a * b % R_MODULUS
        for _ in range(steps - 1):
            out = (out * out + b) % R_MODULUS
        inputs = {"a": a, "b": b}
        if not self._g.Verifier(vk).verify(self._g.prove(pk, inputs), [out]):
            raise RuntimeError("groth16py's proof of the chain did not verify")
        return lambda: self._g.prove(pk, inputs)


def whole_proof_peer() -> object:
    """The Groth16 whole-proof peer, or the reason (str) it cannot be used here."""
    try:
        return Groth16Proof()
    except Exception as exc:
        return f"groth16py unavailable: {type(exc).__name__}: {exc}"[:300]


def available_peers(names: Optional[list[str]] = None) -> dict[str, object]:
    """{name: peer object, or the reason (str) it cannot be used here} for the peers asked for
    (all by default)."""
    found: dict[str, object] = {}
    for cls in PEERS:
        if names is not None and cls.name not in names:
            continue
        try:
            found[cls.name] = cls()
        except Exception as exc:  # not installed, or broken: said in the output, never fatal
            found[cls.name] = f"{cls.package} unavailable: {type(exc).__name__}: {exc}"[:300]
    return found


def interleaved_medians(calls: dict[str, Callable[[], object]], reps: int,
                        synchronize: Callable[[], None] = lambda: None) -> dict[str, float]:
    """Median ms of each call over `reps` rounds, the calls taking turns within each round so
    that every engine meets the same load; one untimed warm-up round first (JIT, caches)."""
    for call in calls.values():
        call()
    synchronize()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(reps):
        for name, call in calls.items():
            synchronize()
            start = time.perf_counter()
            call()
            synchronize()
            times[name].append((time.perf_counter() - start) * 1e3)
    return {name: statistics.median(ts) for name, ts in times.items()}
