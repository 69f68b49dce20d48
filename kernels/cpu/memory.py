"""Freed arrays stay with the process, so the next proof reuses their pages instead of faulting
them in again.

glibc serves a large block straight from mmap (above a threshold that adapts up to 32 MiB),
returns it with munmap when freed, and trims the heap's free top above twice that threshold.
A proof allocates and frees hundreds of megabytes of arrays, so every proof faults its pages in
again: about 3 000 minor faults and 30 ms of kernel time per 2^12 ledger proof on the
development machine. Each munmap also interrupts every core the thread pool ran on (a TLB
shootdown), and beside a competing process each fault and interrupt waits for a core: the
2^12 proof beside one busy thread per core took 1.13 s with glibc's defaults and 1.00 s with
both thresholds fixed (quiet 0.68 and 0.65 s; medians of 12 pairs, taking turns).

`keep_freed_memory` fixes both thresholds at KEEP_BYTES: blocks up to that size come from the
heap and freed ones stay there for reuse (6 faults a proof). The price is that the process holds
on to its peak heap, the prover's working set, between proofs instead of handing it back.
`ZKPIPE_CPU_KEEP_MEMORY=0` leaves glibc's defaults. Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import os

KEEP_ENV = "ZKPIPE_CPU_KEEP_MEMORY"
KEEP_BYTES = 1 << 30
# mallopt parameters (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3


def keep_freed_memory(environ=None) -> bool:
    """Fix glibc's mmap and trim thresholds at KEEP_BYTES unless ZKPIPE_CPU_KEEP_MEMORY is 0;
    whether they were set."""
    environ = os.environ if environ is None else environ
    if environ.get(KEEP_ENV, "").strip() == "0":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt    # the C library this process already runs on
    except (OSError, AttributeError):
        return False                        # not glibc: its allocator has its own policy
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # Both: fixing the trim threshold alone stops the mmap threshold adapting at its 128 KiB
    # start, and every block above that would be mapped afresh (measured: 7× the faults).
    return bool(mallopt(M_MMAP_THRESHOLD, KEEP_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD, KEEP_BYTES))
