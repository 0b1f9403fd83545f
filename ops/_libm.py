"""The C library's float functions that ONNX Runtime's kernels call through std:: (std::tanh(float) is tanhf,
std::exp(float) expf).

glibc's tanhf is not correctly rounded (it differs from tanh rounded from double in about one value in seven),
nor, rarely, is its expf, so reproducing ORT means calling the same functions: on the host, the process's own
C math library through ctypes (one call per element, for the NumPy path; the compiled twins in
ops/_jit_attention.py call the same functions through Numba). Where that library cannot be found, or on a
device, the function is computed in double and rounded (within one ulp).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools

from . import _compiled
from .xp import is_numpy


@functools.cache
def _c_function(name):
    try:
        fn = getattr(ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6"), name)
    except (OSError, AttributeError):
        return None
    fn.restype, fn.argtypes = ctypes.c_float, [ctypes.c_float]
    return fn


def _apply(xp, name, x, fallback):
    f = xp.float32
    x = xp.ascontiguousarray(x, dtype=f)
    fn = _c_function(name) if is_numpy(xp) else None
    if fn is None:
        return fallback(x.astype(xp.float64)).astype(f)
    if _compiled.enabled(xp):
        return _compiled.map_flat(xp, "attention", f"{name}_all", x)
    out = xp.empty(x.shape, dtype=f)
    flat = out.reshape(-1)
    for i, v in enumerate(x.reshape(-1).tolist()):
        flat[i] = fn(v)
    return out


def tanhf(xp, x):
    """The C library's tanhf of each element of the float32 array x."""
    return _apply(xp, "tanhf", x, xp.tanh)


def expf(xp, x):
    """The C library's expf of each element of the float32 array x."""
    return _apply(xp, "expf", x, xp.exp)
