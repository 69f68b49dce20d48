"""The CPU backend (NumPy + numba). Importing it fixes how its kernels use the cores, before numba
starts its thread pool (see `threads`), and keeps freed arrays in the process for reuse (see
`memory`)."""

from .memory import keep_freed_memory as _keep_freed_memory
from .threads import configure as _configure_threads

_configure_threads()
_keep_freed_memory()
