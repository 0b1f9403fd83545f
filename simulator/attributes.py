"""ONNX node attributes as the Python values a kernel takes as keyword arguments."""
from __future__ import annotations

import onnx
from onnx import AttributeProto, numpy_helper

from .errors import ModelError


def attribute_value(attr: AttributeProto):
    """One attribute as a Python value: int, float, str, list, NumPy array, or GraphProto.

    Switches on the declared type, so that an empty INTS attribute is an empty list (not missing).
    """
    t = attr.type
    if t == AttributeProto.FLOAT:
        return float(attr.f)
    if t == AttributeProto.INT:
        return int(attr.i)
    if t == AttributeProto.STRING:
        return attr.s.decode("utf-8")
    if t == AttributeProto.TENSOR:
        return tensor_array(attr.t)
    if t == AttributeProto.GRAPH:
        return attr.g
    if t == AttributeProto.FLOATS:
        return [float(v) for v in attr.floats]
    if t == AttributeProto.INTS:
        return [int(v) for v in attr.ints]
    if t == AttributeProto.STRINGS:
        return [s.decode("utf-8") for s in attr.strings]
    if t == AttributeProto.TENSORS:
        return [tensor_array(x) for x in attr.tensors]
    if t == AttributeProto.GRAPHS:
        return list(attr.graphs)
    if t == AttributeProto.SPARSE_TENSOR:
        return sparse_to_dense(attr.sparse_tensor)
    if t == AttributeProto.TYPE_PROTO:
        return attr.tp
    raise ModelError(f"attribute {attr.name!r} has unsupported type {AttributeProto.AttributeType.Name(t)}")


def tensor_array(t: onnx.TensorProto):
    """A TensorProto as a NumPy array. External data must have been loaded (simulator.model.load_model does,
    from the model's folder): onnx would otherwise read it relative to the working directory."""
    if t.data_location == onnx.TensorProto.EXTERNAL or t.external_data:
        raise ModelError(f"tensor {t.name!r} keeps its data in an external file that was not loaded; load the "
                         f"model with simulator.model.load_model (which reads it from the model's folder)")
    if any(d < 0 for d in t.dims):
        raise ModelError(f"tensor {t.name!r} has dims {list(t.dims)}: a negative size")
    return numpy_helper.to_array(t)


def sparse_to_dense(sp: onnx.SparseTensorProto):
    """A SparseTensorProto as a dense NumPy array (indices flat, or one row of coordinates per value)."""
    import numpy as np  # noqa: PLC0415

    values = tensor_array(sp.values)
    indices = tensor_array(sp.indices)
    dense = np.zeros(tuple(sp.dims), dtype=values.dtype)
    if indices.ndim == 1:
        dense.reshape(-1)[indices] = values
    else:
        dense[tuple(indices.T)] = values
    return dense


def node_attributes(node: onnx.NodeProto) -> dict:
    """The attributes set on `node`, by name. Attributes referencing a function's attributes, or that cannot
    be read (bad UTF-8, a malformed tensor), are a ModelError naming the node and the attribute."""
    out = {}
    for attr in node.attribute:
        where = f"node {node.name!r} ({node.op_type}): attribute {attr.name!r}"
        if attr.ref_attr_name:
            raise ModelError(f"{where} refers to a function attribute")
        try:
            out[attr.name] = attribute_value(attr)
        except ModelError:
            raise
        except Exception as exc:
            raise ModelError(f"{where} cannot be read: {type(exc).__name__}: {exc}") from None
    return out
