"""The CUDA arithmetic, tested without a GPU.

kernels/cuda/host_test.cpp includes the .cuh headers and the __host__ __device__ bodies of
ntt.cu and msm.cu and runs them on the CPU, one thread, driven by the same launch plans as the GPU
backend (kernels/gpu/plan.py). Its answers are compared with Python ints and py_ecc. The field
tests run twice: with the portable arithmetic and with the device's carry-chain product, its
carry flag emulated. A second group compiles every .cu for sm_90 with nvcc, so compile errors in
device-only code show up here too. The device code run many threads at a time is in
tests/test_cuda_threaded.py.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys

import pytest

from kernels.gpu import loader, plan
from kernels.params import CURVE_B, G1_GENERATOR, MONTGOMERY_R, P_MODULUS, R_MODULUS, root_of_unity

CUDA_DIR = loader.CUDA_DIR
R, P = R_MODULUS, P_MODULUS


# Reference arithmetic (Python ints) ----------------------------------------------------------------

def ec_add(a, b):
    if a == (0, 0):
        return b
    if b == (0, 0):
        return a
    (x1, y1), (x2, y2) = a, b
    if x1 == x2:
        if (y1 + y2) % P == 0:
            return (0, 0)
        lam = 3 * x1 * x1 * pow(2 * y1, -1, P) % P
    else:
        lam = (y2 - y1) * pow(x2 - x1, -1, P) % P
    x3 = (lam * lam - x1 - x2) % P
    return (x3, (lam * (x1 - x3) - y1) % P)


def ec_mul(p, k):
    acc = (0, 0)
    while k:
        if k & 1:
            acc = ec_add(acc, p)
        p = ec_add(p, p)
        k >>= 1
    return acc


def ec_neg(p):
    return (p[0], (-p[1]) % P)


def random_point(rng):
    return ec_mul(G1_GENERATOR, rng.randrange(1, R))


def ntt_reference(a, omega):
    """Recursive radix-2 DFT: values[i] = Σ_j a[j]·ω^(ij)."""
    n = len(a)
    if n == 1:
        return list(a)
    even = ntt_reference(a[0::2], omega * omega % R)
    odd = ntt_reference(a[1::2], omega * omega % R)
    out, w = [0] * n, 1
    for i in range(n // 2):
        t = w * odd[i] % R
        out[i] = (even[i] + t) % R
        out[i + n // 2] = (even[i] - t) % R
        w = w * omega % R
    return out


# The host driver -----------------------------------------------------------------------------------

def _compiler():
    for cxx in ("g++", "clang++"):
        if shutil.which(cxx):
            return [cxx]
    if shutil.which("nvcc"):
        return ["nvcc", "-x", "cu"]
    return None


def _build_host(tmp_path_factory, defines: tuple[str, ...]):
    cxx = _compiler()
    if cxx is None:
        pytest.skip("no host C++ compiler (g++, clang++ or nvcc) found")
    exe = tmp_path_factory.mktemp("cuda_host") / "host_test"
    cmd = cxx + ["-std=c++17", "-O2", f"-I{CUDA_DIR}", *(f"-D{d}" for d in defines), "-o", str(exe),
                 str(CUDA_DIR / "host_test.cpp")]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, f"host build failed:\n{proc.stderr}"

    def run(lines: list[str]) -> list[str]:
        out = subprocess.run([str(exe)], input="\n".join(lines) + "\n", capture_output=True, text=True,
                             check=True).stdout.splitlines()
        assert len(out) == len(lines)
        for line in out:
            assert not line.startswith("error"), line
        return out

    return run


@pytest.fixture(scope="session")
def host(tmp_path_factory):
    """The portable arithmetic (64-bit limbs), as host builds compile it."""
    return _build_host(tmp_path_factory, ())


@pytest.fixture(scope="session")
def host_chain(tmp_path_factory):
    """The device arithmetic: 32-bit limbs on carry-flag chains, the flag emulated in C++."""
    return _build_host(tmp_path_factory, ("ZK_EMULATE_CARRY",))


@pytest.fixture(params=["portable", "carry_chain"])
def arith(request):
    return request.getfixturevalue("host" if request.param == "portable" else "host_chain")


def h(x: int) -> str:
    return format(x, "x")


def pt(p) -> str:
    return f"{h(p[0])} {h(p[1])}"


def parse_point(s: str):
    x, y = s.split()[:2]
    return (int(x, 16), int(y, 16))


# Fields ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("field,modulus", [("fr", R), ("fq", P)], ids=["fr", "fq"])
def test_field_ops_match_python_ints(arith, field, modulus):
    host = arith
    rng = random.Random()
    edge = [0, 1, 2, modulus - 1, modulus - 2, (modulus - 1) // 2, 2**64 - 1, 2**128, 2**192 + 5]
    values = edge + [rng.randrange(modulus) for _ in range(200)]
    pairs = [(a, b) for a in edge for b in edge] + [(rng.randrange(modulus), rng.randrange(modulus))
                                                    for _ in range(300)]
    cmds, want = [], []
    for a, b in pairs:
        for op, ref in (("add", a + b), ("sub", a - b), ("mul", a * b)):
            cmds.append(f"{field} {op} {h(a)} {h(b)}")
            want.append(ref % modulus)
    for a in values:
        cmds += [f"{field} neg {h(a)}", f"{field} sqr {h(a)}"]
        want += [(-a) % modulus, a * a % modulus]
        if a:
            cmds.append(f"{field} inv {h(a)}")
            want.append(pow(a, -1, modulus))
    got = [int(s, 16) for s in host(cmds)]
    bad = [(c, g, w) for c, g, w in zip(cmds, got, want) if g != w]
    assert not bad, bad[:5]


@pytest.mark.parametrize("field,modulus", [("fr", R), ("fq", P)], ids=["fr", "fq"])
def test_montgomery_form_and_range_check(arith, field, modulus):
    host = arith
    rng = random.Random()
    values = [0, 1, modulus - 1] + [rng.randrange(modulus) for _ in range(50)]
    got = host([f"{field} mont {h(v)}" for v in values])
    assert [int(s, 16) for s in got] == [v * MONTGOMERY_R % modulus for v in values]
    back = host([f"{field} unmont {h(v * MONTGOMERY_R % modulus)}" for v in values])
    assert [int(s, 16) for s in back] == values
    limbs = [modulus - 1, modulus, modulus + 1, 2**256 - 1, 0]
    assert host([f"{field} reduced {h(v)}" for v in limbs]) == ["1", "0", "0", "0", "1"]


# G1 ------------------------------------------------------------------------------------------------------

def test_g1_matches_python_formulas(host):
    rng = random.Random()
    inf = (0, 0)
    pts = [G1_GENERATOR, ec_mul(G1_GENERATOR, 2)] + [random_point(rng) for _ in range(12)]
    cases = [(inf, inf), (inf, pts[0]), (pts[0], inf)]
    for p in pts:
        cases += [(p, p), (p, ec_neg(p)), (p, rng.choice(pts))]
    cases += [(rng.choice(pts), rng.choice(pts)) for _ in range(20)]
    cmds, want = [], []
    for a, b in cases:
        for op in ("add", "madd"):
            cmds.append(f"g1 {op} {pt(a)} {pt(b)}")
            want.append(ec_add(a, b))
    for p in pts + [inf]:
        cmds.append(f"g1 dbl {pt(p)}")
        want.append(ec_add(p, p))
    for p in pts[:4]:
        for k in (0, 1, 2, R - 1, rng.randrange(R)):
            cmds.append(f"g1 smul {pt(p)} {h(k)}")
            want.append(ec_mul(p, k))
    got = [parse_point(s) for s in host(cmds)]
    bad = [(c, g, w) for c, g, w in zip(cmds, got, want) if g != w]
    assert not bad, bad[:3]


def test_g1_on_curve_and_py_ecc(host):
    from py_ecc.optimized_bn128 import G1, multiply, normalize

    rng = random.Random()
    k = rng.randrange(1, R)
    x, y = (int(c) for c in normalize(multiply(G1, k)))
    got = parse_point(host([f"g1 smul {pt(G1_GENERATOR)} {h(k)}"])[0])
    assert got == (x, y)
    assert (y * y - x ** 3 - CURVE_B) % P == 0
    assert host([f"g1 oncurve {pt((x, y))}", "g1 oncurve 0 0", f"g1 oncurve {h(x)} {h(y + 1)}",
                 "g1 oncurve 1 1"]) == ["1", "1", "0", "0"]


# NTT (the ntt.cu block code on one emulated thread) ------------------------------------------------------

def _ntt_command(log_n, inverse, coset, shift, columns):
    s = plan.ntt_scales(log_n, inverse, coset, shift)
    passes = plan.ntt_passes(log_n)
    head = [str(log_n), h(s.omega), h(s.pre_base), h(s.post_c), h(s.post_base), str(len(passes))]
    head += [f"{p.lo} {p.t} {p.g}" for p in passes]
    flat = [v for col in columns for v in col]
    return "ntt " + " ".join(head + [str(len(columns))] + [h(v) for v in flat])


@pytest.mark.parametrize("log_n", [1, 2, 3, 5, 9, 12, 17])
def test_ntt_block_code_matches_dft(host, log_n):
    rng = random.Random()
    n = 1 << log_n
    cols = 2 if log_n <= 12 else 1
    a = [[rng.randrange(R) for _ in range(n)] for _ in range(cols)]
    if log_n <= 12:
        a[-1][: n // 2] = [0] * (n // 2)
        a[-1][0] = R - 1
    omega = root_of_unity(log_n)
    shift = 5
    cmds = [_ntt_command(log_n, False, False, shift, a), _ntt_command(log_n, False, True, shift, a)]
    forward, coset = [list(map(lambda s: int(s, 16), line.split())) for line in host(cmds)]
    want_f = [v for col in a for v in ntt_reference(col, omega)]
    want_c = [v for col in a for v in ntt_reference([x * pow(shift, j, R) % R for j, x in enumerate(col)], omega)]
    assert forward == want_f
    assert coset == want_c
    # Inverse transforms undo the forward ones.
    fcols = [forward[i * n:(i + 1) * n] for i in range(cols)]
    ccols = [coset[i * n:(i + 1) * n] for i in range(cols)]
    inv_cmds = [_ntt_command(log_n, True, False, shift, fcols), _ntt_command(log_n, True, True, shift, ccols)]
    back, back_c = [list(map(lambda s: int(s, 16), line.split())) for line in host(inv_cmds)]
    flat = [v for col in a for v in col]
    assert back == flat
    assert back_c == flat


def test_ntt_plans_cover_every_bit():
    for log_n in range(1, 29):
        passes = plan.ntt_passes(log_n)
        covered = sorted(b for p in passes for b in range(p.lo, p.lo + p.t))
        assert covered == list(range(log_n))
        for p in passes:
            assert p.log_block <= plan.NTT_MAX_LOG_BLOCK and p.g <= p.lo
        assert len(passes) <= (3 if log_n <= 24 else 4)


# MSM (the msm.cu pipeline with std::sort standing in for the device sort) ----------------------------

def _msm(host, points, scalars, c, chunk0=None, chunk=None, seg_len=None, montgomery=True, bits=None):
    bits = bits if bits is not None else max([k.bit_length() for k in scalars] + [1])
    windows = plan.msm_windows(bits, c)
    chunk0 = chunk0 or plan.MSM_CHUNK_AFFINE
    chunk = chunk or plan.MSM_CHUNK_PARTIAL
    seg_len = seg_len or plan.msm_segment_length(1 << (c - 1))
    cmd = (f"msm {len(points)} {int(montgomery)} {c} {windows} {chunk0} {chunk} {seg_len} "
           + " ".join(pt(p) for p in points) + " " + " ".join(h(k) for k in scalars))
    out = host([cmd])[0].split()
    return (int(out[0], 16), int(out[1], 16)), int(out[2]), int(out[3])


def _msm_reference(points, scalars):
    acc = (0, 0)
    for p, k in zip(points, scalars):
        acc = ec_add(acc, ec_mul(p, k))
    return acc


@pytest.fixture(scope="module")
def base_points():
    rng = random.Random()
    return [random_point(rng) for _ in range(40)]


@pytest.mark.parametrize("c,chunk0,chunk,seg_len", [(2, 2, 4, 1), (4, 3, 4, 2), (5, 32, 8, 4), (8, 4, 4, 16),
                                                     (13, 2, 4, 64)])
def test_msm_pipeline_random(host, base_points, c, chunk0, chunk, seg_len):
    rng = random.Random()
    n = 37
    points = [rng.choice(base_points) for _ in range(n - 2)] + [(0, 0), base_points[0]]
    scalars = [rng.randrange(R) for _ in range(n - 4)] + [0, 1, R - 1, rng.randrange(R)]
    got, widest, levels = _msm(host, points, scalars, c, chunk0, chunk, seg_len)
    assert got == _msm_reference(points, scalars)
    assert widest == max(k.bit_length() for k in scalars)


@pytest.mark.parametrize("case", ["ones", "equal", "small", "negated", "cancel", "zeros", "single"])
def test_msm_pipeline_edge_cases(host, base_points, case):
    rng = random.Random()
    n = 64
    points = [rng.choice(base_points) for _ in range(n)]
    if case == "ones":  # one bucket holds every point: cut across many chunks and levels
        scalars = [1] * n
    elif case == "equal":
        scalars = [rng.randrange(R)] * n
        points = [base_points[1]] * n  # the same point in the same bucket: P + P inside the bucket
    elif case == "small":
        scalars = [rng.randrange(1 << 16) for _ in range(n)]
    elif case == "negated":  # the top digits all negative
        scalars = [R - rng.randrange(1, 1 << 20) for _ in range(n)]
    elif case == "cancel":  # k·P + k·(−P) = infinity
        k = rng.randrange(R)
        points = [base_points[2], ec_neg(base_points[2])] * (n // 2)
        scalars = [k] * n
    elif case == "zeros":
        scalars = [0] * n
    else:
        points, scalars = [base_points[3]], [rng.randrange(R)]
    want = _msm_reference(points, scalars)
    for c in (3, 7):
        got, _, levels = _msm(host, points, scalars, c, chunk0=2, chunk=4, seg_len=1)
        assert got == want, (case, c)
    got, _, _ = _msm(host, points, scalars, plan.msm_window_bits(len(points), 254), bits=254)
    assert got == want


def test_msm_pipeline_canonical_scalars(host, base_points):
    rng = random.Random()
    scalars = [rng.randrange(R) for _ in base_points]
    got, _, _ = _msm(host, base_points, scalars, 6, montgomery=False)
    assert got == _msm_reference(base_points, scalars)


def test_msm_window_plan():
    assert plan.msm_windows(254, 16) == 16
    assert plan.msm_windows(16, 16) == 2  # 16 bits need a carry window with c = 16
    assert plan.msm_windows(15, 16) == 1
    assert plan.MSM_CHUNK_PARTIAL >= 4  # partial levels must shrink
    for n in (1, 2**10, 2**20, 2**24):
        for bits in (1, 16, 20, 64, 254):
            c = plan.msm_window_bits(n, bits)
            assert 2 <= c <= plan.MSM_MAX_WINDOW_BITS
            assert plan.msm_windows(bits, c) * (1 << (c - 1)) < 2**32 - 1


# nvcc ---------------------------------------------------------------------------------------------------

def _nvcc_source(name: str) -> str:
    """The source as NVRTC would compile it, plus explicit instantiations of the templates that
    the GPU backend requests by name."""
    text = f'#include "{name}"\n'
    names = loader.NAME_EXPRESSIONS[name]
    if names:  # taking a kernel's address instantiates it, as NVRTC's name expressions do
        text += "void* zk_instances[] = {" + ", ".join(f"(void*)&{e}" for e in names) + "};\n"
    return text


@pytest.mark.parametrize("name", sorted(loader.NAME_EXPRESSIONS))
def test_cuda_sources_compile_with_nvcc(name, tmp_path):
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc not found")
    src = tmp_path / f"check_{name}"
    src.write_text(_nvcc_source(name))
    cmd = [nvcc, *loader.compile_options(), "-arch=sm_90", "-cubin", "-o", str(tmp_path / "check.cubin"),
           str(src)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stderr.lower(), proc.stderr


# SASS (bench.gpu_sass: NVRTC and nvdisasm from their PyPI wheels, no GPU) -------------------------

def test_occupancy_rules_of_sm90():
    from bench.gpu_sass import occupancy

    assert occupancy(255, 256, 0) == 8 / 64    # the whole register file for one block
    assert occupancy(32, 256, 0) == 1.0
    assert occupancy(94, 256, 32768) == 16 / 64  # 96 registers a thread: 21 warps, 2 blocks of 8
    assert occupancy(146, 128, 0) == 12 / 64     # 152 registers: 13 warps, 3 blocks of 4
    assert occupancy(16, 64, 100 * 1024) == 2 * 2 / 64  # shared memory: 2 blocks of 100 KiB


def test_fr_product_sass_count():
    from bench import gpu_sass

    try:
        nvrtc, nvdisasm = gpu_sass.Nvrtc(gpu_sass.find_nvrtc()), gpu_sass.find_nvdisasm()
    except gpu_sass.ToolMissing as e:
        pytest.skip(str(e))
    ops = gpu_sass.measure_operations(nvrtc, nvdisasm, "sm_90")
    assert ops["fr_product"] <= gpu_sass.FR_PRODUCT_GOAL, ops
    assert ops["fq_product"] <= gpu_sass.FR_PRODUCT_GOAL, ops
    # The probe baseline is sound: an addition costs more than its 14 products.
    assert 14 * ops["fr_product"] < ops["add"]


# scripts/gpu_check.sh ------------------------------------------------------------------------------

def test_gpu_check_runs_only_what_the_device_image_has():
    """The device image has no galois, py_ecc, ray or pyrevm: under the script's own import guard,
    everything the script runs imports (cupy aside, which this machine lacks)."""
    import ast
    import re

    root = CUDA_DIR.parent.parent
    script = (root / "scripts" / "gpu_check.sh").read_text()
    guard = re.search(r"^GUARD='(.*?)^'", script, re.S | re.M).group(1)
    tree = ast.parse((root / "tests" / "test_gpu_backend.py").read_text())
    modules = sorted({node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
                      and node.module != "__future__"}
                     | {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names})
    modules = [m for m in modules if m != "cupy"]
    code = guard + "\n" + "\n".join(f"import {m}" for m in modules) + """
import tests.conftest, bench.gpu_primitives, bench.gpu_floor, kernels.gpu.plan
from kernels import get_backend
cpu = get_backend("cpu")
assert cpu.fr.to_ints(cpu.fr.mul(cpu.fr.from_ints([3]), cpu.fr.from_ints([5]))) == [15]
try:
    import py_ecc
except ImportError:
    pass
else:
    raise SystemExit("the guard let py_ecc in")
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_device_product_ptx_is_the_tested_chain():
    """The PTX of the device product holds exactly the carry-flag instructions of the chain that
    the emulated-flag build runs on the CPU (test_field_ops_match_python_ints[carry_chain-…]),
    in the same order, and no other instruction that reads or writes the flag."""
    from bench import gpu_sass

    try:
        nvrtc = gpu_sass.Nvrtc(gpu_sass.find_nvrtc())
    except gpu_sass.ToolMissing as e:
        pytest.skip(str(e))
    pair = ["madc.lo.cc", "madc.hi.cc"]
    reduction = (["mad.lo.cc", "madc.hi.cc"] + pair * 3 + ["addc"]            # ev += q·M_even
                 + ["mad.lo.cc", "madc.hi.cc"] + pair * 2 + ["madc.lo.cc", "madc.hi"])  # od += q·M_odd
    shift_and_multiply = (["add.cc"] + pair * 3 + ["madc.lo.cc", "madc.hi"]    # ev_1 + od chain
                          + ["mad.lo.cc", "madc.hi.cc"] + pair * 3 + ["addc"])  # ev chain
    want = reduction + 7 * (shift_and_multiply + reduction) + ["add.cc"] + ["addc.cc"] * 6 + ["addc"]
    for probe in ("FrMul", "FqMul"):
        assert gpu_sass.carry_sequence(nvrtc, "sm_90", probe) == want, probe
