"""Kernel tests of ops/cast.py: Cast, CastLike, BitCast, against ONNX Runtime (onnx.reference where ONNX Runtime lacks the op)."""
import numpy as np
import pytest

from tests.ops.harness import assert_same as _same
from tests.ops.harness import run_kernel, run_reference

rng = np.random.default_rng(0)
X = rng.standard_normal((3, 4, 5)).astype(np.float32)
I = rng.integers(-9, 9, size=(3, 4, 5)).astype(np.int64)
B = I > 0


@pytest.mark.parametrize("to", [np.float32, np.float16, np.float64, np.int8, np.uint8, np.int32, np.int64, np.bool_])
def test_cast(to):
    from onnx import helper
    t = helper.np_dtype_to_tensor_dtype(np.dtype(to))
    src = [(X * 50).astype(np.float32), I, B, I.astype(np.int32)]
    for x in src:
        if to in (np.uint8,) and x.dtype.kind in "fi":
            x = np.abs(x)
        if to is np.int8 and x.dtype.kind == "f":
            x = np.clip(x, -120, 120)
        _same("Cast", [x], opset=13, to=t)
        _same("Cast", [x], opset=19, to=t)
        _same("CastLike", [x, np.zeros(1, to)], opset=15)


def test_cast_float8_saturate():
    from onnx import TensorProto
    x = np.array([0.0, -0.0, 1.3, 500.0, -1e6, np.inf, -np.inf, np.nan, 0.017], np.float32)
    for to in [TensorProto.FLOAT8E4M3FN, TensorProto.FLOAT8E5M2]:
        for sat in (0, 1):
            a = run_kernel("Cast", [x], opset=19, to=to, saturate=sat)[0].astype(np.float32)
            b = run_reference("Cast", [x], opset=19, to=to, saturate=sat)[0].astype(np.float32)
            assert np.array_equal(a, b, equal_nan=True), (to, sat, a, b)


def test_bitcast():
    from onnx import TensorProto
    _same("BitCast", [X], opset=26, ref=run_reference, to=TensorProto.INT32)
    _same("BitCast", [I], opset=26, ref=run_reference, to=TensorProto.DOUBLE)
    _same("BitCast", [I.astype(np.int8)], opset=26, ref=run_reference, to=TensorProto.UINT8)
