"""Division by (Y − c) on the CPU (kernels.division): Horner's rule compiled, in blocks.

Each of the C polynomials of a `(M, C, 4)` array is cut into blocks of rows; a task runs
Horner's rule down one block of one polynomial (the block's local quotient and its value V_b);
the carries T_b = V_b + c^S·T_{b+1} are a short serial pass; a second parallel pass adds
c^(end−1−j)·T_{b+1} to each row j of block b. With one block the first pass is the whole
division. Tasks are handed out one at a time (threads.one_task_at_a_time).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..convert import to_montgomery
from ..division import check_division
from ..params import R_MODULUS
from . import mont
from .field import serial_twin
from .threads import one_task_at_a_time

FR = mont.modulus_tuple(R_MODULUS)
BLOCK_MIN = 512          # rows of a block: the fix-up pass costs a product per row
BLOCKS_MAX = 32
# Rows × polynomials up to which the division runs on the calling thread alone.
SERIAL_MAX = 1 << 14


def _local(a, c, out, values, blocks):
    m = a.shape[0]
    cols = a.shape[1]
    size = (m + blocks - 1) // blocks
    cc = (c[0], c[1], c[2], c[3])
    for t in prange(cols * blocks):
        col = t % cols
        lo = (t // cols) * size
        hi = min(m, lo + size)
        acc = (np.uint64(0), np.uint64(0), np.uint64(0), np.uint64(0))
        for j in range(hi - 1, lo - 1, -1):
            out[j, col, 0] = acc[0]
            out[j, col, 1] = acc[1]
            out[j, col, 2] = acc[2]
            out[j, col, 3] = acc[3]
            acc = mont.add((a[j, col, 0], a[j, col, 1], a[j, col, 2], a[j, col, 3]), mont.mul(acc, cc, FR), FR)
        for k in range(4):
            values[t // cols, col, k] = acc[k]


def _fix_up(out, c, carries, blocks):
    m = out.shape[0]
    cols = out.shape[1]
    size = (m + blocks - 1) // blocks
    cc = (c[0], c[1], c[2], c[3])
    for t in prange(cols * (blocks - 1)):
        col = t % cols
        b = t // cols
        lo = b * size
        hi = min(m, lo + size)
        carry = (carries[b + 1, col, 0], carries[b + 1, col, 1], carries[b + 1, col, 2], carries[b + 1, col, 3])
        for j in range(hi - 1, lo - 1, -1):
            v = (out[j, col, 0], out[j, col, 1], out[j, col, 2], out[j, col, 3])
            v = mont.add(v, carry, FR)
            out[j, col, 0] = v[0]
            out[j, col, 1] = v[1]
            out[j, col, 2] = v[2]
            out[j, col, 3] = v[3]
            carry = mont.mul(carry, cc, FR)


@njit(cache=True)
def _carries(values, c_size, carries):
    """T_b = V_b + c^S·T_{b+1} from the top block down; carries[0] is the whole remainder."""
    blocks = values.shape[0]
    cs = (c_size[0], c_size[1], c_size[2], c_size[3])
    for col in range(values.shape[1]):
        acc = (np.uint64(0), np.uint64(0), np.uint64(0), np.uint64(0))
        for b in range(blocks - 1, -1, -1):
            acc = mont.add((values[b, col, 0], values[b, col, 1], values[b, col, 2], values[b, col, 3]),
                           mont.mul(acc, cs, FR), FR)
            for k in range(4):
                carries[b, col, k] = acc[k]


_local_parallel, _local_serial = njit(parallel=True, cache=True)(_local), serial_twin(_local)
_fix_up_parallel, _fix_up_serial = njit(parallel=True, cache=True)(_fix_up), serial_twin(_fix_up)


def synthetic_division(coeffs, c: int):
    """See `kernels.backend.Backend.synthetic_division`."""
    c = check_division(coeffs, c)
    a = np.ascontiguousarray(coeffs, dtype=np.uint64)
    m, cols = a.shape[0], a.shape[1]
    blocks = max(1, min(BLOCKS_MAX, m // BLOCK_MIN))
    size = -(-m // blocks)
    blocks = -(-m // size)                   # no empty block
    out = np.empty_like(a)
    values = np.empty((blocks, cols, 4), dtype=np.uint64)
    carries = np.empty_like(values)
    c_mont = to_montgomery([c], R_MODULUS)
    c_size = to_montgomery([pow(c, size, R_MODULUS)], R_MODULUS)
    if m * cols <= SERIAL_MAX:
        _local_serial(a, c_mont[0], out, values, blocks)
        _carries(values, c_size[0], carries)
        _fix_up_serial(out, c_mont[0], carries, blocks)
    else:
        with one_task_at_a_time():
            _local_parallel(a, c_mont[0], out, values, blocks)
            _carries(values, c_size[0], carries)
            if blocks > 1:
                _fix_up_parallel(out, c_mont[0], carries, blocks)
    return out[:m - 1], carries[0]
