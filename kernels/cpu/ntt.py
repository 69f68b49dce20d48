"""Radix-2 NTT over Fr on the CPU, batched over columns.

Decimation in time. Twiddles for a domain are one table T of length n with T[m + j] = ω_{2m}^j
(m = 1, 2, 4, …, n/2; j < m), so every stage reads its roots contiguously. The input is never
written: the bit-reversal permutation is a gather into the output, with the coset scaling folded
in. The first stages (butterfly spans below BLOCK) run block by block, each block through all of
them while it sits in the L2 cache; the later stages pair indices that agree mod BLOCK, so they
split into independent strided transforms, taken in runs of LATE_RUN consecutive low indices.

How the work meets the threads (see `threads`): small transforms run on the calling thread
alone; many columns are handed out a column at a time; one large column takes two parallel
regions (its blocks, then its runs), not one region per stage.
"""

from __future__ import annotations

import threading

import numpy as np
from numba import njit, prange

from ..convert import check_limb_array
from ..errors import InvalidInput
from ..params import LIMBS, R_MODULUS, R_TWO_ADICITY, root_of_unity
from . import mont
from .field import read_only
from .threads import one_task_at_a_time

FR = mont.modulus_tuple(R_MODULUS)
LOG2_BLOCK = 12  # 2^12 elements × 32 bytes = 128 KiB, within L2
LATE_RUN = 256   # low indices per late-stage task: runs of 8 KiB, 2^18 / 2^12 of them in L2
# Work (columns × n) up to which the transform runs on the calling thread alone: below it,
# waking the pool costs more than it saves (measured, see docs/kernels.md).
SERIAL_MAX = 1 << 13
# Columns per working thread below which they are cut into blocks and runs (two regions of
# many short tasks) instead of handed out whole: with 2 threads a ledger proof's 35 columns are
# plenty; with the 16 that work beside other processes, whole columns leave a tail of a few.
SPLIT_BELOW_TASKS = 4


@njit(cache=True)
def _fill_twiddles(table, roots):
    """table[m + j] = roots[log2 m]^j, roots[k] being a primitive 2^(k+1)-th root (Montgomery)."""
    table[0] = 0
    m = 1
    k = 0
    while m < table.shape[0]:
        w = mont.load(roots, k)
        acc = mont.load(roots, roots.shape[0] - 1)  # the last row holds one (Montgomery)
        for j in range(m):
            mont.store(table, m + j, acc)
            acc = mont.mul(acc, w, FR)
        m *= 2
        k += 1


@njit(cache=True)
def _powers(base, one, n, out):
    acc = (one[0], one[1], one[2], one[3])
    b = (base[0], base[1], base[2], base[3])
    for i in range(n):
        mont.store(out, i, acc)
        acc = mont.mul(acc, b, FR)


@njit(cache=True)
def _bit_reverse_table(log2_n, out):
    n = 1 << log2_n
    for i in range(n):
        r = 0
        x = i
        for _ in range(log2_n):
            r = (r << 1) | (x & 1)
            x >>= 1
        out[i] = r


@njit(inline="always")
def _butterflies(col, tw, m, lo, hi):
    """All butterflies of span m inside col[lo:hi] (hi − lo a multiple of 2m)."""
    for k in range(lo, hi, 2 * m):
        for j in range(m):
            w = mont.load(tw, m + j)
            u = mont.load(col, k + j)
            v = mont.mul(mont.load(col, k + j + m), w, FR)
            mont.store(col, k + j, mont.add(u, v, FR))
            mont.store(col, k + j + m, mont.sub(u, v, FR))


@njit(inline="always")
def _load_block(src, dst, rev, pre, lo, hi):
    """dst[p] = src[rev[p]] (· pre[rev[p]]) for p in [lo, hi): the bit-reversal permutation as a
    gather from the untouched input, with the coset pre-scaling folded in."""
    scale = pre.shape[0] == src.shape[0]
    for p in range(lo, hi):
        r = rev[p]
        x = mont.load(src, r)
        if scale:
            x = mont.mul(x, mont.load(pre, r), FR)
        mont.store(dst, p, x)


@njit(inline="always")
def _early_stages(src, dst, tw, rev, pre, lo, hi):
    """Gather dst[lo:hi] and run every stage whose butterflies stay inside it."""
    _load_block(src, dst, rev, pre, lo, hi)
    m = 1
    while m < hi - lo:
        _butterflies(dst, tw, m, lo, hi)
        m *= 2


@njit(inline="always")
def _late_stages(col, tw, post, block, r0, r1):
    """Stages of span block .. n/2 for the elements whose index mod block lies in [r0, r1).

    A butterfly of span m ≥ block pairs indices that agree mod block, so these elements form
    independent strided transforms; taking a contiguous run of low indices keeps each pass
    through memory in runs of (r1 − r0) elements."""
    n = col.shape[0]
    m = block
    while m < n:
        for k in range(0, n, 2 * m):
            for jh in range(0, m, block):
                for r in range(r0, r1):
                    j = jh + r
                    w = mont.load(tw, m + j)
                    u = mont.load(col, k + j)
                    v = mont.mul(mont.load(col, k + j + m), w, FR)
                    mont.store(col, k + j, mont.add(u, v, FR))
                    mont.store(col, k + j + m, mont.sub(u, v, FR))
        m *= 2
    if post.shape[0] == n:
        for hb in range(0, n, block):
            for r in range(r0, r1):
                mont.store(col, hb + r, mont.mul(mont.load(col, hb + r), mont.load(post, hb + r), FR))


@njit(inline="always")
def _transform(src, dst, tw, rev, pre, post, block):
    """One column, one thread: dst = NTT(src) with the optional scalings."""
    n = src.shape[0]
    for b in range(0, n, block):
        _early_stages(src, dst, tw, rev, pre, b, b + block)
    _late_stages(dst, tw, post, block, 0, block)


@njit(parallel=True, cache=True)
def _ntt_many(src, dst, tw, rev, pre, post, block):
    """Each column whole on one thread (columns handed out one at a time, see `one_task_at_a_time`)."""
    for c in prange(src.shape[0]):
        _transform(src[c], dst[c], tw, rev, pre, post, block)


@njit(cache=True)
def _ntt_serial(src, dst, tw, rev, pre, post, block):
    """The same on the calling thread alone: no parallel region at all."""
    for c in range(src.shape[0]):
        _transform(src[c], dst[c], tw, rev, pre, post, block)


@njit(parallel=True, cache=True)
def _ntt_many_split(src, dst, tw, rev, pre, post, block, run):
    """Many columns in the two regions of `_ntt_wide`: every (column, block), then every
    (column, run). For a pool wider than the columns are many (beside other processes): the
    region's last tasks are then short ones."""
    cols = src.shape[0]
    n = src.shape[1]
    blocks = n // block
    runs = block // run
    for t in prange(cols * blocks):
        c = t // blocks
        b = t % blocks
        _early_stages(src[c], dst[c], tw, rev, pre, b * block, (b + 1) * block)
    for t in prange(cols * runs):
        c = t // runs
        r = t % runs
        _late_stages(dst[c], tw, post, block, r * run, (r + 1) * run)


@njit(parallel=True, cache=True)
def _ntt_wide(src, col, tw, rev, pre, post, block, run):
    """One large column on all threads in two parallel regions: the blocks (gather and early
    stages), then runs of `run` low indices through the late stages."""
    n = col.shape[0]
    for b in prange(n // block):
        _early_stages(src, col, tw, rev, pre, b * block, (b + 1) * block)
    for t in prange(block // run):
        _late_stages(col, tw, post, block, t * run, (t + 1) * run)


class NTTDomains:
    """Twiddle tables, bit-reversal tables and coset factors, computed once per domain size
    and shift and kept for the life of the process."""

    def __init__(self, fr):
        self.fr = fr
        self._lock = threading.Lock()
        self._tables: dict = {}

    def _get(self, key, make):
        with self._lock:
            if key not in self._tables:
                self._tables[key] = make()
            return self._tables[key]

    def twiddles(self, log2_n: int, inverse: bool):
        def make():
            n = 1 << log2_n
            table = np.zeros((max(n, 1), LIMBS), dtype=np.uint64)
            if n > 1:
                roots = [root_of_unity(k + 1) for k in range(log2_n)]
                if inverse:
                    roots = [pow(w, -1, R_MODULUS) for w in roots]
                rows = self.fr.from_ints(roots + [1])
                _fill_twiddles(table, rows)
            return table
        return self._get(("tw", log2_n, inverse), make)

    def bit_reverse(self, log2_n: int):
        def make():
            out = np.empty(1 << log2_n, dtype=np.int64)
            _bit_reverse_table(log2_n, out)
            return out
        return self._get(("rev", log2_n), make)

    def powers(self, base: int, n: int, scale: int = 1):
        """[scale·base^i for i < n] as a Montgomery array."""
        def make():
            out = np.empty((n, LIMBS), dtype=np.uint64)
            _powers(self.fr.from_ints([base % R_MODULUS])[0], self.fr.from_ints([scale % R_MODULUS])[0], n, out)
            return out
        return self._get(("pow", base % R_MODULUS, n, scale % R_MODULUS), make)


_EMPTY = np.zeros((0, LIMBS), dtype=np.uint64)


def ntt(domains: NTTDomains, a, inverse: bool = False, coset: bool = False, shift: int = 5):
    """See `kernels.backend.Backend.ntt`."""
    a = check_limb_array(a, "ntt input")
    if a.ndim < 2:
        raise InvalidInput(f"ntt input: expected shape (..., n, 4), got {a.shape}")
    n = a.shape[-2]
    if n == 0 or n & (n - 1):
        raise InvalidInput(f"ntt: length must be a power of two, got {n}")
    log2_n = n.bit_length() - 1
    if log2_n > R_TWO_ADICITY:
        raise InvalidInput(f"ntt: length 2^{log2_n} exceeds Fr's two-adicity 2^{R_TWO_ADICITY}")
    if coset and shift % R_MODULUS == 0:
        raise InvalidInput("ntt: the coset shift must be non-zero")
    data = read_only(np.ascontiguousarray(a, dtype=np.uint64).reshape(-1, n, LIMBS))  # read, never written
    if n == 1:
        return data.copy().reshape(a.shape)  # the transform of one point is the identity (any coset)
    tw = domains.twiddles(log2_n, inverse)
    rev = domains.bit_reverse(log2_n)
    pre = post = _EMPTY
    if not inverse and coset:
        pre = domains.powers(shift, n)  # a_j · shift^j, then evaluate on H
    elif inverse:
        n_inv = pow(n, -1, R_MODULUS)
        post = domains.powers(pow(shift, -1, R_MODULUS) if coset else 1, n, n_inv)
    block = min(n, 1 << LOG2_BLOCK)
    out = np.empty_like(data)
    if data.shape[0] * n <= SERIAL_MAX:
        _ntt_serial(data, out, tw, rev, pre, post, block)
    elif data.shape[0] == 1:
        with one_task_at_a_time():
            _ntt_wide(data[0], out[0], tw, rev, pre, post, block, min(block, LATE_RUN))
    else:
        with one_task_at_a_time() as threads:
            # A column of one block has nothing to split: its runs would only scale it.
            if data.shape[0] < SPLIT_BELOW_TASKS * threads and n > block:
                _ntt_many_split(data, out, tw, rev, pre, post, block, min(block, LATE_RUN))
            else:
                _ntt_many(data, out, tw, rev, pre, post, block)
    return out.reshape(a.shape)
