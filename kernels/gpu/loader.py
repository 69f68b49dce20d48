"""Compiling the CUDA sources of kernels/cuda with CuPy, once per process.

CuPy is imported only inside `module()`: importing this file (as the nvcc compile test does, for
the source list and the options) needs nothing but the standard library.
"""

from __future__ import annotations

import functools
import hashlib
import re
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


_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)


def source(name: str) -> str:
    return (CUDA_DIR / name).read_text()


def included_files(name: str) -> list[str]:
    """`name` and every file it includes from kernels/cuda, transitively, each once."""
    seen: list[str] = []
    stack = [name]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.append(current)
        stack.extend(m for m in _INCLUDE.findall(source(current)) if (CUDA_DIR / m).is_file())
    return seen


def module_code(name: str) -> str:
    """The source handed to NVRTC: the file itself, headed by a digest of every file it includes.
    CuPy's compile cache keys on the code string and options only, so without the digest an
    edited header would silently reuse kernels compiled from the old one."""
    digest = hashlib.sha256()
    for part in sorted(included_files(name)):
        digest.update(part.encode() + b"\0" + source(part).encode() + b"\0")
    return f"// zkpipe sources {digest.hexdigest()}\n" + source(name)


@functools.lru_cache(maxsize=None)
def module(name: str):
    """The compiled cupy.RawModule of one source file (CuPy also caches the binary on disk)."""
    import cupy

    names = NAME_EXPRESSIONS[name]
    kwargs = {"name_expressions": list(names)} if names else {}
    return cupy.RawModule(code=module_code(name), options=compile_options(), **kwargs)


def kernel(source_name: str, function: str):
    return module(source_name).get_function(function)
