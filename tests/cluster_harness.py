"""A Ray cluster of separate hosts on one machine: a head and worker "hosts", each a Linux
network namespace with its own network stack and address, joined by a bridge, each running
`ray start` the way ray_cluster.yaml starts its nodes.

Addresses come only from 198.18.0.0/15 (the block set aside for network tests): cluster k gets
198.18.k.0/24, the bridge in the root namespace is .254, the head .1, worker i .(1+i). Nothing
is routed anywhere else. Worker hosts advertise a custom resource (default `prover`) in place of
GPUs, so that prover workers land on them and never on the head.

Everything the harness starts lives inside its namespaces, so teardown is exact: every process
of each namespace (`ip netns pids`) is killed by PID, the namespaces are deleted (their veth
ends with them), then the bridge; `down()` runs on any exception, KeyboardInterrupt included,
and at interpreter exit. Ray's own `ray stop` is never used: it kills Ray processes by name on
the whole machine.

Operators (as root):

    python -m tests.cluster_harness up [--workers 2]     # runs until Ctrl-C, then tears down
    python -m tests.cluster_harness cut w1 | restore w1  # from another shell, while `up` runs
    python -m tests.cluster_harness down                 # remove what a killed `up` left
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = REPO_ROOT / ".venv" / "bin"
STATE_ROOT = Path("/tmp")          # cluster k keeps its Ray temp dirs and state in /tmp/zkc<k>
NET_PREFIX = "198.18"              # RFC 2544 benchmarking block: never routed off this machine
GCS_PORT, JOB_PORT, OBJECT_MANAGER_PORT = 6379, 8265, 8076
# Node failure is noticed after about 3 s instead of Ray's default 30+ s, so that a cut host's
# batch moves on within a short test; a real cluster keeps Ray's defaults.
FAST_HEALTH_CHECK = {"health_check_initial_delay_ms": 1000, "health_check_period_ms": 1000,
                     "health_check_timeout_ms": 1000, "health_check_failure_threshold": 3}


class HarnessError(RuntimeError):
    """The cluster could not be built or did not come up in time."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=30)


def netns_unavailable() -> str | None:
    """Why network namespaces cannot be used here (None if they can)."""
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not installed"
    if os.geteuid() != 0:
        return "creating network namespaces needs root"
    probe = f"zkprobe{os.getpid()}"
    try:
        r = _ip("netns", "add", probe, check=False)
        if r.returncode:
            return f"`ip netns add` failed: {r.stderr.strip()}"
        r = _ip("link", "add", probe, "type", "bridge", check=False)
        if r.returncode:
            return f"`ip link add ... type bridge` failed: {r.stderr.strip()}"
    finally:
        _ip("link", "del", probe, check=False)
        _ip("netns", "del", probe, check=False)
    if not (VENV_BIN / "ray").exists():
        return f"{VENV_BIN}/ray is missing (run scripts/setup.sh)"
    return None


@dataclass
class Host:
    name: str                   # "head", "w1", "w2", ...
    ns: str                     # network namespace
    ip: str
    veth: str                   # root-side end of its link: set it down to cut the host off
    temp_dir: str               # Ray's --temp-dir (sessions, logs, sockets)
    resources: dict = field(default_factory=dict)
    num_cpus: int = 1

    @property
    def is_head(self) -> bool:
        return self.name == "head"


class NetnsCluster:
    """`workers` worker hosts and a head. Use as a context manager, or call up() and down()."""

    def __init__(self, workers: int = 2, resource: str = "prover", worker_cpus: int = 1, head_cpus: int = 0,
                 object_store_mb: int = 100, system_config: dict | None = None, log=print):
        if not 1 <= workers <= 200:
            raise ValueError("workers must lie in [1, 200]")
        self.workers, self.resource = workers, resource
        self.worker_cpus, self.head_cpus = worker_cpus, head_cpus
        self.object_store_mb = object_store_mb
        self.system_config = FAST_HEALTH_CHECK if system_config is None else system_config
        self.log = log
        self.k: int | None = None
        # Ray's token authentication, with a token of this cluster's own (never ~/.ray's): every
        # node and every client of the cluster carries it (client_env()).
        self.token = secrets.token_hex(32)
        self.hosts: dict[str, Host] = {}
        self.procs: dict[str, subprocess.Popen] = {}

    # -- names and addresses ------------------------------------------------------------------
    @property
    def bridge(self) -> str:
        return f"zkc{self.k}br"

    @property
    def base_dir(self) -> Path:
        return STATE_ROOT / f"zkc{self.k}"

    @property
    def head(self) -> Host:
        return self.hosts["head"]

    @property
    def gcs_address(self) -> str:
        return f"{self.head.ip}:{GCS_PORT}"

    @property
    def job_address(self) -> str:
        """The job server (Ray dashboard) on the head, reachable from the root namespace."""
        return f"http://{self.head.ip}:{JOB_PORT}"

    def client_env(self) -> dict:
        """The environment for a Ray client of this cluster (`ray job ...`, `zkpipe submit`)."""
        env = dict(os.environ, PATH=f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
                   RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=self.token, RAY_USAGE_STATS_ENABLED="0")
        for name in ("RAY_ADDRESS", "RAY_AUTH_TOKEN_PATH"):
            env.pop(name, None)
        return env

    def _plan(self) -> None:
        names = ["head"] + [f"w{i}" for i in range(1, self.workers + 1)]
        for i, name in enumerate(names):
            resources = {} if name == "head" else {self.resource: 1}
            self.hosts[name] = Host(name, f"zkc{self.k}-{name}", f"{NET_PREFIX}.{self.k}.{i + 1}",
                                    f"zkc{self.k}-{name}", str(self.base_dir / name), resources,
                                    self.head_cpus if name == "head" else self.worker_cpus)

    # -- up -----------------------------------------------------------------------------------
    def up(self, timeout: float = 120.0) -> "NetnsCluster":
        """Build the network, start Ray on the head and every worker, wait until all are alive."""
        why = netns_unavailable()
        if why:
            raise HarnessError(why)
        atexit.register(self.down)
        try:
            self._claim_subnet()
            self._plan()
            self._write_state()
            for host in self.hosts.values():
                self._add_host_link(host)
            self.start_ray(self.head)
            self._wait(lambda: self._http_ok("/api/version"), timeout, "the head's job server")
            for name in self.worker_names():
                self.start_ray(self.hosts[name])
            try:
                self.wait_alive(self.worker_names(), timeout)
            except HarnessError:
                # A raylet that could not register in time (a busy machine) gets another go.
                failed = [n for n in self.worker_names() if self.procs[n].poll() is not None]
                if not failed:
                    raise
                for name in failed:
                    self.start_worker(name, timeout)
                self.wait_alive(self.worker_names(), timeout)
        except BaseException:
            self.down()
            raise
        return self

    def _claim_subnet(self) -> None:
        """Take the first free cluster number; creating its bridge is the claim (it fails if
        another cluster holds that number)."""
        for k in range(256):
            r = _ip("link", "add", f"zkc{k}br", "type", "bridge", check=False)
            if r.returncode == 0:
                self.k = k
                _ip("addr", "add", f"{NET_PREFIX}.{k}.254/24", "dev", self.bridge)
                _ip("link", "set", self.bridge, "up")
                self.base_dir.mkdir(parents=True, exist_ok=True)
                self.log(f"cluster zkc{k}: {NET_PREFIX}.{k}.0/24 on bridge {self.bridge}")
                return
        raise HarnessError("no free cluster number (256 bridges zkc*br exist)")

    def _add_host_link(self, host: Host) -> None:
        inner = f"{host.veth}i"[-15:]
        _ip("netns", "add", host.ns)
        _ip("link", "add", host.veth, "type", "veth", "peer", "name", inner)
        _ip("link", "set", inner, "netns", host.ns)
        _ip("link", "set", host.veth, "master", self.bridge, "up")
        _ip("-n", host.ns, "addr", "add", f"{host.ip}/24", "dev", inner)
        _ip("-n", host.ns, "link", "set", inner, "up")
        _ip("-n", host.ns, "link", "set", "lo", "up")

    def ray_start_args(self, host: Host) -> list[str]:
        """`ray start` as ray_cluster.yaml's head/worker start commands, sized for a small machine."""
        args = [str(VENV_BIN / "ray"), "start", "--block", f"--node-ip-address={host.ip}",
                f"--object-manager-port={OBJECT_MANAGER_PORT}", f"--num-cpus={host.num_cpus}", "--num-gpus=0",
                f"--object-store-memory={self.object_store_mb * 1024 * 1024}", f"--temp-dir={host.temp_dir}",
                "--disable-usage-stats"]
        if host.is_head:
            args += ["--head", f"--port={GCS_PORT}", "--dashboard-host=0.0.0.0", f"--dashboard-port={JOB_PORT}",
                     "--include-dashboard=true"]
            if self.system_config:
                args.append(f"--system-config={json.dumps(self.system_config)}")
        else:
            args += [f"--address={self.gcs_address}"]
        if host.resources:
            args.append(f"--resources={json.dumps(host.resources)}")
        return args

    def start_ray(self, host: Host) -> None:
        Path(host.temp_dir).mkdir(parents=True, exist_ok=True)
        env = dict(self.client_env(), PYTHONUNBUFFERED="1")
        out = open(Path(host.temp_dir) / "ray-start.out", "ab")
        self.procs[host.name] = subprocess.Popen(
            ["ip", "netns", "exec", host.ns, *self.ray_start_args(host)], stdin=subprocess.DEVNULL,
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=str(REPO_ROOT), start_new_session=True)
        out.close()
        self.log(f"  {host.name}: ray start in {host.ns} at {host.ip} (pid {self.procs[host.name].pid})")

    # -- state --------------------------------------------------------------------------------
    def worker_names(self) -> list[str]:
        return [n for n in self.hosts if n != "head"]

    def nodes(self) -> list[dict]:
        """Ray's node table as the head's dashboard reports it (every node, alive or dead)."""
        with self._get("/nodes?view=summary") as r:
            body = json.load(r)
        out = []
        for n in body["data"]["summary"]:
            raylet = n.get("raylet", {})
            out.append({"node_id": raylet.get("nodeId"), "ip": n.get("ip") or raylet.get("nodeManagerAddress"),
                        "state": raylet.get("state"), "resources": raylet.get("resourcesTotal", {})})
        return out

    def alive_node(self, host: str, besides=()) -> str | None:
        """The node id of the live Ray node on `host` (other than those in `besides`), if any."""
        ip = self.hosts[host].ip
        for n in self.nodes():
            if n["ip"] == ip and n["state"] == "ALIVE" and n["node_id"] not in besides:
                return n["node_id"]
        return None

    def host_of(self, node_id: str) -> str | None:
        """Which host a node id (alive or dead, any prefix of it) ran on."""
        by_ip = {h.ip: h.name for h in self.hosts.values()}
        for n in self.nodes():
            if n["node_id"] and n["node_id"].startswith(node_id):
                return by_ip.get(n["ip"])
        return None

    def wait_alive(self, names, timeout: float = 120.0, besides=()) -> dict:
        """Wait until each named host has a live Ray node (not one of `besides`); returns host →
        node id."""
        found: dict = {}

        def ready():
            for name in names:
                if name not in found:
                    try:
                        node = self.alive_node(name, besides)
                    except OSError:
                        return False
                    if node:
                        found[name] = node
            return len(found) == len(names)
        self._wait(ready, timeout, f"Ray nodes on {', '.join(names)}")
        return found

    def wait_dead(self, name: str, timeout: float = 60.0) -> None:
        """Wait until Ray's node table (as the dashboard reports it) has no live node on `name`."""
        def gone():
            try:
                return self.alive_node(name) is None
            except OSError:             # the dashboard did not answer this time
                return False
        self._wait(gone, timeout, f"Ray writing {name} off")

    def _wait(self, ok, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ok():
                return
            for name, p in self.procs.items():
                if p.poll() is not None and not (name != "head" and self._is_cut(name)):
                    raise HarnessError(f"`ray start` on {name} exited ({p.returncode}): {self.tail(name)}")
            time.sleep(0.5)
        raise HarnessError(f"{what} not up within {timeout:.0f} s")

    def _get(self, path: str, timeout: float = 5.0):
        """A GET on the head's dashboard (job server), with the cluster's token."""
        req = urllib.request.Request(f"{self.job_address}{path}", headers={"Authorization": f"Bearer {self.token}"})
        return urllib.request.urlopen(req, timeout=timeout)

    def _http_ok(self, path: str) -> bool:
        try:
            with self._get(path, timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def tail(self, name: str, chars: int = 2000) -> str:
        try:
            return (Path(self.hosts[name].temp_dir) / "ray-start.out").read_text(errors="replace")[-chars:]
        except OSError:
            return "(no output)"

    # -- inside a host ------------------------------------------------------------------------
    def run_in(self, host: str, argv: list[str], timeout: float = 30.0) -> subprocess.CompletedProcess:
        """Run a command inside a host's namespace (it sees that host's 127.0.0.1)."""
        return subprocess.run(["ip", "netns", "exec", self.hosts[host].ns, *argv], capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def http_get(self, host: str, url: str, data: bytes | None = None, timeout: float = 5.0) -> str:
        """GET (or POST `data` as JSON) `url` from inside a host, e.g. a server on its 127.0.0.1."""
        code = ("import sys, urllib.request as u; d = sys.stdin.buffer.read() or None; "
                "r = u.Request(sys.argv[1], data=d, headers={'Content-Type': 'application/json'}); "
                "sys.stdout.write(u.urlopen(r, timeout=float(sys.argv[2])).read().decode())")
        r = subprocess.run(["ip", "netns", "exec", self.hosts[host].ns, sys.executable, "-c", code, url,
                            str(timeout)], input=data or b"", capture_output=True, timeout=timeout + 30)
        if r.returncode:
            raise OSError(f"GET {url} in {host}: {r.stderr.decode(errors='replace').strip()[-300:]}")
        return r.stdout.decode()

    # -- faults -------------------------------------------------------------------------------
    def _is_cut(self, name: str) -> bool:
        r = _ip("-o", "link", "show", self.hosts[name].veth, check=False)
        return "state DOWN" in r.stdout or ",UP" not in r.stdout

    def cut(self, name: str) -> None:
        """Cut a worker host off the network (its link down); its processes keep running."""
        if name == "head" or name not in self.hosts:
            raise ValueError(f"no worker host {name!r}")
        _ip("link", "set", self.hosts[name].veth, "down")
        self.log(f"  {name}: link {self.hosts[name].veth} down")

    def restore(self, name: str, timeout: float = 120.0) -> str:
        """Bring a cut worker host back: link up, its old Ray processes (which the cluster has
        written off) killed, a fresh `ray start`; returns the new node id."""
        if name == "head" or name not in self.hosts:
            raise ValueError(f"no worker host {name!r}")
        host = self.hosts[name]
        # The head's node table may still list the old node as alive for a while: wait for another.
        try:
            before = {n["node_id"] for n in self.nodes() if n["ip"] == host.ip}
        except OSError:
            before = set()
        _ip("link", "set", host.veth, "up")
        node = self.start_worker(name, timeout, besides=before)
        self.log(f"  {name}: back as node {node[:12]}")
        return node

    def start_worker(self, name: str, timeout: float = 120.0, besides=(), attempts: int = 3) -> str:
        """(Re)start Ray on a worker host, its old processes killed first, until its node is alive.
        `ray start` gives a raylet 30 s to register with the GCS; on a machine busy enough to miss
        that, it exits, and is tried again up to `attempts` times. Returns the node id."""
        host = self.hosts[name]
        for attempt in range(1, attempts + 1):
            self._kill_ns(host)
            self.start_ray(host)
            try:
                return self.wait_alive([name], timeout, besides=besides)[name]
            except HarnessError as e:
                if attempt == attempts or self.procs[name].poll() is None:
                    raise
                self.log(f"  {name}: ray start failed, again ({str(e).splitlines()[-1][:120]})")

    # -- down ---------------------------------------------------------------------------------
    def _kill_ns(self, host: Host) -> None:
        """Kill every process in the host's namespace by PID: SIGTERM, then SIGKILL."""
        p = self.procs.pop(host.name, None)
        for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 2.0)):
            pids = _ns_pids(host.ns)
            if p is not None and p.poll() is None:
                pids.add(p.pid)
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and (_ns_pids(host.ns) or (p is not None and p.poll() is None)):
                time.sleep(0.1)
        if p is not None:
            try:
                p.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass

    def down(self) -> None:
        """Tear everything down (safe to call twice, and after a partial up())."""
        if self.k is None:
            return
        for host in reversed(list(self.hosts.values())):
            self._kill_ns(host)
            _ip("netns", "del", host.ns, check=False)
            _ip("link", "del", host.veth, check=False)
        _ip("link", "del", self.bridge, check=False)
        if not os.environ.get("ZKC_KEEP"):
            shutil.rmtree(self.base_dir, ignore_errors=True)
        self.log(f"cluster zkc{self.k}: down")
        self.k = None
        self.hosts.clear()
        atexit.unregister(self.down)

    def _write_state(self) -> None:
        path = self.base_dir / "cluster.json"
        path.touch(mode=0o600)          # it holds the token
        path.write_text(json.dumps(
            {"k": self.k, "resource": self.resource, "token": self.token,
             "hosts": [asdict(h) for h in self.hosts.values()]}, indent=1))

    @classmethod
    def attach(cls, k: int, log=print) -> "NetnsCluster":
        """The cluster number k that another process built (for cut/restore/down)."""
        state = json.loads((STATE_ROOT / f"zkc{k}" / "cluster.json").read_text())
        c = cls(workers=max(1, len(state["hosts"]) - 1), resource=state["resource"], log=log)
        c.k, c.token = state["k"], state["token"]
        c.hosts = {h["name"]: Host(**h) for h in state["hosts"]}
        return c

    def __enter__(self) -> "NetnsCluster":
        return self.up()

    def __exit__(self, *exc) -> None:
        self.down()


def _ns_pids(ns: str) -> set[int]:
    r = _ip("netns", "pids", ns, check=False)
    return {int(p) for p in r.stdout.split() if p.isdigit() and int(p) != os.getpid()}


def _clusters() -> list[int]:
    return sorted(int(p.name[3:]) for p in STATE_ROOT.glob("zkc*") if p.name[3:].isdigit()
                  and (p / "cluster.json").exists())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.cluster_harness", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="build a cluster and keep it until Ctrl-C or SIGTERM")
    up.add_argument("--workers", type=int, default=2)
    up.add_argument("--resource", default="prover", help="custom resource each worker host offers once")
    for name in ("cut", "restore"):
        p = sub.add_parser(name, help=f"{name} a worker host of a running cluster")
        p.add_argument("host")
        p.add_argument("--cluster", type=int, default=None, help="cluster number (default: the only one)")
    sub.add_parser("down", help="tear down every cluster this harness left behind")
    args = ap.parse_args(argv)

    if args.cmd == "up":
        c = NetnsCluster(workers=args.workers, resource=args.resource)

        def stop(signum, frame):
            raise KeyboardInterrupt
        signal.signal(signal.SIGTERM, stop)
        try:
            c.up()
            print(f"job server: {c.job_address}\n"
                  f"  export RAY_AUTH_MODE=token RAY_AUTH_TOKEN={c.token}\n"
                  f"  zkpipe submit --address {c.job_address} --cpu-provers -- --prover-resource {c.resource} "
                  f"--log2-rows 7 --accounts 16 --duration 20 --tps 20\n"
                  f"  ray status --address {c.gcs_address}\nCtrl-C tears it down.", flush=True)
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0
        finally:
            c.down()
    ks = _clusters()
    if args.cmd == "down":
        for k in ks:
            NetnsCluster.attach(k).down()
        return 0
    k = args.cluster if args.cluster is not None else (ks[0] if len(ks) == 1 else None)
    if k is None:
        print(f"give --cluster (clusters: {ks or 'none'})", file=sys.stderr)
        return 2
    c = NetnsCluster.attach(k)
    if args.cmd == "cut":
        c.cut(args.host)
    else:
        c.restore(args.host)
    return 0


if __name__ == "__main__":
    sys.exit(main())
