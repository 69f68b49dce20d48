"""Compiling the CUDA sources of kernels/cuda with CuPy, once per process.

CuPy is imported only inside `module()`: importing this file (as the nvcc compile test does, for
the source list and the options) needs nothing but the standard library.
"""

from __future__ import annotations

import functools
from pathlib import Path

CUDA_DIR = Path(__file__).resolve().parent.parent / "cuda"

# Source file → template instantiations that Python asks for by name.
FIELDS = ("zk::Fr", "zk::Fq")
FIELD_TEMPLATES = ("field_add", "field_sub", "field_mul", "field_neg", "field_square", "field_inv",
                   "field_pow", "field_batch_inv", "field_is_reduced", "field_to_montgomery",
                   "field_from_montgomery")
NAME_EXPRESSIONS = {
    "elementwise.cu": tuple(f"{t}<{f}>" for t in FIELD_TEMPLATES for f in FIELDS),
    "ntt.cu": (),
    "msm.cu": (),
}


def compile_options() -> tuple[str, ...]:
    """Options for NVRTC (and, in the compile test, nvcc): C++17, headers from kernels/cuda."""
    return ("-std=c++17", f"-I{CUDA_DIR}")


def source(name: str) -> str:
    return (CUDA_DIR / name).read_text()


@functools.lru_cache(maxsize=None)
def module(name: str):
    """The compiled cupy.RawModule of one source file (CuPy also caches the binary on disk)."""
    import cupy

    names = NAME_EXPRESSIONS[name]
    kwargs = {"name_expressions": list(names)} if names else {}
    return cupy.RawModule(code=source(name), options=compile_options(), **kwargs)


def kernel(source_name: str, function: str):
    return module(source_name).get_function(function)
