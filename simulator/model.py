"""Loading an ONNX model: the file, its external data (kept inside the model's folder), its opsets."""
from __future__ import annotations

import os

import onnx
from google.protobuf.message import DecodeError
from onnx import external_data_helper

from .errors import ModelError
from .paths import checked_path


def check_file(path, what: str, error=ModelError) -> str:
    return checked_path(path, what, error, expected="the model file itself (e.g. model.onnx)")


def load_model(path, external_data: bool = True) -> onnx.ModelProto:
    """Read `path` with its external data (unless told not to), refusing data files outside the model's folder."""
    path = check_file(path, "model file")
    try:
        model = onnx.load(path, load_external_data=False)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise ModelError(f"model file {path!r} is not a valid ONNX model: {exc}") from None
    except OSError as exc:
        raise ModelError(f"cannot read model file {path!r}: {exc.strerror}") from None
    if not model.HasField("graph") or not model.graph.node and not model.graph.output:
        raise ModelError(f"model file {path!r} holds no graph (not an ONNX model, or truncated)")
    if external_data:
        _load_external_data(model, path)
    return model


def _load_external_data(model: onnx.ModelProto, path: str) -> None:
    base = os.path.dirname(os.path.abspath(path))
    real_base = os.path.realpath(base)
    tensors = [t for t in external_data_helper._get_all_tensors(model) if external_data_helper.uses_external_data(t)]
    for tensor in tensors:
        try:
            info = external_data_helper.ExternalDataInfo(tensor)
            location = info.location
            target = os.path.realpath(os.path.join(base, location))
        except (ValueError, TypeError) as exc:  # a non-numeric offset/length, a NUL byte in the location
            raise ModelError(f"model {path!r}: tensor {tensor.name!r} has malformed external data information "
                             f"({_external_fields(tensor)}): {exc}") from None
        if os.path.isabs(location) or os.path.commonpath([real_base, target]) != real_base:
            raise ModelError(f"model {path!r}: tensor {tensor.name!r} points to external data {location!r} "
                             f"outside the model's folder {base!r}; refused")
        if not os.path.isfile(target):
            raise ModelError(f"model {path!r}: external data file {location!r} of tensor {tensor.name!r} is missing "
                             f"(looked for {target!r})")
        size = os.path.getsize(target)
        offset = info.offset or 0
        length = info.length if info.length is not None else _nbytes(tensor)
        if offset < 0 or (length or 0) < 0 or offset + (length or 0) > size:
            raise ModelError(f"model {path!r}: external data file {location!r} is too short for tensor "
                             f"{tensor.name!r} (needs {offset + (length or 0)} bytes from offset {offset}, has {size})")
    if tensors:
        try:
            external_data_helper.load_external_data_for_model(model, base)
        except (OSError, ValueError) as exc:
            raise ModelError(f"model {path!r}: cannot load external data: {exc}") from None


def _external_fields(tensor) -> str:
    return ", ".join(f"{e.key}={e.value!r}" for e in tensor.external_data)


def _nbytes(tensor) -> int | None:
    """The bytes a tensor's dims and element type need (None when the type has no fixed size)."""
    try:
        itemsize = onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize
    except (KeyError, TypeError, ValueError):
        return None
    name = onnx.TensorProto.DataType.Name(tensor.data_type)
    if name == "STRING" or name in _PACKED or itemsize == 0:
        return None  # variable size, or several elements per byte: not checked here
    count = 1
    for d in tensor.dims:
        count *= int(d)
    return count * itemsize


_PACKED = {"INT4", "UINT4", "FLOAT4E2M1", "INT2", "UINT2"}


MAX_OPSET = 1 << 20  # far beyond any real opset; larger values cannot be passed to onnx's schema lookup


def opset_versions(model: onnx.ModelProto) -> dict[str, int]:
    """domain -> opset version, with "" for the default ONNX domain."""
    out = {}
    for imp in model.opset_import:
        domain = "" if imp.domain in ("", "ai.onnx") else imp.domain
        if not 1 <= int(imp.version) <= MAX_OPSET:
            raise ModelError(f"the model imports opset {int(imp.version)} of domain {domain or 'ai.onnx'!r}; "
                             f"expected a version from 1 to {MAX_OPSET}")
        out[domain] = int(imp.version)
    return out
