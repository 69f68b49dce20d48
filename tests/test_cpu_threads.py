"""How the CPU kernels size and configure their threads (kernels.cpu.threads)."""

import os
import subprocess
import sys
import time

import pytest

from bench.contention import Competitor
from kernels.cpu import threads


def test_thread_count_follows_the_environment_and_never_exceeds_the_cores_given():
    cores = threads.cores_given()
    assert cores == len(os.sched_getaffinity(0))
    assert threads.thread_count({}) == cores
    assert threads.thread_count({"ZKPIPE_CPU_THREADS": "1", "OMP_NUM_THREADS": "2"}) == 1
    assert threads.thread_count({"OMP_NUM_THREADS": "1"}) == 1          # what Ray assigned
    assert threads.thread_count({"ZKPIPE_CPU_THREADS": str(cores + 7)}) == cores
    assert threads.thread_count({"ZKPIPE_CPU_THREADS": "0"}) == cores   # not a thread count
    assert threads.thread_count({"ZKPIPE_CPU_THREADS": "two"}) == cores


def test_the_pool_is_the_thread_count_times_the_oversubscription():
    assert threads.pool_size({"ZKPIPE_CPU_THREADS": "1"}) == threads.DEFAULT_OVERSUBSCRIBE
    assert threads.pool_size({"OMP_NUM_THREADS": "1", "ZKPIPE_CPU_OVERSUBSCRIBE": "3"}) == 3
    assert threads.pool_size({"ZKPIPE_CPU_THREADS": "1", "ZKPIPE_CPU_OVERSUBSCRIBE": "1"}) == 1
    assert threads.pool_size({"ZKPIPE_CPU_THREADS": "1", "ZKPIPE_CPU_OVERSUBSCRIBE": "-2"}) == threads.DEFAULT_OVERSUBSCRIBE
    assert threads.pool_size({"ZKPIPE_CPU_THREADS": "1", "ZKPIPE_CPU_OVERSUBSCRIBE": "1000"}) == threads.POOL_MAX


def test_configure_sets_passive_waiting_and_keeps_what_is_already_set():
    env = {"OMP_WAIT_POLICY": "ACTIVE"}
    threads.configure(env)
    assert env["OMP_WAIT_POLICY"] == "ACTIVE"
    assert env["NUMBA_THREADING_LAYER_PRIORITY"].split()[0] == "omp"
    env = {}
    threads.configure(env)
    assert env["OMP_WAIT_POLICY"] == "PASSIVE"
    env = {"GOMP_SPINCOUNT": "20000"}        # a spin count chosen by hand is left to work
    threads.configure(env)
    assert "OMP_WAIT_POLICY" not in env


def test_a_child_derives_its_pool_from_its_own_threads_unless_the_user_chose_one(monkeypatch):
    monkeypatch.delitem(sys.modules, "numba", raising=False)   # as before numba read its settings
    parent = {"ZKPIPE_CPU_THREADS": "2", "ZKPIPE_CPU_OVERSUBSCRIBE": "4"}
    threads.configure(parent)
    assert parent["NUMBA_NUM_THREADS"] == str(min(2, threads.cores_given()) * 4)
    child = dict(parent, ZKPIPE_CPU_THREADS="1")       # what Ray gives a one-CPU actor
    threads.configure(child)
    assert child["NUMBA_NUM_THREADS"] == "4"
    chosen = {"NUMBA_NUM_THREADS": "3", "ZKPIPE_CPU_THREADS": "1"}
    threads.configure(chosen)
    assert chosen["NUMBA_NUM_THREADS"] == "3"


def test_contention_is_sampled_at_most_once_per_interval(monkeypatch):
    samples = iter([0, 5, 0])
    monkeypatch.setattr(threads, "competing_threads", lambda: next(samples))
    monkeypatch.setitem(threads._sample, "at", float("-inf"))
    monkeypatch.setattr(threads, "SAMPLE_S", 1.0)
    assert not threads.contended(now=100.0)
    assert not threads.contended(now=100.5)          # the same sample
    assert threads.contended(now=101.0)
    assert not threads.contended(now=102.0)


def test_a_busy_process_is_seen_as_competing():
    with Competitor():                       # one always runnable thread per core
        deadline = time.monotonic() + 10
        seen = 0
        while seen < 5 and time.monotonic() < deadline:
            seen += threads.competing_threads() >= 1
            time.sleep(0.01)
    assert seen == 5


@pytest.mark.parametrize("competing, adapt, expected", [(0, "", "1"), (3, "", "8"), (0, "0", "8")])
def test_a_fresh_process_runs_the_pool_only_while_the_cores_are_contended(competing, adapt, expected):
    # Pinned to one CPU: a pool of 8 threads on the OpenMP layer, one working on idle cores and
    # all 8 beside other runnable threads (or always, with ZKPIPE_CPU_ADAPT=0), computing the
    # same transforms either way.
    code = ("import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})\n"
            "from kernels import get_backend\n"
            "from kernels.cpu import threads\n"
            f"threads.competing_threads = lambda: {competing}\n"
            "import numba\n"
            "be = get_backend('cpu'); a = be.fr.random(1 << 14)\n"
            "assert (be.ntt(be.ntt(a), inverse=True) == a).all()\n"
            "print(numba.config.NUMBA_NUM_THREADS, numba.get_num_threads(), numba.threading_layer(),"
            " os.environ['OMP_WAIT_POLICY'])")
    env = {k: v for k, v in os.environ.items()
           if k not in ("ZKPIPE_CPU_THREADS", "OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "OMP_WAIT_POLICY",
                        "ZKPIPE_CPU_OVERSUBSCRIBE", "ZKPIPE_CPU_ADAPT", "ZKPIPE_NUMBA_NUM_THREADS")}
    env["ZKPIPE_CPU_ADAPT"] = adapt
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["8", expected, "omp", "PASSIVE"]


def test_msm_plan_beside_other_processes_keeps_the_windows_and_cuts_their_buckets():
    from kernels.cpu.msm import max_parts, plan, plan_for_pool, uses_affine

    for n, bits in ((45089, 254), (4096, 12), (1 << 16, 60), (24576, 12)):
        quiet = plan(n, bits, 2)
        assert plan_for_pool(n, bits, 2, 2) == quiet
        c, windows, parts = plan_for_pool(n, bits, 16, 2)
        assert (c, windows) == quiet[:2] and parts >= quiet[2]
        assert uses_affine(c, parts) == uses_affine(c, quiet[2])              # the same kind of buckets
        # two tasks a thread, as far as the window's buckets can be cut without changing their kind
        assert windows * parts >= 32 or parts == max_parts(c, uses_affine(c, parts))


@pytest.mark.parametrize("inverse, coset", [(False, False), (False, True), (True, True)])
def test_ntt_columns_cut_into_blocks_and_runs_match_whole_columns(inverse, coset):
    import numpy as np

    from kernels import get_backend
    from kernels.cpu import ntt

    be = get_backend("cpu")
    data = be.fr.random(3 * (1 << 13), np.random.default_rng(7)).reshape(3, 1 << 13, 4)
    out = {}
    saved = ntt.SPLIT_BELOW_TASKS
    try:
        for name, below in (("whole", 0), ("split", 1 << 10)):   # 3 columns: never / always cut
            ntt.SPLIT_BELOW_TASKS = below
            out[name] = be.ntt(data, inverse=inverse, coset=coset)
        assert (be.ntt(out["split"], inverse=not inverse, coset=coset) == data).all()
    finally:
        ntt.SPLIT_BELOW_TASKS = saved
    assert (out["whole"] == out["split"]).all()
