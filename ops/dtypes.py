"""ONNX element types <-> array dtypes, for kernels such as Cast that name a type by its ONNX number."""
from __future__ import annotations

import onnx
from onnx import helper


def dtype_of(onnx_type: int):
    """The NumPy-compatible dtype (also accepted by CuPy) of an ONNX TensorProto element type."""
    return helper.tensor_dtype_to_np_dtype(onnx_type)


def onnx_type_of(dtype) -> int:
    """The ONNX TensorProto element type of a NumPy-compatible dtype (ml_dtypes' included)."""
    return helper.np_dtype_to_tensor_dtype(dtype)


FLOAT = onnx.TensorProto.FLOAT
