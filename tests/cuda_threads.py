"""The CUDA kernels' device code run on the CPU, one OS thread per CUDA thread.

Each kernels/cuda/*.cu is compiled as host C++ through host_emulation.h (`__CUDA_ARCH__` defined,
so the device paths are taken: the carry-chain field product with its flag emulated, `__brev`,
`__umul64hi`, `__syncthreads`) into a shared library whose `zk_launch` runs a grid block after
block, each block's threads as real threads meeting at a real barrier. A stand-in `cupy` module
(numpy arrays; kernels launched through `zk_launch` with the grid, block and shared-memory size
the Python driver asks for) lets the unmodified GPU backend (kernels/gpu) drive those kernels.
"""

from __future__ import annotations

import ctypes
import importlib
import shutil
import subprocess
import sys
import types
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from kernels.gpu import loader

CUDA_DIR = loader.CUDA_DIR
SOURCES = {"elementwise.cu": "ZK_ELEMENTWISE", "ntt.cu": "ZK_NTT", "msm.cu": "ZK_MSM"}
LAUNCH_ERRORS = {1: "unknown kernel", 2: "threads of a block diverged around __syncthreads",
                 3: "could not start the block's threads"}


class LaunchError(RuntimeError):
    pass


def build(out_dir: Path, defines: tuple[str, ...] = ()) -> dict[str, ctypes.CDLL]:
    """Compile the three sources in parallel; returns source name → loaded library."""
    cxx = shutil.which("g++") or shutil.which("clang++")
    if cxx is None:
        raise FileNotFoundError("no host C++ compiler (g++ or clang++)")
    procs = {}
    for name, macro in SOURCES.items():
        out = out_dir / (name + ".so")
        cmd = [cxx, "-std=c++17", "-O1", "-shared", "-fPIC", "-pthread", f"-I{CUDA_DIR}",
               f'-DZK_SOURCE="{name}"', f"-D{macro}", *(f"-D{d}" for d in defines), "-o", str(out),
               str(CUDA_DIR / "host_emulation.cpp")]
        procs[name] = (out, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    libs = {}
    for name, (out, proc) in procs.items():
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"building {name} for threaded execution failed:\n{err}")
        lib = ctypes.CDLL(str(out))
        lib.zk_launch.restype = ctypes.c_int
        lib.zk_launch.argtypes = [ctypes.c_char_p, ctypes.c_uint, ctypes.c_uint, ctypes.c_uint,
                                  ctypes.c_ulonglong, ctypes.POINTER(ctypes.c_void_p)]
        libs[name] = lib
    return libs


_CTYPE = {np.uint64: ctypes.c_uint64, np.uint32: ctypes.c_uint32, np.int32: ctypes.c_int32}


class ThreadedKernel:
    """A kernel of one library, called like a cupy RawKernel: kernel(grid, block, args, shared_mem)."""

    def __init__(self, lib: ctypes.CDLL, name: str, log: list):
        self.lib, self.name, self.log = lib, name, log

    def __call__(self, grid, block, args, shared_mem: int = 0):
        holders = []
        for a in args:
            if isinstance(a, np.ndarray):
                if not a.flags.c_contiguous:
                    raise LaunchError(f"{self.name}: a non-contiguous array argument")
                holders.append(ctypes.c_void_p(a.ctypes.data))
            else:
                holders.append(_CTYPE[type(a)](int(a)))
        argv = (ctypes.c_void_p * len(holders))(*(ctypes.addressof(h) for h in holders))
        gx, gy = (tuple(grid) + (1, 1))[:2]
        self.log.append((self.name, (gx, gy), int(block[0]), int(shared_mem)))
        rc = self.lib.zk_launch(self.name.encode(), gx, gy, int(block[0]), int(shared_mem), argv)
        if rc:
            raise LaunchError(f"{self.name}: {LAUNCH_ERRORS.get(rc, rc)}")


def stand_in_cupy(libs: dict[str, ctypes.CDLL], log: list) -> types.ModuleType:
    host = types.ModuleType("cupy")
    for attr in ("zeros", "empty", "empty_like", "tile", "broadcast_to", "ascontiguousarray", "all",
                 "flatnonzero", "count_nonzero", "ndarray", "uint64", "concatenate"):
        setattr(host, attr, getattr(np, attr))
    host.argsort = lambda a: np.argsort(a, kind="stable")  # CuPy's device radix sort is stable
    host.asarray = lambda a, dtype=None: np.array(a, dtype=dtype, copy=True)
    host.asnumpy = lambda a: np.array(a, copy=True)

    class RawModule:
        def __init__(self, code, options=(), name_expressions=()):
            matches = [n for n in libs if loader.module_code(n) == code]
            if len(matches) != 1 or tuple(options) != loader.compile_options():
                raise LaunchError("RawModule: not one of the kernel sources with the loader's options")
            self.source = matches[0]

        def get_function(self, name):
            return ThreadedKernel(libs[self.source], name, log)

    host.RawModule = RawModule
    class Stream:
        """Launches here complete before they return: a stream orders nothing further."""

        def __init__(self, non_blocking=False):
            pass

        def use(self):
            return self

        def synchronize(self):
            pass

    runtime = types.SimpleNamespace(getDeviceCount=lambda: 1,
                                    getDeviceProperties=lambda i: {"name": b"threaded host execution"})
    host.cuda = types.SimpleNamespace(runtime=runtime, Device=lambda: types.SimpleNamespace(id=0),
                                      Stream=Stream)
    return host


@contextmanager
def threaded_backend(libs: dict[str, ctypes.CDLL]):
    """A fresh kernels.gpu GpuBackend over the threaded kernels; yields (backend, launch log)."""
    log: list = []
    saved = {k: v for k, v in sys.modules.items() if k == "cupy" or k.startswith("kernels.gpu")}
    for k in saved:
        del sys.modules[k]
    sys.modules["cupy"] = stand_in_cupy(libs, log)
    try:
        yield importlib.import_module("kernels.gpu.backend").GpuBackend(), log
    finally:
        for k in [k for k in sys.modules if k == "cupy" or k.startswith("kernels.gpu")]:
            del sys.modules[k]
        sys.modules.update(saved)
