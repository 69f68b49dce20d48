"""The CPU backend (NumPy + numba). Importing it fixes how its kernels use the cores, before numba
starts its thread pool (see `threads`)."""

from .threads import configure as _configure_threads

_configure_threads()
