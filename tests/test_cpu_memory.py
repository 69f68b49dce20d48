"""Freed arrays stay with the process (kernels.cpu.memory): the next allocation reuses their pages
instead of faulting them in again."""

import os
import subprocess
import sys

from kernels.cpu import memory

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Allocates and frees a 40 MiB array (above the 32 MiB up to which glibc adapts its mmap threshold) ten times, writing every page, and prints the minor page
# faults of the last nine rounds.
CHILD = """
import resource
import numpy as np
import kernels.cpu  # noqa: F401
a = np.ones(5 << 20); del a
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(9):
    a = np.ones(5 << 20); del a
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults(keep: str) -> int:
    env = {**os.environ, memory.KEEP_ENV: keep}
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1])


def test_freed_arrays_are_reused_without_faulting_their_pages_again():
    # glibc's defaults: mapped afresh and faulted in every round (NumPy asks for huge pages, so
    # a round takes hundreds of faults rather than the 10 240 of 4 KiB pages)
    assert faults("0") > 9 * 100
    assert faults("1") < 50                   # kept: the same pages again


def test_the_setting_can_be_turned_off():
    assert memory.keep_freed_memory({memory.KEEP_ENV: "0"}) is False
    assert memory.keep_freed_memory({}) is True   # glibc, the supported platform
