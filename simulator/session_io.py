"""Feeds and results as onnxruntime.InferenceSession takes and returns them.

Feeds: NumPy arrays, Python lists (converted to the input's element type), OrtValues; a sequence input as a
list of arrays; an optional input as None, its value, or omitted. Refused as ONNX Runtime refuses them (the
same wrong type, rank and dimension checks) with the project's exceptions that are also ONNX Runtime's
built-in classes (simulator.errors). Results: C-contiguous NumPy arrays that share memory with nothing the
caller or the session holds, sequences as lists, empty optionals as None.
"""
from __future__ import annotations

import numpy as np
import onnx

from .backend import to_host
from .encodings import describe_names
from .errors import ArgumentTypeError, InvalidFeedError, MissingInputError
from .session_meta import type_string


def is_ort_value(value) -> bool:
    """An onnxruntime.OrtValue (checked by name: ONNX Runtime is optional)."""
    return type(value).__name__ == "OrtValue" and type(value).__module__.startswith("onnxruntime")


def _is_device_array(value) -> bool:
    return hasattr(value, "__cuda_array_interface__") and hasattr(value, "dtype")


def _np_dtype(elem_type: int):
    return np.dtype(object) if elem_type == onnx.TensorProto.STRING else onnx.helper.tensor_dtype_to_np_dtype(elem_type)


def _elem_type(dtype) -> int:
    if dtype == object or dtype.kind in "US":
        return onnx.TensorProto.STRING
    try:
        return onnx.helper.np_dtype_to_tensor_dtype(dtype)
    except (KeyError, TypeError, ValueError):
        return 0


class FeedSpec:
    """An input's declared type, read once from its TypeProto: what convert() checks a feed value against."""

    def __init__(self, tp: onnx.TypeProto):
        self.kind = tp.WhichOneof("value")
        self.type_str = type_string(tp)
        self.inner = None  # the optional's or sequence's element type
        self.dtype = self.dims = None
        self.shape = None  # a tensor's shape when every dimension is fixed: a feed of it and its dtype is fine
        self.is_string = False
        if self.kind == "optional_type":
            self.inner = FeedSpec(tp.optional_type.elem_type)
        elif self.kind == "sequence_type":
            self.inner = FeedSpec(tp.sequence_type.elem_type)
        elif self.kind == "tensor_type":
            tt = tp.tensor_type
            self.is_string = tt.elem_type == onnx.TensorProto.STRING
            self.dtype = _np_dtype(tt.elem_type) if tt.elem_type else None
            if tt.HasField("shape"):
                self.dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
                if None not in self.dims and self.dtype is not None:
                    self.shape = tuple(self.dims)

    @property
    def holds_sequence(self) -> bool:
        """Whether a feed of this input is a list of tensors (a sequence, or an optional one)."""
        return self.kind == "sequence_type" or (self.inner is not None and self.inner.holds_sequence)

    def convert(self, name: str, value):
        """`value` as the interpreter takes it (array, list of arrays, None), checked as ONNX Runtime checks it."""
        if type(value) is np.ndarray and value.shape == self.shape and value.dtype == self.dtype:
            return value  # already what the input declares (the checks below would pass it unchanged)
        if self.kind == "optional_type":
            return None if value is None else self.inner.convert(name, value)
        if self.kind == "tensor_type":
            return self._tensor(name, value)
        if self.kind == "sequence_type":
            if not isinstance(value, list):
                raise InvalidFeedError(f"input {name!r} is a sequence ({self.type_str}): feed a Python list of "
                                       f"arrays, got {type(value).__name__}")
            out = []
            for i, v in enumerate(value):
                if is_ort_value(v):
                    v = v.numpy()
                if not isinstance(v, np.ndarray) and not _is_device_array(v):
                    raise InvalidFeedError(f"input {name!r}: element {i} of the sequence is a {type(v).__name__}, "
                                           f"not a tensor (numpy array)")
                out.append(self.inner.convert(f"{name}[{i}]", v) if self.inner.kind == "tensor_type" else v)
            return out
        raise InvalidFeedError(f"input {name!r} has type {self.type_str}, which the simulator cannot take as a feed")

    def _tensor(self, name: str, value):
        if is_ort_value(value):
            value = value.numpy()
        if isinstance(value, list):
            try:
                value = np.array(value, dtype=self.dtype)
            except (ValueError, TypeError) as exc:
                raise InvalidFeedError(f"input {name!r} cannot be read as an array: could not create a tensor from "
                                       f"the given list ({exc})") from None
        elif not isinstance(value, np.ndarray) and not _is_device_array(value):
            raise InvalidFeedError(f"input {name!r}: unable to handle an object of type {type(value).__name__}; feed "
                                   f"a numpy array ({self.type_str}), e.g. np.asarray(value, dtype=...)")
        if self.is_string and value.dtype.kind in "US":
            value = value.astype(object)
        expected = self.dtype
        if expected is not None and value.dtype != expected:
            actual = type_string(onnx.helper.make_tensor_type_proto(_elem_type(value.dtype), None))
            raise InvalidFeedError(f"input {name!r} has dtype {value.dtype} ({actual}), the model expects "
                                   f"{expected} ({self.type_str}); convert it (e.g. .astype(np.{expected.name}))")
        dims = self.dims
        if dims is not None:
            if len(dims) != value.ndim:
                raise InvalidFeedError(f"input {name!r}: invalid rank. Got: {value.ndim} (shape "
                                       f"{tuple(value.shape)}), expected: {len(dims)}")
            for d, size in zip(dims, value.shape):  # a loop: this runs on every feed of every run
                if d is not None and d != size:
                    detail = "; ".join(f"index {i}: got {s}, expected {d}" for i, (d, s) in
                                       enumerate(zip(dims, value.shape)) if d is not None and d != s)
                    raise InvalidFeedError(f"input {name!r}: invalid dimensions (shape {tuple(value.shape)}): "
                                           f"{detail}")
        return value


def check_feed_names(input_feed, inputs: dict, overridable: dict) -> None:
    """ONNX Runtime's order of refusals: not a mapping, missing required inputs, unknown names ({name: FeedSpec})."""
    if type(input_feed) is dict and input_feed.keys() == inputs.keys():
        return  # every input and nothing else: nothing to refuse
    if not hasattr(input_feed, "keys") or not hasattr(input_feed, "items"):
        raise ArgumentTypeError(f"input_feed must be a dict of input name -> value, got {type(input_feed).__name__}")
    missing = [n for n, spec in inputs.items() if n not in input_feed and spec.kind != "optional_type"]
    if missing:
        raise MissingInputError(f"missing input(s) {describe_names(missing)}: required inputs ({missing}) are missing "
                                f"from input feed ({list(input_feed)})")
    unknown = [n for n in input_feed if n not in inputs and n not in overridable]
    if unknown:
        raise InvalidFeedError(f"unknown input name(s) {describe_names(unknown)}; model inputs: "
                               f"{describe_names(inputs)}")


def host_result(value, constants: set, feeds: set, returned: set):
    """A result as ONNX Runtime returns it: a fresh C-contiguous NumPy array (copied when it is a view, a constant
    or feed of the session, or already returned), a list for a sequence, None for an empty optional. `constants`,
    `feeds`: the ids of the session's constants and of the run's feeds."""
    if type(value) is np.ndarray:  # the common case, decided without the conversions below
        flags = value.flags
        if (not flags.c_contiguous or not flags.owndata or id(value) in constants or id(value) in feeds
                or id(value) in returned):
            value = np.array(value, order="C", copy=True)
        returned.add(id(value))
        return value
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return [host_result(v, constants, feeds, returned) for v in value]
    host = to_host(value)
    arr = np.asarray(host)
    if (not arr.flags.c_contiguous or not arr.flags.owndata or arr is not host or id(value) in constants or id(value) in feeds
            or id(arr) in returned):
        arr = np.array(arr, order="C", copy=True)
    returned.add(id(arr))
    return arr


__all__ = ["FeedSpec", "check_feed_names", "host_result", "is_ort_value"]
