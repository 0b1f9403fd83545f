"""What a kernel may ask about the array module `xp` it is given.

simulator.backend chooses the module (NumPy, CuPy, or either wrapped for float64 accumulation) and
re-exports is_numpy and errstate, so that the rule "which module is this" is written once, here, where
both the kernels and the simulator can read it: ops never imports the simulator, NumPy or CuPy.
"""
from __future__ import annotations

import contextlib


def is_numpy(xp) -> bool:
    """Whether xp computes on the host (NumPy, wrapped or not: the wrapper forwards `__name__`)."""
    return getattr(xp, "__name__", None) == "numpy"


def host_namespace(x):
    """The array module a host-only value (strings, objects: CuPy holds neither) lives in: its own."""
    return x.__array_namespace__()


def object_array(like, values, shape):
    """Python values (str...) as an object array of `shape`, on the host with `like` (see host_namespace)."""
    out = host_namespace(like).empty(len(values), dtype=object)
    for i, v in enumerate(values):
        out[i] = v
    return out.reshape(shape)


def errstate(xp, **kinds):
    """NumPy's errstate(**kinds) on the host; on a device (no floating-point warnings) a no-op context."""
    return xp.errstate(**kinds) if is_numpy(xp) else contextlib.nullcontext()
