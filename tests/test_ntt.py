"""NTT on the CPU backend against a direct O(n²) evaluation with Python ints and galois."""

import random

import galois
import numpy as np
import pytest

from kernels import InvalidInput
from kernels.params import R_GENERATOR, R_MODULUS as R, root_of_unity

GF_R = galois.GF(R, primitive_element=R_GENERATOR, verify=False)


def dft(xs, shift=1):
    n = len(xs)
    w = root_of_unity(n.bit_length() - 1)
    return [sum(x * pow(shift * pow(w, i, R), j, R) for j, x in enumerate(xs)) % R for i in range(n)]


@pytest.mark.parametrize("log2_n", [0, 1, 2, 3, 4, 6])
def test_forward_and_coset_match_direct_evaluation(cpu, log2_n):
    xs = [random.randrange(R) for _ in range(1 << log2_n)]
    a = cpu.fr.from_ints(xs)
    assert cpu.fr.to_ints(cpu.ntt(a)) == dft(xs)
    assert cpu.fr.to_ints(cpu.ntt(a, coset=True)) == dft(xs, R_GENERATOR)
    assert cpu.fr.to_ints(cpu.ntt(a, coset=True, shift=7)) == dft(xs, 7)


def test_forward_matches_galois_ntt(cpu):
    xs = [random.randrange(R) for _ in range(64)]
    # galois's FFT over GF(r) uses the root primitive_element^((r-1)/64), as we do
    want = np.fft.fft(GF_R(xs))
    assert cpu.fr.to_ints(cpu.ntt(cpu.fr.from_ints(xs))) == [int(v) for v in want]


@pytest.mark.parametrize("log2_n", [1, 5, 12, 13, 15])
def test_inverse_round_trips(cpu, log2_n):
    a = cpu.fr.random(1 << log2_n)
    back = cpu.ntt(cpu.ntt(a), inverse=True)
    assert np.array_equal(back, a)
    back = cpu.ntt(cpu.ntt(a, coset=True), inverse=True, coset=True)
    assert np.array_equal(back, a)
    assert not np.array_equal(cpu.ntt(a), a)  # the transform did something


def test_batched_columns_equal_one_by_one(cpu):
    cols = cpu.fr.random(3 * 5 * 256).reshape(3, 5, 256, 4)
    batched = cpu.ntt(cols, coset=True)
    for i in range(3):
        for j in range(5):
            assert np.array_equal(batched[i, j], cpu.ntt(cols[i, j], coset=True))


def test_input_is_not_modified_and_edges(cpu):
    a = cpu.fr.from_ints([0, 1, R - 1, 5])
    keep = a.copy()
    cpu.ntt(a)
    assert np.array_equal(a, keep)
    zeros = cpu.fr.zeros(8)
    assert cpu.fr.to_ints(cpu.ntt(zeros)) == [0] * 8
    one = cpu.fr.from_ints([R - 1])
    assert cpu.fr.to_ints(cpu.ntt(one, coset=True)) == [R - 1]
    # the constant polynomial evaluates to itself everywhere
    assert cpu.fr.to_ints(cpu.ntt(cpu.fr.from_ints([9] + [0] * 15))) == [9] * 16


@pytest.mark.parametrize("n", [0, 3, 6, 1000])
def test_non_power_of_two_is_rejected(cpu, n):
    with pytest.raises(InvalidInput, match="power of two"):
        cpu.ntt(cpu.fr.zeros(n))


def test_bad_arrays_are_rejected(cpu):
    with pytest.raises(InvalidInput, match="dtype"):
        cpu.ntt(np.zeros((8, 4), dtype=np.int32))
    with pytest.raises(InvalidInput, match="shape"):
        cpu.ntt(np.zeros((8,), dtype=np.uint64))
    with pytest.raises(InvalidInput, match="shift"):
        cpu.ntt(cpu.fr.zeros(8), coset=True, shift=R)


def _evaluate_at(xs, w, i):
    """Σ_j xs[j]·w^(ij) with Python ints (one output of the transform, O(n))."""
    acc, step, x = 0, pow(w, i, R), 1
    for v in xs:
        acc = (acc + v * x) % R
        x = x * step % R
    return acc


@pytest.mark.parametrize("log2_n", [13, 14])
def test_large_single_column_matches_direct_evaluation_at_sampled_points(cpu, log2_n):
    # Sizes past the serial cut-off and the L2 block: the two-region parallel path.
    n = 1 << log2_n
    xs = [random.randrange(R) for _ in range(n)]
    w = root_of_unity(log2_n)
    got = cpu.fr.to_ints(cpu.ntt(cpu.fr.from_ints(xs), coset=True, shift=7))
    scaled, s = [], 1
    for x in xs:
        scaled.append(x * s % R)
        s = s * 7 % R
    for i in [0, 1, n // 2 - 1, n // 2, n - 1] + random.sample(range(n), 3):
        assert got[i] == _evaluate_at(scaled, w, i)


def test_many_large_columns_equal_one_by_one(cpu):
    # Work above the serial cut-off: columns handed out to the threads one at a time.
    cols = cpu.fr.random(5 * 4096).reshape(5, 4096, 4)
    batched = cpu.ntt(cols, inverse=True, coset=True)
    for i in range(5):
        assert np.array_equal(batched[i], cpu.ntt(cols[i], inverse=True, coset=True))
    assert np.array_equal(cpu.ntt(batched, coset=True), cols)
