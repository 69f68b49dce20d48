"""The Python peer adapters (bench.python_peers) compute what ours computes, on the same inputs.

These are the checks that make a peer's figure mean something: a peer fed the wrong curve or
the wrong layout would be timed on another problem. Peers not installed here are skipped."""

import numpy as np
import pytest

from bench import python_peers
from kernels import get_backend


@pytest.fixture(scope="module")
def inputs():
    be = get_backend("cpu")
    points = be.g1.random(64, rng=np.random.default_rng(5))
    points[7] = 0                                   # a point at infinity among the bases
    scalars = be.fr.random(64, rng=np.random.default_rng(6))
    scalars[3] = 0
    return be, points, scalars


@pytest.mark.parametrize("cls", python_peers.PEERS, ids=lambda c: c.name)
def test_peer_agrees_with_ours(inputs, cls):
    pytest.importorskip(cls.package)
    be, points, scalars = inputs
    peer = cls()
    if "msm" in peer.ops:
        want = tuple(be.g1.to_ints(be.msm(points, scalars)[None])[0])
        assert peer.msm(points, scalars)() == want
        assert peer.msm(points, be.fr.zeros(64))() == (0, 0)
    if "ntt" in peer.ops:
        assert peer.ntt(scalars)() == be.fr.to_ints(be.ntt(scalars))


def test_conversions_match_the_backend():
    be = get_backend("cpu")
    p = be.g1.random(3, rng=np.random.default_rng(1))
    k = be.fr.random(3, rng=np.random.default_rng(2))
    assert python_peers.g1_ints(p) == [tuple(v) for v in be.g1.to_ints(p)]
    assert python_peers.fr_ints(k) == be.fr.to_ints(k)


def test_a_missing_peer_is_a_reason_not_an_error():
    found = python_peers.available_peers(["mcl", "nosuch"])
    assert set(found) <= {"mcl"}
    times = python_peers.interleaved_medians({"a": lambda: None, "b": lambda: sum(range(100))}, reps=3)
    assert set(times) == {"a", "b"} and all(t >= 0 for t in times.values())


def test_mcl_sums_slices_as_one_msm(inputs):
    pytest.importorskip("mclbn256")
    be, points, scalars = inputs
    peer = python_peers.Mcl()
    peer.CHUNK = 24                                  # 64 points in three uneven slices
    assert peer.msm(points, scalars)() == tuple(be.g1.to_ints(be.msm(points, scalars)[None])[0])


def test_frx_refuses_an_msm_that_would_crash_it():
    pytest.importorskip("frx")
    peer = python_peers.FractalJax()
    too_many = np.zeros((peer.MSM_MAX + 1, 2, 4), dtype=np.uint64)
    with pytest.raises(ValueError, match="crashes"):
        peer.msm(too_many, np.zeros((peer.MSM_MAX + 1, 4), dtype=np.uint64))
