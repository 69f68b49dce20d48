"""`zkpipe submit`: run the pipeline on a Ray cluster, as a Ray job.

The job's driver is `zkpipe devnet` on the head node, joined to the cluster (`--ray-address
auto`), with one GPU ProverWorker per GPU it asks for. This checkout travels as the job's
working directory (without the virtual environment and npm folders, which the nodes have from
their setup commands); arguments after `--` go to the devnet.

    zkpipe submit --address http://HEAD:8265 -- --duration 600 --tps 20000 --workers 8
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# Not sent with the job: environments, bytecode, VCS data and run files (the nodes install their
# own). Sent: numba's JIT cache (kernels/*/__pycache__/*.nbi, *.nbc), keyed by source content
# and CPU model, so that hosts with this machine's CPU skip minutes of compiling; and the solc
# output cache (.zkpipe/solc), keyed by the compiler input. The list is the whole rule: the
# checkout's .gitignore, which drops every __pycache__, is not applied (RAY_RUNTIME_ENV_IGNORE_GITIGNORE).
EXCLUDES = [".venv", "venv", "**/node_modules", ".git", ".zkpipe/*", "!.zkpipe/solc", "!__pycache__", "!*.nbi",
            "!*.nbc", "*.pyc", ".pytest_cache", "*.egg-info", "build", ".whl", "runs"]
TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--address", required=True,
                        help="the cluster's job server, e.g. http://HEAD:8265 (the Ray dashboard port)")
    parser.add_argument("--workers", type=int, default=None,
                        help="prover workers (one GPU each); default: every GPU of the cluster")
    parser.add_argument("--cpu-provers", action="store_true",
                        help="prove on CPU workers instead of GPUs (a cluster without GPUs)")
    parser.add_argument("--job-id", default=None, help="the job's submission id (default: Ray chooses)")
    parser.add_argument("--no-wait", action="store_true", help="return once the job is submitted")
    parser.add_argument("--working-dir", default=str(REPO_ROOT), help="what to send as the job's code")
    parser.add_argument("devnet_args", nargs=argparse.REMAINDER,
                        help="after --: arguments for `zkpipe devnet` on the cluster")


# The job's copy of the checkout has no npm folder: the head installs the pinned solcjs (and
# anvil) into it from npm's cache, which the head's setup filled.
NPM_INSTALL = ("test -d contracts/node_modules/solc || "
               "(cd contracts && npm ci --prefer-offline --no-audit --no-fund --loglevel=error)")


def entrypoint(args) -> str:
    """The command the job runs on the head node."""
    extra = [a for a in args.devnet_args if a != "--"]
    cmd = ["python", "-m", "node.cli", "devnet", "--ray-address", "auto", "--provers",
           "cpu" if args.cpu_provers else "gpu"]
    if args.workers is not None:
        cmd += ["--workers", str(args.workers)]
    return f"{NPM_INSTALL} && " + " ".join(shlex.quote(c) for c in cmd + extra)


def runtime_env(args) -> dict:
    return {"working_dir": args.working_dir, "excludes": list(EXCLUDES)}


def command(args) -> int:
    from ray.job_submission import JobSubmissionClient

    os.environ["RAY_RUNTIME_ENV_IGNORE_GITIGNORE"] = "1"     # EXCLUDES decides what travels

    if not Path(args.working_dir, "node", "cli.py").exists():
        print(f"zkpipe submit: {args.working_dir} is not a zkpipe checkout", file=sys.stderr)
        return 2
    try:
        client = JobSubmissionClient(args.address)
    except Exception as e:  # noqa: BLE001 - connection errors of every kind end up here
        print(f"zkpipe submit: no Ray job server answers at {args.address}: {e}", file=sys.stderr)
        return 1
    job = client.submit_job(entrypoint=entrypoint(args), runtime_env=runtime_env(args),
                            submission_id=args.job_id)
    print(f"submitted job {job} to {args.address}")
    print(f"  entrypoint: {entrypoint(args)}")
    if args.no_wait:
        print(f"  follow it with: ray job logs --address {args.address} --follow {job}")
        return 0
    return follow(client, job)


def follow(client, job: str, poll_s: float = 2.0) -> int:
    """Print the job's log as it grows until the job ends; 0 if it succeeded."""
    shown = 0
    while True:
        status = str(client.get_job_status(job)).split(".")[-1]
        logs = client.get_job_logs(job)
        if len(logs) > shown:
            sys.stdout.write(logs[shown:])
            sys.stdout.flush()
            shown = len(logs)
        if status in TERMINAL:
            print(f"job {job}: {status}")
            return 0 if status == "SUCCEEDED" else 1
        time.sleep(poll_s)
