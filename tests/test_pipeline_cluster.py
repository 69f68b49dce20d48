"""Several Ray nodes on this machine (ray.cluster_utils.Cluster), each GPU node offering one
logical GPU: prover workers ask for num_gpus=1, so Ray places one per GPU node, and the
coordinator spreads the batches over them. The proofs are checked by the rollup contract."""

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("pyrevm")

from ray.cluster_utils import Cluster  # noqa: E402

from node.pipeline.actors import L1HostRemote  # noqa: E402
from node.pipeline.assembly import ProvingPipeline, ProvingSetup  # noqa: E402
from node.pipeline.events import EventLog  # noqa: E402
from node.pipeline.l1spec import L1Spec, connect_l1  # noqa: E402

from .test_pipeline_support import deploy_rollup, ledger_chain  # noqa: E402

GPU_NODES = 2


@pytest.fixture
def cluster():
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    gpu_nodes = [c.add_node(num_cpus=1, num_gpus=1) for _ in range(GPU_NODES)]
    c.wait_for_nodes()
    ray.init(address=c.address, log_to_driver=False)
    try:
        yield c, [n.node_id for n in gpu_nodes]
    finally:
        ray.shutdown()
        c.shutdown()


def test_batches_spread_over_gpu_nodes(cluster):
    c, gpu_node_ids = cluster
    count = 6
    circuit, pk, vk, start, jobs, final = ledger_chain(6, count, seed="cluster")
    host = L1HostRemote.remote()
    spec = L1Spec("hosted", host=host)
    rollup = deploy_rollup(connect_l1(spec), circuit, vk, start)
    p = ProvingPipeline(ProvingSetup(circuit, pk, spec, rollup.artifact, rollup.address,
                                     workers=GPU_NODES, use_gpu=True))
    try:
        info = p.start()
        # One worker per GPU node: Ray placed them by their GPU request.
        assert sorted(i["node"] for i in info.values()) == sorted(gpu_node_ids)
        for job in jobs:
            p.enqueue(job)
        log = EventLog()
        st = p.wait_verified(count, timeout=120, sink=log)
        assert st["verified_height"] == count and not st["failed"], st
        nodes = {node for _, node in st["proved_by"].values()}
        assert nodes == set(gpu_node_ids)               # both GPU nodes proved batches
        assert {log.batch_info[b]["node"] for b in range(1, count + 1)} == nodes
        assert rollup.last_batch_index() == count and rollup.state_commitment() == final
    finally:
        p.shutdown()
        ray.kill(host)
