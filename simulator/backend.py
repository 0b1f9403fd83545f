"""The one place that chooses the array module: NumPy on the CPU, CuPy on a GPU.

Kernels never import numpy or cupy; the interpreter passes them the module chosen here as `xp`.
"""
from __future__ import annotations

import os
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
    if os.environ.get("CUPY_TF32", "0") != "0":
        # TF32 tensor-core math rounds float32 matrix inputs to 10-bit mantissas: no parity with the CPU.
        raise DeviceError("CUPY_TF32 is set: reduced-precision TF32 math would change the results; unset it")
    return cupy


# Ops that run on the host (NumPy) even in a GPU run, because CuPy lacks what their kernel needs.
# Their inputs are copied to the host and their outputs back: correct, but a synchronisation each.
HOST_FALLBACKS = {
    "ScatterElements": "CuPy has no ufunc.at for the multiply/max/min reductions",
    "Scatter": "same kernel as ScatterElements",
    "ScatterND": "CuPy has no ufunc.at for the multiply/max/min reductions",
    "Unique": "CuPy's unique lacks the sorted=0 first-occurrence order",
    "NonMaxSuppression": "a data-dependent loop over boxes: host work by nature",
    "Dropout": "training-mode masks come from NumPy's seeded generator (inference Dropout is an identity)",
    "Mod": "CuPy's float remainder differs from NumPy's on signed zeros and infinities",
    "DFT": "cuFFT's inverse transform differs from NumPy's beyond the suite's tolerance",
}
# Besides those ops, tensors CuPy cannot hold stay on the host, and any op that reads or makes one
# runs there: strings and objects (CuPy has no object arrays) and ml_dtypes' types (bfloat16, the
# float8 and float4 variants, int4/uint4, int2/uint2: CuPy has no such dtypes).


def device_can_hold(dtype) -> bool:
    """Whether CuPy can hold an array of this dtype (plain NumPy numbers and booleans)."""
    dtype = numpy.dtype(dtype)
    return dtype.kind in "biufc" and dtype.type.__module__ == "numpy"


def on_host(value) -> bool:
    """Whether `value` (an array, or a sequence of them) is a host array that must stay on the host."""
    if isinstance(value, (list, tuple)):
        return any(on_host(v) for v in value)
    return isinstance(value, numpy.ndarray) and not device_can_hold(value.dtype)


def to_host(value):
    """A NumPy array of `value` (a no-op for NumPy arrays and Python values; sequences element-wise)."""
    if isinstance(value, list):
        return [to_host(v) for v in value]
    if hasattr(value, "get") and type(value).__module__.startswith("cupy"):
        return value.get()
    return value


def to_device(xp: ModuleType, value):
    """`value` on xp's device; a tensor CuPy cannot hold stays on the host (see device_can_hold)."""
    if xp is numpy:
        return to_host(value)
    if value is None:
        return None
    if isinstance(value, list):
        return [to_device(xp, v) for v in value]
    if isinstance(value, numpy.ndarray) and not device_can_hold(value.dtype):
        return value
    return xp.asarray(value)
