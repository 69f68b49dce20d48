"""Radix-2 NTT over Fr on the CPU, batched over columns.

Decimation in time after a bit-reversal permutation. Twiddles for a domain are one table T of
length n with T[m + j] = ω_{2m}^j (m = 1, 2, 4, …, n/2; j < m), so every stage reads its roots
contiguously. The first stages (butterfly spans up to BLOCK) run block by block, each block
through all of them while it sits in the L2 cache; the remaining stages sweep the whole array.
"""

from __future__ import annotations

import threading

import numpy as np
from numba import njit, prange

from ..convert import check_limb_array
from ..errors import InvalidInput
from ..params import LIMBS, R_MODULUS, R_TWO_ADICITY, root_of_unity
from . import mont

FR = mont.modulus_tuple(R_MODULUS)
LOG2_BLOCK = 12  # 2^12 elements × 32 bytes = 128 KiB, within L2


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
def _permute(col, rev):
    for i in range(col.shape[0]):
        r = rev[i]
        if i < r:
            for li in range(4):
                t = col[i, li]
                col[i, li] = col[r, li]
                col[r, li] = t


@njit(inline="always")
def _scale(col, factors):
    for i in range(col.shape[0]):
        mont.store(col, i, mont.mul(mont.load(col, i), mont.load(factors, i), FR))


@njit(cache=True)
def _ntt_column(col, tw, rev, pre, post, block):
    """One column, one thread: optional pre-scaling, transform, optional post-scaling."""
    n = col.shape[0]
    if pre.shape[0] == n:
        _scale(col, pre)
    _permute(col, rev)
    for b in range(n // block):
        m = 1
        while m < block:
            _butterflies(col, tw, m, b * block, (b + 1) * block)
            m *= 2
    m = block
    while m < n:
        _butterflies(col, tw, m, 0, n)
        m *= 2
    if post.shape[0] == n:
        _scale(col, post)


@njit(parallel=True, cache=True)
def _ntt_many(data, tw, rev, pre, post, block):
    for c in prange(data.shape[0]):
        _ntt_column(data[c], tw, rev, pre, post, block)


@njit(parallel=True, cache=True)
def _ntt_wide(col, tw, rev, pre, post, block):
    """One large column, all threads: blocked early stages, then whole-array stages."""
    n = col.shape[0]
    if pre.shape[0] == n:
        for i in prange(n):
            mont.store(col, i, mont.mul(mont.load(col, i), mont.load(pre, i), FR))
    _permute(col, rev)
    nblocks = n // block
    for b in prange(nblocks):
        m = 1
        while m < block:
            _butterflies(col, tw, m, b * block, (b + 1) * block)
            m *= 2
    m = block
    half = n // 2
    while m < n:
        # butterfly t of this stage: group t // m, offset t % m (m a power of two)
        for t in prange(half):
            j = t & (m - 1)
            k = (t - j) * 2 + j
            w = mont.load(tw, m + j)
            u = mont.load(col, k)
            v = mont.mul(mont.load(col, k + m), w, FR)
            mont.store(col, k, mont.add(u, v, FR))
            mont.store(col, k + m, mont.sub(u, v, FR))
        m *= 2
    if post.shape[0] == n:
        for i in prange(n):
            mont.store(col, i, mont.mul(mont.load(col, i), mont.load(post, i), FR))


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
    data = np.array(a, dtype=np.uint64, order="C").reshape(-1, n, LIMBS)
    if n == 1:
        return data.reshape(a.shape)  # the transform of one point is the identity (any coset)
    tw = domains.twiddles(log2_n, inverse)
    rev = domains.bit_reverse(log2_n)
    pre = post = _EMPTY
    if not inverse and coset:
        pre = domains.powers(shift, n)  # a_j · shift^j, then evaluate on H
    elif inverse:
        n_inv = pow(n, -1, R_MODULUS)
        post = domains.powers(pow(shift, -1, R_MODULUS) if coset else 1, n, n_inv)
    block = min(n, 1 << LOG2_BLOCK)
    if data.shape[0] >= 2:
        _ntt_many(data, tw, rev, pre, post, block)
    else:
        _ntt_wide(data[0], tw, rev, pre, post, block)
    return data.reshape(a.shape)
