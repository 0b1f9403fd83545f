"""The one place that chooses the array module: NumPy on the CPU, CuPy on a GPU.

Kernels never import numpy or cupy; the interpreter passes them the module chosen here as `xp`. What a
kernel may ask about that module (`is_numpy`, `errstate`) is written in ops.xp, which ops can import
without importing the simulator; this module re-exports it for the simulator's own code.
"""
from __future__ import annotations

import os
from types import ModuleType

import numpy

from ops._compiled import enabled as compiled_enabled  # noqa: F401 - re-exported: compiled loops on or off
from ops.xp import errstate, is_numpy  # noqa: F401 - re-exported: the simulator asks here

from .errors import DeviceError

CUPY_INSTALL_HINT = "install the CUDA extra from the project's folder: pip install '.[cuda]' (cupy-cuda12x, CUDA 12)"


def array_module(use_cuda: bool, deterministic: bool = False):
    """Return numpy, or cupy when use_cuda is true and a GPU is usable (else DeviceError); with
    deterministic, wrapped so that matrix products and sums accumulate in float64 (Float64Accumulation)."""
    xp = _device_module(use_cuda)
    return Float64Accumulation(xp) if deterministic else xp


def host_module(xp):
    """NumPy, wrapped as xp is (a GPU run's host fallback in deterministic mode stays deterministic)."""
    return Float64Accumulation(numpy) if isinstance(xp, Float64Accumulation) else numpy


def unwrap(xp):
    """The plain array module under xp (numpy or cupy, without the Float64Accumulation wrapper)."""
    return getattr(xp, "module", xp) if xp is not numpy else xp


_elementwise_kernels: dict = {}


def elementwise_kernel(xp, in_params: str, out_params: str, source: str, name: str):
    """A CuPy elementwise kernel compiled from CUDA `source` (once per name): an elementwise computation as one
    GPU pass, for math that must keep its exact float32 operation order (simulator.quantization)."""
    kernel = _elementwise_kernels.get(name)
    if kernel is None:
        kernel = _elementwise_kernels[name] = unwrap(xp).ElementwiseKernel(in_params, out_params, source, name)
    return kernel


class Float64Accumulation:
    """The array module, with matrix products (matmul, dot, tensordot, einsum: Conv, Gemm, MatMul,
    attention) accumulated in float64 and rounded once to the inputs' float type.

    A float32 sum of products then depends on neither the BLAS build, its blocking and thread count,
    nor the device: the float64 result is rounded to float32 once, which gives the same float32 in all
    but vanishingly rare cases. Reductions and pooling already add in a fixed, ONNX-Runtime order of
    float32 operations, which every device computes alike, so they are left as they are. Kernels see
    this object as `xp`; everything else is the wrapped module's.
    """

    def __init__(self, module):
        self.module = module

    def __getattr__(self, name):
        return getattr(self.module, name)

    def _accumulate(self, fn, arrays, *args, **kwargs):
        dtypes = [a.dtype for a in arrays if hasattr(a, "dtype")]
        floats = [d for d in dtypes if d.kind == "f" and d.itemsize <= 4]
        if not floats or len(floats) != len(dtypes):
            return fn(*arrays, *args, **kwargs)
        out = fn(*(a.astype(self.module.float64) for a in arrays), *args, **kwargs)
        return out.astype(self.module.result_type(*floats))

    def matmul(self, a, b, **kwargs):
        return self._accumulate(self.module.matmul, (a, b), **kwargs)

    def dot(self, a, b, **kwargs):
        return self._accumulate(self.module.dot, (a, b), **kwargs)

    def tensordot(self, a, b, axes=2):
        return self._accumulate(self.module.tensordot, (a, b), axes=axes)

    def einsum(self, subscripts, *operands, **kwargs):
        return self._accumulate(lambda *ops: self.module.einsum(subscripts, *ops, **kwargs), operands)


def _device_module(use_cuda: bool) -> ModuleType:
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


def device_count() -> int:
    """How many GPUs CuPy sees (0 without CuPy or a GPU): the runner gives each worker its own."""
    try:
        import cupy  # noqa: PLC0415 - optional dependency
        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:  # noqa: BLE001 - no CuPy, no driver, no device: one device or none, as for one process
        return 0


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
    if is_numpy(xp):
        return to_host(value)
    if value is None:
        return None
    if isinstance(value, list):
        return [to_device(xp, v) for v in value]
    if isinstance(value, numpy.ndarray) and not device_can_hold(value.dtype):
        return value
    return xp.asarray(value)


def synchronize(xp) -> None:
    """Wait until xp's device has finished its queued work (a no-op on the host): for timing GPU runs."""
    if not is_numpy(xp):
        import cupy  # noqa: PLC0415 - a device xp is CuPy

        cupy.cuda.Stream.null.synchronize()


def reuse_freed_memory() -> bool:
    """Ask glibc's malloc to keep the memory of freed arrays for the next ones (Linux; process-wide).

    By default glibc maps every allocation above 32 MiB afresh from the kernel and unmaps it when it is
    freed, so every large activation of a batched run is first touched page by page (page faults):
    ResNet-50 at batch 32 runs 1.4 s instead of 2.0 s with this, at the same peak memory (measured,
    docs/performance.md). Freed memory then stays with the process instead of going back to the
    system, which suits a process that runs one model again and again: the `simulator` command calls
    this; a program using the library may. Returns whether the setting was applied."""
    try:
        import ctypes  # noqa: PLC0415 - only for this call

        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (macOS, musl, Windows): nothing to tune
        return False
    m_trim_threshold, m_mmap_max = -1, -4  # malloc.h
    return bool(mallopt(m_mmap_max, 0)) and bool(mallopt(m_trim_threshold, 2**31 - 1))
