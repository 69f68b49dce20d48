"""Several divisions by (Y − c) in one backend call (`Backend.synthetic_divisions`): each the
same as alone, on the calling thread (small) and in the shared parallel regions (large)."""

import random

import numpy as np
import pytest

from kernels import get_backend
from kernels.cpu import division
from kernels.errors import InvalidInput
from kernels.params import R_MODULUS as R

BE = get_backend("cpu")


def random_polys(rnd, rows, cols):
    return BE.fr.from_ints([rnd.randrange(R) for _ in range(rows * cols)]).reshape(rows, cols, 4)


@pytest.mark.parametrize("shapes", [
    [(1, 1), (2, 3), (17, 2)],                                   # all on the calling thread
    [(4099, 7), (4096, 1), (22545, 2), (5, 11), (1, 3), (4103, 2)],   # one region each pass
])
def test_divisions_together_match_each_alone(shapes):
    rnd = random.Random(len(shapes))
    items = [(random_polys(rnd, m, cols), rnd.randrange(R)) for m, cols in shapes]
    together = BE.synthetic_divisions(items)
    assert len(together) == len(items)
    for (a, c), (q, rem) in zip(items, together):
        q_alone, rem_alone = BE.synthetic_division(a, c)
        assert q.shape == (a.shape[0] - 1, a.shape[1], 4)
        assert np.array_equal(q, q_alone) and np.array_equal(rem, rem_alone)
        # the value at c by Horner's rule in Python ints
        for col in range(a.shape[1]):
            acc = 0
            for v in reversed(BE.fr.to_ints(a[:, col])):
                acc = (acc * c + v) % R
            assert BE.fr.to_ints(rem[col:col + 1]) == [acc]


def test_the_parallel_path_is_taken_above_the_serial_bound(monkeypatch):
    # the same divisions through both paths give the same arrays
    rnd = random.Random(5)
    items = [(random_polys(rnd, 700, 3), rnd.randrange(R)), (random_polys(rnd, 1500, 2), 0)]
    monkeypatch.setattr(division, "SERIAL_MAX", 0)
    parallel = BE.synthetic_divisions(items)
    monkeypatch.setattr(division, "SERIAL_MAX", 1 << 30)
    serial = BE.synthetic_divisions(items)
    for (q1, r1), (q2, r2) in zip(parallel, serial):
        assert np.array_equal(q1, q2) and np.array_equal(r1, r2)


def test_bad_items_are_refused_before_any_work():
    good = (random_polys(random.Random(1), 4, 1), 3)
    with pytest.raises(InvalidInput, match="coefficients must be"):
        BE.synthetic_divisions([good, (np.zeros((0, 1, 4), dtype=np.uint64), 1)])
    with pytest.raises(InvalidInput, match="must be an int"):
        BE.synthetic_divisions([good, (good[0], 1.5)])
    assert BE.synthetic_divisions([]) == []
