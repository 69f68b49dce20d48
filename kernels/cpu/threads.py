"""How the CPU kernels share the cores: which threads they start, how those threads wait, and how
work is handed to them.

A prover never has its machine to itself (the sequencer, the executor and Ray run beside it), so
the choices here are made for a machine where other processes compete for the cores:

- **Thread count**: the cores this process is given, not the machine's. `ZKPIPE_CPU_THREADS`
  sets it; otherwise `OMP_NUM_THREADS`, which Ray sets in an actor to the CPUs it assigned; never
  more than the CPUs in this process's affinity mask (`os.sched_getaffinity`).
- **Threading layer**: OpenMP first (then numba's workqueue; TBB last, it is not installed and
  not measured), with **passive waiting**. libgomp's default lets an idle pool thread spin before
  it sleeps; on a shared 2-core machine the spinning threads take the core from the one thread
  that has work, and every parallel region then costs about a scheduler tick: a 2^12 NTT took
  8 ms instead of 0.9 ms. With `OMP_WAIT_POLICY=PASSIVE` idle threads sleep at once.
- **Work handed out one task at a time** (`one_task_at_a_time`): a parallel loop is cut into
  many small tasks that a free thread takes next, instead of one contiguous half per thread, so
  a thread the OS deschedules holds back one task and not half of the work.

`configure()` runs when `kernels.cpu` is imported, before anything imports numba, because
numba and libgomp read these settings once, when their thread pool starts. Settings already in
the environment win.
"""

from __future__ import annotations

import contextlib
import os
import sys

THREADS_ENV = "ZKPIPE_CPU_THREADS"
LAYER_PRIORITY = "omp workqueue tbb"


def cores_given() -> int:
    """The CPUs this process may run on (its affinity mask), at least one."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def thread_count(environ=None) -> int:
    """Threads for the kernels: ZKPIPE_CPU_THREADS, else OMP_NUM_THREADS (what Ray assigned),
    else every core given, and never more than the cores given. Values that are not positive
    integers are ignored."""
    environ = os.environ if environ is None else environ
    cores = cores_given()
    for name in (THREADS_ENV, "OMP_NUM_THREADS"):
        value = environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return min(int(value), cores)
    return cores


def configure(environ=None) -> int:
    """Put the settings above into `environ` (os.environ by default) unless already there, and
    return the thread count. When numba was imported before (so it has read its settings), the
    count is applied to the calling thread with numba.set_num_threads instead."""
    environ = os.environ if environ is None else environ
    threads = thread_count(environ)
    if "GOMP_SPINCOUNT" not in environ:      # a spin count given by hand is a wait policy too
        environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    environ.setdefault("NUMBA_THREADING_LAYER_PRIORITY", LAYER_PRIORITY)
    if "numba" not in sys.modules:
        environ.setdefault("NUMBA_NUM_THREADS", str(threads))
    elif environ is os.environ:
        import numba

        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    return threads


@contextlib.contextmanager
def one_task_at_a_time():
    """Parallel loops started inside hand out their iterations one at a time (dynamic
    scheduling) instead of one contiguous share per thread. The setting is per calling thread
    and restored on exit."""
    import numba

    previous = numba.set_parallel_chunksize(1)
    try:
        yield
    finally:
        numba.set_parallel_chunksize(previous)
