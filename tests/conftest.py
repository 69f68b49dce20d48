import numpy as np
import pytest

from kernels import gpu_available

# The files that take longest on the CI machine (2 cores, no GPU), longest first. scripts/test.sh
# runs the suite on two pytest-xdist workers, a whole file at a time on one worker (--dist
# loadfile, so module fixtures are made once and a file's tests never overlap each other); these
# files are handed out first, so that no long file starts last while the other worker idles.
# A file missing here still runs, after these, in collection order.
LONGEST_FIRST = (
    "test_node_service_crash.py",
    "test_cluster_netns.py",
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
        items.sort(key=lambda item: rank.get(item.path.name, len(rank)))     # stable: files stay whole
    if gpu_available():
        return
    skip = pytest.mark.skip(reason="no CUDA device (CuPy missing or sees no GPU)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


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
