"""The GPU backend's device code, executed on the CPU with one OS thread per CUDA thread
(tests/cuda_threads.py), against the CPU backend: fields, G1, NTT to 2^12 and MSM with its
edge cases, window sizes from 2 to 10 bits (the bucket tree one block and two blocks a window)
and the radix sort over many tiles. The kernels run at the block sizes the Python driver launches them with, their
`__syncthreads` are real barriers, and their field products are the device's carry-chain code."""

from __future__ import annotations

import numpy as np
import pytest

from kernels import InvalidInput, MSMConfig
from kernels.params import P_MODULUS, R_MODULUS

from .cuda_threads import LaunchError, build, threaded_backend

R = R_MODULUS


@pytest.fixture(scope="module")
def libs(tmp_path_factory):
    try:
        return build(tmp_path_factory.mktemp("cuda_threads"))
    except FileNotFoundError as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def threaded(libs):
    with threaded_backend(libs) as (backend, log):
        yield backend, log


@pytest.fixture(scope="module")
def gpu(threaded):
    return threaded[0]


def launches(threaded, name):
    return [entry for entry in threaded[1] if entry[0] == name]


# Fields and G1 ----------------------------------------------------------------------------------

@pytest.mark.parametrize("field", ["fr", "fq"])
def test_fields_match_cpu(gpu, cpu, rng, field):
    g, c = getattr(gpu, field), getattr(cpu, field)
    n = 600
    a, b = c.random(n, rng), c.random(n, rng)
    edge = c.from_ints([0, 1, c.modulus - 1, 2, c.modulus - 2])
    a[:5], b[:5] = edge, edge[::-1]
    for op in ("add", "sub", "mul"):
        np.testing.assert_array_equal(getattr(g, op)(a, b), getattr(c, op)(a, b), err_msg=op)
    np.testing.assert_array_equal(g.neg(a), c.neg(a))
    np.testing.assert_array_equal(g.square(a), c.square(a))
    np.testing.assert_array_equal(g.pow(a, 2**70 + 3), c.pow(a, 2**70 + 3))
    nz = b[5:]
    np.testing.assert_array_equal(g.inv(nz), c.inv(nz))
    np.testing.assert_array_equal(g.batch_inv(nz), c.inv(nz))
    with pytest.raises(InvalidInput):
        g.inv(a)


def test_g1_matches_cpu(gpu, cpu, rng):
    p = cpu.g1.random(40, rng)
    q = p.copy()
    q[0] = 0            # P + infinity
    q[1] = p[1]         # P + P
    q[2] = cpu.g1.neg(p[2:3])[0]  # P + (−P)
    p[3] = 0            # infinity + Q
    np.testing.assert_array_equal(gpu.g1.add(p, q), cpu.g1.add(p, q))
    np.testing.assert_array_equal(gpu.g1.double(p), cpu.g1.double(p))
    np.testing.assert_array_equal(gpu.g1.neg(p), cpu.g1.neg(p))
    k = cpu.fr.random(40, rng)
    k[:3] = cpu.fr.from_ints([0, 1, R - 1])
    np.testing.assert_array_equal(gpu.g1.scalar_mul(p, k), cpu.g1.scalar_mul(p, k))
    assert gpu.g1.is_on_curve(p).all()


# NTT --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("log_n", [1, 3, 7, 9, 11, 12])
def test_ntt_matches_cpu(threaded, gpu, cpu, rng, log_n):
    cols = 2 if log_n < 12 else 1
    a = cpu.fr.random(cols << log_n, rng).reshape(cols, 1 << log_n, 4)
    a[-1, : (1 << log_n) // 2] = 0  # a column that is half zeros
    for kw in ({}, {"inverse": True}, {"coset": True, "shift": 7}, {"inverse": True, "coset": True, "shift": 7}):
        got = gpu.ntt(a, **kw)
        np.testing.assert_array_equal(got, cpu.ntt(a, **kw), err_msg=str(kw))
    np.testing.assert_array_equal(gpu.ntt(gpu.ntt(a), inverse=True), a)
    passes = launches(threaded, "ntt_dif_pass")
    assert passes and all(shared > 0 for *_, shared in passes)


def test_ntt_runs_many_threads_per_block(threaded, gpu, cpu, rng):
    """The 2^12 passes run with 64 and 16 threads a block sharing one shared-memory block."""
    a = cpu.fr.random(1 << 12, rng)
    threaded[1].clear()
    np.testing.assert_array_equal(gpu.ntt(a), cpu.ntt(a))
    shapes = [(grid, block, shared) for _, grid, block, shared in launches(threaded, "ntt_dif_pass")]
    # Shared memory: the pass block's elements, then its staged twiddles (2^g·(2^t − 1)).
    assert shapes == [((16, 1), 64, 32 * (256 + 63 * 4)), ((64, 1), 16, 32 * (64 + 63))]


@pytest.mark.parametrize("log_n", range(1, 29))
def test_ntt_staged_twiddles_are_exactly_what_a_block_uses(log_n):
    """Every butterfly of every block of every pass finds its twiddle ω^(index) at the entry
    ntt_block_twiddle reads, the table's size is plan.ntt_twiddle_entries, and the shared
    memory stays within what sm_90 grants one block (227 KiB)."""
    from kernels.gpu import plan

    n = 1 << log_n
    for p in plan.ntt_passes(log_n):
        entries = plan.ntt_twiddle_entries(p)
        assert plan.ntt_shared_bytes(p) == 32 * ((1 << p.log_block) + entries) <= 227 * 1024
        mid_bits = p.lo - p.g
        for block in {0, (1 << (log_n - p.log_block)) - 1, (1 << mid_bits) - 1 if mid_bits else 0}:
            table = {}
            for j in range(p.t):
                for i in range(1 << p.log_block):
                    if i >> (j + p.g) & 1:
                        continue  # upper elements only
                    outer, mid = block >> mid_bits, block & ((1 << mid_bits) - 1)
                    gi = (outer << (p.lo + p.t)) | ((i >> p.g) << p.lo) | (mid << p.g) | (i & ((1 << p.g) - 1))
                    want = (gi & ((1 << (p.lo + j)) - 1)) << (log_n - 1 - p.lo - j)
                    assert want < n // 2
                    entry = (((1 << j) - 1) << p.g) + (i & ((1 << (j + p.g)) - 1))
                    assert table.setdefault(entry, want) == want
            assert sorted(table) == list(range(entries))


# MSM -------------------------------------------------------------------------------------------------

def _msm(gpu, points, scalars, config=None):
    return gpu.msm(points, scalars, config)


# 1000 points already take every path a larger MSM does (19 sort tiles and a two-level scan,
# six accumulation levels, the bucket tree at 128 threads a block); 2^12 only took longer.
@pytest.mark.parametrize("n", [1, 37, 1000])
def test_msm_uniform_matches_cpu(threaded, gpu, cpu, rng, n):
    points = cpu.g1.random(n, rng)
    scalars = cpu.fr.random(n, rng)
    threaded[1].clear()
    np.testing.assert_array_equal(_msm(gpu, points, scalars), cpu.msm(points, scalars))
    if n == 1000:
        sums = launches(threaded, "xyzz_tree_sum")
        assert sums and all(block == 128 for _, _, block, _ in sums)
        assert len(launches(threaded, "msm_accumulate_xyzz")) > 1
        assert launches(threaded, "radix_sort_tiles")[0][1][0] > 1 and launches(threaded, "radix_scan_add")


@pytest.mark.parametrize("case", ["zeros", "equal", "infinity", "opposite", "ones", "small"])
def test_msm_edge_cases_match_cpu(gpu, cpu, rng, case):
    n = 512
    points = cpu.g1.random(n, rng)
    scalars = cpu.fr.random(n, rng)
    config = None
    if case == "zeros":
        scalars[:] = 0
        scalars[7] = cpu.fr.from_ints([5])[0]  # one nonzero among zeros
    elif case == "equal":
        scalars[:] = scalars[0]
        points[: n // 2] = points[0]  # equal points with equal scalars: P + P inside a bucket
    elif case == "infinity":
        points[::3] = 0
    elif case == "opposite":  # P and −P with the same scalar cancel
        points[1::2] = cpu.g1.neg(points[0::2])
        scalars[1::2] = scalars[0::2]
    elif case == "ones":  # every point in one bucket of every window
        scalars = cpu.fr.from_ints([1] * n)
    else:
        scalars = cpu.fr.from_ints([int(v) for v in rng.integers(0, 1 << 16, size=n)])
        config = MSMConfig(scalar_bits=16)
    np.testing.assert_array_equal(_msm(gpu, points, scalars, config), cpu.msm(points, scalars))


def test_msm_configs_and_errors(gpu, cpu, rng):
    n = 300
    points = cpu.g1.random(n, rng)
    ks = [int(v) for v in rng.integers(0, 1 << 20, size=n)]
    scalars = cpu.fr.from_ints(ks)
    want = cpu.msm(points, scalars)
    # The narrowest window (128 windows of 2 buckets) on a third of the points: its cost grows
    # with windows × points, and 100 points take the same paths.
    np.testing.assert_array_equal(gpu.msm(points[:100], scalars[:100], MSMConfig(window_bits=2)),
                                  cpu.msm(points[:100], scalars[:100]))
    # 20 bits requested: at most 2^(c-1) <= 2n buckets, so c = 10 here (two bucket-tree blocks a window).
    for cfg in (MSMConfig(window_bits=20), MSMConfig(scalar_bits=20), MSMConfig(window_bits=11, scalar_bits=40)):
        np.testing.assert_array_equal(gpu.msm(points, scalars, cfg), want, err_msg=str(cfg))
    canonical = np.array([[k, 0, 0, 0] for k in ks], dtype=np.uint64)
    np.testing.assert_array_equal(gpu.msm(points, canonical, MSMConfig(scalars_montgomery=False)), want)
    resident = gpu.msm_bases(points)
    np.testing.assert_array_equal(gpu.msm(resident, scalars), want)
    np.testing.assert_array_equal(gpu.msm(resident[:10], scalars[:10]), cpu.msm(points[:10], scalars[:10]))
    with pytest.raises(InvalidInput):
        gpu.msm(points, scalars, MSMConfig(scalar_bits=8))
    bad = scalars.copy()
    bad[5] = np.uint64(2**64 - 1)
    for cfg in (None, MSMConfig(scalar_bits=254)):
        with pytest.raises(InvalidInput, match="element 5"):
            gpu.msm(points, bad, cfg)
    with pytest.raises(InvalidInput):
        gpu.msm(points, scalars[:5])
    with pytest.raises(InvalidInput):
        gpu.msm(points, scalars, MSMConfig(window_bits=1))
    assert np.array_equal(gpu.msm(points[:0], scalars[:0]), np.zeros((2, 4), dtype=np.uint64))


@pytest.mark.parametrize("case", ["all_zeros", "small", "one_bit", "top"])
def test_msm_plan_reads_nothing_from_the_device(threaded, gpu, cpu, rng, monkeypatch, case):
    """Without scalar_bits the window plan is the full-width one whatever the scalars hold (it
    never waits for their widest bit length): windows above the scalars' top bits carry only
    zero digits, which the kernels skip, and the sum is still the CPU's."""
    from kernels.gpu import msm as gpu_msm, plan

    n = 257
    points = cpu.g1.random(n, rng)
    if case == "all_zeros":
        scalars = cpu.fr.zeros(n)
    elif case == "small":
        scalars = cpu.fr.from_ints([int(v) for v in rng.integers(0, 1 << 16, size=n)])
    elif case == "one_bit":
        scalars = cpu.fr.from_ints([int(v) for v in rng.integers(0, 2, size=n)])
    else:
        scalars = cpu.fr.from_ints([R - 1 - int(v) for v in rng.integers(0, 1 << 8, size=n)])
    planned = []
    real = plan.msm_window_bits
    monkeypatch.setattr(gpu_msm.plan, "msm_window_bits",
                        lambda n_, bits, requested=None: planned.append(bits) or real(n_, bits, requested))
    threaded[1].clear()
    np.testing.assert_array_equal(gpu.msm(points, scalars), cpu.msm(points, scalars))
    assert planned == [plan.MSM_SCALAR_BITS]
    c = real(n, plan.MSM_SCALAR_BITS)
    assert len(launches(threaded, "msm_digits")) == 1
    per_window = 1 << (c - 1)
    segments = plan.msm_windows(plan.MSM_SCALAR_BITS, c) * (per_window // plan.msm_segment_length(per_window))
    blocks = -(-segments // plan.MSM_POINT_THREADS)
    assert [g for _, g, _, _ in launches(threaded, "msm_bucket_segments")] == [(blocks, 1)]
    planned.clear()
    np.testing.assert_array_equal(gpu.msm(points, scalars, MSMConfig(scalar_bits=254)), cpu.msm(points, scalars))
    if case == "small":  # the caller's width keeps the narrow plan
        np.testing.assert_array_equal(gpu.msm(points, scalars, MSMConfig(scalar_bits=16)), cpu.msm(points, scalars))
        assert planned[-1] == 16


# Radix sort (the radix_* kernels of msm.cu) --------------------------------------------------------

def _sort_cases(rng):
    """(name, keys, key_bits): random, equal keys, all in one bucket, EMPTY among keys, sizes
    around the tile (2048) and past it, a count table long enough for a two-level scan."""
    def keys(m, bits, empty_every=0):
        k = rng.integers(0, (1 << bits) - 1, size=m).astype(np.uint32)
        if empty_every:
            k[::empty_every] = 0xFFFFFFFF
        return k
    yield "one", keys(1, 5), 5
    yield "random", keys(3001, 12, 5), 12
    yield "tile", keys(2048, 16), 16
    yield "tile+1", keys(2049, 9, 3), 9
    yield "equal", np.full(2500, 77, dtype=np.uint32), 7
    yield "one_bucket_and_empty", np.where(rng.random(4100) < 0.5, 3, 0xFFFFFFFF).astype(np.uint32), 2
    yield "all_empty", np.full(700, 0xFFFFFFFF, dtype=np.uint32), 10
    yield "wide", rng.integers(0, 2**32 - 1, size=1500, dtype=np.uint64).astype(np.uint32), 32
    yield "two_level_scan", keys(20000, 20, 11), 20


def test_radix_sort_is_a_stable_argsort(threaded, rng):
    from kernels.gpu import plan, sort

    for name, keys, bits in _sort_cases(rng):
        threaded[1].clear()
        sorted_keys, perm = sort.sort_pairs(keys.copy(), bits)
        want = np.argsort(keys, kind="stable")
        assert perm.dtype == np.uint32 and sorted_keys.dtype == np.uint32, name
        np.testing.assert_array_equal(perm, want, err_msg=name)
        np.testing.assert_array_equal(sorted_keys, keys[want], err_msg=name)
        tiles = launches(threaded, "radix_sort_tiles")
        assert [g for _, g, _, _ in tiles] == [(-(-keys.size // plan.SORT_TILE), 1)] * len(plan.sort_shifts(bits)), name
        assert all(block == plan.SORT_THREADS for _, _, block, _ in tiles)


@pytest.mark.parametrize("m", [1, 255, 2048, 2049, 5000])
def test_radix_exclusive_scan(threaded, rng, m):
    from kernels.gpu import sort

    data = rng.integers(0, 1000, size=m).astype(np.uint32)
    got = data.copy()
    sort.exclusive_scan(got)
    np.testing.assert_array_equal(got, np.concatenate([[0], np.cumsum(data)[:-1]]).astype(np.uint32))


def test_msm_sorts_with_its_own_radix_sort(threaded, gpu, cpu, rng, monkeypatch):
    """The MSM's pairs go through radix_sort_tiles (one pass per 8 key bits in use), not argsort."""
    from kernels.gpu import msm as gpu_msm, plan

    def no_argsort(*_):
        raise AssertionError("cupy.argsort used")

    monkeypatch.setattr(gpu_msm.cupy, "argsort", no_argsort)
    n = 600
    points = cpu.g1.random(n, rng)
    scalars = cpu.fr.from_ints([int(v) for v in rng.integers(0, 1 << 16, size=n)])
    threaded[1].clear()
    np.testing.assert_array_equal(gpu.msm(points, scalars, MSMConfig(scalar_bits=16)), cpu.msm(points, scalars))
    c = plan.msm_window_bits(n, 16)
    windows = plan.msm_windows(16, c)
    assert len(launches(threaded, "radix_sort_tiles")) == len(plan.sort_shifts(plan.msm_key_bits(windows, c)))


def _off_curve_cases(points):
    """(index, points) pairs: y replaced by x (off the curve), and x = p (a coordinate not below p)."""
    off = points.copy()
    off[9, 1] = off[9, 0]
    over = points.copy()
    over[3, 0] = [(P_MODULUS >> (64 * i)) & (2**64 - 1) for i in range(4)]
    return [(9, off), (3, over)]


def test_msm_checks_points_as_the_cpu_does(threaded, gpu, cpu, rng):
    """MSMConfig.check_points: on by default, the GPU driver runs the on-curve kernel over array
    bases and raises the CPU backend's error for the first bad point; off, it runs no check (and
    valid bases still give the CPU's sum); resident bases are checked once, when made."""
    n = 64
    points = cpu.g1.random(n, rng)
    scalars = cpu.fr.random(n, rng)
    for index, bad in _off_curve_cases(points):
        for config in (None, MSMConfig(check_points=True)):
            with pytest.raises(InvalidInput) as on_gpu:
                gpu.msm(bad, scalars, config)
            with pytest.raises(InvalidInput) as on_cpu:
                cpu.msm(bad, scalars, config)
            assert str(on_gpu.value) == str(on_cpu.value)
            assert f"points[{index}]" in str(on_gpu.value)
        threaded[1].clear()
        assert gpu.msm(bad, scalars, MSMConfig(check_points=False)).shape == (2, 4)
        assert launches(threaded, "g1_check") == []
        with pytest.raises(InvalidInput):
            gpu.msm_bases(bad)
    unchecked = MSMConfig(check_points=False)
    np.testing.assert_array_equal(gpu.msm(points, scalars, unchecked), cpu.msm(points, scalars, unchecked))
    threaded[1].clear()
    np.testing.assert_array_equal(gpu.msm(points, scalars), cpu.msm(points, scalars))
    assert len(launches(threaded, "g1_check")) == 1
    resident = gpu.msm_bases(points)
    threaded[1].clear()
    np.testing.assert_array_equal(gpu.msm(resident, scalars), cpu.msm(points, scalars))
    assert launches(threaded, "g1_check") == []


def test_unknown_kernel_is_an_error(libs):
    from .cuda_threads import ThreadedKernel

    with pytest.raises(LaunchError, match="unknown kernel"):
        ThreadedKernel(libs["msm.cu"], "no_such_kernel", [])((1, 1), (1,), ())
