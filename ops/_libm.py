"""The C library's float functions that ONNX Runtime's kernels call through std:: (std::tanh(float) is tanhf).

glibc's tanhf is not correctly rounded (it differs from tanh rounded from double in about one value in seven),
so reproducing ORT means calling the same function: on the host, the process's own C math library through
ctypes (one call per element, for the NumPy path; the compiled twin, ops/_jit_attention.tanhf_all, calls the
same tanhf through Numba). Where that library cannot be found, or on a device, tanh is computed in double and
rounded (within one ulp).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools

from . import _compiled
from .xp import is_numpy


@functools.cache
def _c_tanhf():
    name = ctypes.util.find_library("m") or "libm.so.6"
    try:
        fn = ctypes.CDLL(name).tanhf
    except (OSError, AttributeError):
        return None
    fn.restype, fn.argtypes = ctypes.c_float, [ctypes.c_float]
    return fn


def tanhf(xp, x):
    """The C library's tanhf of each element of the float32 array x."""
    f = xp.float32
    x = xp.ascontiguousarray(x, dtype=f)
    if not is_numpy(xp) or _c_tanhf() is None:
        return xp.tanh(x.astype(xp.float64)).astype(f)
    out = xp.empty(x.shape, dtype=f)
    if _compiled.enabled(xp):
        _compiled.loops("attention").tanhf_all(x.reshape(-1), out.reshape(-1))
        return out
    fn = _c_tanhf()
    flat = out.reshape(-1)
    for i, v in enumerate(x.reshape(-1).tolist()):
        flat[i] = fn(v)
    return out
