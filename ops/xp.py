"""What a kernel may ask about the array module `xp` it is given.

simulator.backend chooses the module (NumPy, CuPy, or either wrapped for float64 accumulation) and
re-exports these questions, so that the rule "which module is this" is written once, here, where both
the kernels and the simulator can read it: ops never imports the simulator, NumPy or CuPy.
"""
from __future__ import annotations

import contextlib


def is_numpy(xp) -> bool:
    """Whether xp computes on the host (NumPy, wrapped or not: the wrapper forwards `__name__`)."""
    return getattr(xp, "__name__", None) == "numpy"


def errstate(xp, **kinds):
    """NumPy's errstate(**kinds) on the host; on a device (no floating-point warnings) a no-op context."""
    return xp.errstate(**kinds) if is_numpy(xp) else contextlib.nullcontext()
