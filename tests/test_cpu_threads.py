"""How the CPU kernels size and configure their threads (kernels.cpu.threads)."""

import os
import subprocess
import sys

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


def test_a_fresh_process_starts_the_pool_with_the_threads_it_was_given():
    # Pinned to one CPU, the kernels start one thread, on the OpenMP layer, and still compute.
    code = ("import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})\n"
            "from kernels import get_backend; import numba\n"
            "be = get_backend('cpu'); a = be.fr.random(1 << 14)\n"
            "assert (be.ntt(be.ntt(a), inverse=True) == a).all()\n"
            "print(numba.config.NUMBA_NUM_THREADS, numba.threading_layer(), os.environ['OMP_WAIT_POLICY'])")
    env = {k: v for k, v in os.environ.items()
           if k not in ("ZKPIPE_CPU_THREADS", "OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "OMP_WAIT_POLICY")}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "omp", "PASSIVE"]
