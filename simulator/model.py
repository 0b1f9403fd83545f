"""Loading an ONNX model: the file, its external data (kept inside the model's folder), its opsets."""
from __future__ import annotations

import os

import onnx
from google.protobuf.message import DecodeError
from onnx import external_data_helper

from .errors import ModelError
from . import safe_io
from .paths import checked_path


def check_file(path, what: str, error=ModelError) -> str:
    return checked_path(path, what, error, expected="the model file itself (e.g. model.onnx)")


def load_model(path, external_data: bool = True) -> onnx.ModelProto:
    """Read `path` with its external data (unless told not to), refusing data files outside the model's folder."""
    path = check_file(path, "model file")
    data = safe_io.read_bytes(path, "model file", ModelError)  # a FIFO or a device is refused, never read
    try:
        model = onnx.load_model_from_string(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise ModelError(f"model file {path!r} is not a valid ONNX model: {exc}") from None
    del data
    if not model.HasField("graph") or not model.graph.node and not model.graph.output:
        raise ModelError(f"model file {path!r} holds no graph (not an ONNX model, or truncated)")
    if external_data:
        base = os.path.dirname(os.path.abspath(path))
        for tensor in _all_tensors(model.graph):
            if external_data_helper.uses_external_data(tensor):
                load_external_tensor(tensor, base, f"model {path!r}", "the model's folder", ModelError)
    return model


def _all_tensors(graph: onnx.GraphProto):
    """Every TensorProto of a graph and its sub-graphs (initializers, sparse initializers, attribute
    tensors), walked with a stack: a file cannot make this recurse."""
    stack = [graph]
    while stack:
        g = stack.pop()
        yield from g.initializer
        for sp in g.sparse_initializer:
            yield sp.values
            yield sp.indices
        for node in g.node:
            for a in node.attribute:
                if a.HasField("t"):
                    yield a.t
                yield from a.tensors
                if a.HasField("sparse_tensor"):
                    yield a.sparse_tensor.values
                    yield a.sparse_tensor.indices
                for sp in a.sparse_tensors:
                    yield sp.values
                    yield sp.indices
                if a.HasField("g"):
                    stack.append(a.g)
                stack.extend(a.graphs)


def tensor_names(graph: onnx.GraphProto) -> set[str]:
    """Every tensor name of a graph and of its nested sub-graphs (walked with a stack)."""
    names: set[str] = set()
    stack = [graph]
    while stack:
        g = stack.pop()
        names.update(i.name for i in g.input)
        names.update(t.name for t in g.initializer)
        names.update(sp.values.name for sp in g.sparse_initializer)
        for node in g.node:
            names.update(o for o in node.output if o)
            for a in node.attribute:
                if a.HasField("g"):
                    stack.append(a.g)
                stack.extend(a.graphs)
    return names


def consumers_through_identity(name: str, readers) -> list[tuple[str, int, dict]]:
    """(op_type, input index, attributes) of the nodes reading `name`, seen through Identity nodes; behind a
    Transpose, MatMul's input 1 is reported as "Transpose->MatMul" (the rule of channel_axis_for_param).

    readers(tensor) -> [(op_type, input index, attributes, first output)]. Walked with a stack of iterators
    (depth first, in reader order): a chain of thousands of Identity nodes cannot exhaust Python's stack."""
    out = []
    stack = [(iter(readers(name)), False)]
    while stack:
        it, transposed = stack[-1]
        item = next(it, None)
        if item is None:
            stack.pop()
            continue
        op_type, idx, attrs, output = item
        if op_type in ("Identity", "Transpose"):
            stack.append((iter(readers(output)), transposed or op_type == "Transpose"))
        elif transposed and op_type == "MatMul" and idx == 1:
            out.append(("Transpose->MatMul", 1, attrs))
        else:
            out.append((op_type, idx, attrs))
    return out


def load_external_tensor(tensor: onnx.TensorProto, base: str, where: str, folder_name: str, error=ModelError) -> None:
    """Load `tensor`'s external data from `base` (the folder of the file that holds the tensor), after checking
    that it is a regular file inside `base` and long enough; onnx's own location checks then read it."""
    real_base = os.path.realpath(base)
    try:
        info = external_data_helper.ExternalDataInfo(tensor)
        location = info.location
        target = os.path.realpath(os.path.join(base, location))
    except (ValueError, TypeError) as exc:  # a non-numeric offset/length, a NUL byte in the location
        raise error(f"{where}: tensor {tensor.name!r} has malformed external data information "
                    f"({_external_fields(tensor)}): {exc}") from None
    if not location or os.path.isabs(location) or os.path.commonpath([real_base, target]) != real_base:
        raise error(f"{where}: tensor {tensor.name!r} points to external data {location!r} outside {folder_name} "
                    f"{base!r}; refused")
    if not os.path.lexists(target):
        raise error(f"{where}: external data file {location!r} of tensor {tensor.name!r} is missing "
                    f"(looked for {target!r})")
    size = safe_io.check_regular(target, f"external data file of tensor {tensor.name!r}", error).st_size
    offset = info.offset or 0
    length = info.length if info.length is not None else _nbytes(tensor)
    if offset < 0 or (length or 0) < 0 or offset + (length or 0) > size:
        raise error(f"{where}: external data file {location!r} is too short for tensor "
                    f"{tensor.name!r} (needs {offset + (length or 0)} bytes from offset {offset}, has {size})")
    try:
        external_data_helper.load_external_data_for_tensor(tensor, base)
    except Exception as exc:  # onnx.checker.ValidationError ('..' components, symlinks), OSError
        raise error(f"{where}: external data {location!r} of tensor {tensor.name!r} is refused by onnx's "
                    f"external-data checks: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None


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
