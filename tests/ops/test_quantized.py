"""QuantizeLinear / DequantizeLinear (per tensor, per axis, blocked, int4, float8), DynamicQuantizeLinear and the
integer / QLinear ops against ONNX Runtime."""
import ml_dtypes
import numpy as np
import pytest
from onnx import TensorProto

from tests.ops.harness import run_kernel, run_ort

rng = np.random.default_rng(0)


def _a(v, dtype=np.float32):
    return np.array(v, dtype=dtype)


@pytest.mark.parametrize("zp", [_a(128, np.uint8), _a(-3, np.int8), _a(300, np.uint16), _a(-7, np.int16)])
def test_quantize_dequantize_per_tensor(zp):
    x = (rng.standard_normal((3, 4, 5)) * 50).astype(np.float32)
    x.flat[:4] = [0.25, 0.75, -0.25, -2.5]  # ties round to even
    s = _a(0.5)
    for opset in (13, 19, 21, 25) if zp.dtype.itemsize == 1 else (21, 25):
        q = run_kernel("QuantizeLinear", [x, s, zp], opset=opset)[0]
        assert q.dtype == zp.dtype
        np.testing.assert_array_equal(q, run_ort("QuantizeLinear", [x, s, zp], opset=opset)[0])
        d = run_kernel("DequantizeLinear", [q, s, zp], opset=opset)[0]
        np.testing.assert_array_equal(d, run_ort("DequantizeLinear", [q, s, zp], opset=opset)[0])


def test_per_axis_and_blocked():
    x = rng.standard_normal((4, 6)).astype(np.float32) * 10
    s = np.array([0.1, 0.2, 0.3, 0.4], np.float32)
    zp = np.array([0, 1, 2, 3], np.int8)
    q = run_kernel("QuantizeLinear", [x, s, zp], axis=0, opset=21)[0]
    np.testing.assert_array_equal(q, run_ort("QuantizeLinear", [x, s, zp], axis=0, opset=21)[0])
    sb = np.abs(rng.standard_normal((4, 3))).astype(np.float32) + 0.1
    zb = np.zeros((4, 3), np.int8)
    q = run_kernel("QuantizeLinear", [x, sb, zb], axis=1, block_size=2, opset=21)[0]
    np.testing.assert_array_equal(q, run_ort("QuantizeLinear", [x, sb, zb], axis=1, block_size=2, opset=21)[0])
    d = run_kernel("DequantizeLinear", [q, sb, zb], axis=1, block_size=2, opset=21)[0]
    np.testing.assert_array_equal(d, run_ort("DequantizeLinear", [q, sb, zb], axis=1, block_size=2, opset=21)[0])


def test_int4_and_float8_saturate():
    x = np.array([-20, -8.6, -0.5, 0.5, 1.5, 7.4, 30], np.float32)
    q = run_kernel("QuantizeLinear", [x, _a(1), np.zeros((), ml_dtypes.int4)], opset=21)[0]
    assert q.dtype == ml_dtypes.int4
    assert q.astype(np.int8).tolist() == [-8, -8, 0, 0, 2, 7, 7]
    big = np.array([1000, -1000, np.inf, np.nan], np.float32)
    zp8 = np.zeros((), ml_dtypes.float8_e4m3fn)
    q = run_kernel("QuantizeLinear", [big, _a(1), zp8], opset=19)[0]
    assert q.astype(np.float32)[:3].tolist() == [448, -448, 448] and np.isnan(q.astype(np.float32)[3])
    q = run_kernel("QuantizeLinear", [big, _a(1), zp8], saturate=0, opset=19)[0]
    assert np.isnan(q.astype(np.float32)).all()


def test_output_dtype_without_zero_point():
    x = np.array([1.0, -3.0], np.float32)
    q = run_kernel("QuantizeLinear", [x, _a(1)], output_dtype=TensorProto.INT8, opset=21)[0]
    assert q.dtype == np.int8 and q.tolist() == [1, -3]


def test_dynamic_quantize_linear():
    x = rng.standard_normal((3, 7)).astype(np.float32)
    for a, b in zip(run_kernel("DynamicQuantizeLinear", [x], 3, opset=11), run_ort("DynamicQuantizeLinear", [x], 3,
                                                                                    opset=11)):
        np.testing.assert_array_equal(a, b)


def test_integer_and_qlinear_ops():
    a = rng.integers(0, 255, (2, 3, 4), dtype=np.uint8)
    b = rng.integers(0, 255, (4, 5), dtype=np.uint8)
    za, zb = _a(12, np.uint8), _a(130, np.uint8)
    np.testing.assert_array_equal(run_kernel("MatMulInteger", [a, b, za, zb], opset=10)[0],
                                  run_ort("MatMulInteger", [a, b, za, zb], opset=10)[0])
    args = [a, _a(0.02), za, b, _a(0.01), zb, _a(0.05), _a(100, np.uint8)]
    np.testing.assert_array_equal(run_kernel("QLinearMatMul", args, opset=21)[0],
                                  run_ort("QLinearMatMul", args, opset=21)[0])
    x = rng.integers(0, 255, (1, 2, 6, 6), dtype=np.uint8)
    w = rng.integers(0, 255, (3, 2, 3, 3), dtype=np.uint8)
    np.testing.assert_array_equal(run_kernel("ConvInteger", [x, w, za, zb], pads=[1, 1, 1, 1], opset=10)[0],
                                  run_ort("ConvInteger", [x, w, za, zb], pads=[1, 1, 1, 1], opset=10)[0])
    w8 = rng.integers(-127, 127, (3, 2, 3, 3), dtype=np.int8)
    bias = rng.integers(-500, 500, 3, dtype=np.int32)
    args = [x, _a(0.02), za, w8, np.array([0.01, 0.02, 0.03], np.float32), np.zeros(3, np.int8),
            _a(0.07), _a(90, np.uint8), bias]
    np.testing.assert_array_equal(run_kernel("QLinearConv", args, strides=[2, 2], opset=10)[0],
                                  run_ort("QLinearConv", args, strides=[2, 2], opset=10)[0])
