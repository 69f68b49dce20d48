"""How the CPU kernels share the cores: which threads they start, how many of them work at a time,
how they wait, and how work is handed to them.

A prover never has its machine to itself (the sequencer, the executor and Ray run beside it), so
the choices here are made for a machine where other processes compete for the cores:

- **Thread count**: the cores this process is given, not the machine's. `ZKPIPE_CPU_THREADS`
  sets it; otherwise `OMP_NUM_THREADS`, which Ray sets in an actor to the CPUs it assigned; never
  more than the CPUs in this process's affinity mask (`os.sched_getaffinity`).
- **More threads than cores while the cores are contended** (`fit_to_load`): the scheduler
  shares CPU time per runnable thread, so a prover with one thread per core beside a process
  with one busy thread per core gets half the machine, and its proof takes twice as long. The
  pool is started with `ZKPIPE_CPU_OVERSUBSCRIBE` (default 8) times the thread count (at most
  `POOL_MAX`); while other threads are waiting to run, parallel regions use the
  whole pool (16 threads beside 2 busy ones get 8/9 of the machine), otherwise only the thread
  count, because on idle cores the extra threads only add switches (about a tenth of a 2^12
  ledger proof). The count is chosen again at each MSM and NTT, from a sample at most
  `SAMPLE_S` old.
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
the environment win, except a `NUMBA_NUM_THREADS` that configure() itself derived in a parent
process: a child derives its own from the threads it is given.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

THREADS_ENV = "ZKPIPE_CPU_THREADS"
OVERSUBSCRIBE_ENV = "ZKPIPE_CPU_OVERSUBSCRIBE"
ADAPT_ENV = "ZKPIPE_CPU_ADAPT"           # "0": parallel regions always use the whole pool
# What configure() wrote into NUMBA_NUM_THREADS, so that a child can tell it from a user's choice.
DERIVED_ENV = "ZKPIPE_NUMBA_NUM_THREADS"
LAYER_PRIORITY = "omp workqueue tbb"
DEFAULT_OVERSUBSCRIBE = 8
SAMPLE_S = 0.1                          # how old a sample of the competing threads may be
# Every thread of a parallel region wakes and meets the others at its end, so a pool far wider
# than the MSM's window tasks (tens) costs more than the share it wins.
POOL_MAX = 64

_sample = {"at": float("-inf"), "contended": False}


def _positive(environ, name: str):
    value = environ.get(name, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def cores_given() -> int:
    """The CPUs this process may run on (its affinity mask), at least one."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def thread_count(environ=None) -> int:
    """Threads for the kernels on cores of their own: ZKPIPE_CPU_THREADS, else OMP_NUM_THREADS
    (what Ray assigned), else every core given, and never more than the cores given. Values that
    are not positive integers are ignored."""
    environ = os.environ if environ is None else environ
    cores = cores_given()
    for name in (THREADS_ENV, "OMP_NUM_THREADS"):
        value = _positive(environ, name)
        if value:
            return min(value, cores)
    return cores


def pool_size(environ=None) -> int:
    """Threads numba's pool starts with: the thread count times ZKPIPE_CPU_OVERSUBSCRIBE (default
    8; 1 turns the extra threads off), at most POOL_MAX unless the thread count is larger."""
    environ = os.environ if environ is None else environ
    threads = thread_count(environ)
    wanted = threads * (_positive(environ, OVERSUBSCRIBE_ENV) or DEFAULT_OVERSUBSCRIBE)
    return max(threads, min(wanted, POOL_MAX))


def competing_threads() -> int:
    """Threads running or waiting to run right now besides the calling one: the machine's
    runnable tasks (/proc/loadavg) less one. It is sampled as a parallel region starts, when this
    process's pool threads sleep (they wait passively), so every other runnable thread is work
    that competes for the cores, in this process or another. (Counting this process's running
    threads from /proc/self/task instead gave the same answer in 169 of 169 samples of ledger
    proofs quiet and loaded, and cost 0.5 ms a sample quiet, 2.3 ms beside a competitor.)"""
    try:
        with open("/proc/loadavg") as f:
            return max(0, int(f.read().split()[3].split("/")[0]) - 1)
    except (OSError, IndexError, ValueError):
        return 0                            # no /proc: as on idle cores


def contended(now=None) -> bool:
    """Whether other processes' threads compete for the cores, sampled at most SAMPLE_S ago."""
    now = time.monotonic() if now is None else now
    if now - _sample["at"] >= SAMPLE_S:
        _sample.update(at=now, contended=competing_threads() > 0)
    return _sample["contended"]


def fit_to_load() -> int:
    """Sets the calling thread's parallel regions to the whole pool while the cores are
    contended and to the thread count otherwise (always the pool with ZKPIPE_CPU_ADAPT=0);
    returns the count. numba keeps the count per thread, so each thread that runs kernels calls
    this (the MSM and the NTT do, through one_task_at_a_time)."""
    import numba

    pool = numba.config.NUMBA_NUM_THREADS
    if os.environ.get(ADAPT_ENV, "").strip() == "0" or contended():
        threads = pool
    else:
        threads = min(thread_count(), pool)
    if numba.get_num_threads() != threads:
        numba.set_num_threads(threads)
    return threads


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
        inherited = environ.get("NUMBA_NUM_THREADS")
        if inherited is None or inherited == environ.get(DERIVED_ENV):
            environ["NUMBA_NUM_THREADS"] = environ[DERIVED_ENV] = str(pool_size(environ))
    elif environ is os.environ:
        import numba

        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    return threads


@contextlib.contextmanager
def one_task_at_a_time():
    """Parallel loops started inside hand out their iterations one at a time (dynamic
    scheduling) instead of one contiguous share per thread, on as many threads as the load
    calls for (fit_to_load; the block gets that count). The chunk size is per calling thread
    and restored on exit."""
    import numba

    threads = fit_to_load()
    previous = numba.set_parallel_chunksize(1)
    try:
        yield threads
    finally:
        numba.set_parallel_chunksize(previous)
