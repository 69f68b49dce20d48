"""Fr polynomials of different lengths, read where they are, on the CPU: their linear
combination Σ s_k·P_k, and their zero-padded stack.

The polynomials travel as a numba typed list of the arrays, rows past a polynomial's end taken
as zero, and the work goes in blocks of rows handed out one at a time
(threads.one_task_at_a_time). A proof used to stack its polynomials zero-padded on the calling
thread (xp.zeros, then one copy each): for the openings' combinations (about ten 45 000-row
polynomials at 2^12 rows) a serial pass larger than the sum itself, and beside a competing
process a serial pass costs two to three times what it does on idle cores. In the combination a
scalar 1 or −1 adds or subtracts without a product.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, typed, types

from ..backend import check_ragged
from ..convert import check_limb_array, to_montgomery
from ..errors import InvalidInput
from ..params import R_MODULUS
from . import mont
from .field import serial_twin
from .threads import one_task_at_a_time

FR = mont.modulus_tuple(R_MODULUS)
BLOCK = 1024                 # rows of a task
SERIAL_MAX = 1 << 14         # rows × polynomials up to which the calling thread combines them
# Rows × polynomials up to which the calling thread stacks them: a copy of up to 4 MiB takes
# less than a parallel region costs beside a competing process (a commitment's pack).
STACK_SERIAL_MAX = 1 << 17
_PLAIN, _ADD, _SUB = 0, 1, 2  # scalar kinds: a product, +P, −P
# The list's item type: read-only, so that polynomials of a proving key (read-only) and of a
# proof (writable) share one list and one compiled kernel.
_POLY = types.Array(types.uint64, 2, "C", readonly=True)


def _combine(polys, scalars, kinds, out, block):
    """out[j] = Σ_k s_k·P_k[j] (P_k[j] = 0 past its end), in blocks of `block` rows; a block
    takes the polynomials one after the other (one list lookup per block and polynomial, the
    block's rows of `out` staying in cache)."""
    rows = out.shape[0]
    for b in prange((rows + block - 1) // block):
        lo = b * block
        hi = min(rows, lo + block)
        out[lo:hi] = 0
        for k in range(len(polys)):
            p = polys[k]
            top = min(hi, p.shape[0])
            kind = kinds[k]
            s = (scalars[k, 0], scalars[k, 1], scalars[k, 2], scalars[k, 3])
            for j in range(lo, top):
                v = (p[j, 0], p[j, 1], p[j, 2], p[j, 3])
                if kind == _PLAIN:
                    v = mont.mul(v, s, FR)
                acc = (out[j, 0], out[j, 1], out[j, 2], out[j, 3])
                mont.store(out, j, mont.sub(acc, v, FR) if kind == _SUB else mont.add(acc, v, FR))


def _stack(polys, out, across, block):
    """Row j of polys[k] (zero past its end) into out[k, j] (across = False, out (K, L, 4)) or
    out[j, k] (across = True, out (L, K, 4)); task = (polynomial, block of rows)."""
    rows = out.shape[0] if across else out.shape[1]
    blocks = (rows + block - 1) // block
    for t in prange(len(polys) * blocks):
        k = t // blocks
        lo = (t % blocks) * block
        hi = min(rows, lo + block)
        p = polys[k]
        top = max(lo, min(hi, p.shape[0]))
        if across:
            out[lo:top, k] = p[lo:top]
            out[top:hi, k] = 0
        else:
            out[k, lo:top] = p[lo:top]
            out[k, top:hi] = 0


_combine_parallel = njit(cache=True, parallel=True)(_combine)
_combine_serial = serial_twin(_combine)
_stack_parallel = njit(cache=True, parallel=True)(_stack)
_stack_serial = serial_twin(_stack)


def _checked(polys, length: int) -> list:
    for i, p in enumerate(polys):
        check_limb_array(p, f"polys[{i}]")
    check_ragged(polys, length)
    return [np.ascontiguousarray(p) for p in polys]


def _typed(arrays) -> typed.List:
    out = typed.List.empty_list(_POLY)
    for a in arrays:
        out.append(a)
    return out


def linear_combination(polys, scalars, length: int):
    """See `kernels.backend.Backend.linear_combination`."""
    if len(polys) != len(scalars):
        raise InvalidInput(f"linear_combination: {len(polys)} polynomials but {len(scalars)} scalars")
    terms = [(p, s % R_MODULUS) for p, s in zip(_checked(polys, length), scalars) if s % R_MODULUS]
    out = np.empty((length, 4), dtype=np.uint64)
    if not terms:
        out[:] = 0
        return out
    arrays = _typed(p for p, _ in terms)
    kinds = np.array([_ADD if s == 1 else _SUB if s == R_MODULUS - 1 else _PLAIN for _, s in terms], dtype=np.int64)
    scalars_m = to_montgomery([s for _, s in terms], R_MODULUS)
    if length * len(terms) <= SERIAL_MAX:
        _combine_serial(arrays, scalars_m, kinds, out, max(1, length))
    else:
        with one_task_at_a_time():
            _combine_parallel(arrays, scalars_m, kinds, out, BLOCK)
    return out


def stack_padded(polys, length: int, axis: int = 0):
    """See `kernels.backend.Backend.stack_padded`."""
    if axis not in (0, 1):
        raise InvalidInput(f"stack_padded: axis must be 0 or 1, got {axis}")
    arrays = _checked(polys, length)
    shape = (len(arrays), length, 4) if axis == 0 else (length, len(arrays), 4)
    out = np.empty(shape, dtype=np.uint64)
    if not arrays or length == 0:
        return out
    if length * len(arrays) <= STACK_SERIAL_MAX:
        _stack_serial(_typed(arrays), out, axis == 1, max(1, length))
    else:
        with one_task_at_a_time():
            _stack_parallel(_typed(arrays), out, axis == 1, BLOCK)
    return out
