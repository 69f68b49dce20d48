import fcntl
import os
import tempfile

import numpy as np
import pytest

from kernels import gpu_available

# The files that take longest on the CI machine (2 cores, no GPU), longest first. scripts/test.sh
# runs the suite on two pytest-xdist workers, a whole file at a time on one worker (--dist
# loadfile, so module fixtures are made once and a file's tests never overlap each other); these
# files are handed out first, so that no long file starts last while the other worker idles.
# A file missing here still runs, after these, in collection order. Files marked `alone` come
# last of all: they stop the other worker, best once little is left for it, and they find the
# numba cache compiled by then.
LONGEST_FIRST = (
    "test_node_service_crash.py",
    "test_node_service.py",
    "test_pipeline_faults.py",
    "test_bench_primitives.py",
    "test_cuda_threaded.py",
    "test_sync.py",
    "test_cuda_host.py",
    "test_bridge_e2e.py",
    "test_pipeline_devnet.py",
    "test_bench_prove.py",
    "test_prover_completeness.py",
    "test_devnet_dashboard.py",
    "test_dashboard.py",
    "test_eth_clients.py",
    "test_pipeline_cluster.py",
    "test_l1_verifier.py",
    "test_ledger_proofs.py",
)


def pytest_collection_modifyitems(config, items):
    if hasattr(config, "workerinput"):          # an xdist worker: every worker sorts alike
        rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
        # A stable sort: each file's tests stay together and in their order.
        items.sort(key=lambda item: (item.get_closest_marker("alone") is not None, rank.get(item.path.name, len(rank))))
    if gpu_available():
        return
    skip = pytest.mark.skip(reason="no CUDA device (CuPy missing or sees no GPU)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


class _Alone:
    """Tests marked `alone` run with no other test beside them on the other xdist workers: a
    readers-writer lock over one file that every worker of the run opens. A test takes it shared,
    an `alone` module exclusively from its first test to its last (its module fixtures included);
    a gate taken before either keeps a waiting `alone` module from being starved by the others."""

    def __init__(self, run: str):
        self.paths = [os.path.join(tempfile.gettempdir(), f"zkpipe-pytest-{run}.{kind}") for kind in ("lock", "gate")]
        self.lock, self.gate = (open(p, "a") for p in self.paths)
        self.held = None                      # fcntl.LOCK_SH, fcntl.LOCK_EX or None

    def take(self, mode: int) -> None:
        if self.held == mode:
            return
        self.release()
        fcntl.flock(self.gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(self.lock, mode)
        finally:
            fcntl.flock(self.gate, fcntl.LOCK_UN)
        self.held = mode

    def release(self) -> None:
        if self.held is not None:
            fcntl.flock(self.lock, fcntl.LOCK_UN)
            self.held = None

    def close(self) -> None:
        self.release()
        for f, path in zip((self.lock, self.gate), self.paths):
            f.close()
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass


def pytest_configure(config):
    if hasattr(config, "workerinput"):
        config._zkpipe_alone = _Alone(config.workerinput["testrunuid"])


def pytest_unconfigure(config):
    alone = getattr(config, "_zkpipe_alone", None)
    if alone is not None:
        alone.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    alone = getattr(item.config, "_zkpipe_alone", None)
    if alone is None:
        yield
        return
    exclusive = item.get_closest_marker("alone") is not None
    alone.take(fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
    try:
        yield
    finally:
        # An `alone` module keeps the lock until its last test (and its fixtures) is done.
        if not (exclusive and nextitem is not None and nextitem.module is item.module):
            alone.release()

@pytest.fixture
def rng():
    """A fresh generator per test; the seed is printed on failure so a case can be replayed."""
    seed = int(np.random.SeedSequence().entropy % 2**63)
    print(f"rng seed {seed}")
    return np.random.default_rng(seed)


@pytest.fixture(scope="session")
def cpu():
    from kernels import get_backend
    return get_backend("cpu")
