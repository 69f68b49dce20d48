"""Multi-scalar multiplication Σ [k_i]P_i on the CPU: Pippenger's bucket method in numba.

The plan of one MSM:

1. Scalars are checked (< r, and within `config.scalar_bits` when given) and brought to
   canonical limbs; the bit width of each is measured, so a column of 16-bit values costs a
   small fraction of a full-width MSM, and scalars of mixed widths sorted widest first (several
   trace columns in one commitment) cost what an MSM per width would, less the bucket
   reductions those would repeat: a window only scans up to its last scalar that reaches it.
2. Each scalar of b bits is cut into ⌈(b + 1)/c⌉ signed c-bit digits in [−(2^(c−1) − 1), 2^(c−1)]: a
   window value above 2^(c−1) becomes value − 2^c and carries one into the next window. A point
   then lands in bucket |d| with sign d, so a window needs 2^(c−1) buckets instead of 2^c − 1.
   The extra bit in W makes room for the last carry.
3. Work is cut into W·S tasks (window, part of its buckets), spread over the threads with prange;
   each task scans its window's digits, adds the points whose bucket is in its part into its own
   buckets, and reduces them to Σ d·B_d by running sums (two additions per bucket). Cutting the
   buckets rather than the points keeps the total work that of one task per window (every
   point added once, every bucket reduced once) at the price of a scan of the window's digits
   per part, so a window can be split finely enough to keep many threads busy. With at least
   1 024 buckets in a part the buckets are affine and filled in batches that share one
   inversion (`bucket_sums_affine`, about 6 multiplications per point); fewer buckets make
   batches too small for that, and use XYZZ buckets with mixed additions (`bucket_sums`,
   10 multiplications per point).
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
from .field import read_only, serial_twin
from .threads import one_task_at_a_time, thread_count

_MAX_WINDOW_BITS = 18
# Parts with this many buckets use affine buckets (`bucket_sums_affine`); fewer buckets leave
# batches too small to amortise the inversion, and use XYZZ buckets.
_AFFINE_MIN_BUCKETS = 1 << 10
# A part of fewer buckets costs more in scans of the digits than it saves.
_MIN_PART_BUCKETS = 16
# Costs for `plan`, ns on one core of the 2-core development machine (numba 0.68): per point
# added to a bucket, per bucket reduced (one mixed and one full addition), per digit scanned by
# a part that skips it.
_XYZZ_POINT_NS, _XYZZ_BUCKET_NS = 265.0, 447.0
_AFFINE_POINT_NS, _AFFINE_BUCKET_NS = 211.0, 384.0
_SCAN_NS = 1.0
# Tasks per pool thread that plan_for_pool aims at when the pool is wider than the cores.
_TASKS_PER_WORKER = 2


# --------------------------------------------------------------------------------------------
# Kernels
# --------------------------------------------------------------------------------------------

@njit(inline="always")
def bit_width(scalars, i):
    """Bit length of canonical scalar i (0 for zero)."""
    for k in range(3, -1, -1):
        w = scalars[i, k]
        if w != 0:
            bits = 64 * k + 1
            for step in (32, 16, 8, 4, 2, 1):
                if w >> np.uint64(step):
                    w >>= np.uint64(step)
                    bits += step
            return bits
    return 0


@njit(cache=True)
def width_profile(scalars):
    """(count, ends) over bit widths b = 0..256: how many scalars have at least b bits, and one
    past the index of the last of them (0 when none). Window w of c bits holds a nonzero digit
    only for scalars of at least w·c bits (the carry included), so these give each window's
    points to add and how far its tasks must scan."""
    count = np.zeros(257, dtype=np.int64)
    ends = np.zeros(257, dtype=np.int64)
    for i in range(scalars.shape[0]):
        b = bit_width(scalars, i)
        count[b] += 1
        ends[b] = i + 1
    for b in range(255, -1, -1):
        count[b] += count[b + 1]
        ends[b] = max(ends[b], ends[b + 1])
    return count, ends


@njit(inline="always")
def window_floor(w, c):
    """The least bit width whose scalars have a digit in window w (at least 1: zeros have none)."""
    return max(1, w * c)


@njit(inline="always")
def _digits_of(points, scalars, c, windows, half, full, mask, digits, i):
    """Point i's digits into digits[:, i], zeros above its scalar's width (and for a point at
    infinity)."""
    x, y = load_affine(points, i)
    top = 0 if is_affine_infinity(x, y) else min(windows, (bit_width(scalars, i) + c) // c)
    for w in range(top, windows):
        digits[w, i] = 0
    carry = 0
    for w in range(top):
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


def _signed_digits(points, scalars, c, digits, block):
    """Into the (windows, n) int32 `digits`: the signed base-2^c digits of each canonical scalar
    (see module doc), the points taken in blocks of `block`.

    A point at infinity gets all-zero digits, so the bucket loop never has to test for it; the
    windows above a scalar's own width (and its carry) are zeros, written, not computed. (The
    array comes from outside, uninitialised: one made inside would be filled by a parallel loop
    of its own, handed out one element at a time under one_task_at_a_time; one zeroed outside
    costs a serial pass over it.)"""
    n = scalars.shape[0]
    windows = digits.shape[0]
    half = 1 << (c - 1)
    full = 1 << c
    mask = np.uint64(full - 1)
    for b in prange((n + block - 1) // block):
        for i in range(b * block, min(n, (b + 1) * block)):
            _digits_of(points, scalars, c, windows, half, full, mask, digits, i)


_signed_digits_parallel = njit(cache=True, parallel=True)(_signed_digits)
_signed_digits_serial = serial_twin(_signed_digits)
# Digits (points × windows) up to which they are cut on the calling thread: a few hundred
# microseconds, less than a parallel region costs on a shared machine.
_SERIAL_DIGITS = 1 << 17
# Points per task of the parallel digits (handed out one at a time, as the bucket tasks).
_DIGITS_BLOCK = 512


def signed_digits(points, scalars, c, windows):
    digits = np.empty((windows, points.shape[0]), dtype=np.int32)
    if points.shape[0] * windows <= _SERIAL_DIGITS:
        _signed_digits_serial(points, scalars, c, digits, max(1, points.shape[0]))
    else:
        _signed_digits_parallel(points, scalars, c, digits, _DIGITS_BLOCK)
    return digits


@njit(inline="always")
def part_bounds(t, parts, nb):
    """Task t's window and the range [lo, hi) of its buckets."""
    s = t % parts
    return t // parts, s * nb // parts, (s + 1) * nb // parts


@njit(inline="always")
def finish_part(total, running, lo):
    """Σ (lo + j + 1)·B_j from the running sums of a part (`total` = Σ (j + 1)·B_j, `running` =
    Σ B_j): lo·running added by double-and-add (lo has at most 17 bits)."""
    if lo == 0:
        return total
    acc = INFINITY
    bit = 1 << 17
    while bit > lo:
        bit >>= 1
    while bit > 0:
        acc = double(acc)
        if lo & bit:
            acc = add(acc, running)
        bit >>= 1
    return add(total, acc)


@njit(cache=True, parallel=True)
def bucket_sums(points, digits, ends, c, parts):
    """Σ_i d_i·P_i over the digits of each (window, part of its buckets) task, as XYZZ
    (windows·parts, 4, 4).

    Each task adds the points whose digit is ±(j+1), j in its part, into bucket j (negated for a
    negative digit; it scans the window's digits up to `ends[w]`, past which all are zero),
    then forms Σ (j+1)·B_j as the sum of the running sums B_top + (B_top + B_top−1) + …,
    which costs two additions per bucket and no multiplication."""
    windows = digits.shape[0]
    nb = 1 << (c - 1)
    tasks = windows * parts
    out = np.empty((tasks, 4, 4), dtype=np.uint64)
    for t in prange(tasks):
        w, lo, hi = part_bounds(t, parts, nb)
        # ZZ = 0 marks an empty bucket; zeroing everything is the simplest way to set it.
        buckets = np.zeros((hi - lo, 4, 4), dtype=np.uint64)
        for i in range(ends[w]):
            d = digits[w, i]
            b = d - 1 if d > 0 else -d - 1
            if d == 0 or b < lo or b >= hi:
                continue
            x, y = load_affine(points, i)
            if d < 0:
                y = curve.mont.neg(y, curve.FQ)
            store_xyzz(buckets, b - lo, add_affine(load_xyzz(buckets, b - lo), x, y))
        running = INFINITY
        total = INFINITY
        for b in range(hi - lo - 1, -1, -1):
            running = add(running, load_xyzz(buckets, b))
            total = add(total, running)
        store_xyzz(out, t, finish_part(total, running, lo))
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
def bucket_sums_affine(points, digits, ends, c, parts, batch):
    """The same sums as `bucket_sums`, with buckets kept in affine coordinates and filled by
    batches of `batch` additions that share one inversion: 6 multiplications per point instead
    of the 10 of a mixed XYZZ addition (plus the inversion, spread over the batch).

    A batch may touch a bucket only once; a point whose bucket is already pending in the current
    batch goes instead into a per-bucket XYZZ overflow sum by mixed addition, so even a column
    of identical scalars costs at most one XYZZ addition per point."""
    windows = digits.shape[0]
    nb_all = 1 << (c - 1)
    tasks = windows * parts
    out = np.empty((tasks, 4, 4), dtype=np.uint64)
    for t in prange(tasks):
        w, lo, hi = part_bounds(t, parts, nb_all)
        nb = hi - lo
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
        for i in range(ends[w]):
            d = digits[w, i]
            b = (d - 1 if d > 0 else -d - 1) - lo
            if d == 0 or b < 0 or b >= nb:
                continue
            x, y = load_affine(points, i)
            if d < 0:
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
        store_xyzz(out, t, finish_part(total, running, lo))
    return out


@njit(cache=True)
def combine_windows(sums, windows, parts, c):
    """Σ_w 2^(c·w)·(Σ_s sums[w, s]) by Horner's rule, as an affine (2, 4) point.

    Serial to the end (one inversion of its own): a parallel region for a single point costs
    more than it saves, and much more on a machine shared with other processes."""
    acc = INFINITY
    for w in range(windows - 1, -1, -1):
        for _ in range(c):
            acc = double(acc)
        for s in range(parts):
            acc = add(acc, load_xyzz(sums, w * parts + s))
    return affine_out(acc)


@njit(inline="always")
def affine_out(acc):
    """An XYZZ point as a (2, 4) affine array ((0, 0) for infinity), one inversion."""
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

def batch_size(buckets: int) -> int:
    """Additions per shared inversion in `bucket_sums_affine` for a part of `buckets` buckets:
    large enough to spread the inversion (about 380 multiplications) thin, small next to the
    buckets so that few points find their bucket already pending (measured best on 2^12..2^16
    points)."""
    return min(1024, max(256, buckets // 4))


def uses_affine(c: int, parts: int) -> bool:
    """Whether windows of c bits cut into `parts` parts fill affine buckets."""
    return (1 << (c - 1)) // parts >= _AFFINE_MIN_BUCKETS


def max_parts(c: int, affine: bool) -> int:
    """The most parts a window of c bits is cut into while keeping its kind of buckets."""
    nb = 1 << (c - 1)
    return max(1, nb // (_AFFINE_MIN_BUCKETS if affine else _MIN_PART_BUCKETS))


@njit(cache=True)
def _best_plan(count, ends, bits, threads, widths, part_cap, affine_cost, xyzz_cost, scan_ns):
    """The (c, windows, parts) of least estimated makespan (see `plan`) and that makespan (ns);
    the cost pairs are (ns per point, ns per bucket)."""
    best, best_c, best_windows, best_parts = np.inf, 0, 0, 0
    for c in widths:
        windows = (bits + c) // c
        nb = 1 << (c - 1)
        for parts in range(1, min(max(1, nb // _MIN_PART_BUCKETS), part_cap) + 1):
            per_point, per_bucket = affine_cost if nb // parts >= _AFFINE_MIN_BUCKETS else xyzz_cost
            # Tasks are taken in order, window by window, and cost less as the windows rise (fewer
            # scalars reach them): each round of `threads` tasks lasts as long as its first.
            cost = 0.0
            for t in range(0, windows * parts, threads):
                lo = window_floor(t // parts, c)
                cost += (per_point * count[lo] + per_bucket * nb) / parts + (scan_ns * ends[lo] if parts > 1 else 0.0)
            if cost < best:
                best, best_c, best_windows, best_parts = cost, c, windows, parts
    return best_c, best_windows, best_parts, best


def uniform_profile(n: int, bits: int):
    """The `width_profile` of n scalars of `bits` bits."""
    count, ends = np.zeros(257, dtype=np.int64), np.zeros(257, dtype=np.int64)
    count[:bits + 1] = n
    ends[:bits + 1] = n
    return count, ends


def plan(n: int, bits: int, threads: int, window_bits: Optional[int] = None, profile=None) -> tuple[int, int, int]:
    return best_plan(n, bits, threads, window_bits, profile)[:3]


def best_plan(n: int, bits: int, threads: int, window_bits: Optional[int] = None, profile=None):
    """(c, windows, parts) minimising the estimated makespan: rounds of `threads` tasks, a task
    being the point additions and bucket reductions of 1/parts of a window plus a scan of its
    digits, with per-operation costs measured on the development machine (ns, one thread).
    `profile` is the scalars' `width_profile` (default: all n of `bits` bits): a window only
    pays for the scalars that reach it, so scalars of mixed widths, widest first, share one MSM
    at the cost of MSMs of each width apart, less their separate bucket reductions. (`plan`
    gives the plan, `best_plan` the plan and its estimated makespan in ns.)"""
    count, ends = profile if profile is not None else uniform_profile(n, bits)
    # A window wider than the scalars plus the carry bit only adds empty buckets.
    widths = np.arange(window_bits, window_bits + 1) if window_bits is not None else \
        np.arange(1, min(bits + 1, _MAX_WINDOW_BITS) + 1)
    threads = max(1, threads)
    c, windows, parts, cost = _best_plan(count, ends, bits, threads, widths, 2 * threads,
                                         (_AFFINE_POINT_NS, _AFFINE_BUCKET_NS), (_XYZZ_POINT_NS, _XYZZ_BUCKET_NS),
                                         _SCAN_NS)
    return int(c), int(windows), int(parts), float(cost)


def plan_for_pool(n: int, bits: int, workers: int, cores: int, window_bits: Optional[int] = None, profile=None):
    """`plan` for the cores; when the pool works with more threads than cores (beside other
    processes, threads.fit_to_load), the same windows cut into enough parts that every thread
    gets about two tasks (as far as the window's buckets allow without changing their kind):
    the region's end then waits on a few short tasks, not on a few whole windows, and the total
    work stays the same. (Planning for the pool as if it were cores picks narrower windows,
    which only adds work on the two real cores; measured slower.)"""
    c, windows, parts = plan(n, bits, min(workers, cores), window_bits, profile)
    if workers > cores:
        wanted = -(-_TASKS_PER_WORKER * workers // windows)
        parts = max(parts, min(wanted, max_parts(c, uses_affine(c, parts))))
    return c, windows, parts


def checked_scalars(points, scalars, config: MSMConfig, check_points: bool):
    """(points, canonical scalars, their width_profile) of one MSM's inputs, checked as `msm`
    documents."""
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
        bad = curve.first_off_curve(read_only(points))
        if bad >= 0:
            raise InvalidInput(f"points[{bad}] has a coordinate not below p or is not on the curve")
    k = curve.canonical_scalars(scalars, montgomery=config.scalars_montgomery)
    profile = width_profile(k)
    if config.scalar_bits is not None and widest(profile) > config.scalar_bits:
        raise InvalidInput(f"a scalar has {widest(profile)} bits, more than config.scalar_bits = {config.scalar_bits}")
    return points, k, profile


def widest(profile) -> int:
    """The bit width of the widest scalar of a width_profile."""
    return int(np.count_nonzero(profile[0][1:]))


def msm(points, scalars, config: Optional[MSMConfig] = None, check_points: bool = False) -> np.ndarray:
    """Σ [k_i]P_i as one affine point `(2, 4)` (Fq Montgomery; (0, 0) when the sum is infinity).

    points: `(n, 2, 4)` uint64 affine points; scalars: `(n, 4)` uint64 Fr elements, Montgomery
    form unless `config.scalars_montgomery` is False. Scalars not below r raise InvalidInput, in
    either form. With `check_points`, points off the curve (or with a coordinate ≥ p) raise too.
    """
    config = config or MSMConfig()
    return pippenger(*checked_scalars(points, scalars, config, check_points), config.window_bits)


def msm_sum(terms) -> np.ndarray:
    """Σ over the (points, scalars, config) terms of their MSMs. Each term is checked as `msm`
    checks it (its config's check_points included). The terms, widest scalars first, are cut
    into runs, each run one MSM whose windows scan only the terms that reach them (see the
    module doc): the cut of least estimated cost, so narrow columns share windows and bucket
    reductions, while a handful of full-width points (a blinding) does not drag wide windows
    over thousands of narrow scalars."""
    checked = []
    for points, scalars, config in terms:
        config = config or MSMConfig()
        checked.append(checked_scalars(points, scalars, config, config.check_points))
    checked = sorted((t for t in checked if widest(t[2]) > 0), key=lambda t: -widest(t[2]))
    if not checked:
        return np.zeros((2, LIMBS), dtype=np.uint64)
    results = []
    for run in cheapest_runs([t[2] for t in checked], [t[0].shape[0] for t in checked]):
        if len(run) == 1:
            results.append(pippenger(*checked[run[0]]))
        else:
            profile = joined_profile([checked[i][2] for i in run], [checked[i][0].shape[0] for i in run])
            results.append(pippenger(np.concatenate([checked[i][0] for i in run]),
                                     np.concatenate([checked[i][1] for i in run]), profile))
    return results[0] if len(results) == 1 else _sum_affine(np.stack(results))


# What one more MSM call costs besides its work (ns): the Python around it and a parallel region.
_CALL_NS = 300_000.0
# Terms up to which every cut into runs is priced (2^(terms − 1) cuts); more are one run.
_MAX_PRICED_TERMS = 8


def joined_profile(profiles, lengths):
    """The width_profile of several scalar arrays concatenated in order, from theirs."""
    count = np.sum([p[0] for p in profiles], axis=0)
    ends = np.zeros(257, dtype=np.int64)
    offset = 0
    for (c, e), n in zip(profiles, lengths):
        ends = np.where(c > 0, offset + e, ends)
        offset += n
    return count, ends


def cheapest_runs(profiles, lengths) -> list[list[int]]:
    """The cut of terms 0..k−1 (in order) into runs of consecutive terms whose MSMs, one per
    run, cost least by `best_plan` on the cores plus _CALL_NS a run."""
    k = len(profiles)
    if k == 1 or k > _MAX_PRICED_TERMS:
        return [list(range(k))]
    threads, priced = thread_count(), {}

    def cost(a, b):
        if (a, b) not in priced:
            prof = joined_profile(profiles[a:b], lengths[a:b])
            priced[a, b] = best_plan(sum(lengths[a:b]), widest(prof), threads, None, prof)[3] + _CALL_NS
        return priced[a, b]

    best = None
    for mask in range(1 << (k - 1)):
        cuts = [0] + [i + 1 for i in range(k - 1) if mask >> i & 1] + [k]
        total = sum(cost(a, b) for a, b in zip(cuts, cuts[1:]))
        if best is None or total < best[0]:
            best = (total, cuts)
    cuts = best[1]
    return [list(range(a, b)) for a, b in zip(cuts, cuts[1:])]


@njit(cache=True)
def _sum_affine(points):
    """Σ of the (m, 2, 4) affine points, affine (serial: a handful of additions)."""
    acc = INFINITY
    for i in range(points.shape[0]):
        x, y = load_affine(points, i)
        if not is_affine_infinity(x, y):
            acc = add_affine(acc, x, y)
    return affine_out(acc)


def pippenger(points, k, profile, window_bits: Optional[int] = None) -> np.ndarray:
    """Σ [k_i]P_i for checked points and canonical scalars with their width_profile (the plan
    in the module doc)."""
    points = read_only(points)
    n = points.shape[0]
    count, ends = profile
    bits = widest(profile)
    if n == 0 or bits == 0:
        return np.zeros((2, LIMBS), dtype=np.uint64)

    # Planned for the threads the current load gives. Tasks go to whichever thread is free: on a
    # shared machine a descheduled thread then delays one task, not its fixed share of them.
    with one_task_at_a_time() as threads:
        c, windows, parts = plan_for_pool(n, bits, threads, thread_count(), window_bits, (count, ends))
        digits = signed_digits(points, k, c, windows)
        window_ends = ends[[max(1, w * c) for w in range(windows)]]
        if uses_affine(c, parts):
            sums = bucket_sums_affine(points, digits, window_ends, c, parts, batch_size((1 << (c - 1)) // parts))
        else:
            sums = bucket_sums(points, digits, window_ends, c, parts)
    return combine_windows(sums, windows, parts, c)
