"""Packing columns into one polynomial and opening it: the division by X^k − c whose
remainder is the columns' values at c, checked against Python integers."""

import random
from functools import partial

import numpy as np
import pytest

from kernels import get_backend
from kernels.backend import Backend
from kernels.errors import InvalidInput
from kernels.division import synthetic_division_arrays
from kernels.params import R_MODULUS as R
from prover.opening import batch_inverse
from prover.polynomials import divide_by_power, pack

BE = get_backend("cpu")


def horner(coeffs, x):
    acc = 0
    for c in reversed(coeffs):
        acc = (acc * x + c) % R
    return acc


# (rows, cols, block of the array form); the CPU kernel's own blocks start at 1024 rows, and
# 20 001 rows by 1 column run it in parallel with 32 blocks of uneven last length.
@pytest.mark.parametrize("rows,cols,block", [(1, 1, 4), (2, 3, 4), (4, 2, 4), (5, 1, 4), (17, 3, 4),
                                             (64, 2, 8), (1000, 3, 16), (4099, 1, 64), (3001, 7, 64),
                                             (20001, 1, 64)])
@pytest.mark.parametrize("kernel", ["backend", "arrays"])
def test_synthetic_division_matches_horner(rows, cols, block, kernel):
    rnd = random.Random(rows * 31 + cols)
    a = [[rnd.randrange(R) for _ in range(cols)] for _ in range(rows)]
    c = rnd.randrange(R)
    arr = BE.fr.from_ints([x for row in a for x in row]).reshape(rows, cols, 4)
    if kernel == "backend":
        q, rem = BE.synthetic_division(arr, c)
    else:
        q, rem = synthetic_division_arrays(BE, arr, c, block)
    assert q.shape == (rows - 1, cols, 4)
    q_ints = BE.fr.to_ints(q.reshape(-1, 4)) if rows > 1 else []
    for col in range(cols):
        p = [a[j][col] for j in range(rows)]
        quotient = [q_ints[i * cols + col] for i in range(rows - 1)]
        assert BE.fr.to_ints(rem)[col] == horner(p, c)
        # P(X) = (X − c)·quotient(X) + P(c), coefficient by coefficient.
        back = [0] * rows
        for i, w in enumerate(quotient):
            back[i + 1] = (back[i + 1] + w) % R
            back[i] = (back[i] - c * w) % R
        back[0] = (back[0] + horner(p, c)) % R
        assert back == p


@pytest.mark.parametrize("k", [1, 2, 3, 5, 20])
def test_packed_polynomial_mod_x_k_minus_c_is_the_columns_values(k):
    rnd = random.Random(k)
    length = 37
    cols = [[rnd.randrange(R) for _ in range(rnd.randrange(1, length + 1))] for _ in range(k)]
    packed = pack(BE, [BE.fr.from_ints(c) for c in cols], length)
    p = BE.fr.to_ints(packed)
    assert len(p) == k * length
    for i, c in enumerate(cols):
        assert p[i::k][:len(c)] == c and not any(p[i::k][len(c):])
    c = rnd.randrange(R)
    quotient, values = divide_by_power(BE, packed, k, c)
    assert values == [horner(col, c) for col in cols]
    # P = (X^k − c)·quotient + Σ_i f_i(c)·X^i.
    q = BE.fr.to_ints(quotient)
    back = [0] * (k * length)
    for j, w in enumerate(q):
        back[j + k] = (back[j + k] + w) % R
        back[j] = (back[j] - c * w) % R
    for i, v in enumerate(values):
        back[i] = (back[i] + v) % R
    assert back == p


def test_batch_inverse():
    rnd = random.Random(5)
    values = [rnd.randrange(1, R) for _ in range(9)]
    assert batch_inverse(values) == [pow(v, -1, R) for v in values]


@pytest.mark.parametrize("combine", [BE.linear_combination, partial(Backend.linear_combination, BE)],
                         ids=["cpu-kernel", "backend-default"])
@pytest.mark.parametrize("lengths", [[7, 40, 1, 40], [3000, 5000, 1, 4999, 5000, 2]], ids=["serial", "parallel"])
def test_linear_combination_matches_ints(combine, lengths):
    rnd = random.Random(len(lengths))
    polys = [[rnd.randrange(R) for _ in range(n)] for n in lengths]
    # a product, a plain sum, a skipped term, a subtraction, then random scalars (one ≥ r)
    scalars = ([3, 1, 0, R - 1] + [rnd.randrange(R), R + 5])[:len(lengths)]
    length = max(lengths) + 1
    got = BE.fr.to_ints(combine([BE.fr.from_ints(p) for p in polys], scalars, length))
    want = [sum(s * (p[i] if i < len(p) else 0) for p, s in zip(polys, scalars)) % R for i in range(length)]
    assert got == want
    assert BE.fr.to_ints(combine([BE.fr.from_ints(polys[0])], [0], lengths[0] + 2)) == [0] * (lengths[0] + 2)


@pytest.mark.parametrize("combine", [BE.linear_combination, partial(Backend.linear_combination, BE)],
                         ids=["cpu-kernel", "backend-default"])
def test_linear_combination_refuses_bad_shapes(combine):
    with pytest.raises(InvalidInput, match="L ≤ 3"):
        combine([BE.fr.from_ints([1, 2, 3, 4])], [1], 3)
    with pytest.raises(InvalidInput, match="2 polynomials but 1 scalars"):
        combine([BE.fr.from_ints([1]), BE.fr.from_ints([2])], [1], 3)
    with pytest.raises(InvalidInput, match="uint64"):
        combine([np.zeros((2, 4), dtype=np.int64)], [1], 3)

@pytest.mark.parametrize("stack", [BE.stack_padded, partial(Backend.stack_padded, BE)], ids=["cpu-kernel", "backend-default"])
@pytest.mark.parametrize("lengths,length", [([3, 0, 5], 6), ([30000, 41000, 1, 40960], 41000)], ids=["serial", "parallel"])
@pytest.mark.parametrize("axis", [0, 1])
def test_stack_padded_matches_ints(stack, lengths, length, axis):
    rnd = random.Random(length + axis)
    polys = [[rnd.randrange(R) for _ in range(n)] for n in lengths]
    got = np.asarray(stack([BE.fr.from_ints(p) if p else BE.fr.zeros(0) for p in polys], length, axis=axis))
    assert got.shape == ((len(lengths), length, 4) if axis == 0 else (length, len(lengths), 4))
    for k, p in enumerate(polys):
        column = got[k] if axis == 0 else got[:, k]
        assert BE.fr.to_ints(column) == p + [0] * (length - len(p))


@pytest.mark.parametrize("stack", [BE.stack_padded, partial(Backend.stack_padded, BE)], ids=["cpu-kernel", "backend-default"])
def test_stack_padded_refuses_bad_input(stack):
    with pytest.raises(InvalidInput, match="L ≤ 2"):
        stack([BE.fr.from_ints([1, 2, 3])], 2)
    with pytest.raises(InvalidInput, match="axis must be 0 or 1"):
        stack([BE.fr.from_ints([1])], 2, axis=2)
    with pytest.raises(InvalidInput, match="uint64"):
        stack([np.zeros((2, 4), dtype=np.int64)], 2)
