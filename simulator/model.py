"""Loading an ONNX model: the file, its external data (kept inside the model's folder), its opsets."""
from __future__ import annotations

import mmap
import os

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import external_data_helper, numpy_helper

from .attributes import tensor_array
from .errors import ModelError
from . import safe_io
from .paths import checked_path


def check_file(path, what: str, error=ModelError) -> str:
    return checked_path(path, what, error, expected="the model file itself (e.g. model.onnx)")


def load_model(path, external_data: bool | str = True) -> onnx.ModelProto:
    """Read `path` with its external data (unless told not to), refusing data files outside the model's folder.
    external_data="map": the external data is checked but left in its files, for initializer_array to map."""
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
                load_external_tensor(tensor, base, f"model {path!r}", "the model's folder", ModelError,
                                     load=external_data != "map")
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


def load_external_tensor(tensor: onnx.TensorProto, base: str, where: str, folder_name: str, error=ModelError,
                         load: bool = True) -> None:
    """Load `tensor`'s external data from `base` (the folder of the file that holds the tensor), after checking
    that it is a regular file inside `base` and long enough; onnx's own location checks then read it. With
    load=False the same checks run and the data stays in its file (initializer_array maps it)."""
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
        if load:
            external_data_helper.load_external_data_for_tensor(tensor, base)
        else:  # onnx's own location checks, without reading the data
            os.close(external_data_helper._open_external_data_fd(base, location, tensor.name, True))
    except Exception as exc:  # onnx.checker.ValidationError ('..' components, symlinks), OSError
        raise error(f"{where}: external data {location!r} of tensor {tensor.name!r} is refused by onnx's "
                    f"external-data checks: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None


# Element types whose bytes NumPy reads as they are (others are loaded through numpy_helper).
_MAPPABLE = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE, onnx.TensorProto.INT8,
             onnx.TensorProto.UINT8, onnx.TensorProto.INT16, onnx.TensorProto.UINT16, onnx.TensorProto.INT32,
             onnx.TensorProto.UINT32, onnx.TensorProto.INT64, onnx.TensorProto.UINT64, onnx.TensorProto.BOOL}


def initializer_array(tensor: onnx.TensorProto, model_path: str | None) -> np.ndarray:
    """An initializer as an array; one whose data load_model(..., external_data="map") left in its file is
    memory-mapped copy-on-write (an ordinary writable array whose pages are read on demand and can be
    released, see release_pages). External data is read only from the folder of `model_path`, after the same
    checks load_model makes; without a model file it must have been loaded (tensor_array refuses it)."""
    if not external_data_helper.uses_external_data(tensor) or not model_path or not os.path.isfile(model_path):
        return tensor_array(tensor)
    base = os.path.dirname(os.path.abspath(model_path))
    load_external_tensor(tensor, base, f"model {model_path!r}", "the model's folder", ModelError, load=False)
    if tensor.data_type not in _MAPPABLE:
        return numpy_helper.to_array(tensor, base)
    info = external_data_helper.ExternalDataInfo(tensor)
    dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type)).newbyteorder("<")
    shape = tuple(int(d) for d in tensor.dims)
    count = int(np.prod(shape, dtype=np.int64))
    if count == 0:
        return np.zeros(shape, dtype)
    offset, nbytes = info.offset or 0, count * dtype.itemsize
    if info.length is not None and info.length != nbytes:
        raise ValueError(f"its external data length is {info.length} bytes; its shape {list(shape)} and type need "
                         f"{nbytes}")
    start = offset - offset % mmap.ALLOCATIONGRANULARITY
    target = os.path.join(os.path.dirname(os.path.abspath(model_path)), info.location)
    with open(target, "rb") as f:
        if os.fstat(f.fileno()).st_size < offset + nbytes:
            raise ValueError(f"external data file {info.location!r} holds fewer than the {offset + nbytes} bytes it needs")
        try:
            mapped = mmap.mmap(f.fileno(), offset - start + nbytes, access=mmap.ACCESS_COPY, offset=start)
        except (OSError, ValueError):  # a file system without mmap: read it
            return numpy_helper.to_array(tensor, os.path.dirname(os.path.abspath(model_path)))
    return np.frombuffer(mapped, dtype=dtype, count=count, offset=offset - start).reshape(shape)


def release_pages(array) -> None:
    """Drop the resident pages of a memory-mapped array (re-read from its file if touched again); a no-op for
    other arrays."""
    base = array
    while base is not None and not isinstance(base, mmap.mmap):
        base = base.obj if isinstance(base, memoryview) else getattr(base, "base", None)
    if isinstance(base, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
        base.madvise(mmap.MADV_DONTNEED)


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
