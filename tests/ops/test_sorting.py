"""Kernel tests of ops/sorting.py: TopK, ArgMax, ArgMin, Unique, against ONNX Runtime (onnx.reference where ONNX Runtime lacks the op)."""
import numpy as np

from tests.ops.harness import assert_same as _same

rng = np.random.default_rng(0)
X = rng.standard_normal((3, 4, 5)).astype(np.float32)
I = rng.integers(-9, 9, size=(3, 4, 5)).astype(np.int64)
B = I > 0


def test_topk_arg_unique():
    t = np.array([[3, 1, 3, 2, 1, 3]], np.float32)
    for largest in (0, 1):
        _same("TopK", [t, np.array([4], np.int64)], n_outputs=2, opset=11, largest=largest)
        _same("TopK", [I, np.array([2], np.int64)], n_outputs=2, opset=11, axis=1, largest=largest)
    _same("TopK", [X, np.array([3], np.int64)], n_outputs=2, opset=10, axis=-1)
    _same("TopK", [X], n_outputs=2, opset=1, k=2)
    for op in ("ArgMax", "ArgMin"):
        for last in (0, 1):
            _same(op, [np.array([[1, 3, 3, 0, 0]], np.float32)], opset=12, axis=-1, select_last_index=last)
            _same(op, [I.astype(np.int32)], opset=13, axis=1, keepdims=0, select_last_index=last)
        _same(op, [X], opset=11, axis=2)
    u = np.array([2, 1, 1, 3, 4, 3], np.float32)
    for s in (0, 1):
        _same("Unique", [u], n_outputs=4, opset=11, sorted=s)
    _same("Unique", [np.array([[1, 0, 0], [1, 0, 0], [2, 3, 4]], np.int64)], n_outputs=4, opset=11, axis=0)
