"""Benchmark of the two hot primitives, MSM and NTT, against peer engines on the same machine.

    python -m bench.primitives                       # sizes 2^10 .. 2^18, the best backend here
    python -m bench.primitives --sizes 12 14 16 --backend cpu --ops msm --reps 3 --no-peer
    python -m bench.primitives --python-peers frx    # only Fractal JAX beside ours

Besides snarkjs's engine (below), the Python peers of `bench.python_peers` (arkworks through
zksnake, mcl, Fractal JAX) are timed in the same process, taking turns with ours rep by rep, and
their results are checked against ours; each line carries them under `python_peers`
({label: {median_ms, ratio, agrees, note}} or {label: {error}}) and `best_peer_ratio`, ours over
the fastest peer that agrees (below 1: ours is faster).

Prints one JSON object per measurement on stdout and nothing else (progress goes to stderr):

    {"op": "msm", "backend": "cpu", "log2_n": 16, "scalar_bits": 254, "median_ms": ...,
     "peer": "ffjavascript@0.3.1", "peer_figure": "...", "peer_median_ms": ..., "ratio": ...,
     "reps": 5, "machine": "AMD EPYC, 2 cores"}

`ratio` is ours / peer, so below 1 means zkpipe is faster. The peer is snarkjs's field and curve
engine (ffjavascript, WebAssembly on worker threads) driven by the shared script
`../shared/peers/snarkjs_primitives.mjs`; its MSM always takes full-width scalars, so both our
254-bit and our 16-bit MSM are set against that one figure (`peer_figure` says which).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
PEERS_DIR = REPO_ROOT / "bench" / "peers"
DEFAULT_PEER_SCRIPT = REPO_ROOT.parent / "shared" / "peers" / "snarkjs_primitives.mjs"
DEFAULT_CACHE_DIR = REPO_ROOT / ".zkpipe" / "bench-cache"

PEER_PACKAGE = "ffjavascript"
PEER_VERSION = "0.3.1"
PEER_NAME = f"{PEER_PACKAGE}@{PEER_VERSION}"
PEER_FIGURES = {
    "msm": "G1.multiExpAffine, 254-bit scalars",
    "ntt": "Fr.fft, forward, one column",
}
# The peer builds its bases one point at a time in JavaScript; at 2^18 that alone takes tens of
# seconds on a small machine, so the limit is generous.
PEER_TIMEOUT_S = 3600

# Bases are a pure function of their size and this seed, which is what makes the cache sound.
BASES_SEED = 20240601
BASES_FORMAT = "v1"
SCALARS_SEED = 7


def progress(message: str) -> None:
    """A line for the person watching; stdout stays pure JSON."""
    print(f"[bench.primitives] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# The machine
# ---------------------------------------------------------------------------------------------

def machine_description() -> str:
    """The CPU model and the number of cores this process may use, e.g. "AMD EPYC, 2 cores"."""
    model = "unknown cpu"
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    model = line.split(":", 1)[1].strip() or model
                    break
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return f"{model}, {cores} core{'s' if cores != 1 else ''}"


def device_description() -> str:
    """The name of the current CUDA device (only called for the GPU backend)."""
    import cupy

    device = cupy.cuda.Device()
    name = cupy.cuda.runtime.getDeviceProperties(device.id)["name"]
    if isinstance(name, bytes):
        name = name.decode(errors="replace")
    return str(name)


def load_average() -> Optional[float]:
    """The 1-minute load average, recorded with each figure: on a shared machine a load above
    the core count means the figure was taken while something else competed for the cores."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def device_synchronizer(backend_name: str) -> Callable[[], None]:
    """What to call before reading the clock: the GPU runs asynchronously, the CPU does not."""
    if backend_name != "gpu":
        return lambda: None
    import cupy

    return lambda: cupy.cuda.Device().synchronize()


# ---------------------------------------------------------------------------------------------
# Inputs (never timed)
# ---------------------------------------------------------------------------------------------

def generate_bases(backend, log2_n: int):
    """2^log2_n distinct G1 points as a backend array, built cheaply.

    Scalar-multiplying each point separately would cost a full double-and-add per point; instead
    take a few random points A_i and B_j (√n of each) and form every sum A_i + B_j with one
    vectorized addition. The sums are distinct (and none is infinity) except with negligible
    probability, and an MSM's cost does not depend on how its bases were chosen.
    """
    rng = np.random.default_rng(BASES_SEED + log2_n)
    rows, cols = 1 << ((log2_n + 1) // 2), 1 << (log2_n // 2)
    a = backend.to_host(backend.g1.random(rows, rng=rng))
    b = backend.to_host(backend.g1.random(cols, rng=rng))
    left = np.repeat(a, cols, axis=0)
    right = np.tile(b, (rows, 1, 1))
    return backend.g1.add(backend.asarray(left), backend.asarray(right))


def bases_cache_path(cache_dir: Path, log2_n: int) -> Path:
    return cache_dir / f"g1-bases-{BASES_FORMAT}-seed{BASES_SEED}-2^{log2_n}.npy"


def load_bases(backend, log2_n: int, cache_dir: Optional[Path]):
    """The bases for 2^log2_n, from the on-disk cache when it holds them (as host arrays in the
    shared limb layout, so either backend can read them), generated and stored otherwise."""
    n = 1 << log2_n
    if cache_dir is None:
        return generate_bases(backend, log2_n)
    path = bases_cache_path(cache_dir, log2_n)
    if path.exists():
        try:
            host = np.load(path, allow_pickle=False)
            if host.dtype == np.uint64 and host.shape == (n, 2, 4):
                points = backend.asarray(host)
                backend.g1.validate(points, "cached bases")
                return points
            progress(f"ignoring {path}: shape {host.shape}, dtype {host.dtype}")
        except Exception as exc:  # a truncated or stale file is regenerated, never fatal
            progress(f"ignoring {path}: {exc}")
    progress(f"generating 2^{log2_n} bases (cached in {cache_dir})")
    points = generate_bases(backend, log2_n)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        with open(partial, "wb") as f:
            np.save(f, backend.to_host(points), allow_pickle=False)
        os.replace(partial, path)
    except OSError as exc:
        progress(f"could not cache bases in {cache_dir}: {exc}")
    return points


def random_scalars(backend, n: int, bits: int, rng: np.random.Generator):
    """n scalars uniform below 2^bits, as the backend's Fr (Montgomery) array; bits ≥ 254 means
    uniform in Fr, the full width the prover's commitments see."""
    if bits >= 254:
        return backend.fr.random(n, rng=rng)
    limbs = rng.integers(0, 1 << 64, size=(n, 4), dtype=np.uint64, endpoint=False)
    for limb in range(4):
        keep = min(max(bits - 64 * limb, 0), 64)
        mask = np.uint64((1 << keep) - 1) if keep < 64 else np.uint64(0xFFFFFFFFFFFFFFFF)
        limbs[:, limb] &= mask
    from kernels.convert import limbs_to_ints

    return backend.fr.from_ints(limbs_to_ints(limbs))


# ---------------------------------------------------------------------------------------------
# The peer
# ---------------------------------------------------------------------------------------------

class PeerError(Exception):
    """The peer could not be set up or run; the reason goes into the output as `peer_error`."""


def peer_script_path() -> Path:
    return Path(os.environ.get("ZKPIPE_PEER_SCRIPT") or DEFAULT_PEER_SCRIPT)


def peer_installed(peers_dir: Path = PEERS_DIR) -> bool:
    manifest = peers_dir / "node_modules" / PEER_PACKAGE / "package.json"
    try:
        return json.loads(manifest.read_text()).get("version") == PEER_VERSION
    except (OSError, ValueError):
        return False


def install_peer(peers_dir: Path = PEERS_DIR) -> None:
    """Install the pinned ffjavascript into `peers_dir/node_modules`, unless it is there."""
    if peer_installed(peers_dir):
        return
    npm = shutil.which("npm")
    if npm is None:
        raise PeerError("npm not found: cannot install the peer engine")
    # With the committed lockfile, `npm ci` installs exactly the pinned tree.
    if (peers_dir / "package-lock.json").exists():
        command = [npm, "ci", "--prefix", str(peers_dir), "--no-audit", "--no-fund"]
    else:
        command = [npm, "install", "--prefix", str(peers_dir), "--no-audit", "--no-fund", PEER_NAME]
    progress(f"installing the peer: {' '.join(command[1:])}")
    try:
        done = subprocess.run(command, cwd=peers_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PeerError(f"npm failed: {exc}") from exc
    if done.returncode != 0 or not peer_installed(peers_dir):
        raise PeerError(f"npm exited with {done.returncode}: {_last_line(done.stderr)}")


def run_peer(sizes: Sequence[int], reps: int, script: Optional[Path] = None,
             peers_dir: Path = PEERS_DIR) -> dict[int, dict]:
    """The peer's figures per log2_n: {log2_n: {"msm_ms": .., "fft_ms": ..}}. Raises PeerError."""
    script = script or peer_script_path()
    if not script.is_file():
        raise PeerError(f"peer script not found: {script} (set ZKPIPE_PEER_SCRIPT)")
    node = shutil.which("node")
    if node is None:
        raise PeerError("node not found: cannot run the peer")
    install_peer(peers_dir)
    env = dict(os.environ, NODE_PATH=str(peers_dir / "node_modules"), REPS=str(reps))
    command = [node, str(script), *map(str, sizes)]
    progress(f"running the peer: node {script.name} {' '.join(map(str, sizes))} (REPS={reps})")
    try:
        done = subprocess.run(command, cwd=peers_dir, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=PEER_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PeerError(f"peer did not finish: {exc}") from exc
    figures = parse_peer_output(done.stdout)
    if done.returncode != 0 and not figures:
        raise PeerError(f"peer exited with {done.returncode}: {_last_line(done.stderr)}")
    return figures


def parse_peer_output(stdout: str) -> dict[int, dict]:
    """The peer's JSON lines, keyed by log2_n; lines that are not its JSON are skipped."""
    figures = {}
    for line in stdout.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("log2_n"), int):
            figures[record["log2_n"]] = record
    return figures


def _last_line(text: str) -> str:
    """The most telling line of a tool's stderr: the last one naming an error, else the last."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if not lines:
        return "no output"
    errors = [line for line in lines if "error" in line.lower()]
    return (errors or lines)[-1][:300]


# ---------------------------------------------------------------------------------------------
# The benchmark
# ---------------------------------------------------------------------------------------------

def result_line(op: str, backend_name: str, log2_n: int, ours_ms: float, reps: int,
                context: dict, peer: dict, scalar_bits: Optional[int] = None) -> dict:
    """One output record; `peer` holds either the peer's figure or its error."""
    line = {"op": op, "backend": backend_name, "log2_n": log2_n}
    if op == "msm":
        line["scalar_bits"] = scalar_bits
    line["median_ms"] = round(ours_ms, 6)
    line["peer"] = PEER_NAME
    line["peer_figure"] = PEER_FIGURES[op]
    peer_ms = peer.get("ms")
    line["peer_median_ms"] = peer_ms
    line["ratio"] = round(ours_ms / peer_ms, 4) if peer_ms else None
    if peer.get("error"):
        line["peer_error"] = peer["error"]
    line["reps"] = reps
    line.update(context)
    return line


def peer_for(figures: Optional[dict], error: Optional[str], op: str, log2_n: int) -> dict:
    """The peer figure used for `op` at `log2_n`, or the reason there is none; nothing at all
    when the peer was not asked for (figures None, no error)."""
    if error:
        return {"ms": None, "error": error}
    if figures is None:
        return {"ms": None}
    record = (figures or {}).get(log2_n)
    key = "msm_ms" if op == "msm" else "fft_ms"
    if record is None or not isinstance(record.get(key), (int, float)):
        return {"ms": None, "error": f"the peer printed no {key} for log2_n {log2_n}"}
    return {"ms": float(record[key])}


def measure_with_python_peers(op: str, ours: Callable[[], object], py_peers: dict, reps: int,
                              synchronize, host_inputs: tuple) -> tuple[float, dict]:
    """Our median ms for `op`, and the `python_peers` / `best_peer_ratio` fields: every usable
    peer is prepared on the same inputs, checked against our result, and timed taking turns
    with ours."""
    from bench.python_peers import fr_ints, g1_ints, interleaved_medians

    want = None
    calls, side = {"ours": ours}, {}
    for name, peer in py_peers.items():
        if isinstance(peer, str):
            side[name] = {"error": peer}
            continue
        if op not in peer.ops:
            continue
        try:
            call = peer.msm(*host_inputs) if op == "msm" else peer.ntt(*host_inputs)
            if want is None:
                result = backend_host(ours())
                want = g1_ints(result)[0] if op == "msm" else fr_ints(result)
            agrees = call() == want
        except Exception as exc:  # a peer that breaks is reported, our figure still stands
            side[peer.label] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
            continue
        side[peer.label] = {"agrees": agrees, "note": peer.note}
        calls[peer.label] = call
    medians = interleaved_medians(calls, reps, synchronize)
    ours_ms = medians.pop("ours")
    for label, ms in medians.items():
        side[label].update(median_ms=round(ms, 6), ratio=round(ours_ms / ms, 4) if ms else None)
    agreeing = [v["median_ms"] for v in side.values() if v.get("agrees") and v.get("median_ms")]
    fields = {"python_peers": side} if side else {}
    if agreeing:
        fields["best_peer_ratio"] = round(ours_ms / min(agreeing), 4)
    return ours_ms, fields


def backend_host(a):
    """A backend array as a NumPy array (CuPy's .get(), NumPy's own)."""
    return a.get() if hasattr(a, "get") else np.asarray(a)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 12, 14, 16, 18],
                        metavar="LOG2_N", help="problem sizes as log2 n (default: 10 12 14 16 18)")
    parser.add_argument("--backend", choices=["cpu", "gpu", "auto"], default="auto")
    parser.add_argument("--ops", choices=["msm", "ntt"], nargs="+", default=["msm", "ntt"])
    parser.add_argument("--scalar-bits", type=int, nargs="+", default=[254, 16], metavar="BITS",
                        help="MSM scalar widths (default: 254 16)")
    parser.add_argument("--reps", type=int, default=5, help="timed repetitions (default: 5)")
    parser.add_argument("--no-peer", action="store_true", help="skip the snarkjs peer")
    parser.add_argument("--python-peers", nargs="*", default=None, metavar="NAME",
                        help="Python peers to time beside ours (arkworks mcl frx; default: all; "
                             "none given: no Python peer)")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR,
                        help=f"where generated MSM bases are kept (default: {DEFAULT_CACHE_DIR})")


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.Namespace:
    for log2_n in args.sizes:
        if not 1 <= log2_n <= 28:
            parser.error(f"--sizes: {log2_n} is not a log2 size in 1..28")
    for bits in args.scalar_bits:
        if not 1 <= bits <= 254:
            parser.error(f"--scalar-bits: {bits} is not in 1..254")
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    return args


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.primitives",
                                     description="Time MSM and NTT against snarkjs's engine.")
    add_arguments(parser)
    return check_arguments(parser, parser.parse_args(argv))


def run(args: argparse.Namespace, out=None) -> list[dict]:
    """Run the benchmark described by `args`, writing each JSON line to `out` (stdout) as soon
    as it is measured; returns the lines."""
    from kernels import get_backend

    out = out or sys.stdout
    backend = get_backend(args.backend)
    backend_name = getattr(backend, "name", None) or args.backend
    synchronize = device_synchronizer(backend_name)
    context = {"machine": machine_description()}
    if backend_name == "gpu":
        context["device"] = device_description()

    # The peer runs first and alone, so that neither side's threads compete with the other's.
    figures, peer_error = None, None
    if not args.no_peer:
        try:
            figures = run_peer(sorted(set(args.sizes)), args.reps)
        except PeerError as exc:
            peer_error = str(exc)
        except Exception as exc:  # whatever goes wrong with the peer, our figures still print
            peer_error = f"{type(exc).__name__}: {exc}"
        if peer_error:
            progress(f"peer unavailable: {peer_error}")

    lines = []

    def emit(line: dict) -> None:
        lines.append(line)
        print(json.dumps(line), file=out, flush=True)

    from bench.python_peers import available_peers

    py_peers = available_peers(args.python_peers)
    for name, peer in py_peers.items():
        if isinstance(peer, str):
            progress(f"python peer {name}: {peer}")

    for log2_n in args.sizes:
        if "msm" in args.ops:
            peer = peer_for(figures, peer_error, "msm", log2_n)
            points = load_bases(backend, log2_n, args.cache_dir)
            for bits in args.scalar_bits:
                progress(f"msm 2^{log2_n}, {bits}-bit scalars, {backend_name}")
                load = {"loadavg_1m": load_average()}
                scalars = random_scalars(backend, 1 << log2_n, bits, np.random.default_rng(SCALARS_SEED))
                ms, side = measure_with_python_peers(
                    "msm", lambda: backend.msm(points, scalars), py_peers, args.reps, synchronize,
                    (backend.to_host(points), backend.to_host(scalars)))
                emit({**result_line("msm", backend_name, log2_n, ms, args.reps, {**context, **load},
                                    peer, bits), **side})
        if "ntt" in args.ops:
            peer = peer_for(figures, peer_error, "ntt", log2_n)
            progress(f"ntt 2^{log2_n}, {backend_name}")
            load = {"loadavg_1m": load_average()}
            column = backend.fr.random(1 << log2_n, rng=np.random.default_rng(SCALARS_SEED))
            ms, side = measure_with_python_peers("ntt", lambda: backend.ntt(column), py_peers, args.reps,
                                                 synchronize, (backend.to_host(column),))
            emit({**result_line("ntt", backend_name, log2_n, ms, args.reps, {**context, **load}, peer), **side})
    return lines


def command(args: argparse.Namespace) -> int:
    """`zkpipe bench`: the same as python -m bench.primitives."""
    check_arguments(argparse.ArgumentParser(prog="zkpipe bench"), args)
    run(args)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    run(parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
