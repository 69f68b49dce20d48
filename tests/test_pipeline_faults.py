"""The pipeline under failures, on a local Ray with real workers, real proofs and the real
rollup contract: a prover killed in the middle of a proof, the submitter restarted, the L1 not
answering for a while. In each case every batch ends on the L1 exactly once, in order, and the
L1's state is the one the batches lead to. A batch the L1 refuses for good (its chain differs
from the L2's) is fatal, with the contract's reason."""

import os
import signal
import time

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("pyrevm")

from node.l1.client import Receipt  # noqa: E402
from node.pipeline.actors import L1HostRemote  # noqa: E402
from node.pipeline.assembly import ProvingPipeline, ProvingSetup  # noqa: E402
from node.pipeline.coordinator import CoordinatorConfig  # noqa: E402
from node.pipeline.events import EventLog  # noqa: E402
from node.pipeline.l1spec import L1Spec, connect_l1  # noqa: E402

from .test_pipeline_support import deploy_rollup, ledger_chain, wait_for  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)   # never another test's Ray
    yield
    ray.shutdown()


def embedded_rollup(circuit, vk, start):
    host = L1HostRemote.remote()
    spec = L1Spec("hosted", host=host)
    return host, spec, deploy_rollup(connect_l1(spec), circuit, vk, start)


def batch_indices(rollup, logs) -> list[int]:
    """The BatchVerified events among `logs`, as batch indices in emission order."""
    return [ev.batch_index for ev in rollup.events(Receipt(status=True, tx_gas=0, exec_gas=0, logs=logs))]


def test_worker_killed_mid_proof(local_ray):
    count = 3
    circuit, pk, vk, start, jobs, final = ledger_chain(10, count, per_batch=200)
    host, spec, rollup = embedded_rollup(circuit, vk, start)
    p = ProvingPipeline(ProvingSetup(circuit, pk, spec, rollup.artifact, rollup.address, workers=2,
                                     backend="cpu", config=CoordinatorConfig(max_attempts=3)))
    log = EventLog()
    try:
        p.start()
        p.enqueue(jobs[0])
        busy = wait_for(lambda: p.status()["busy"], 30, what="batch 1 dispatched")
        victim = next(iter(busy))
        time.sleep(0.1)                                  # the proof is under way
        assert p.status()["busy"] == {victim: 1}         # ... and not finished
        ray.kill(p.workers[victim], no_restart=False)
        for job in jobs[1:]:
            p.enqueue(job)
        st = p.wait_verified(count, timeout=120, sink=log)
        assert st["verified_height"] == count and not st["failed"], st
        assert st["proved_by"][1][0] != victim           # another worker proved it
        assert "retried" in log.batches[1] and log.batch_info[1]["attempt"] == 2
        assert any("worker died" in e for e in st["errors"])
        # The killed worker comes back (Ray restarts it) and is used again.
        wait_for(lambda: sorted(p.status()["idle"]) == sorted(p.workers), 60, what="worker restarted")
        txs = ray.get(host.transactions.remote(rollup.address))
        assert [t["status"] for t in txs] == [True] * count
        assert batch_indices(rollup, ray.get(host.logs.remote(rollup.address))) == list(range(1, count + 1))
        assert rollup.state_commitment() == final
        assert log.counters["batches_proven"] == count == log.counters["batches_verified"]
    finally:
        p.shutdown()
        ray.kill(host)


def test_worker_killed_more_often_than_ray_restarts_it(local_ray):
    """One worker that Ray restarts once, killed (SIGKILL) four times in the middle of the same
    batch: Ray gives it up twice and the coordinator replaces it; the batch's attempts run out
    and it is retried after a backoff rather than abandoned; the pipeline completes."""
    count = 2
    circuit, pk, vk, start, jobs, final = ledger_chain(8, count, per_batch=200)
    host, spec, rollup = embedded_rollup(circuit, vk, start)
    p = ProvingPipeline(ProvingSetup(circuit, pk, spec, rollup.artifact, rollup.address, workers=1,
                                     backend="cpu", max_restarts=1,
                                     config=CoordinatorConfig(max_attempts=2, backoff_s=0.2)))
    log = EventLog()
    try:
        p.start()
        p.enqueue(jobs[0])
        killed = set()
        for attempt in range(1, 5):
            wait_for(lambda: p.status()["busy"] and p.status()["pids"]["prover-0"] not in killed, 120,
                     what=f"attempt {attempt} under way")
            pid = p.status()["pids"]["prover-0"]
            os.kill(pid, signal.SIGKILL)
            killed.add(pid)
        for job in jobs[1:]:
            p.enqueue(job)
        st = p.wait_verified(count, timeout=120, sink=log)
        assert st["verified_height"] == count and not st["failed"] and st["fatal"] is None, st
        assert st["replaced_workers"] == 2 and st["backoffs"] >= 2 and st["retries"] >= 4, st
        assert log.batch_info[1]["attempt"] == 5
        assert log.counters["retries"] >= 4 and log.counters["workers_replaced"] == 2
        assert batch_indices(rollup, ray.get(host.logs.remote(rollup.address))) == list(range(1, count + 1))
        assert rollup.state_commitment() == final
    finally:
        p.shutdown()
        ray.kill(host)


def test_submitter_restarted_submits_nothing_twice(local_ray):
    count = 6
    circuit, pk, vk, start, jobs, final = ledger_chain(6, count)
    host, spec, rollup = embedded_rollup(circuit, vk, start)
    p = ProvingPipeline(ProvingSetup(circuit, pk, spec, rollup.artifact, rollup.address, workers=2,
                                     backend="cpu"))
    log = EventLog()
    try:
        p.start()
        for job in jobs[:2]:
            p.enqueue(job)
        p.wait_verified(1, timeout=60, sink=log)
        ray.kill(p.submitter, no_restart=False)          # dies with proofs waiting for it
        for job in jobs[2:4]:
            p.enqueue(job)
        time.sleep(0.3)
        ray.kill(p.submitter, no_restart=False)          # and once more, mid-stream
        for job in jobs[4:]:
            p.enqueue(job)
        st = p.wait_verified(count, timeout=120, sink=log)
        assert st["verified_height"] == count and not st["failed"], st
        txs = ray.get(host.transactions.remote(rollup.address))
        assert len(txs) == count and all(t["status"] for t in txs)      # no second attempt, not even a refused one
        assert batch_indices(rollup, ray.get(host.logs.remote(rollup.address))) == list(range(1, count + 1))
        assert rollup.last_batch_index() == count
        assert rollup.state_commitment() == final
        assert log.counters["batches_verified"] == count
    finally:
        p.shutdown()
        ray.kill(host)


def test_a_batch_the_l1_refuses_for_good_is_fatal(local_ray):
    """The rollup starts from another state than the batches (as after an L1 reorganisation
    that took back what the L2 built on): batch 1 is refused, sent once, and the pipeline's
    status is fatal, naming the batch and the contract's error; nothing after it is sent."""
    circuit, pk, vk, start, jobs, final = ledger_chain(6, 2, seed="refused batch")
    host, spec, rollup = embedded_rollup(circuit, vk, final)
    p = ProvingPipeline(ProvingSetup(circuit, pk, spec, rollup.artifact, rollup.address, workers=1,
                                     backend="cpu"))
    try:
        p.start()
        for job in jobs:
            p.enqueue(job)
        st = wait_for(lambda: (s := p.status())["fatal"] and s, 60, what="the refusal")
        assert st["fatal"].startswith("batch 1 refused by the L1") and "StateMismatch" in st["fatal"], st
        assert st["verified_height"] == 0 and rollup.last_batch_index() == 0
        time.sleep(1)
        txs = ray.get(host.transactions.remote(rollup.address))
        assert len(txs) == 1 and not txs[0]["status"]
    finally:
        p.shutdown()
        ray.kill(host)


def test_l1_unreachable_for_a_while(local_ray):
    """anvil is frozen (SIGSTOP: it accepts connections and answers nothing, as a hung node
    does) while batches are proven, then resumes: submission picks up where it stopped."""
    from node.l1.anvil import start_anvil
    from node.l1.errors import L1Unavailable
    from node.l1.rpc import RpcL1

    count = 4
    circuit, pk, vk, start, jobs, final = ledger_chain(6, count, seed="unreachable L1")
    try:
        anvil = start_anvil()
        node = anvil.__enter__()
    except L1Unavailable as e:
        pytest.skip(f"anvil unavailable: {e}")
    l1 = RpcL1(node.url)
    spec = L1Spec("rpc", url=node.url, timeout=1.5)
    p = None
    try:
        rollup = deploy_rollup(l1, circuit, vk, start)
        p = ProvingPipeline(ProvingSetup(circuit, pk, spec, rollup.artifact, rollup.address, workers=2,
                                         backend="cpu"))
        log = EventLog()
        p.start()
        p.enqueue(jobs[0])
        assert p.wait_verified(1, timeout=60, sink=log)["verified_height"] == 1
        os.kill(node.pid, signal.SIGSTOP)
        try:
            for job in jobs[1:]:
                p.enqueue(job)
            st = wait_for(lambda: (s := p.status())["proven_height"] == count and s, 60, what="all proven")
            assert st["verified_height"] == 1
            wait_for(lambda: (log.extend(p.drain_events()) or log.counters["retries"] >= 2), 30,
                     what="failed rounds while the L1 is down")
        finally:
            os.kill(node.pid, signal.SIGCONT)
        st = p.wait_verified(count, timeout=60, sink=log)
        assert st["verified_height"] == count and not st["failed"], st
        assert "retried" in log.batches[2]
        assert rollup.last_batch_index() == count
        assert rollup.state_commitment() == final
        w3 = l1.w3
        events = w3.eth.get_logs({"address": rollup.address, "fromBlock": 0, "toBlock": "latest"})
        assert batch_indices(rollup, [_log(e) for e in events]) == list(range(1, count + 1))
        sent = [w3.eth.get_transaction_receipt(tx["hash"])["status"]
                for i in range(w3.eth.block_number + 1)
                for tx in w3.eth.get_block(i, full_transactions=True)["transactions"]
                if tx.get("to") and tx["to"].lower() == rollup.address.lower()]
        # Each batch landed once. A request frozen with the node can still be executed when it
        # resumes; the submitter then finds the batch there, and a resend is refused unapplied.
        assert sent.count(1) == count and sent.count(0) <= 1, sent
    finally:
        if p is not None:
            p.shutdown()
        anvil.__exit__(None, None, None)


def _log(entry):
    from node.l1.client import Log
    return Log(address=entry["address"], topics=[bytes(t) for t in entry["topics"]], data=bytes(entry["data"]))
