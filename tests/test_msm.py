"""CPU MSM (kernels/cpu/msm.py): against py_ecc for small n, and for larger n against the naive
Σ [k_i]P_i built from the G1 kernels (which test_g1.py checks against py_ecc)."""

import numpy as np
import pytest
from py_ecc import optimized_bn128 as ref

from kernels import convert
from kernels.backend import MSMConfig
from kernels.cpu.curve import CpuG1, FR, random_canonical
from kernels.cpu import msm as msm_module
from kernels.cpu.msm import max_parts, msm, plan, uses_affine, width_profile
from kernels.errors import InvalidInput
from kernels.params import R_MODULUS

g1 = CpuG1()
CANONICAL = MSMConfig(scalars_montgomery=False)


@pytest.fixture
def rng():
    return np.random.default_rng()


def naive_msm(points, scalars_canonical):
    """Σ [k_i]P_i by element-wise scalar multiplication and a pairwise sum tree."""
    if len(points) == 0:
        return np.zeros((2, 4), dtype=np.uint64)
    terms = g1.scalar_mul(points, convert.to_montgomery(convert.limbs_to_ints(scalars_canonical), R_MODULUS))
    while len(terms) > 1:
        if len(terms) % 2:
            terms = np.concatenate([terms, np.zeros((1, 2, 4), dtype=np.uint64)])
        terms = g1.add(terms[0::2], terms[1::2])
    return terms[0]


def small_scalars(rng, n, bits):
    k = np.zeros((n, 4), dtype=np.uint64)
    k[:, 0] = rng.integers(0, 1 << bits, n, dtype=np.uint64)
    return k


def scalars_below(rng, n, bits):
    """n canonical scalars below 2^bits, the top bit set in most (bits ≤ 253)."""
    return convert.ints_to_limbs([int.from_bytes(rng.bytes(32), "little") % (1 << bits) for _ in range(n)], R_MODULUS)


def test_matches_py_ecc(rng):
    n = 24
    ks = [int.from_bytes(rng.bytes(32), "little") % R_MODULUS for _ in range(n)]
    ks[:3] = [0, 1, R_MODULUS - 1]
    ref_pts = [ref.multiply(ref.G1, int(rng.integers(1, 2**63))) for _ in range(n)]
    want = ref.Z1
    for p, k in zip(ref_pts, ks):
        want = ref.add(want, ref.multiply(p, k))
    want = (0, 0) if ref.is_inf(want) else tuple(int(c) for c in ref.normalize(want))
    points = g1.from_ints([tuple(int(c) for c in ref.normalize(p)) for p in ref_pts])
    got = msm(points, convert.to_montgomery(ks, R_MODULUS))
    assert g1.to_ints(got[None]) == [want]
    got = msm(points, convert.ints_to_limbs(ks, R_MODULUS), CANONICAL)
    assert g1.to_ints(got[None]) == [want]


@pytest.mark.parametrize("n", [1, 2, 3, 37, 200, 1000, 3000])
def test_matches_naive_sum(rng, n):
    points = g1.random(n, rng)
    k = random_canonical(n, FR, rng)
    assert np.array_equal(msm(points, k, CANONICAL), naive_msm(points, k))


@pytest.mark.parametrize("c", [1, 2, 5, 8, 11, 12, 14])
def test_every_window_width(rng, c):
    # Widths ≥ 11 take the affine-bucket path, narrower ones the XYZZ path.
    n = 300
    points = g1.random(n, rng)
    k = random_canonical(n, FR, rng)
    want = naive_msm(points, k)
    assert np.array_equal(msm(points, k, MSMConfig(window_bits=c, scalars_montgomery=False)), want)


@pytest.mark.parametrize("bits", [1, 8, 16, 20])
def test_small_scalars(rng, bits):
    n = 2500  # large enough for the planner to choose wide windows and split points across threads
    points = g1.random(n, rng)
    k = small_scalars(rng, n, bits)
    want = naive_msm(points, k)
    assert np.array_equal(msm(points, k, CANONICAL), want)
    assert np.array_equal(msm(points, k, MSMConfig(scalar_bits=bits, scalars_montgomery=False)), want)
    mont = convert.to_montgomery(convert.limbs_to_ints(k), R_MODULUS)
    assert np.array_equal(msm(points, mont), want)


@pytest.mark.parametrize("c, bits, affine", [(13, 12, True), (11, 10, False), (6, 5, False)])
def test_windows_cut_into_parts_of_their_buckets(rng, c, bits, affine):
    # One window over 4100 points: the planner cuts its buckets into parts, each task adding only
    # the points whose bucket is in its part; the parts' sums (offset by their first bucket) add up.
    n = 4100
    points = g1.random(n, rng)
    k = small_scalars(rng, n, bits)
    cfg = MSMConfig(window_bits=c, scalars_montgomery=False)
    _, windows, parts = plan(n, bits, 2, c)
    assert windows == 1 and parts > 1 and uses_affine(c, parts) == affine
    assert np.array_equal(msm(points, k, cfg), naive_msm(points, k))


@pytest.mark.parametrize("c", [4, 12, 14])
def test_every_cut_of_the_buckets(rng, c, monkeypatch):
    # Every number of parts the kernels accept, forced, on full-width scalars with repeated points.
    n = 400
    points = np.concatenate([g1.random(n - 100, rng), np.repeat(g1.random(1, rng), 100, axis=0)])
    k = random_canonical(n, FR, rng)
    want = naive_msm(points, k)
    cfg = MSMConfig(window_bits=c, scalars_montgomery=False)
    for parts in sorted({1, 2, 3, max_parts(c, True), max_parts(c, False)}):
        windows = -(-255 // c)
        monkeypatch.setattr(msm_module, "plan_for_pool", lambda *a, parts=parts: (c, windows, parts))
        assert np.array_equal(msm(points, k, cfg), want), parts


@pytest.mark.parametrize("order", ["widest first", "narrowest first", "shuffled"])
def test_scalars_of_mixed_widths(rng, order):
    # Runs of 254-, 160-, 60-, 12- and 1-bit scalars (and zeros) in one MSM: each window scans only
    # up to its last scalar wide enough to reach it, the digits above a scalar's width stay zero.
    runs = [random_canonical(150, FR, rng)] + [scalars_below(rng, 150, b) for b in (160, 60, 12, 1)]
    runs.append(np.zeros((40, 4), dtype=np.uint64))
    k = np.concatenate(runs if order != "narrowest first" else runs[::-1])
    if order == "shuffled":
        k = k[rng.permutation(k.shape[0])]
    points = g1.random(k.shape[0], rng)
    assert np.array_equal(msm(points, k, CANONICAL), naive_msm(points, k))


@pytest.mark.parametrize("serial_digits", [0, 1 << 30])
def test_digits_serial_and_in_blocks(rng, monkeypatch, serial_digits):
    # 1 300 points: the parallel digits take them in blocks of 512, the last one short.
    monkeypatch.setattr(msm_module, "_SERIAL_DIGITS", serial_digits)
    points = g1.random(1300, rng)
    k = random_canonical(1300, FR, rng)
    k[7] = 0
    assert np.array_equal(msm(points, k, CANONICAL), naive_msm(points, k))


def test_msm_sum_every_cut_into_runs(rng, monkeypatch):
    # Terms of several widths and both scalar forms, summed under every cut into runs of
    # consecutive terms (widest first), equal the naive sum of all of them.
    widths = [253, 160, 12, 1]
    terms, flat_points, flat_scalars = [], [], []
    for i, bits in enumerate(widths):
        points = g1.random(60 + 20 * i, rng)
        k = scalars_below(rng, points.shape[0], bits)
        if i % 2:
            terms.append((points, k, CANONICAL))
        else:
            mont = convert.to_montgomery(convert.limbs_to_ints(k), R_MODULUS)
            terms.append((points, mont, MSMConfig(check_points=False)))
        flat_points.append(points)
        flat_scalars.append(k)
    terms.append((g1.random(5, rng), np.zeros((5, 4), np.uint64), CANONICAL))    # all zero: no run
    want = naive_msm(np.concatenate(flat_points), np.concatenate(flat_scalars))
    assert np.array_equal(msm_module.msm_sum(terms[::-1]), want)            # the planner's own cut
    for mask in range(1 << (len(widths) - 1)):
        cuts = [0] + [i + 1 for i in range(len(widths) - 1) if mask >> i & 1] + [len(widths)]
        runs = [list(range(a, b)) for a, b in zip(cuts, cuts[1:])]
        monkeypatch.setattr(msm_module, "cheapest_runs", lambda profiles, lengths, runs=runs: runs)
        assert np.array_equal(msm_module.msm_sum(terms), want), runs


def test_msm_sum_keeps_a_few_wide_points_apart_from_many_narrow_ones(rng):
    # A blinding (a few full-width scalars) beside thousands of 8-bit ones: one MSM over both
    # would run 24 windows of buckets for 36 points, so the cheapest cut keeps them apart.
    wide = msm_module.width_profile(scalars_below(rng, 36, 253))
    narrow = msm_module.width_profile(small_scalars(rng, 4096, 8))
    assert msm_module.cheapest_runs([wide, narrow], [36, 4096]) == [[0], [1]]
    # ... while two columns of similar widths share one.
    a = msm_module.width_profile(scalars_below(rng, 4096, 160))
    b = msm_module.width_profile(scalars_below(rng, 4096, 60))
    assert msm_module.cheapest_runs([a, b], [4096, 4096]) == [[0, 1]]


def test_msm_sum_checks_every_term(rng):
    points = g1.random(4, rng)
    bad = random_canonical(4, FR, rng)
    bad[2] = convert.ints_to_limbs([R_MODULUS], R_MODULUS + 1)[0]
    with pytest.raises(InvalidInput, match="not below the group order"):
        msm_module.msm_sum([(points, random_canonical(4, FR, rng), CANONICAL), (points, bad, CANONICAL)])
    off = points.copy()
    off[1, 1] = off[1, 0]
    with pytest.raises(InvalidInput, match="not on the curve"):
        msm_module.msm_sum([(off, random_canonical(4, FR, rng), MSMConfig(scalars_montgomery=False))])
    assert np.all(msm_module.msm_sum([]) == 0)


def test_width_profile_counts_and_ends(rng):
    k = np.concatenate([scalars_below(rng, 7, 200), scalars_below(rng, 5, 9), np.zeros((3, 4), np.uint64)])
    k[2] = 0
    widths = [v.bit_length() for v in convert.limbs_to_ints(k)]
    count, ends = width_profile(k)
    for b in range(257):
        at_least = [i for i, w in enumerate(widths) if w >= b]
        assert count[b] == len(at_least) and ends[b] == (at_least[-1] + 1 if at_least else 0), b


def test_repeated_points_and_cancellation(rng):
    # Many points in the same bucket exercise the P + P, P + (−P) and overflow paths.
    p = g1.random(1, rng)
    for c in (4, 12):
        cfg = MSMConfig(window_bits=c, scalars_montgomery=False)
        points = np.repeat(p, 600, axis=0)
        k = np.zeros((600, 4), dtype=np.uint64)
        k[:, 0] = 5
        want = naive_msm(p, np.array([[3000, 0, 0, 0]], dtype=np.uint64))
        assert np.array_equal(msm(points, k, cfg), want)
        # P and −P with equal scalars cancel exactly
        both = np.concatenate([points[:300], g1.neg(points[:300])])
        assert np.all(msm(both, k, cfg) == 0)
        # the same point with k and r − k cancels too
        kk = random_canonical(300, FR, rng)
        neg_k = convert.ints_to_limbs([(R_MODULUS - v) % R_MODULUS for v in convert.limbs_to_ints(kk)], R_MODULUS)
        assert np.all(msm(points[:600], np.concatenate([kk, neg_k]), cfg) == 0)


def test_trivial_inputs(rng):
    points = g1.random(5, rng)
    zero = np.zeros((5, 4), dtype=np.uint64)
    assert np.all(msm(points, zero) == 0)
    assert np.all(msm(np.zeros((0, 2, 4), np.uint64), np.zeros((0, 4), np.uint64)) == 0)
    # infinity among the points contributes nothing
    k = random_canonical(5, FR, rng)
    with_inf = points.copy()
    with_inf[2] = 0
    keep = [0, 1, 3, 4]
    assert np.array_equal(msm(with_inf, k, CANONICAL), msm(points[keep], k[keep], CANONICAL))
    # one point, scalar 1: the point itself
    one = fr_one = convert.to_montgomery([1], R_MODULUS)
    assert np.array_equal(msm(points[:1], fr_one), points[0])
    assert one.shape == (1, 4)


def test_rejects_bad_input(rng):
    points = g1.random(4, rng)
    k = random_canonical(4, FR, rng)
    too_big = k.copy()
    too_big[1] = convert.ints_to_limbs([R_MODULUS], R_MODULUS + 1)[0]
    for cfg in (CANONICAL, MSMConfig()):
        with pytest.raises(InvalidInput, match="not below the group order"):
            msm(points, too_big, cfg)
    with pytest.raises(InvalidInput, match="4 points but 3 scalars"):
        msm(points, k[:3], CANONICAL)
    with pytest.raises(InvalidInput, match="dtype"):
        msm(points.astype(np.int64), k, CANONICAL)
    with pytest.raises(InvalidInput, match="dtype"):
        msm(points, k.astype(np.uint32), CANONICAL)
    with pytest.raises(InvalidInput, match="shape"):
        msm(points.reshape(4, 8), k, CANONICAL)
    with pytest.raises(InvalidInput, match="shape"):
        msm(points[None], k, CANONICAL)
    with pytest.raises(InvalidInput, match="scalar_bits"):
        msm(points, small_scalars(rng, 4, 20) | np.uint64(1 << 19), MSMConfig(scalar_bits=16, scalars_montgomery=False))
    with pytest.raises(InvalidInput, match="window_bits"):
        msm(points, k, MSMConfig(window_bits=40, scalars_montgomery=False))
    off = points.copy()
    off[3, 1] = off[3, 0]
    msm(off, k, CANONICAL)  # unchecked by default: the hot path trusts validated points
    with pytest.raises(InvalidInput, match="not on the curve"):
        msm(off, k, CANONICAL, check_points=True)


def test_plan_is_sane():
    for n in (1, 10, 1 << 12, 1 << 16, 1 << 20):
        for bits in (1, 16, 254):
            c, windows, slices = plan(n, bits, 2)
            assert 1 <= c <= bits + 1 and windows * c >= bits + 1 and slices >= 1
