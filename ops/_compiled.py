"""Compiled loops (Numba, the optional `[fast]` extra) for the sums whose order must be MLAS's.

Emulating MLAS's summation order in NumPy costs one array call per element of the summed dimension; the same
arithmetic as a compiled loop costs one call. A compiled kernel computes exactly what its NumPy twin computes
(float32 values; a fused multiply-add as a float64 product and add, rounded to float32 with numba.float32), and
tests hold the two to identical bytes: NumPy stays the reference.

The loops live in `ops/_jit_<name>.py` modules, the only ops modules that import numba. They are imported
on first use through `loops(name)`, never when ops is imported (Numba is slow to import and optional). A loop
takes the arrays its caller allocated with its `xp`, outputs included, and allocates nothing.

`enabled(xp)`: on the host, Numba importable, and not switched off by the environment variable
SIMULATOR_JIT=0 or, in one thread, by `disabled()` (tests use it to run the NumPy twins).
"""
from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import os
import threading

from .xp import is_numpy

# What every compiled loop is compiled with: strict IEEE arithmetic (no fastmath: no reassociation, no
# contraction into fused multiply-adds the NumPy twin does not make), no GIL, cached on disk.
JIT_OPTIONS = {"cache": True, "nogil": True, "fastmath": False, "error_model": "numpy"}

_state = threading.local()


# Decided once, at import: finding the package does not import it (Numba is slow to import).
_AVAILABLE = os.environ.get("SIMULATOR_JIT", "1") != "0" and importlib.util.find_spec("numba") is not None


def enabled(xp) -> bool:
    """Whether a kernel given `xp` should call its compiled loop instead of its NumPy twin (asked per kernel
    call: kept to two attribute reads)."""
    return _AVAILABLE and is_numpy(xp) and not _state.__dict__.get("off", False)


@contextlib.contextmanager
def disabled():
    """Run the NumPy twins in this thread (tests compare the two paths)."""
    before = getattr(_state, "off", False)
    _state.off = True
    try:
        yield
    finally:
        _state.off = before


@functools.cache
def loops(name: str):
    """The module ops._jit_<name> (imported, and so its loops defined, on first use)."""
    return importlib.import_module(f"{__package__}._jit_{name}")


def map_flat(xp, module: str, loop: str, x, *args):
    """The element-wise loop ops._jit_<module>.<loop> over float32 x (any shape), into a new array:
    loop(x flattened, *args, out flattened)."""
    x = xp.asarray(x, dtype=xp.float32, order="C")
    out = xp.empty(x.shape, dtype=xp.float32)
    getattr(loops(module), loop)(x.ravel(), *args, out.ravel())  # C-contiguous: ravel's views (cheaper calls)
    return out
