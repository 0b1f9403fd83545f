"""Kernel tests of ops/creation.py: Constant, ConstantOfShape, Range, EyeLike, OneHot, against ONNX Runtime (onnx.reference where ONNX Runtime lacks the op)."""
import numpy as np

from tests.ops.harness import assert_same as _same

rng = np.random.default_rng(0)
X = rng.standard_normal((3, 4, 5)).astype(np.float32)
I = rng.integers(-9, 9, size=(3, 4, 5)).astype(np.int64)
B = I > 0


def test_constant_constant_of_shape():
    from onnx import numpy_helper
    for kw in [{"value": numpy_helper.from_array(X)}, {"value_float": 2.5}, {"value_floats": [1.0, 2.0]},
               {"value_int": 3}, {"value_ints": [1, 2, 3]}]:
        _same("Constant", [], opset=13, **kw)
    _same("ConstantOfShape", [np.array([2, 3], np.int64)], opset=9)
    _same("ConstantOfShape", [np.array([2, 3], np.int64)], opset=20,
          value=numpy_helper.from_array(np.array([7], np.int32)))


def test_range_eyelike_onehot():
    for s, l, d in [(0.0, 1.0, 0.1), (3.0, -2.0, -0.7), (1.0, 1.0, 1.0)]:
        _same("Range", [np.array(s, np.float32), np.array(l, np.float32), np.array(d, np.float32)], opset=11)
    _same("Range", [np.array(10, np.int64), np.array(-3, np.int64), np.array(-4, np.int64)], opset=11)
    _same("EyeLike", [np.zeros((3, 5), np.float32)], opset=9, k=1)
    _same("EyeLike", [np.zeros((4, 3), np.int32)], opset=9, k=-1, dtype=1)
    _same("OneHot", [np.array([[0, 3, -1, 7]], np.int64), np.array(5, np.int64), np.array([0, 2], np.float32)], opset=11)
    _same("OneHot", [np.array([1.7, 2.0], np.float32), np.array([4], np.int64), np.array([-1, 1], np.int64)], opset=11, axis=0)
