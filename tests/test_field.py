"""Fr and Fq on the CPU backend against Python ints and galois."""

import random

import galois
import numpy as np
import pytest

from kernels import InvalidInput
from kernels.backend import Field
from kernels.params import P_MODULUS, R_GENERATOR, R_MODULUS

# galois proves primality for ~80 s unless told the primitive element and not to verify.
GF_R = galois.GF(R_MODULUS, primitive_element=R_GENERATOR, verify=False)
FIELDS = [("fr", R_MODULUS), ("fq", P_MODULUS)]


def edge_values(q):
    return [0, 1, 2, q - 1, q - 2, (q - 1) // 2, 2**64 - 1, 2**64, 2**128 + 7, 2**253]


def sample(q, n):
    vals = edge_values(q) + [random.randrange(q) for _ in range(n)]
    random.shuffle(vals)
    return vals


@pytest.mark.parametrize("name,q", FIELDS)
def test_arithmetic_matches_python_ints(cpu, name, q):
    f = getattr(cpu, name)
    xs, ys = sample(q, 300), sample(q, 300)
    a, b = f.from_ints(xs), f.from_ints(ys)
    assert f.to_ints(a) == xs
    assert f.to_ints(f.add(a, b)) == [(x + y) % q for x, y in zip(xs, ys)]
    assert f.to_ints(f.sub(a, b)) == [(x - y) % q for x, y in zip(xs, ys)]
    assert f.to_ints(f.neg(a)) == [(-x) % q for x in xs]
    assert f.to_ints(f.mul(a, b)) == [x * y % q for x, y in zip(xs, ys)]
    assert f.to_ints(f.square(a)) == [x * x % q for x in xs]
    for e in [0, 1, 2, 3, 65537, q - 2, q - 1, q, 2 * q + 5, 2**300]:
        want = [pow(x, e, q) if x else (1 if e == 0 else 0) for x in xs]
        assert f.to_ints(f.pow(a, e)) == want, e


@pytest.mark.parametrize("name,q", FIELDS)
def test_inverse_and_batch_inverse(cpu, name, q):
    f = getattr(cpu, name)
    xs = [x for x in sample(q, 200) if x] + [random.randrange(1, q) for _ in range(5000)]
    a = f.from_ints(xs)
    want = [pow(x, -1, q) for x in xs]
    assert f.to_ints(f.inv(a[:300])) == want[:300]
    assert f.to_ints(f.batch_inv(a)) == want  # long enough to take the chunked path
    assert f.to_ints(f.batch_inv(a[:1])) == want[:1]
    assert f.batch_inv(f.zeros(0)).shape == (0, 4)
    with pytest.raises(InvalidInput, match="cannot invert zero"):
        f.batch_inv(f.from_ints([3, 0, 5]))
    with pytest.raises(InvalidInput, match="cannot invert zero"):
        f.inv(f.from_ints([0]))


def test_fr_agrees_with_galois(cpu):
    xs = [random.randrange(R_MODULUS) for _ in range(200)]
    ys = [random.randrange(1, R_MODULUS) for _ in range(200)]
    ga, gb = GF_R(xs), GF_R(ys)
    a, b = cpu.fr.from_ints(xs), cpu.fr.from_ints(ys)
    assert cpu.fr.to_ints(cpu.fr.mul(a, b)) == [int(v) for v in ga * gb]
    assert cpu.fr.to_ints(cpu.fr.sub(a, b)) == [int(v) for v in ga - gb]
    assert cpu.fr.to_ints(cpu.fr.mul(a, cpu.fr.inv(b))) == [int(v) for v in ga / gb]
    assert cpu.fr.to_ints(cpu.fr.pow(a, 12345)) == [int(v) for v in ga**12345]


@pytest.mark.parametrize("name,q", FIELDS)
def test_shapes_broadcast_and_empty(cpu, name, q):
    f = getattr(cpu, name)
    xs = [random.randrange(q) for _ in range(12)]
    a = f.from_ints(xs).reshape(3, 4, 4)
    c = f.constant(7)
    assert f.mul(a, c).shape == (3, 4, 4)
    assert f.to_ints(f.mul(a, c)) == [7 * x % q for x in xs]
    assert f.to_ints(f.add(f.zeros(0), f.zeros(0))) == []
    assert f.to_ints(f.ones(3)) == [1, 1, 1]
    with pytest.raises(InvalidInput, match="do not match"):
        f.add(f.zeros(3), f.zeros(4))


@pytest.mark.parametrize("name,q", FIELDS)
def test_bad_input_is_rejected(cpu, name, q):
    f = getattr(cpu, name)
    with pytest.raises(InvalidInput, match="not in"):
        f.from_ints([q])
    with pytest.raises(InvalidInput, match="not in"):
        f.from_ints([-1])
    with pytest.raises(InvalidInput, match="expected an int"):
        f.from_ints([1.5])
    assert f.to_ints(f.from_ints([q, -1, q + 3], reduce=True)) == [0, q - 1, 3]
    with pytest.raises(InvalidInput, match="dtype"):
        f.add(np.zeros((2, 4), dtype=np.int64), f.zeros(2))
    with pytest.raises(InvalidInput, match="shape"):
        f.mul(np.zeros((2, 3), dtype=np.uint64), f.zeros(2))
    with pytest.raises(InvalidInput, match="exponent"):
        f.pow(f.ones(1), -1)
    bad = f.zeros(2)
    bad[1] = [np.uint64(2**64 - 1)] * 4
    with pytest.raises(InvalidInput, match="modulus"):
        f.validate(bad)
    f.validate(f.random(100))


@pytest.mark.parametrize("name,q", FIELDS)
def test_random_is_in_range_and_varies(cpu, name, q):
    f = getattr(cpu, name)
    vals = f.to_ints(f.random(2000))
    assert all(0 <= v < q for v in vals)
    assert len(set(vals)) == 2000
    assert max(vals) > q // 2  # top bits are used


@pytest.mark.parametrize("name,q", FIELDS)
def test_large_arrays_take_the_parallel_kernels_and_agree_with_python_ints(cpu, name, q):
    from kernels.cpu.field import SERIAL_MAX_ROWS

    f = getattr(cpu, name)
    n = SERIAL_MAX_ROWS + 5          # past the serial cut-off: the parallel compilation runs
    a, b = f.random(n), f.random(n)
    xs, ys = f.to_ints(a), f.to_ints(b)
    checks = {"add": (f.add(a, b), lambda x, y: (x + y) % q),
              "sub": (f.sub(a, b), lambda x, y: (x - y) % q),
              "mul": (f.mul(a, b), lambda x, y: x * y % q),
              "neg": (f.neg(a), lambda x, y: -x % q),
              "pow": (f.pow(a, 5), lambda x, y: pow(x, 5, q))}
    for op, (got, want) in checks.items():
        got = f.to_ints(got)
        for i in [0, SERIAL_MAX_ROWS - 1, SERIAL_MAX_ROWS, n - 1] + random.sample(range(n), 20):
            assert got[i] == want(xs[i], ys[i]), (op, i)
    assert not f.is_zero(a).any() or 0 in xs
    f.validate(a)
    bad = a.copy()
    bad[n - 1] = np.uint64(2**64 - 1)
    with pytest.raises(InvalidInput):
        f.validate(bad)


@pytest.mark.parametrize("name,q", FIELDS)
@pytest.mark.parametrize("n", [0, 1, 5, 4099])
def test_prefix_sum_matches_python_ints_and_the_scan(cpu, name, q, n):
    f = getattr(cpu, name)
    values = sample(q, n)[:n]
    want, acc = [], 0
    for v in values:
        acc = (acc + v) % q
        want.append(acc)
    a = f.from_ints(values) if n else f.zeros(0)
    assert f.to_ints(f.prefix_sum(a)) == want
    assert f.to_ints(Field.prefix_sum(f, a)) == want      # the default scan, for other backends
    with pytest.raises(InvalidInput, match="prefix_sum"):
        f.prefix_sum(a.reshape(1, -1, 4))
