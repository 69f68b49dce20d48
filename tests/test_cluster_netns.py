"""The pipeline as a Ray job on a real multi-host Ray cluster: a head and two worker hosts, each
a network namespace with its own address and its own `ray start` (tests/cluster_harness.py),
the job submitted with `zkpipe submit` to the head's job server and followed with the `ray job`
CLI. The job's code travels as its runtime_env working_dir; each worker host offers one unit
of the custom resource `prover`, so the provers land there and never on the head.

One cluster serves both tests (starting one costs ~30 s on two cores), and each job costs
another ~30 s to start, so one job carries the whole run: its provers land on the worker hosts
only, its JSON-RPC answers on the head, a worker host is cut off the network while it proves
and brought back, and the job still ends with every transfer verified on the L1. The second
test stops a running job with `ray job stop`.

While a job runs, its status and log are polled from the job server's REST API (what the `ray
job` CLI reads), not by starting the CLI every two seconds: each start of it costs about a
second of CPU that the cluster's own processes need on two cores. The CLI is still what submits,
reads the final status and log, and stops a job.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("ray")
pytest.importorskip("pyrevm")

from tests.cluster_harness import REPO_ROOT, VENV_BIN, NetnsCluster, netns_unavailable  # noqa: E402
from tests.jit_util import warm_jit_cache  # noqa: E402

# Three Ray nodes and their provers compiling on two cores: no other test beside them.
pytestmark = [pytest.mark.netns, pytest.mark.alone]
LOG2_ROWS = 7          # a proof takes ~1 s here: long enough to cut a host in the middle of one
RPC_PORT, DASHBOARD_PORT = 8545, 8080      # on the head's own 127.0.0.1
TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")
DEVNET = ["--prover-resource", "prover", "--log2-rows", str(LOG2_ROWS), "--accounts", "16",
          "--port", str(RPC_PORT), "--dashboard-port", str(DASHBOARD_PORT), "--json"]


@pytest.fixture(scope="module")
def cluster():
    why = netns_unavailable()
    if why:
        pytest.skip(f"network namespaces cannot be made here: {why}")
    # The CPU kernels this job runs, compiled into the checkout's numba cache, which `zkpipe submit`
    # ships with the job: the hosts (this machine's CPU) then load instead of compiling.
    warm_jit_cache(LOG2_ROWS)
    c = NetnsCluster(workers=2, resource="prover")
    with c:
        yield c


# -- the job, through the real CLIs ---------------------------------------------------------------
def submit(c: NetnsCluster, job: str, *devnet_args: str) -> subprocess.CompletedProcess:
    cmd = [str(VENV_BIN / "python"), "-m", "node.cli", "submit", "--address", c.job_address, "--cpu-provers",
           "--job-id", job, "--no-wait", "--", *DEVNET, "--run-dir", str(run_dir(c, job)), *devnet_args]
    r = subprocess.run(cmd, env=c.client_env(), cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"submitted job {job}" in r.stdout
    return r


def ray_job(c: NetnsCluster, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([str(VENV_BIN / "ray"), "job", *args, "--address", c.job_address], env=c.client_env(),
                          capture_output=True, text=True, timeout=timeout)


def cli_status(c: NetnsCluster, job: str) -> str:
    """The job's status as `ray job status` prints it."""
    r = ray_job(c, "status", job)
    out = r.stdout + r.stderr
    for pattern, status in ((r"Job '[^']+' succeeded", "SUCCEEDED"), (r"Job '[^']+' was stopped", "STOPPED"),
                            (r"Job '[^']+' failed", "FAILED")):
        if re.search(pattern, out):
            return status
    m = re.search(r"Status for job '[^']+': (?:JobStatus\.)?(\w+)", out)
    return m.group(1) if m else "UNKNOWN"


def cli_logs(c: NetnsCluster, job: str) -> str:
    return ray_job(c, "logs", job).stdout


def job_api(c: NetnsCluster, job: str, what: str = "") -> dict:
    """GET /api/jobs/<job>[/what] on the head's job server, with the cluster's token."""
    req = urllib.request.Request(f"{c.job_address}/api/jobs/{job}{what}",
                                 headers={"Authorization": f"Bearer {c.token}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


def job_status(c: NetnsCluster, job: str) -> str:
    try:
        return job_api(c, job)["status"]
    except OSError:                     # the job server did not answer this time
        return "UNKNOWN"


def job_logs(c: NetnsCluster, job: str) -> str:
    try:
        return job_api(c, job, "/logs")["logs"]
    except OSError:
        return ""


def wait_log(c: NetnsCluster, job: str, pattern: str, timeout: float) -> re.Match:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        logs = job_logs(c, job)
        m = re.search(pattern, logs)
        if m:
            return m
        status = job_status(c, job)
        assert status in ("PENDING", "RUNNING", "UNKNOWN"), f"job {job} is {status}:\n{logs[-4000:]}"
        time.sleep(1)
    raise AssertionError(f"{pattern!r} not in job {job}'s log within {timeout} s:\n{job_logs(c, job)[-4000:]}")


def wait_ended(c: NetnsCluster, job: str, timeout: float) -> str:
    """Wait until the job server reports the job ended; then its status as `ray job status`
    prints it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and job_status(c, job) not in TERMINAL:
        time.sleep(1)
    return cli_status(c, job)


def run_dir(c: NetnsCluster, job: str) -> Path:
    """Where the job writes its run files: on the head's disk."""
    return Path(c.hosts["head"].temp_dir) / "runs" / job


def summary_of(logs: str) -> dict:
    """The devnet's summary (--json), the last JSON line of the job's log."""
    lines = [line for line in logs.splitlines() if line.startswith('{"latency_s"')]
    assert lines, logs[-4000:]
    return json.loads(lines[-1])


def provers_of(c: NetnsCluster, job: str, timeout: float) -> dict:
    """prover name → host, from the job's start-up lines, once the load starts."""
    wait_log(c, job, r"load: \d+ transfers", timeout)
    out = {}
    for name, node in re.findall(r"prover (\S+): node (\w+)", job_logs(c, job)):
        out[name] = c.host_of(node)
    return out


def run_events(c: NetnsCluster, job: str) -> list[dict]:
    path = run_dir(c, job) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def proof_hosts(c: NetnsCluster, events: list[dict]) -> dict:
    """batch → host of the proof the L1 took (proof_done events carry the prover's node)."""
    return {e["batch"]: c.host_of(e["node"]) for e in events
            if e.get("type") == "batch" and e.get("stage") == "proof_done"}


# Runs inside the head's namespace: reads the dashboard's /metrics every `interval` seconds and
# prints each prover's state (zkpipe_worker_state) as one JSON line ({} while it does not answer).
WATCH = """
import json, sys, time, urllib.request
from prometheus_client.parser import text_string_to_metric_families
url, interval = sys.argv[1], float(sys.argv[2])
while True:
    states = {}
    try:
        text = urllib.request.urlopen(url, timeout=2).read().decode()
        for family in text_string_to_metric_families(text):
            if family.name == "zkpipe_worker_state":
                states.update({s.labels["worker"]: s.labels["state"] for s in family.samples if s.value == 1.0})
    except OSError:
        pass
    print(json.dumps(states), flush=True)
    time.sleep(interval)
"""


class WorkerStates:
    """The prover states the devnet's dashboard shows (/metrics on the head), followed closely
    enough (every 50 ms, from one process in the head's namespace) to catch a proof under way."""

    def __init__(self, c: NetnsCluster, interval: float = 0.05):
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", c.hosts["head"].ns, sys.executable, "-c", WATCH,
             f"http://127.0.0.1:{DASHBOARD_PORT}/metrics", str(interval)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.latest: dict = {}
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            with self._changed:
                self.latest = json.loads(line)
                self._changed.notify_all()

    def wait(self, worker: str, state: str, timeout: float) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: self.latest.get(worker) == state, timeout):
                raise AssertionError(f"{worker} not {state} on /metrics within {timeout} s (last: {self.latest})")

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)


def assert_all_verified(summary: dict) -> None:
    checks = summary["checks"]
    assert checks["ok"], checks
    assert checks["failed_batches"] == [] and checks["l1_state_matches_executor"]
    assert checks["accepted"] == checks["executed"] == checks["in_verified_batches"] > 0
    assert checks["l1_last_batch"] == checks["batches"] == summary["batches"]["verified"]


def ray_procs(c: NetnsCluster, host: str, title: str) -> list[int]:
    """PIDs in a host's namespace whose process title names `title` (Ray sets ray::CLASS)."""
    pids = []
    r = subprocess.run(["ip", "netns", "pids", c.hosts[host].ns], capture_output=True, text=True)
    for pid in r.stdout.split():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if title in cmdline:
            pids.append(int(pid))
    return pids


def devnet_pid(c: NetnsCluster) -> int:
    """The PID of the job's `zkpipe devnet` (its Python process, not the shell that started it)."""
    found = []
    for pid in ray_procs(c, "head", "node.cli"):
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        if argv[0].endswith(("python", "python3")) and argv[1:4] == ["-m", "node.cli", "devnet"]:
            found.append(pid)
    assert len(found) == 1, found
    return found[0]


# -- the tests ------------------------------------------------------------------------------------
def test_job_on_two_worker_hosts_survives_a_worker_host_cut(cluster):
    c = cluster
    c.wait_alive(["w1", "w2"])
    # The load's duration is only an upper bound: the test ends it (SIGINT to the devnet) once the
    # restored host proves again, however long the cut and the restore took.
    submit(c, "zk-fault", "--duration", "600", "--tps", "4", "--batch-deadline", "2")
    cut = False
    try:
        provers = provers_of(c, "zk-fault", timeout=300)
        # One prover on each worker host (the head offers no `prover`), none on the head.
        assert sorted(provers.values()) == ["w1", "w2"], provers
        # The sequencer's JSON-RPC answers on the head (on its 127.0.0.1, where the devnet binds it).
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
        reply = json.loads(c.http_get("head", f"http://127.0.0.1:{RPC_PORT}", data=body))
        assert int(reply["result"], 16) > 0, reply
        victim = next(name for name, host in provers.items() if host == "w1")

        states = WorkerStates(c)
        try:
            # Cut w1 off while its prover is in the middle of a proof.
            states.wait(victim, "busy", timeout=120)
            c.cut("w1")
            cut = True
            t_cut = time.monotonic()
            # The dashboard's /metrics shows the worker dead, and Ray has written the host off.
            states.wait(victim, "dead", timeout=60)
            t_dead = time.monotonic()
            c.wait_dead("w1", timeout=60)
            # Back on the network: a fresh raylet on w1, Ray restarts the prover there, it proves again.
            new_node = c.restore("w1")
            cut = False
            t_back = time.monotonic()
            states.wait(victim, "busy", timeout=240)
        finally:
            states.close()
        os.kill(devnet_pid(c), signal.SIGINT)
        wait_log(c, "zk-fault", r"load ended early \(SIGINT\)", timeout=60)

        status = wait_ended(c, "zk-fault", timeout=300)
        logs = cli_logs(c, "zk-fault")
        assert status == "SUCCEEDED", logs[-4000:]
    finally:
        if cut:
            c.restore("w1")
        if job_status(c, "zk-fault") not in TERMINAL:     # free the provers for the next job
            ray_job(c, "stop", "zk-fault")
            wait_ended(c, "zk-fault", timeout=60)
    summary = summary_of(logs)
    assert_all_verified(summary)                 # nothing lost
    retried = summary["batches"]["retried"]
    assert retried, summary["batches"]
    events = run_events(c, "zk-fault")
    hosts = proof_hosts(c, events)
    assert set(hosts) == set(range(1, summary["checks"]["batches"] + 1))
    assert set(hosts.values()) <= {"w1", "w2"}, hosts
    # The batch that was on w1 when it was cut was proven on w2.
    assert all(hosts[b] == "w2" for b in retried), (retried, hosts)
    assert any(e["stage"] == "retried" and "worker died" in e.get("error", "") for e in events
               if e.get("type") == "batch"), "no retry after a worker death"
    # After it came back, w1 proved batches again, on its new node.
    assert any(e.get("stage") == "proof_done" and e["node"] == new_node for e in events), new_node
    print(f"cut→dead on /metrics {t_dead - t_cut:.1f} s, cut→back {t_back - t_cut:.1f} s; retried {retried}; proofs per host "
          f"{ {h: list(hosts.values()).count(h) for h in ('w1', 'w2')} }")


def test_ray_job_stop_ends_a_running_job(cluster):
    """`ray job stop` on a running job: it ends STOPPED and its provers leave the worker hosts."""
    c = cluster
    c.wait_alive(["w1", "w2"])
    submit(c, "zk-stop", "--duration", "300", "--tps", "5", "--batch-deadline", "1")
    provers_of(c, "zk-stop", timeout=300)
    assert all(ray_procs(c, h, "ray::ProverWorkerActor") for h in ("w1", "w2"))
    r = ray_job(c, "stop", "zk-stop")
    assert r.returncode == 0, r.stdout + r.stderr
    assert wait_ended(c, "zk-stop", timeout=60) == "STOPPED"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(ray_procs(c, h, "ray::ProverWorkerActor") for h in ("w1", "w2")):
        time.sleep(1)
    assert not any(ray_procs(c, h, "ray::ProverWorkerActor") for h in ("w1", "w2"))
    assert not ray_procs(c, "head", "zk-stop")      # the job's driver is gone too


def test_interrupted_build_leaves_nothing_behind():
    """A KeyboardInterrupt in the middle of up(), with a process already running inside a host,
    still kills that process and removes every namespace, link and directory of the cluster."""
    why = netns_unavailable()
    if why:
        pytest.skip(f"network namespaces cannot be made here: {why}")
    started = []

    class Interrupted(NetnsCluster):
        def start_ray(self, host):
            p = subprocess.Popen(["ip", "netns", "exec", host.ns, "sleep", "600"], start_new_session=True)
            self.procs[host.name] = p
            started.append(p)
            raise KeyboardInterrupt

    c = Interrupted(workers=1, log=lambda line: None)
    with pytest.raises(KeyboardInterrupt):
        c.up()
    k = int(started[0].args[3].split("-")[0][3:])          # zkc<k>-head
    assert started[0].wait(timeout=10) is not None          # killed
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    assert f"zkc{k}-" not in netns and f"zkc{k}br" not in links and f"zkc{k}-" not in links
    assert not Path(f"/tmp/zkc{k}").exists()
