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
    "StringNormalizer": "strings live on the host",
    "RegexFullMatch": "strings live on the host",
    "StringConcat": "strings live on the host",
    "StringSplit": "strings live on the host",
}


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
