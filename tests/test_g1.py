"""CPU G1 (kernels/cpu/curve.py) against py_ecc's optimized_bn128 and Python ints."""

import numpy as np
import pytest
from py_ecc import optimized_bn128 as ref

from kernels import convert
from kernels.cpu.curve import CpuG1, xyzz_to_affine
from kernels.errors import InvalidInput
from kernels.params import P_MODULUS, R_MODULUS

g1 = CpuG1()


def ref_affine(pt) -> tuple[int, int]:
    """A py_ecc Jacobian point as affine ints, (0, 0) for infinity (the EVM encoding)."""
    if ref.is_inf(pt):
        return (0, 0)
    x, y = ref.normalize(pt)
    return (int(x), int(y))


def ref_point(xy) -> tuple:
    """Affine ints (0, 0 = infinity) → a py_ecc Jacobian point."""
    if xy == (0, 0):
        return ref.Z1
    return (ref.FQ(xy[0]), ref.FQ(xy[1]), ref.FQ(1))


def fr_montgomery(values):
    return convert.to_montgomery(values, R_MODULUS)


@pytest.fixture
def rng():
    return np.random.default_rng()


def random_ref_points(rng, n):
    """n py_ecc points [k]G for fresh random k (small n: py_ecc is slow)."""
    ks = [int(rng.integers(1, 2**62)) * int(rng.integers(1, 2**62)) % R_MODULUS for _ in range(n)]
    return [ref.multiply(ref.G1, k) for k in ks]


# -- conversions and checks ---------------------------------------------------------------

def test_generator_and_round_trip(rng):
    assert g1.to_ints(g1.generator()) == [(1, 2)]
    assert g1.generator(3).shape == (3, 2, 4)
    pts = [ref_affine(p) for p in random_ref_points(rng, 5)] + [(0, 0)]
    arr = g1.from_ints(pts)
    assert arr.shape == (6, 2, 4) and arr.dtype == np.uint64
    assert g1.to_ints(arr) == pts
    assert np.all(arr[-1] == 0)  # infinity is the all-zero encoding


def test_from_ints_rejects_bad_points():
    with pytest.raises(InvalidInput, match="not on"):
        g1.from_ints([(1, 2), (1, 3)])
    with pytest.raises(InvalidInput):
        g1.from_ints([(P_MODULUS + 1, 2)])  # coordinate not below p
    with pytest.raises(InvalidInput, match="point 1: coordinate"):
        g1.from_ints([(1, 2), (1.0, 2)])
    with pytest.raises(InvalidInput, match="pair"):
        g1.from_ints([(1, 2, 3)])


def test_is_on_curve_and_validate():
    good = g1.from_ints([(1, 2), (0, 0)])
    off = good.copy()
    off[0, 1] = convert.to_montgomery([3], P_MODULUS)[0]  # (1, 3) is not on the curve
    unreduced = good.copy()
    unreduced[0, 0] = convert.ints_to_limbs([P_MODULUS + 0], P_MODULUS + 1)[0]  # x = p
    assert g1.is_on_curve(good).tolist() == [True, True]
    assert g1.is_on_curve(off).tolist() == [False, True]
    assert g1.is_on_curve(unreduced).tolist() == [False, True]
    assert g1.validate(good) is not None
    for bad in (off, unreduced):
        with pytest.raises(InvalidInput, match="index"):
            g1.validate(bad)
    with pytest.raises(InvalidInput, match="dtype"):
        g1.validate(good.astype(np.int64))
    with pytest.raises(InvalidInput, match="shape"):
        g1.validate(np.zeros((2, 3, 4), dtype=np.uint64))
    # a leading batch shape is kept
    assert g1.is_on_curve(np.stack([good, good])).shape == (2, 2)


# -- group law ------------------------------------------------------------------------------

def test_add_matches_py_ecc(rng):
    ps = random_ref_points(rng, 6)
    qs = random_ref_points(rng, 6)
    a = g1.from_ints([ref_affine(p) for p in ps])
    b = g1.from_ints([ref_affine(q) for q in qs])
    got = g1.to_ints(g1.add(a, b))
    assert got == [ref_affine(ref.add(p, q)) for p, q in zip(ps, qs)]


def test_add_special_cases(rng):
    p, q = random_ref_points(rng, 2)
    P, Q = ref_affine(p), ref_affine(q)
    minus_p = ref_affine(ref.neg(p))
    left = g1.from_ints([P, (0, 0), (0, 0), P, P, Q, P])
    right = g1.from_ints([(0, 0), P, (0, 0), P, minus_p, P, Q])
    want = [P, P, (0, 0), ref_affine(ref.double(p)), (0, 0), ref_affine(ref.add(q, p)),
            ref_affine(ref.add(p, q))]
    assert g1.to_ints(g1.add(left, right)) == want


def test_add_keeps_batch_shape_and_rejects_mismatch(rng):
    a = g1.random(6, rng).reshape(2, 3, 2, 4)
    assert g1.add(a, a).shape == (2, 3, 2, 4)
    assert np.array_equal(g1.add(a, a), g1.double(a))
    with pytest.raises(InvalidInput, match="shapes differ"):
        g1.add(a, a[:1])


def test_double_and_neg(rng):
    ps = random_ref_points(rng, 4)
    arr = g1.from_ints([ref_affine(p) for p in ps] + [(0, 0)])
    assert g1.to_ints(g1.double(arr)) == [ref_affine(ref.double(p)) for p in ps] + [(0, 0)]
    negs = g1.to_ints(g1.neg(arr))
    assert negs == [(x, (P_MODULUS - y) % P_MODULUS) for x, y in g1.to_ints(arr)[:-1]] + [(0, 0)]
    assert g1.to_ints(g1.add(arr, g1.neg(arr))) == [(0, 0)] * 5


def test_batch_to_affine_with_infinities_interleaved(rng):
    # Infinity results in the middle of a batch must not disturb the shared inversion.
    pts = g1.random(9, rng)
    other = pts.copy()
    other[1::3] = g1.neg(pts[1::3])  # P + (−P) = infinity at 1, 4, 7
    got = g1.add(pts, other)
    for i in range(9):
        want = g1.add(pts[i:i + 1], other[i:i + 1])[0]
        assert np.array_equal(got[i], want)
        assert np.all(got[i] == 0) == (i % 3 == 1)
    assert xyzz_to_affine(np.zeros((0, 4, 4), dtype=np.uint64)).shape == (0, 2, 4)


# -- scalar multiplication ------------------------------------------------------------------

def test_scalar_mul_matches_py_ecc(rng):
    ps = random_ref_points(rng, 3)
    ks = [0, 1, 2, R_MODULUS - 1, R_MODULUS - 2] + [int.from_bytes(rng.bytes(32), "little") % R_MODULUS
                                                     for _ in range(4)]
    pts = [ps[i % 3] for i in range(len(ks))]
    arr = g1.from_ints([ref_affine(p) for p in pts])
    got = g1.to_ints(g1.scalar_mul(arr, fr_montgomery(ks)))
    assert got == [ref_affine(ref.multiply(p, k)) for p, k in zip(pts, ks)]


def test_scalar_mul_edge_cases(rng):
    g = g1.generator()
    # one point broadcast against many scalars
    got = g1.to_ints(g1.scalar_mul(g[0], fr_montgomery([3, 5])))
    assert got == [ref_affine(ref.multiply(ref.G1, 3)), ref_affine(ref.multiply(ref.G1, 5))]
    # infinity times anything is infinity; [r−1]P = −P
    inf = np.zeros((1, 2, 4), dtype=np.uint64)
    assert g1.to_ints(g1.scalar_mul(inf, fr_montgomery([7]))) == [(0, 0)]
    assert np.array_equal(g1.scalar_mul(g, fr_montgomery([R_MODULUS - 1])), g1.neg(g))
    # empty input
    assert g1.scalar_mul(np.zeros((0, 2, 4), np.uint64), np.zeros((0, 4), np.uint64)).shape == (0, 2, 4)


def test_scalar_mul_one_base_many_scalars(rng):
    """From 64 products of one base on, scalar_mul goes through the base's fixed-base table:
    it must agree with the per-point double-and-add and with py_ecc, for any base."""
    base = random_ref_points(rng, 1)[0]
    ks = [0, 1, 2, R_MODULUS - 1] + [int.from_bytes(rng.bytes(32), "little") % R_MODULUS for _ in range(96)]
    for point in (g1.generator()[0], g1.from_ints([ref_affine(base)])[0]):
        scalars = fr_montgomery(ks).reshape(10, 10, 4)   # any leading shape
        got = g1.scalar_mul(point, scalars)
        assert got.shape == (10, 10, 2, 4)
        one_by_one = g1.scalar_mul(np.repeat(point[None], 100, axis=0), fr_montgomery(ks))
        assert np.array_equal(got.reshape(100, 2, 4), one_by_one)
        p = ref_point(g1.to_ints(point[None])[0])
        assert g1.to_ints(got.reshape(100, 2, 4)[[0, 1, 3, 50]]) == [ref_affine(ref.multiply(p, ks[i]))
                                                                       for i in (0, 1, 3, 50)]
    inf = np.zeros((2, 4), dtype=np.uint64)
    assert not g1.scalar_mul(inf, fr_montgomery(ks)).any()


def test_scalar_mul_rejects_bad_scalars():
    g = g1.generator(2)
    not_fr = convert.ints_to_limbs([1, R_MODULUS], R_MODULUS + 1)  # limb pattern r is not in Fr
    with pytest.raises(InvalidInput, match="not below the group order"):
        g1.scalar_mul(g, not_fr)
    with pytest.raises(InvalidInput, match="dtype"):
        g1.scalar_mul(g, np.zeros((2, 4), dtype=np.int64))
    with pytest.raises(InvalidInput):
        g1.scalar_mul(g, fr_montgomery([1, 2, 3]))


def test_random_points(rng):
    pts = g1.random(50, rng)
    assert pts.shape == (50, 2, 4)
    assert g1.is_on_curve(pts).all()
    assert len(set(g1.to_ints(pts))) == 50
    a = g1.random(4, np.random.default_rng(1))
    b = g1.random(4, np.random.default_rng(1))
    assert np.array_equal(a, b)
    assert g1.random(0, rng).shape == (0, 2, 4)
    # random points are multiples of G: check one against py_ecc via its scalar
    # (the fixed-base table path against the double-and-add path)
    from kernels.cpu.curve import FR, fixed_base_mul_kernel, random_canonical
    k = random_canonical(3, FR, rng)
    fixed = xyzz_to_affine(fixed_base_mul_kernel(g1._table_of(g1.generator()[0]), 8, k))
    ks = convert.limbs_to_ints(k)
    assert g1.to_ints(fixed) == [ref_affine(ref.multiply(ref.G1, v)) for v in ks]
