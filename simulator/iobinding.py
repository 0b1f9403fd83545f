"""onnxruntime.IOBinding for the simulator's session, and OrtValue feeds and results (ONNX Runtime installed).

    binding = sess.io_binding()
    binding.bind_cpu_input("x", x)                     # or bind_ortvalue_input / bind_input(ptr)
    binding.bind_output("y")                           # or bind_ortvalue_output / bind_output(..., buffer_ptr)
    sess.run_with_iobinding(binding)
    y = binding.copy_outputs_to_cpu()[0]               # get_outputs(): OrtValues

The simulator computes on the host (NumPy) or on the GPU (CuPy) and binds buffers by copying: a bound output
buffer (pointer or OrtValue) receives the result after the run. OrtValues it returns are CPU tensors.
"""
from __future__ import annotations

import ctypes

import numpy as np
import onnx

from .errors import ArgumentTypeError, DeviceError, ParameterError
from .session_io import is_ort_value


def _ort():
    try:
        import onnxruntime  # noqa: PLC0415
    except ImportError as exc:
        raise ParameterError(f"OrtValues need ONNX Runtime installed (pip install onnxruntime): {exc}") from None
    return onnxruntime


def _dtype(element_type) -> np.dtype:
    if isinstance(element_type, (int, np.integer)) and not isinstance(element_type, bool):
        return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(int(element_type)))
    return np.dtype(element_type)


def ort_values_in(feed) -> dict:
    """{name: OrtValue} as {name: array}: run_with_ort_values' feed."""
    if not hasattr(feed, "items"):
        raise ArgumentTypeError(f"input_dict_ort_values must be a dict of name -> OrtValue, got {type(feed).__name__}")
    out = {}
    for name, value in feed.items():
        if not is_ort_value(value):
            raise ArgumentTypeError(f"run_with_ort_values: input {name!r} is a {type(value).__name__}, not an "
                                    f"onnxruntime.OrtValue (OrtValue.ortvalue_from_numpy(array)); run() takes arrays")
        out[name] = value.numpy() if value.has_value() else None
    return out


def ort_values_out(results: list) -> list:
    ort = _ort()
    out = []
    for i, r in enumerate(results):
        if not isinstance(r, np.ndarray):
            raise ParameterError(f"output {i} is a {'sequence' if isinstance(r, list) else 'empty optional'}; "
                                 f"OrtValues of this simulator hold tensors only: use run()")
        out.append(ort.OrtValue.ortvalue_from_numpy(r))
    return out


def new_ort_value(shape, element_type, device_type="cpu", device_id=0):
    """An OrtValue of `shape` and `element_type` on the host (the simulator's OrtValues live there)."""
    if str(device_type).lower() != "cpu":
        raise DeviceError(f"the simulator's OrtValues are CPU tensors; got device_type {device_type!r}")
    return _ort().OrtValue.ortvalue_from_numpy(np.zeros([int(d) for d in shape], _dtype(element_type)))


def _from_pointer(device_type, element_type, shape, buffer_ptr):
    """The array at `buffer_ptr` (host memory, or device memory with CuPy), viewed, not copied."""
    dtype, shape = _dtype(element_type), tuple(int(d) for d in shape)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    kind = str(device_type).lower()
    if kind == "cpu":
        return np.frombuffer((ctypes.c_char * nbytes).from_address(int(buffer_ptr)), dtype).reshape(shape)
    if kind == "cuda":
        try:
            import cupy  # noqa: PLC0415
        except ImportError as exc:
            raise DeviceError(f"binding a CUDA pointer needs CuPy (the cuda extra): {exc}") from None
        mem = cupy.cuda.UnownedMemory(int(buffer_ptr), nbytes, None)
        return cupy.ndarray(shape, dtype, cupy.cuda.MemoryPointer(mem, 0))
    raise DeviceError(f"device_type {device_type!r}: the simulator binds 'cpu' or 'cuda' buffers")


class IOBinding:
    """onnxruntime.IOBinding's methods over a simulator session."""

    def __init__(self, session):
        self._session = session
        self.clear_binding_inputs()
        self.clear_binding_outputs()

    def bind_cpu_input(self, name, arr_on_cpu):
        self._inputs[name] = arr_on_cpu

    def bind_input(self, name, device_type, device_id, element_type, shape, buffer_ptr):
        self._inputs[name] = _from_pointer(device_type, element_type, shape, buffer_ptr)

    def bind_ortvalue_input(self, name, ortvalue):
        if not is_ort_value(ortvalue):
            raise ArgumentTypeError(f"bind_ortvalue_input: {name!r} is a {type(ortvalue).__name__}, not an OrtValue")
        self._inputs[name] = ortvalue.numpy()

    def bind_output(self, name, device_type="cpu", device_id=0, element_type=None, shape=None, buffer_ptr=None):
        if buffer_ptr is not None and (element_type is None or shape is None):
            raise ParameterError("`element_type` and `shape` are to be provided if pre-allocated memory is provided")
        target = None if buffer_ptr is None else _from_pointer(device_type, element_type, shape, buffer_ptr)
        self._outputs[name] = target

    def bind_ortvalue_output(self, name, ortvalue):
        if not is_ort_value(ortvalue):
            raise ArgumentTypeError(f"bind_ortvalue_output: {name!r} is a {type(ortvalue).__name__}, not an OrtValue")
        self._outputs[name] = ortvalue

    def synchronize_inputs(self):
        """Nothing to wait for: bound inputs are read when the run starts."""

    def synchronize_outputs(self):
        """Nothing to wait for: outputs are complete when run_with_iobinding returns."""

    def clear_binding_inputs(self):
        self._inputs: dict = {}

    def clear_binding_outputs(self):
        self._outputs: dict = {}
        self._results: list = []

    def _run(self, run_options) -> None:
        names = list(self._outputs)
        results = self._session.run(names, self._inputs, run_options) if names else []
        for name, result in zip(names, results):
            target = self._outputs[name]
            if target is None:
                continue
            if is_ort_value(target):
                if list(target.shape()) != list(result.shape):
                    raise ParameterError(f"output {name!r} has shape {list(result.shape)}; the bound OrtValue has "
                                         f"{target.shape()}")
                target.update_inplace(result)
            else:
                if tuple(target.shape) != result.shape or target.dtype != result.dtype:
                    raise ParameterError(f"output {name!r} is {result.dtype}{list(result.shape)}; the bound buffer "
                                         f"is {target.dtype}{list(target.shape)}")
                target[...] = result if isinstance(target, np.ndarray) else _to_device_like(target, result)
        self._results = results

    def copy_outputs_to_cpu(self) -> list:
        """The outputs of the last run, as NumPy arrays."""
        return [np.array(r, copy=True) for r in self._results]

    def get_outputs(self) -> list:
        """The outputs of the last run, as OrtValues (the bound OrtValue itself where one was bound)."""
        fresh = ort_values_out(self._results)
        return [t if is_ort_value(t) else f for t, f in zip(self._outputs.values(), fresh)]


def _to_device_like(target, result):
    import cupy  # noqa: PLC0415 - a CUDA-bound buffer implies CuPy

    return cupy.asarray(result)


__all__ = ["IOBinding", "new_ort_value", "ort_values_in", "ort_values_out"]
