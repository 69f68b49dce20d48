"""Division by (Y − c) on the CPU (kernels.division): Horner's rule compiled, in blocks.

Each of the C polynomials of a `(M, C, 4)` array is cut into blocks of rows; a task runs
Horner's rule down one block of one polynomial (the block's local quotient and its value V_b);
the carries T_b = V_b + c^S·T_{b+1} are a short serial pass; a second parallel pass adds
c^(end−1−j)·T_{b+1} to each row j of block b. With one block the first pass is the whole
division. Several divisions (a proof's openings: one per group and point) share the two
parallel regions, their tasks handed out one at a time (threads.one_task_at_a_time): on a
machine shared with other processes each region costs its wake-ups and its slowest thread.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, typed

from ..convert import to_montgomery
from ..division import check_division
from ..params import R_MODULUS
from . import mont
from .field import serial_twin
from .threads import one_task_at_a_time

FR = mont.modulus_tuple(R_MODULUS)
BLOCK_MIN = 512          # rows of a block: the fix-up pass costs a product per row
BLOCKS_MAX = 32
# Rows × polynomials (all divisions together) up to which they run on the calling thread alone.
SERIAL_MAX = 1 << 14


def _local(arrs, cs, outs, values, sizes, tasks):
    """Task t = (division i, polynomial col, block b): Horner's rule down rows
    [b·size_i, (b + 1)·size_i) of polynomial col; its value goes to values[i][b, col]."""
    for t in prange(tasks.shape[0]):
        i = tasks[t, 0]
        col = tasks[t, 1]
        b = tasks[t, 2]
        a = arrs[i]
        out = outs[i]
        lo = b * sizes[i]
        hi = min(a.shape[0], lo + sizes[i])
        cc = (cs[i, 0], cs[i, 1], cs[i, 2], cs[i, 3])
        acc = (np.uint64(0), np.uint64(0), np.uint64(0), np.uint64(0))
        for j in range(hi - 1, lo - 1, -1):
            out[j, col, 0] = acc[0]
            out[j, col, 1] = acc[1]
            out[j, col, 2] = acc[2]
            out[j, col, 3] = acc[3]
            acc = mont.add((a[j, col, 0], a[j, col, 1], a[j, col, 2], a[j, col, 3]), mont.mul(acc, cc, FR), FR)
        v = values[i]
        for k in range(4):
            v[b, col, k] = acc[k]


def _fix_up(outs, cs, carries, sizes, tasks):
    """Task t = (division i, polynomial col, block b < last): adds c^(hi−1−j)·T_{b+1} to row j."""
    for t in prange(tasks.shape[0]):
        i = tasks[t, 0]
        col = tasks[t, 1]
        b = tasks[t, 2]
        out = outs[i]
        lo = b * sizes[i]
        hi = min(out.shape[0], lo + sizes[i])
        cc = (cs[i, 0], cs[i, 1], cs[i, 2], cs[i, 3])
        tb = carries[i]
        carry = (tb[b + 1, col, 0], tb[b + 1, col, 1], tb[b + 1, col, 2], tb[b + 1, col, 3])
        for j in range(hi - 1, lo - 1, -1):
            v = (out[j, col, 0], out[j, col, 1], out[j, col, 2], out[j, col, 3])
            v = mont.add(v, carry, FR)
            out[j, col, 0] = v[0]
            out[j, col, 1] = v[1]
            out[j, col, 2] = v[2]
            out[j, col, 3] = v[3]
            carry = mont.mul(carry, cc, FR)


@njit(cache=True)
def _carries(values, c_sizes, carries):
    """T_b = V_b + c^S·T_{b+1} from the top block down, per division; carries[i][0] is the
    whole remainder."""
    for i in range(len(values)):
        v = values[i]
        t = carries[i]
        cs = (c_sizes[i, 0], c_sizes[i, 1], c_sizes[i, 2], c_sizes[i, 3])
        for col in range(v.shape[1]):
            acc = (np.uint64(0), np.uint64(0), np.uint64(0), np.uint64(0))
            for b in range(v.shape[0] - 1, -1, -1):
                acc = mont.add((v[b, col, 0], v[b, col, 1], v[b, col, 2], v[b, col, 3]), mont.mul(acc, cs, FR), FR)
                for k in range(4):
                    t[b, col, k] = acc[k]


_local_parallel, _local_serial = njit(parallel=True, cache=True)(_local), serial_twin(_local)
_fix_up_parallel, _fix_up_serial = njit(parallel=True, cache=True)(_fix_up), serial_twin(_fix_up)


def _tasks(shapes, blocks, skip_last: bool) -> np.ndarray:
    """(division, polynomial, block) for every block of every polynomial (but each one's last
    block with `skip_last`), as an int64 (T, 3) array."""
    rows = []
    for i, ((_, cols), nb) in enumerate(zip(shapes, blocks)):
        nb -= skip_last
        if nb > 0:
            b, col = np.divmod(np.arange(cols * nb), cols)
            rows.append(np.stack([np.full(cols * nb, i), col, b], axis=1))
    return np.concatenate(rows).astype(np.int64) if rows else np.zeros((0, 3), dtype=np.int64)


def synthetic_divisions(items):
    """See `kernels.backend.Backend.synthetic_divisions`: every (coeffs, c) division in the same
    two parallel regions."""
    checked = [(np.ascontiguousarray(coeffs, dtype=np.uint64), check_division(coeffs, c)) for coeffs, c in items]
    if not checked:
        return []
    arrs, outs, values, carries = typed.List(), typed.List(), typed.List(), typed.List()
    shapes, blocks, sizes = [], [], []
    for a, _ in checked:
        m, cols = a.shape[0], a.shape[1]
        nb = max(1, min(BLOCKS_MAX, m // BLOCK_MIN))
        size = -(-m // nb)
        nb = -(-m // size)                   # no empty block
        shapes.append((m, cols))
        blocks.append(nb)
        sizes.append(size)
        arrs.append(a)
        outs.append(np.empty_like(a))
        values.append(np.empty((nb, cols, 4), dtype=np.uint64))
        carries.append(np.empty((nb, cols, 4), dtype=np.uint64))
    cs = to_montgomery([c for _, c in checked], R_MODULUS)
    c_sizes = to_montgomery([pow(c, size, R_MODULUS) for (_, c), size in zip(checked, sizes)], R_MODULUS)
    sizes = np.array(sizes, dtype=np.int64)
    local_tasks, fix_tasks = _tasks(shapes, blocks, False), _tasks(shapes, blocks, True)
    if sum(m * cols for m, cols in shapes) <= SERIAL_MAX:
        _local_serial(arrs, cs, outs, values, sizes, local_tasks)
        _carries(values, c_sizes, carries)
        _fix_up_serial(outs, cs, carries, sizes, fix_tasks)
    else:
        with one_task_at_a_time():
            _local_parallel(arrs, cs, outs, values, sizes, local_tasks)
            _carries(values, c_sizes, carries)
            if fix_tasks.shape[0]:
                _fix_up_parallel(outs, cs, carries, sizes, fix_tasks)
    return [(out[:m - 1], t[0]) for out, t, (m, _) in zip(outs, carries, shapes)]


def synthetic_division(coeffs, c: int):
    """See `kernels.backend.Backend.synthetic_division`."""
    return synthetic_divisions([(coeffs, c)])[0]
