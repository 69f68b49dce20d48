"""Published data (prover/publication.py): the whole-array encoding of a part whose fields are
columns as they are writes the bytes the record-by-record encoding writes, and refuses alike."""

import numpy as np
import pytest

from prover.errors import InvalidInput
from prover.publication import Publication, PublishedField, PublishedPart, published_data

PARTS = (
    PublishedPart("dense", (PublishedField("a", 2, (("a", 1),)), PublishedField("b", 8, (("b", 1),)),
                            PublishedField("c", 10, (("c", 1),)))),
    PublishedPart("sparse", (PublishedField("b", 3, (("b", 1),)),), row_bytes=2),
    PublishedPart("combined", (PublishedField("sum", 9, (("a", 1), ("c", 2))),), row_bytes=4),
)


def by_records(pub: Publication, trace, n, wrap=False) -> bytes:
    return pub.encode(pub.records_of(trace, n), wrap)


@pytest.mark.parametrize("seed", range(4))
def test_whole_array_encoding_matches_the_records(seed):
    rng = np.random.default_rng(seed)
    n = 64
    last = int(rng.integers(0, n))           # zero rows past it (and none at all for last = 0)
    trace = {"a": rng.integers(0, 1 << 16, n, dtype=np.uint64),
             "b": rng.integers(0, 1 << 24, n, dtype=np.uint64) * rng.integers(0, 2, n, dtype=np.uint64),
             "c": rng.integers(0, 1 << 63, n, dtype=np.uint64)}
    for col in trace.values():
        col[last:] = 0
    pub = Publication(PARTS)
    assert published_data(pub, trace, n) == by_records(pub, trace, n)
    # Lists take the record path: the same bytes again.
    assert published_data(pub, {k: v.tolist() for k, v in trace.items()}, n) == by_records(pub, trace, n)


def test_whole_array_encoding_refuses_and_wraps_like_the_records():
    n = 8
    trace = {"a": np.array([1, 2, 1 << 16, 0, 0, 0, 0, 0], dtype=np.uint64),
             "b": np.zeros(n, dtype=np.uint64), "c": np.zeros(n, dtype=np.uint64)}
    pub = Publication(PARTS[:1])
    with pytest.raises(InvalidInput) as fast:
        published_data(pub, trace, n)
    with pytest.raises(InvalidInput) as slow:
        by_records(pub, trace, n)
    assert str(fast.value) == str(slow.value) == "dense[2].a = 65536 does not fit in 2 bytes"
    assert published_data(pub, trace, n, wrap=True) == by_records(pub, trace, n, wrap=True)
