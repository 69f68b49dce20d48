"""What the CUDA kernels compile to on sm_90: SASS instruction counts, registers, spills and
theoretical occupancy, measured on any machine (no GPU needed).

    python -m bench.gpu_sass [--json] [--arch sm_90] [--sources msm.cu ntt.cu elementwise.cu]

Compiles kernels/cuda with NVRTC (the `nvidia-cuda-nvrtc` wheel, or a CUDA toolkit's library)
exactly as kernels/gpu/loader.py does, reads registers, spills, stack and shared memory from
ptxas' report and counts instructions with nvdisasm (the `nvidia-cuda-nvdisasm` wheel, or the
toolkit's). Per kernel: its own SASS instructions and those of the device functions it calls
(curve operations are real calls), registers, spills and the theoretical occupancy at the block
size the backend launches it with. Per operation: the field product (a probe kernel's count less
that of the same kernel with the product replaced by a limb-wise XOR, i.e. the loads, stores and
addressing) and the curve additions. The reference beside the Fr product is sppark's BN254
`mont_t` product compiled the same way for sm_90 with nvcc 13: 240 SASS instructions.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from kernels.gpu import loader, plan

SPPARK_FR_PRODUCT = 240  # reference: sppark's BN254 Montgomery product, sm_90, nvcc 13
FR_PRODUCT_GOAL = 260

# sm_90 limits (CUDA C++ Programming Guide, compute capability 9.0; the occupancy calculator's
# allocation rules): per SM 64 warps, 32 blocks, 64 K registers allocated per warp in units of
# 256, 228 KiB of shared memory with 1 KiB reserved per block, allocated in 128-byte units.
SM90 = {"warps": 64, "blocks": 32, "registers": 65536, "register_unit": 256, "shared": 233472,
        "shared_reserved": 1024, "shared_unit": 128}

# Launch shape of each kernel: threads per block and dynamic shared memory at the largest pass.
NTT_LARGEST = plan.NttPass(lo=0, t=plan.NTT_MAX_STAGES_PER_PASS, g=plan.NTT_MAX_LOG_BLOCK - plan.NTT_MAX_STAGES_PER_PASS)
BLOCK = {"ntt_dif_pass": (plan.ntt_threads(NTT_LARGEST), plan.ntt_shared_bytes(NTT_LARGEST)),
         "xyzz_tree_sum": (plan.MSM_SUM_THREADS, 0),
         **{k: (plan.MSM_POINT_THREADS, 0) for k in ("msm_accumulate_affine", "msm_accumulate_xyzz",
                                                      "msm_bucket_segments")},
         **{k: (plan.SORT_THREADS, 0) for k in ("radix_sort_tiles", "radix_scan_tiles")}}

# Probe kernels: one operation per thread on per-thread data (uniform data would compile to the
# uniform datapath), and for each a kernel with the same loads and stores whose only arithmetic
# is a limb-wise XOR; the difference, plus the XOR's LOP3s, is the operation.
PROBE = r"""
#include "curve.cuh"
using namespace zk;
struct FrMul { typedef Fr A; typedef Fr B; typedef Fr R;
               static ZK_HD Fr run(const Fr& a, const Fr& b) { return a * b; } };
struct FqMul { typedef Fq A; typedef Fq B; typedef Fq R;
               static ZK_HD Fq run(const Fq& a, const Fq& b) { return a * b; } };
struct Add { typedef G1Xyzz A; typedef G1Xyzz B; typedef G1Xyzz R;
             static ZK_HD G1Xyzz run(const G1Xyzz& a, const G1Xyzz& b) { return add(a, b); } };
struct AddMixed { typedef G1Xyzz A; typedef G1Affine B; typedef G1Xyzz R;
                  static ZK_HD G1Xyzz run(const G1Xyzz& a, const G1Affine& b) { return add_mixed(a, b); } };
struct Dbl { typedef G1Xyzz A; typedef G1Xyzz B; typedef G1Xyzz R;
             static ZK_HD G1Xyzz run(const G1Xyzz& a, const G1Xyzz&) { return dbl(a); } };
template <class T> __host__ __device__ constexpr int limbs() { return sizeof(T) / 8; }
template <class Op> __global__ void op_probe(const u64* in, u64* out) {
    const unsigned t = threadIdx.x;
    const u64* p = in + t * (limbs<typename Op::A>() + limbs<typename Op::B>());
    Op::run(Op::A::load(p), Op::B::load(p + limbs<typename Op::A>())).store(out + t * limbs<typename Op::R>());
}
// The same loads (A, then B) and the same store, joined by XOR.
template <class Op> __global__ void io_probe(const u64* in, u64* out) {
    const unsigned t = threadIdx.x;
    const u64* p = in + t * (limbs<typename Op::A>() + limbs<typename Op::B>());
    u64* o = out + t * limbs<typename Op::R>();
#pragma unroll
    for (int i = 0; i < limbs<typename Op::R>(); ++i)
        o[i] = p[i] ^ (i < limbs<typename Op::B>() ? p[limbs<typename Op::A>() + i] : 0);
}
"""
# operation key → (probe type, what it is, 64-bit XORs in its I/O baseline)
OPERATIONS = {"fr_product": ("FrMul", "Fr product (Montgomery)", 4),
              "fq_product": ("FqMul", "Fq product (Montgomery)", 4),
              "add": ("Add", "XYZZ + XYZZ (add-2008-s)", 16),
              "add_mixed": ("AddMixed", "XYZZ + affine (madd-2008-s)", 8),
              "dbl": ("Dbl", "2·XYZZ (dbl-2008-s-1)", 16)}
PROBE_NAMES = [f"{k}<{t}>" for t, _, _ in OPERATIONS.values() for k in ("op_probe", "io_probe")]


class ToolMissing(RuntimeError):
    pass


# Tools -------------------------------------------------------------------------------------------

def _wheel_dirs() -> list[Path]:
    """nvidia/cu*/ folders of the installed NVIDIA wheels."""
    try:
        import nvidia  # namespace package of the nvidia-* wheels
    except ImportError:
        return []
    return sorted(p for base in nvidia.__path__ for p in Path(base).glob("cu*") if p.is_dir())


def _toolkit_dirs() -> list[Path]:
    dirs = [Path(os.environ[v]) for v in ("CUDA_HOME", "CUDA_PATH") if os.environ.get(v)]
    nvcc = shutil.which("nvcc")
    if nvcc:
        dirs.append(Path(nvcc).resolve().parent.parent)
    return dirs + [Path("/usr/local/cuda")]


def find_nvrtc() -> Path:
    for d in _wheel_dirs() + _toolkit_dirs():
        for sub in ("lib", "lib64"):
            hits = sorted((d / sub).glob("libnvrtc.so*")) if (d / sub).is_dir() else []
            hits = [h for h in hits if "builtins" not in h.name]
            if hits:
                return hits[0]
    raise ToolMissing("NVRTC not found: pip install nvidia-cuda-nvrtc (or install a CUDA toolkit)")


def find_nvdisasm() -> Path:
    for d in _wheel_dirs() + _toolkit_dirs():
        if (d / "bin" / "nvdisasm").is_file():
            return d / "bin" / "nvdisasm"
    found = shutil.which("nvdisasm")
    if found:
        return Path(found)
    raise ToolMissing("nvdisasm not found: pip install nvidia-cuda-nvdisasm (or install a CUDA toolkit)")


class Nvrtc:
    def __init__(self, path: Path):
        self.lib = ctypes.CDLL(str(path))
        major, minor = ctypes.c_int(), ctypes.c_int()
        self.lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor))
        self.version = f"{major.value}.{minor.value}"

    def _check(self, rc: int, what: str, prog=None):
        if rc != 0:
            log = self._log(prog) if prog is not None else ""
            self.lib.nvrtcGetErrorString.restype = ctypes.c_char_p
            raise RuntimeError(f"NVRTC {what}: {self.lib.nvrtcGetErrorString(rc).decode()}\n{log}")

    def _log(self, prog) -> str:
        size = ctypes.c_size_t()
        self.lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
        buf = ctypes.create_string_buffer(size.value)
        self.lib.nvrtcGetProgramLog(prog, buf)
        return buf.value.decode(errors="replace")

    def compile(self, code: str, name: str, options: list[str], name_expressions=(),
                ptx: bool = False) -> tuple[bytes, str, dict]:
        """(cubin, ptxas report, name expression → lowered name); with `ptx`, the PTX text
        instead of the cubin."""
        prog = ctypes.c_void_p()
        self._check(self.lib.nvrtcCreateProgram(ctypes.byref(prog), code.encode(), name.encode(), 0, None, None),
                    "create")
        try:
            for expr in name_expressions:
                self._check(self.lib.nvrtcAddNameExpression(prog, expr.encode()), "name expression")
            opts = (ctypes.c_char_p * len(options))(*(o.encode() for o in options))
            self._check(self.lib.nvrtcCompileProgram(prog, len(options), opts), f"compiling {name}", prog)
            lowered = {}
            for expr in name_expressions:
                out = ctypes.c_char_p()
                self._check(self.lib.nvrtcGetLoweredName(prog, expr.encode(), ctypes.byref(out)), "lowered name")
                lowered[expr] = out.value.decode()
            size = ctypes.c_size_t()
            kind = "PTX" if ptx else "CUBIN"
            self._check(getattr(self.lib, f"nvrtcGet{kind}Size")(prog, ctypes.byref(size)), f"{kind} size")
            out = ctypes.create_string_buffer(size.value)
            self._check(getattr(self.lib, f"nvrtcGet{kind}")(prog, out), kind)
            return out.raw, self._log(prog), lowered
        finally:
            self.lib.nvrtcDestroyProgram(ctypes.byref(prog))


# Reading the results -----------------------------------------------------------------------------

@dataclass
class Function:
    name: str
    registers: int = 0
    stack: int = 0
    spill_stores: int = 0
    spill_loads: int = 0
    shared: int = 0
    barriers: int = 0
    own: int = 0                                           # SASS instructions of the body itself
    calls: dict[str, int] = field(default_factory=dict)    # device function → its instructions

    @property
    def sass(self) -> int:
        return self.own + sum(self.calls.values())


def parse_ptxas(report: str) -> dict[str, Function]:
    """Entry functions' resources from ptxas' -v report. A kernel's section starts with
    "Compiling entry function"; "Function properties for X" introduces X's stack and spill line,
    which belongs to the kernel only when X is the kernel itself (else X is a called function)."""
    out: dict[str, Function] = {}
    current: Optional[Function] = None
    own_properties = False
    for line in report.splitlines():
        m = re.search(r"Compiling entry function '([^']+)'", line)
        if m:
            current = out.setdefault(m.group(1), Function(m.group(1)))
            continue
        m = re.search(r"Function properties for (\S+)", line)
        if m:
            own_properties = current is not None and m.group(1) == current.name
            continue
        if current is None:
            continue
        m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)
        if m and own_properties:
            current.stack, current.spill_stores, current.spill_loads = map(int, m.groups())
            own_properties = False
        m = re.search(r"Used (\d+) registers", line)
        if m:
            current.registers = int(m.group(1))
            b = re.search(r"used (\d+) barriers", line)
            current.barriers = int(b.group(1)) if b else 0
            sm = re.search(r"(\d+) bytes smem", line)
            current.shared = int(sm.group(1)) if sm else 0
    return out


_INSTRUCTION = re.compile(r"^\s+/\*[0-9a-f]{4,}\*/\s+([^;]+);")


def count_sass(sass: str) -> dict[str, tuple[int, dict[str, int]]]:
    """kernel → (own instructions, {called device function: instructions}); NOP padding is not
    counted."""
    out: dict[str, tuple[int, dict[str, int]]] = {}
    kernel, target = None, None
    counts: dict[str, int] = {}
    own = 0

    def flush():
        if kernel is not None:
            out[kernel] = (own, dict(counts))

    for line in sass.splitlines():
        m = re.match(r"^\s*\.text\.(\S+):\s*$", line)
        if m:
            flush()
            kernel, target, own, counts = m.group(1), None, 0, {}
            continue
        m = re.match(r"^\$([^$]*)\$(\S+):\s*$", line)
        if m and kernel is not None:
            target = m.group(2)
            counts.setdefault(target, 0)
            continue
        m = _INSTRUCTION.match(line)
        if m and kernel is not None:
            ins = m.group(1).strip()
            if ins.startswith("NOP"):
                continue
            if target is None:
                own += 1
            else:
                counts[target] += 1
    flush()
    return out


def demangle(symbol: str) -> str:
    """zk::name of an Itanium-mangled zk function (enough for the names used here)."""
    m = re.match(r"_ZN2zk(\d+)(\w+)", symbol)
    if m:
        n = int(m.group(1))
        return m.group(2)[:n]
    m = re.match(r"\$?__internal_\d+_\$__cuda_(\w+)", symbol)
    return m.group(1) if m else symbol


def occupancy(registers: int, threads: int, shared: int) -> float:
    """Theoretical occupancy (resident warps / 64) of a kernel on one sm_90 SM."""
    warps = math.ceil(threads / 32)
    per_warp = math.ceil(max(registers, 1) * 32 / SM90["register_unit"]) * SM90["register_unit"]
    by_regs = (SM90["registers"] // per_warp) // warps
    smem = math.ceil((shared + SM90["shared_reserved"]) / SM90["shared_unit"]) * SM90["shared_unit"]
    by_smem = SM90["shared"] // smem
    blocks = min(SM90["blocks"], SM90["warps"] // warps, by_regs, by_smem)
    return blocks * warps / SM90["warps"]


# Measuring ---------------------------------------------------------------------------------------

def _disassemble(nvdisasm: Path, cubin: bytes) -> str:
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(cubin)
        f.flush()
        return subprocess.run([str(nvdisasm), "-c", f.name], capture_output=True, text=True, check=True).stdout


def _options(arch: str) -> list[str]:
    return [f"--gpu-architecture={arch}", *loader.compile_options(), "-Xptxas=-v"]


def measure_source(nvrtc: Nvrtc, nvdisasm: Path, name: str, arch: str) -> list[dict]:
    names = loader.NAME_EXPRESSIONS[name]
    cubin, report, lowered = nvrtc.compile(loader.module_code(name), name, _options(arch), names)
    readable = {v: k for k, v in lowered.items()}
    resources = parse_ptxas(report)
    rows = []
    for kernel, (own, calls) in count_sass(_disassemble(nvdisasm, cubin)).items():
        f = resources.get(kernel, Function(kernel))
        threads, dynamic = BLOCK.get(kernel, (plan.ITEM_THREADS, 0))
        rows.append({
            "source": name, "kernel": readable.get(kernel, kernel), "sass": own + sum(calls.values()),
            "sass_own": own, "calls": {demangle(k): v for k, v in calls.items()},
            "registers": f.registers, "spill_stores": f.spill_stores, "spill_loads": f.spill_loads,
            "stack": f.stack, "shared": f.shared + dynamic, "threads": threads,
            "occupancy": round(occupancy(f.registers, threads, f.shared + dynamic), 4),
        })
    return rows


def measure_operations(nvrtc: Nvrtc, nvdisasm: Path, arch: str) -> dict[str, int]:
    """SASS instructions of each operation: its probe kernel less the I/O baseline, whose XORs
    cost two LOP3 per 64-bit limb. Functions the operation calls (an addition's fallback to a
    doubling when P = Q) are not part of its count."""
    cubin, _, lowered = nvrtc.compile(PROBE, "probe.cu", _options(arch), PROBE_NAMES)
    counts = count_sass(_disassemble(nvdisasm, cubin))
    out = {}
    for key, (probe, _, xors) in OPERATIONS.items():
        op_own, _ = counts[lowered[f"op_probe<{probe}>"]]
        io_own, _ = counts[lowered[f"io_probe<{probe}>"]]
        out[key] = op_own - (io_own - 2 * xors)
    return out


_CARRY = re.compile(r"^\s*((?:mad|madc)\.(?:lo|hi)(?:\.cc)?|addc?(?:\.cc)?|subc?(?:\.cc)?)\.[us]32\b", re.M)


def carry_sequence(nvrtc: Nvrtc, arch: str, probe: str = "FrMul") -> list[str]:
    """The carry-flag instructions (mad.lo.cc, madc.hi, add.cc, addc, …) of one probe kernel's
    PTX, in order: what the inline-PTX product hands to ptxas."""
    ptx, _, lowered = nvrtc.compile(PROBE, "probe.cu", [f"--gpu-architecture={arch}", *loader.compile_options()],
                                    [f"op_probe<{probe}>"], ptx=True)
    text = ptx.rstrip(b"\0").decode()
    start = text.index(f".entry {lowered[f'op_probe<{probe}>']}")
    body = text[start:text.index("\n}", start)]
    return [m for m in _CARRY.findall(body) if ".cc" in m or m.startswith(("madc", "addc", "subc"))]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="sm_90")
    parser.add_argument("--sources", nargs="+", default=sorted(loader.NAME_EXPRESSIONS))
    parser.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    args = parser.parse_args(argv)
    try:
        nvrtc, nvdisasm = Nvrtc(find_nvrtc()), find_nvdisasm()
    except ToolMissing as e:
        print(f"gpu_sass: {e}", file=sys.stderr)
        return 2
    ops = measure_operations(nvrtc, nvdisasm, args.arch)
    rows = [r for name in args.sources for r in measure_source(nvrtc, nvdisasm, name, args.arch)]
    summary = {"arch": args.arch, "nvrtc": nvrtc.version, **{f"sass_{k}": v for k, v in ops.items()},
               "fr_product_reference_sppark": SPPARK_FR_PRODUCT, "fr_product_goal": FR_PRODUCT_GOAL,
               "msm_accumulate_spills": sum(r["spill_stores"] + r["spill_loads"] for r in rows
                                            if r["kernel"].startswith("msm_accumulate"))}
    if args.json:
        print(json.dumps({"record": "summary", **summary}))
        for r in rows:
            print(json.dumps({"record": "kernel", "arch": args.arch, **r}))
        return 0
    print(f"SASS on {args.arch} (NVRTC {nvrtc.version}, nvdisasm)\n")
    print(f"{'operation':34} {'SASS':>6}   reference")
    for key, (_, label, _) in OPERATIONS.items():
        ref = f"sppark mont_t: {SPPARK_FR_PRODUCT} (goal ≤ {FR_PRODUCT_GOAL})" if key == "fr_product" else ""
        print(f"{label:34} {ops[key]:>6}   {ref}".rstrip())
    print(f"\n{'kernel':34} {'SASS':>7} {'regs':>5} {'spill':>6} {'stack':>6} {'smem':>6} {'block':>5} {'occupancy':>9}")
    for r in rows:
        spill = r["spill_stores"] + r["spill_loads"]
        print(f"{r['kernel']:34} {r['sass']:>7} {r['registers']:>5} {spill:>6} {r['stack']:>6} {r['shared']:>6}"
              f" {r['threads']:>5} {r['occupancy']:>9.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
