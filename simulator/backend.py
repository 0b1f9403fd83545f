"""The one place that chooses the array module: NumPy on the CPU, CuPy on a GPU.

Kernels never import numpy or cupy; the interpreter passes them the module chosen here as `xp`.
"""
from __future__ import annotations

from types import ModuleType

import numpy

from .errors import DeviceError

CUPY_INSTALL_HINT = "install the CUDA extra: pip install 'onnx-quant-simulator[cuda]' (cupy-cuda12x)"


def array_module(use_cuda: bool) -> ModuleType:
    """Return numpy, or cupy when use_cuda is true and a GPU is usable (else DeviceError)."""
    if not use_cuda:
        return numpy
    try:
        import cupy  # noqa: PLC0415 - optional dependency, imported only when asked for
    except ImportError as exc:
        raise DeviceError(f"use_cuda=True but CuPy is not installed ({exc}); {CUPY_INSTALL_HINT}") from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDA driver missing or broken
        raise DeviceError(f"use_cuda=True but no CUDA device is usable: {exc}") from None
    if count < 1:
        raise DeviceError("use_cuda=True but no CUDA device is visible (CUDA_VISIBLE_DEVICES?)")
    # Reduced-precision tensor-core math would break parity with the CPU path.
    cupy._core.set_allow_tf32(False) if hasattr(cupy._core, "set_allow_tf32") else None
    return cupy


def to_host(value):
    """A NumPy array of `value` (a no-op for NumPy arrays and Python values)."""
    if hasattr(value, "get") and type(value).__module__.startswith("cupy"):
        return value.get()
    return value


def to_device(xp: ModuleType, value):
    """`value` as an array of module xp (a no-op when it already is one)."""
    if xp is numpy:
        return to_host(value) if not isinstance(value, numpy.ndarray) else value
    return xp.asarray(value)
