"""The GPU backend against the CPU backend (and Python ints where cheap), on fresh random inputs
and edge cases. Skips where CuPy or a CUDA device is missing."""

from __future__ import annotations

import numpy as np
import pytest

cupy = pytest.importorskip("cupy")

from kernels import InvalidInput, MSMConfig, get_backend  # noqa: E402
from kernels.params import G1_GENERATOR, P_MODULUS, R_MODULUS  # noqa: E402

try:
    _DEVICES = cupy.cuda.runtime.getDeviceCount()
except Exception:  # no driver: the same as no device
    _DEVICES = 0

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(_DEVICES == 0, reason="no CUDA device")]

R, P = R_MODULUS, P_MODULUS
SIZES = [0, 1, 2, 3, 255, 256, 257, 1000]


@pytest.fixture(scope="module")
def gpu():
    return get_backend("gpu")


def same(gpu, cpu_array, gpu_array):
    np.testing.assert_array_equal(gpu.to_host(gpu_array), np.asarray(cpu_array))


# Fields ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("field", ["fr", "fq"])
@pytest.mark.parametrize("n", SIZES)
def test_field_ops_match_cpu(gpu, cpu, rng, field, n):
    g, c = getattr(gpu, field), getattr(cpu, field)
    host_a = c.random(n, rng)
    host_b = c.random(n, rng)
    if n >= 4:
        edge = c.from_ints([0, 1, c.modulus - 1, 2])
        host_a[:4] = edge
        host_b[:4] = edge[::-1]
    a, b = gpu.asarray(host_a), gpu.asarray(host_b)
    same(gpu, c.add(host_a, host_b), g.add(a, b))
    same(gpu, c.sub(host_a, host_b), g.sub(a, b))
    same(gpu, c.mul(host_a, host_b), g.mul(a, b))
    same(gpu, c.neg(host_a), g.neg(a))
    same(gpu, c.square(host_a), g.square(a))
    for e in (0, 1, 5, 2**64 + 3, c.modulus - 2):
        same(gpu, c.pow(host_a, e), g.pow(a, e))
    nonzero = host_b if n < 4 else host_b.copy()
    if n >= 4:
        nonzero[3] = c.from_ints([1])[0]  # edge[::-1] put a zero at index 3
    nz = gpu.asarray(nonzero)
    if n and all(v != 0 for v in c.to_ints(nonzero)):
        same(gpu, c.inv(nonzero), g.inv(nz))
        same(gpu, c.inv(nonzero), g.batch_inv(nz))


@pytest.mark.parametrize("field", ["fr", "fq"])
def test_field_conversions_and_validation(gpu, cpu, field):
    g, c = getattr(gpu, field), getattr(cpu, field)
    values = [0, 1, 2, c.modulus - 1, 12345678901234567890]
    same(gpu, c.from_ints(values), g.from_ints(values))
    assert g.to_ints(g.from_ints(values)) == values
    assert g.to_ints(g.from_ints([-1, c.modulus], reduce=True)) == [c.modulus - 1, 0]
    with pytest.raises(InvalidInput):
        g.from_ints([c.modulus])
    same(gpu, c.zeros(3), g.zeros(3))
    same(gpu, c.ones(3), g.ones(3))
    bad = gpu.asarray(np.full((2, 4), 2**64 - 1, dtype=np.uint64))
    with pytest.raises(InvalidInput):
        g.validate(bad)
    with pytest.raises(InvalidInput):
        g.inv(g.from_ints([1, 0]))
    with pytest.raises(InvalidInput):
        g.batch_inv(g.from_ints([0]))
    assert all(0 <= v < c.modulus for v in g.to_ints(g.random(1000)))


def test_field_broadcast_and_batches(gpu, cpu, rng):
    a = cpu.fr.random(12, rng).reshape(3, 4, 4)
    b = cpu.fr.random(4, rng)
    same(gpu, cpu.fr.mul(a, np.broadcast_to(b, a.shape)), gpu.fr.mul(gpu.asarray(a), gpu.asarray(b)))


# G1 -------------------------------------------------------------------------------------------------------

def _points(cpu, rng, n):
    pts = cpu.g1.random(n, rng)
    if n >= 3:
        pts[0] = 0          # infinity
        pts[2] = pts[1]     # a repeated point
    return pts


@pytest.mark.parametrize("n", SIZES)
def test_g1_ops_match_cpu(gpu, cpu, rng, n):
    host_p = _points(cpu, rng, n)
    host_q = _points(cpu, rng, n)
    if n >= 3:
        host_q[1] = host_p[1]                       # P + P
        host_q[2] = cpu.g1.neg(host_p[2:3])[0]      # P + (−P)
    p, q = gpu.asarray(host_p), gpu.asarray(host_q)
    same(gpu, cpu.g1.add(host_p, host_q), gpu.g1.add(p, q))
    same(gpu, cpu.g1.double(host_p), gpu.g1.double(p))
    same(gpu, cpu.g1.neg(host_p), gpu.g1.neg(p))
    k = cpu.fr.random(n, rng)
    if n >= 2:
        k[:2] = cpu.fr.from_ints([0, R - 1])
    same(gpu, cpu.g1.scalar_mul(host_p, k), gpu.g1.scalar_mul(p, gpu.asarray(k)))
    same(gpu, cpu.g1.is_on_curve(host_p), gpu.g1.is_on_curve(p))


def test_g1_conversions_and_validation(gpu, cpu):
    pts = [G1_GENERATOR, (0, 0)]
    same(gpu, cpu.g1.from_ints(pts), gpu.g1.from_ints(pts))
    assert gpu.g1.to_ints(gpu.g1.from_ints(pts)) == pts
    same(gpu, cpu.g1.generator(3), gpu.g1.generator(3))
    with pytest.raises(InvalidInput):
        gpu.g1.from_ints([(1, 3)])
    with pytest.raises(InvalidInput):
        gpu.g1.from_ints([(P, 2)])
    off = gpu.g1.generator(2)
    off[1, 1] = off[0, 0]
    assert gpu.to_host(gpu.g1.is_on_curve(off)).tolist() == [True, False]
    with pytest.raises(InvalidInput):
        gpu.g1.validate(off)


# NTT --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("log_n", [0, 1, 2, 3, 5, 8, 10, 11, 13, 16, 18])
def test_ntt_matches_cpu(gpu, cpu, rng, log_n):
    n = 1 << log_n
    a = cpu.fr.random(3 * n, rng).reshape(3, n, 4)
    a[1] = 0
    d = gpu.asarray(a)
    for inverse in (False, True):
        for coset in (False, True):
            same(gpu, cpu.ntt(a, inverse=inverse, coset=coset), gpu.ntt(d, inverse=inverse, coset=coset))
    same(gpu, cpu.ntt(a, coset=True, shift=7), gpu.ntt(d, coset=True, shift=7))
    # Round trips, and the input left untouched.
    np.testing.assert_array_equal(gpu.to_host(gpu.ntt(gpu.ntt(d), inverse=True)), a)
    np.testing.assert_array_equal(gpu.to_host(gpu.ntt(gpu.ntt(d, coset=True), inverse=True, coset=True)), a)
    np.testing.assert_array_equal(gpu.to_host(d), a)


def test_ntt_rejects_bad_lengths(gpu):
    for n in (0, 3, 6, 12):
        with pytest.raises(InvalidInput):
            gpu.ntt(gpu.fr.zeros(n))
    with pytest.raises(InvalidInput):
        gpu.ntt(gpu.fr.ones(4), coset=True, shift=R)


def test_ntt_passes_above_the_default_shared_limit(gpu, cpu, rng):
    """2^16 runs pass blocks of 2^10 elements whose staged twiddles take them past 48 KiB of
    dynamic shared memory: the launch needs the raised limit."""
    from kernels.gpu import plan

    assert max(plan.ntt_shared_bytes(p) for p in plan.ntt_passes(16)) > plan.SHARED_DEFAULT_LIMIT
    a = cpu.fr.random(1 << 16, rng)
    same(gpu, cpu.ntt(a), gpu.ntt(a))
    same(gpu, cpu.ntt(a, inverse=True), gpu.ntt(a, inverse=True))


def test_ntt_large_roundtrip(gpu, rng):
    a = gpu.fr.random(1 << 20, rng)
    b = gpu.ntt(gpu.ntt(a, coset=True), inverse=True, coset=True)
    assert bool(cupy.all(a == b))


# MSM ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 3, 255, 257, 1000, 4099])
def test_msm_matches_cpu(gpu, cpu, rng, n):
    pts = _points(cpu, rng, n)
    k = cpu.fr.random(n, rng)
    if n >= 4:
        k[:4] = cpu.fr.from_ints([0, 1, R - 1, 2])
    want = cpu.msm(pts, k)
    same(gpu, want, gpu.msm(pts, k))
    same(gpu, want, gpu.msm(gpu.asarray(pts), gpu.asarray(k)))
    same(gpu, want, gpu.msm(pts, k, MSMConfig(window_bits=5)))


@pytest.mark.parametrize("bits", [1, 16, 20, 64])
def test_msm_small_scalars(gpu, cpu, rng, bits):
    n = 3000
    pts = _points(cpu, rng, n)
    ints = [int(v) for v in rng.integers(0, 2**min(bits, 63), size=n, dtype=np.int64)]
    k = cpu.fr.from_ints(ints)
    want = cpu.msm(pts, k)
    same(gpu, want, gpu.msm(pts, k))
    same(gpu, want, gpu.msm(pts, k, MSMConfig(scalar_bits=bits)))
    canonical = gpu.asarray(np.array([[v, 0, 0, 0] for v in ints], dtype=np.uint64))
    same(gpu, want, gpu.msm(pts, canonical, MSMConfig(scalars_montgomery=False)))
    if bits > 1:
        with pytest.raises(InvalidInput):
            gpu.msm(pts, gpu.fr.from_ints([2**bits] + ints[1:]), MSMConfig(scalar_bits=bits))


def test_msm_plan_does_not_read_scalars(gpu, cpu, rng, monkeypatch):
    """Without scalar_bits the window plan is the full-width one (no read of the widest scalar
    before the result): narrow and zero columns still match, and invalid scalars still raise."""
    from kernels.gpu import msm as gpu_msm, plan

    planned = []
    real = plan.msm_window_bits
    monkeypatch.setattr(gpu_msm.plan, "msm_window_bits",
                        lambda n, bits, requested=None: planned.append(bits) or real(n, bits, requested))
    n = 2000
    pts = _points(cpu, rng, n)
    for k in (cpu.fr.zeros(n), cpu.fr.from_ints([int(v) for v in rng.integers(0, 2**16, size=n)])):
        same(gpu, cpu.msm(pts, k), gpu.msm(pts, k))
    assert planned == [plan.MSM_SCALAR_BITS] * 2
    bad = cpu.fr.random(n, rng)
    bad[11] = np.uint64(2**64 - 1)
    with pytest.raises(InvalidInput, match="element 11"):
        gpu.msm(pts, bad)


@pytest.mark.parametrize("m, bits", [(1, 4), (2049, 9), (100_003, 17), (1 << 20, 24), (300_000, 32)])
def test_msm_radix_sort_is_a_stable_argsort(gpu, rng, m, bits):
    from kernels.gpu import sort

    keys = rng.integers(0, 2**bits - 1, size=m, dtype=np.uint64).astype(np.uint32)
    keys[::9] = 0xFFFFFFFF
    keys[m // 2:] = keys[m // 2]  # a long run of equal keys
    sorted_keys, perm = sort.sort_pairs(cupy.asarray(keys), bits)
    want = np.argsort(keys, kind="stable")
    assert perm.dtype == cupy.uint32
    np.testing.assert_array_equal(cupy.asnumpy(perm), want)
    np.testing.assert_array_equal(cupy.asnumpy(sorted_keys), keys[want])


@pytest.mark.parametrize("case", ["zeros", "ones", "same_point", "cancel", "empty"])
def test_msm_edge_cases(gpu, cpu, rng, case):
    n = 5000
    pts = cpu.g1.random(n, rng)
    if case == "zeros":
        k = cpu.fr.zeros(n)
    elif case == "ones":  # every point in one bucket
        k = cpu.fr.ones(n)
    elif case == "same_point":
        pts[:] = pts[0]
        k = cpu.fr.from_ints([12345] * n)
    elif case == "cancel":
        pts[1::2] = cpu.g1.neg(pts[0::2])
        k = cpu.fr.from_ints([7] * n)
    else:
        pts, k = pts[:0], cpu.fr.zeros(0)
    same(gpu, cpu.msm(pts, k), gpu.msm(pts, k))


def test_msm_resident_bases_and_validation(gpu, cpu, rng):
    pts = cpu.g1.random(300, rng)
    k1, k2 = cpu.fr.random(300, rng), cpu.fr.random(300, rng)
    resident = gpu.msm_bases(pts)
    same(gpu, cpu.msm(pts, k1), gpu.msm(resident, k1))
    same(gpu, cpu.msm(pts, k2), gpu.msm(resident, k2))  # no copy, no check: the object owns them
    same(gpu, cpu.msm(pts[:20], k2[:20]), gpu.msm(resident[:20], k2[:20]))
    same(gpu, cpu.msm(pts, k1), gpu.msm(pts, k1))
    pts[7] = cpu.g1.double(pts[7:8])[0]  # an array changed in place is never served stale
    same(gpu, cpu.msm(pts, k1), gpu.msm(pts, k1))
    with pytest.raises(InvalidInput):
        gpu.msm(pts, k1[:10])
    bad = pts.copy()
    bad[5, 1] = bad[5, 0]
    with pytest.raises(InvalidInput):
        gpu.msm(bad, k1)
    with pytest.raises(InvalidInput):
        gpu.msm_bases(bad)


def test_msm_honours_check_points(gpu, cpu, rng):
    """On by default: off-curve bases (or a coordinate ≥ p) raise the CPU backend's InvalidInput;
    with check_points=False none is checked, and valid bases give the same sum."""
    pts = cpu.g1.random(200, rng)
    k = cpu.fr.random(200, rng)
    off = pts.copy()
    off[9, 1] = off[9, 0]
    over = pts.copy()
    over[3, 0] = [(P >> (64 * i)) & (2**64 - 1) for i in range(4)]
    for index, bad in ((9, off), (3, over)):
        for config in (None, MSMConfig(check_points=True)):
            with pytest.raises(InvalidInput, match=rf"points\[{index}\]") as on_gpu:
                gpu.msm(bad, k, config)
            with pytest.raises(InvalidInput) as on_cpu:
                cpu.msm(bad, k, config)
            assert str(on_gpu.value) == str(on_cpu.value)
            with pytest.raises(InvalidInput):
                gpu.msm(gpu.asarray(bad), k, config)  # device-resident arrays too
        assert gpu.to_host(gpu.msm(bad, k, MSMConfig(check_points=False))).shape == (2, 4)
    unchecked = MSMConfig(check_points=False)
    same(gpu, cpu.msm(pts, k), gpu.msm(pts, k, unchecked))
    same(gpu, cpu.msm(pts, k), gpu.msm(gpu.asarray(pts), k, unchecked))


def test_transfers_through_staging(gpu, cpu, rng):
    a = cpu.fr.random(1 << 16, rng)
    b = cpu.fr.random(1 << 10, rng)
    da, db = gpu.asarray(a), gpu.asarray(b)  # the second upload reuses the pinned buffer
    np.testing.assert_array_equal(gpu.to_host(da), a)
    np.testing.assert_array_equal(gpu.to_host(db), b)
    np.testing.assert_array_equal(gpu.to_host(gpu.fr.mul(da[: 1 << 10], db)), cpu.fr.mul(a[: 1 << 10], b))


def test_msm_large(gpu, cpu, rng):
    n = 1 << 16
    pts = cpu.g1.random(n, rng)
    k = cpu.fr.random(n, rng)
    same(gpu, cpu.msm(pts, k), gpu.msm(pts, k))
