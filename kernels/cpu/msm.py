"""Multi-scalar multiplication Σ [k_i]P_i on the CPU: Pippenger's bucket method in numba.

The plan of one MSM:

1. Scalars are checked (< r) and brought to canonical limbs; their bit width b is measured from
   the data unless the config gives a bound, so a column of 16-bit values costs a small fraction
   of a full-width MSM.
2. Each scalar is cut into W = ⌈(b + 1)/c⌉ signed c-bit digits in [−(2^(c−1) − 1), 2^(c−1)]: a
   window value above 2^(c−1) becomes value − 2^c and carries one into the next window. A point
   then lands in bucket |d| with sign d, so a window needs 2^(c−1) buckets instead of 2^c − 1.
   The extra bit in W makes room for the last carry.
3. Work is cut into W·S tasks (window, slice of the points), spread over the threads with prange;
   each task owns its buckets, adds its points into them, and reduces them to Σ d·B_d by
   running sums (two additions per bucket). With c ≥ 11 the buckets are affine and filled in
   batches that share one inversion (`bucket_sums_affine`, about 6 multiplications per point);
   narrower windows have too few buckets for that and use XYZZ buckets with mixed additions
   (`bucket_sums`, 10 multiplications per point).
4. The task sums are combined by Horner's rule: c doublings per window from the top.

c and S minimise a small cost model of the above (see `plan`): enough tasks to keep every thread
busy, buckets few enough that their reduction stays cheap next to the point additions.
At 2^16 points this picks c = 13 (20 windows, 10 per core) for 254-bit scalars and two 11-bit
windows for 16-bit scalars.
Points are not checked to be on the curve here (the SRS loader and `CpuG1.validate` do that,
once); shape, dtype and length are checked, and `check_points=True` adds the on-curve check.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from numba import njit, prange

from .. import convert
from ..backend import MSMConfig
from ..errors import InvalidInput
from ..params import LIMBS
from . import curve, mont
from .curve import (FQ, INFINITY, ONE, add, add_affine, double, fq_add, fq_mul, fq_sub, is_affine_infinity, is_infinity,
                    load_affine, load_xyzz, store_affine, store_xyzz)
from .field import serial_twin
from .threads import fit_to_load, one_task_at_a_time, thread_count

_MAX_WINDOW_BITS = 18
# Windows this wide use affine buckets (`bucket_sums_affine`); narrower ones have too few
# buckets for batches big enough to amortise the inversion, and use XYZZ buckets.
_AFFINE_MIN_WINDOW = 11
# Costs for `plan`, ns on one core of the 2-core development machine (AMD EPYC, numba 0.68):
# per point added to a bucket, and per bucket reduced (one mixed and one full addition).
_XYZZ_POINT_NS, _XYZZ_BUCKET_NS = 265.0, 447.0
_AFFINE_POINT_NS, _AFFINE_BUCKET_NS = 211.0, 384.0


# --------------------------------------------------------------------------------------------
# Kernels
# --------------------------------------------------------------------------------------------

@njit(cache=True)
def scalar_bit_width(scalars):
    """Bit length of the largest canonical (n, 4) scalar (0 when all are zero)."""
    acc = np.zeros(4, dtype=np.uint64)
    for i in range(scalars.shape[0]):
        for k in range(4):
            acc[k] |= scalars[i, k]
    for k in range(3, -1, -1):
        if acc[k] != 0:
            w = acc[k]
            bits = 0
            while w != 0:
                w >>= np.uint64(1)
                bits += 1
            return 64 * k + bits
    return 0


def _signed_digits(points, scalars, c, windows):
    """(windows, n) int32 signed base-2^c digits of each canonical scalar (see module doc).

    A point at infinity gets all-zero digits, so the bucket loop never has to test for it."""
    n = scalars.shape[0]
    digits = np.zeros((windows, n), dtype=np.int32)
    half = 1 << (c - 1)
    full = 1 << c
    mask = np.uint64(full - 1)
    for i in prange(n):
        x, y = load_affine(points, i)
        if is_affine_infinity(x, y):
            continue
        carry = 0
        for w in range(windows):
            off = w * c
            limb = off // 64
            v = 0
            if limb < 4:
                sh = off % 64
                word = scalars[i, limb] >> np.uint64(sh)
                if sh + c > 64 and limb + 1 < 4:
                    word |= scalars[i, limb + 1] << np.uint64(64 - sh)
                v = np.int64(word & mask)
            d = v + carry
            if d > half:
                d -= full
                carry = 1
            else:
                carry = 0
            digits[w, i] = d
    return digits


_signed_digits_parallel = njit(cache=True, parallel=True)(_signed_digits)
_signed_digits_serial = serial_twin(_signed_digits)
# Digits (points × windows) up to which they are cut on the calling thread: a few hundred
# microseconds, less than a parallel region costs on a shared machine.
_SERIAL_DIGITS = 1 << 17


def signed_digits(points, scalars, c, windows):
    kernel = _signed_digits_serial if points.shape[0] * windows <= _SERIAL_DIGITS else _signed_digits_parallel
    return kernel(points, scalars, c, windows)


@njit(cache=True, parallel=True)
def bucket_sums(points, digits, c, slices):
    """Σ_i d_i·P_i for every (window, slice of the points) task, as XYZZ (windows·slices, 4, 4).

    Each task adds its points into 2^(c−1) buckets (bucket j holds the points whose digit is ±(j+1),
    negated for a negative digit), then forms Σ (j+1)·B_j as the sum of the running sums
    B_top + (B_top + B_top−1) + …, which costs two additions per bucket and no multiplication."""
    windows = digits.shape[0]
    n = digits.shape[1]
    nb = 1 << (c - 1)
    tasks = windows * slices
    out = np.empty((tasks, 4, 4), dtype=np.uint64)
    for t in prange(tasks):
        w = t // slices
        s = t % slices
        lo = s * n // slices
        hi = (s + 1) * n // slices
        # ZZ = 0 marks an empty bucket; zeroing everything is the simplest way to set it.
        buckets = np.zeros((nb, 4, 4), dtype=np.uint64)
        for i in range(lo, hi):
            d = digits[w, i]
            if d == 0:
                continue
            x, y = load_affine(points, i)
            if d > 0:
                b = d - 1
            else:
                b = -d - 1
                y = curve.mont.neg(y, curve.FQ)
            store_xyzz(buckets, b, add_affine(load_xyzz(buckets, b), x, y))
        running = INFINITY
        total = INFINITY
        for b in range(nb - 1, -1, -1):
            running = add(running, load_xyzz(buckets, b))
            total = add(total, running)
        store_xyzz(out, t, total)
    return out


@njit
def _flush_affine(buckets, bidx, px, py, pref, m):
    """Apply the m pending additions buckets[bidx[j]] += (px[j], py[j]) in affine coordinates,
    sharing one Fq inversion among all of them (Montgomery's trick). Every pending bucket is
    distinct and occupied, and no pending pair is P + (−P), so each denominator is nonzero:
    x2 − x1 for an addition, 2·y1 for a doubling (x2 = x1, hence y2 = y1)."""
    acc = ONE
    for j in range(m):
        mont.store(pref, j, acc)
        b = bidx[j]
        x1 = load_field(buckets, b, 0)
        x2 = mont.load(px, j)
        if mont.equal(x1, x2):
            y1 = load_field(buckets, b, 1)
            den = fq_add(y1, y1)
        else:
            den = fq_sub(x2, x1)
        acc = fq_mul(acc, den)
    inv = curve.fq_inv(acc)
    for j in range(m - 1, -1, -1):
        b = bidx[j]
        x1 = load_field(buckets, b, 0)
        y1 = load_field(buckets, b, 1)
        x2 = mont.load(px, j)
        y2 = mont.load(py, j)
        if mont.equal(x1, x2):
            den = fq_add(y1, y1)
            xx = fq_mul(x1, x1)
            num = fq_add(fq_add(xx, xx), xx)
        else:
            den = fq_sub(x2, x1)
            num = fq_sub(y2, y1)
        inv_j = fq_mul(inv, mont.load(pref, j))
        inv = fq_mul(inv, den)
        lam = fq_mul(num, inv_j)
        x3 = fq_sub(fq_sub(fq_mul(lam, lam), x1), x2)
        y3 = fq_sub(fq_mul(lam, fq_sub(x1, x3)), y1)
        store_affine(buckets, b, x3, y3)


@njit(inline="always")
def load_field(arr, i, coord):
    return (arr[i, coord, 0], arr[i, coord, 1], arr[i, coord, 2], arr[i, coord, 3])


@njit(cache=True, parallel=True)
def bucket_sums_affine(points, digits, c, slices, batch):
    """The same sums as `bucket_sums`, with buckets kept in affine coordinates and filled by
    batches of `batch` additions that share one inversion: 6 multiplications per point instead
    of the 10 of a mixed XYZZ addition (plus the inversion, spread over the batch).

    A batch may touch a bucket only once; a point whose bucket is already pending in the current
    batch goes instead into a per-bucket XYZZ overflow sum by mixed addition, so even a column
    of identical scalars costs at most one XYZZ addition per point."""
    windows = digits.shape[0]
    n = digits.shape[1]
    nb = 1 << (c - 1)
    tasks = windows * slices
    out = np.empty((tasks, 4, 4), dtype=np.uint64)
    for t in prange(tasks):
        w = t // slices
        s = t % slices
        lo = s * n // slices
        hi = (s + 1) * n // slices
        buckets = np.empty((nb, 2, 4), dtype=np.uint64)
        filled = np.zeros(nb, dtype=np.bool_)
        overflow = np.empty((nb, 4, 4), dtype=np.uint64)
        overflowed = np.zeros(nb, dtype=np.bool_)
        stamp = np.zeros(nb, dtype=np.int64)  # batch number that last claimed the bucket
        bidx = np.empty(batch, dtype=np.int64)
        px = np.empty((batch, 4), dtype=np.uint64)
        py = np.empty((batch, 4), dtype=np.uint64)
        pref = np.empty((batch, 4), dtype=np.uint64)
        batch_no = 1
        m = 0
        for i in range(lo, hi):
            d = digits[w, i]
            if d == 0:
                continue
            x, y = load_affine(points, i)
            if d > 0:
                b = d - 1
            else:
                b = -d - 1
                y = mont.neg(y, FQ)
            if stamp[b] == batch_no:
                if overflowed[b]:
                    store_xyzz(overflow, b, add_affine(load_xyzz(overflow, b), x, y))
                else:
                    store_xyzz(overflow, b, (x, y, ONE, ONE))
                    overflowed[b] = True
                continue
            if not filled[b]:
                store_affine(buckets, b, x, y)
                filled[b] = True
                continue
            if mont.equal(load_field(buckets, b, 0), x) and not mont.equal(load_field(buckets, b, 1), y):
                filled[b] = False  # P + (−P): the bucket is empty again
                continue
            stamp[b] = batch_no
            bidx[m] = b
            mont.store(px, m, x)
            mont.store(py, m, y)
            m += 1
            if m == batch:
                _flush_affine(buckets, bidx, px, py, pref, m)
                m = 0
                batch_no += 1
        _flush_affine(buckets, bidx, px, py, pref, m)
        running = INFINITY
        total = INFINITY
        for b in range(nb - 1, -1, -1):
            if filled[b]:
                x, y = load_affine(buckets, b)
                running = add_affine(running, x, y)
            if overflowed[b]:
                running = add(running, load_xyzz(overflow, b))
            total = add(total, running)
        store_xyzz(out, t, total)
    return out


@njit(cache=True)
def combine_windows(sums, windows, slices, c):
    """Σ_w 2^(c·w)·(Σ_s sums[w, s]) by Horner's rule, as an affine (2, 4) point.

    Serial to the end (one inversion of its own): a parallel region for a single point costs
    more than it saves, and much more on a machine shared with other processes."""
    acc = INFINITY
    for w in range(windows - 1, -1, -1):
        for _ in range(c):
            acc = double(acc)
        for s in range(slices):
            acc = add(acc, load_xyzz(sums, w * slices + s))
    out = np.zeros((2, 4), dtype=np.uint64)
    if not is_infinity(acc):
        x, y, zz, zzz = acc
        inv = curve.fq_inv(fq_mul(zz, zzz))  # 1/ZZ = ZZZ·inv, 1/ZZZ = ZZ·inv
        mont.store(out, 0, fq_mul(fq_mul(x, zzz), inv))
        mont.store(out, 1, fq_mul(fq_mul(y, zz), inv))
    return out


# --------------------------------------------------------------------------------------------
# Planning and the entry point
# --------------------------------------------------------------------------------------------

def batch_size(c: int) -> int:
    """Additions per shared inversion in `bucket_sums_affine`: large enough to spread the
    inversion (about 380 multiplications) thin, small next to the 2^(c−1) buckets so that few
    points find their bucket already pending (measured best on 2^12..2^16 points)."""
    return min(1024, max(256, (1 << (c - 1)) // 4))


def plan(n: int, bits: int, threads: int, window_bits: Optional[int] = None) -> tuple[int, int, int]:
    """(c, windows, slices) minimising the estimated makespan: ⌈tasks/threads⌉ rounds of
    (n/slices point additions + the reduction of 2^(c−1) buckets), with per-operation costs
    measured on the development machine (ns, one thread)."""
    threads = max(1, threads)
    # A window wider than the scalars plus the carry bit only adds empty buckets.
    widths = [window_bits] if window_bits is not None else range(1, min(bits + 1, _MAX_WINDOW_BITS) + 1)
    best = None
    for c in widths:
        windows = -(-(bits + 1) // c)
        if c >= _AFFINE_MIN_WINDOW:
            per_point, per_bucket = _AFFINE_POINT_NS, _AFFINE_BUCKET_NS
        else:
            per_point, per_bucket = _XYZZ_POINT_NS, _XYZZ_BUCKET_NS
        for slices in range(1, 2 * threads + 1):
            if slices > 1 and n // slices < (1 << c):
                break  # slices this thin spend more on buckets than on points
            rounds = -(-(windows * slices) // threads)
            cost = rounds * (per_point * n / slices + per_bucket * (1 << (c - 1)))
            if best is None or cost < best[0]:
                best = (cost, c, windows, slices)
    return best[1], best[2], best[3]


def plan_for_pool(n: int, bits: int, workers: int, cores: int, window_bits: Optional[int] = None):
    """`plan` for the cores; when the pool works with more threads than cores (beside other
    processes, threads.fit_to_load), the same windows cut into enough slices that every thread
    gets about two tasks: the region's end then waits on a few short tasks, not on a few whole
    windows. (Planning for the pool as if it were cores picks narrower windows, which only
    adds work on the two real cores; measured slower.)"""
    c, windows, slices = plan(n, bits, min(workers, cores), window_bits)
    if workers > cores:
        wanted = -(-2 * workers // windows)
        slices = max(slices, min(wanted, max(1, n >> c)))
    return c, windows, slices


def msm(points, scalars, config: Optional[MSMConfig] = None, check_points: bool = False) -> np.ndarray:
    """Σ [k_i]P_i as one affine point `(2, 4)` (Fq Montgomery; (0, 0) when the sum is infinity).

    points: `(n, 2, 4)` uint64 affine points; scalars: `(n, 4)` uint64 Fr elements, Montgomery
    form unless `config.scalars_montgomery` is False. Scalars not below r raise InvalidInput, in
    either form. With `check_points`, points off the curve (or with a coordinate ≥ p) raise too.
    """
    config = config or MSMConfig()
    points = curve.check_points(points)
    if points.ndim != 3:
        raise InvalidInput(f"points: expected shape (n, 2, 4), got {points.shape}")
    scalars = convert.check_limb_array(scalars, "scalars")
    if scalars.ndim != 2:
        raise InvalidInput(f"scalars: expected shape (n, 4), got {scalars.shape}")
    n = points.shape[0]
    if scalars.shape[0] != n:
        raise InvalidInput(f"msm: {n} points but {scalars.shape[0]} scalars")
    if config.window_bits is not None and not 1 <= config.window_bits <= _MAX_WINDOW_BITS:
        raise InvalidInput(f"window_bits must lie in [1, {_MAX_WINDOW_BITS}], got {config.window_bits}")
    if check_points:
        bad = curve.first_off_curve(points)
        if bad >= 0:
            raise InvalidInput(f"points[{bad}] has a coordinate not below p or is not on the curve")
    k = curve.canonical_scalars(scalars, montgomery=config.scalars_montgomery)

    bits = scalar_bit_width(k)
    if config.scalar_bits is not None:
        if bits > config.scalar_bits:
            raise InvalidInput(f"a scalar has {bits} bits, more than config.scalar_bits = {config.scalar_bits}")
        bits = config.scalar_bits
    if n == 0 or bits == 0:
        return np.zeros((2, LIMBS), dtype=np.uint64)

    # Planned for the threads the current load gives; the digits are one contiguous share per
    # thread (a point's digits are too little work to hand out one at a time).
    c, windows, slices = plan_for_pool(n, bits, fit_to_load(), thread_count(), config.window_bits)
    digits = signed_digits(points, k, c, windows)
    # Tasks go to whichever thread is free: on a shared machine a descheduled thread then
    # delays one task, not its fixed share of them.
    with one_task_at_a_time():
        if c >= _AFFINE_MIN_WINDOW:
            sums = bucket_sums_affine(points, digits, c, slices, batch_size(c))
        else:
            sums = bucket_sums(points, digits, c, slices)
    return combine_windows(sums, windows, slices, c)
