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


def _tensor(name: str, tt, value, type_str: str):
    if is_ort_value(value):
        value = value.numpy()
    if isinstance(value, list):
        try:
            value = np.array(value, dtype=_np_dtype(tt.elem_type) if tt.elem_type else None)
        except (ValueError, TypeError) as exc:
            raise InvalidFeedError(f"input {name!r} cannot be read as an array: could not create a tensor from "
                                   f"the given list ({exc})") from None
    elif not isinstance(value, np.ndarray) and not _is_device_array(value):
        raise InvalidFeedError(f"input {name!r}: unable to handle an object of type {type(value).__name__}; feed a "
                               f"numpy array ({type_str}), e.g. np.asarray(value, dtype=...)")
    if tt.elem_type == onnx.TensorProto.STRING and value.dtype.kind in "US":
        value = value.astype(object)
    if tt.elem_type:
        expected = _np_dtype(tt.elem_type)
        if value.dtype != expected:
            actual = type_string(onnx.helper.make_tensor_type_proto(_elem_type(value.dtype), None))
            raise InvalidFeedError(f"input {name!r} has dtype {value.dtype} ({actual}), the model expects "
                                   f"{expected} ({type_str}); convert it (e.g. .astype(np.{expected.name}))")
    if tt.HasField("shape"):
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
        if len(dims) != value.ndim:
            raise InvalidFeedError(f"input {name!r}: invalid rank. Got: {value.ndim} (shape {tuple(value.shape)}), "
                                   f"expected: {len(dims)}")
        bad = [(i, s, d) for i, (d, s) in enumerate(zip(dims, value.shape)) if d is not None and d != s]
        if bad:
            detail = "; ".join(f"index {i}: got {s}, expected {d}" for i, s, d in bad)
            raise InvalidFeedError(f"input {name!r}: invalid dimensions (shape {tuple(value.shape)}): {detail}")
    return value


def _elem_type(dtype) -> int:
    if dtype == object or dtype.kind in "US":
        return onnx.TensorProto.STRING
    try:
        return onnx.helper.np_dtype_to_tensor_dtype(dtype)
    except (KeyError, TypeError, ValueError):
        return 0


def convert_feed(name: str, tp: onnx.TypeProto, value):
    """One feed value as the interpreter takes it (array, list of arrays, None), checked as ONNX Runtime checks it."""
    kind = tp.WhichOneof("value")
    type_str = type_string(tp)
    if kind == "optional_type":
        return None if value is None else convert_feed(name, tp.optional_type.elem_type, value)
    if kind == "tensor_type":
        return _tensor(name, tp.tensor_type, value, type_str)
    if kind == "sequence_type":
        if not isinstance(value, list):
            raise InvalidFeedError(f"input {name!r} is a sequence ({type_str}): feed a Python list of arrays, got "
                                   f"{type(value).__name__}")
        elem = tp.sequence_type.elem_type
        out = []
        for i, v in enumerate(value):
            if is_ort_value(v):
                v = v.numpy()
            if not isinstance(v, np.ndarray) and not _is_device_array(v):
                raise InvalidFeedError(f"input {name!r}: element {i} of the sequence is a {type(v).__name__}, not a "
                                       f"tensor (numpy array)")
            out.append(_tensor(f"{name}[{i}]", elem.tensor_type, v, type_string(elem))
                       if elem.WhichOneof("value") == "tensor_type" else v)
        return out
    raise InvalidFeedError(f"input {name!r} has type {type_str}, which the simulator cannot take as a feed")


def check_feed_names(input_feed, inputs: dict, overridable: dict) -> None:
    """ONNX Runtime's order of refusals: not a mapping, missing required inputs, unknown names."""
    if not hasattr(input_feed, "keys") or not hasattr(input_feed, "items"):
        raise ArgumentTypeError(f"input_feed must be a dict of input name -> value, got {type(input_feed).__name__}")
    missing = [n for n, tp in inputs.items() if n not in input_feed and tp.WhichOneof("value") != "optional_type"]
    if missing:
        raise MissingInputError(f"missing input(s) {describe_names(missing)}: required inputs ({missing}) are missing "
                                f"from input feed ({list(input_feed)})")
    unknown = [n for n in input_feed if n not in inputs and n not in overridable]
    if unknown:
        raise InvalidFeedError(f"unknown input name(s) {describe_names(unknown)}; model inputs: "
                               f"{describe_names(inputs)}")


def host_result(value, held_ids: set, returned: set):
    """A result as ONNX Runtime returns it: a fresh C-contiguous NumPy array (copied when it is a view, a constant
    or feed of the session, or already returned), a list for a sequence, None for an empty optional."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return [host_result(v, held_ids, returned) for v in value]
    host = to_host(value)
    arr = np.asarray(host)
    if (not arr.flags.c_contiguous or not arr.flags.owndata or arr is not host or id(value) in held_ids
            or id(arr) in returned):
        arr = np.array(arr, order="C", copy=True)
    returned.add(id(arr))
    return arr


__all__ = ["check_feed_names", "convert_feed", "host_result", "is_ort_value"]
