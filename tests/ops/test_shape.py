import numpy as np
import pytest

from tests.ops.harness import assert_same as _same
from tests.ops.harness import run_kernel


X = np.arange(2 * 3 * 4 * 6, dtype=np.float32).reshape(2, 3, 4, 6)


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.bool_])
def test_reshape_variants(dtype):
    x = X.astype(dtype)
    _same("Reshape", [x, np.array([0, -1, 6], np.int64)], opset=13)
    _same("Reshape", [x, np.array([2, 0, 24], np.int64)], opset=14)
    _same("Reshape", [np.zeros((0, 3), dtype), np.array([3, 0], np.int64)], opset=14, allowzero=1)
    (a,) = run_kernel("Reshape", [x], opset=1, shape=[6, -1])
    assert a.shape == (6, 24)


@pytest.mark.parametrize("opset", [1, 11, 13])
def test_flatten_transpose(opset):
    for axis in ([0, 1, 2, 4] if opset < 11 else [-1, 0, 2, 4]):
        _same("Flatten", [X], opset=opset, axis=axis)
    _same("Transpose", [X], opset=opset)
    _same("Transpose", [X.astype(np.int8)], opset=opset, perm=[0, 2, 3, 1])


def test_squeeze_unsqueeze_versions():
    x = np.ones((1, 3, 1, 5), np.float32)
    _same("Squeeze", [x], opset=11, axes=[-2])
    _same("Squeeze", [x], opset=1)
    _same("Squeeze", [x, np.array([0, -2], np.int64)], opset=13)
    _same("Squeeze", [x], opset=13)
    _same("Unsqueeze", [x], opset=11, axes=[0, -1])
    _same("Unsqueeze", [x, np.array([-1, 1], np.int64)], opset=13)
    _same("Unsqueeze", [np.array(3.0, np.float32), np.array([0], np.int64)], opset=21)


def test_shape_size_expand_identity():
    _same("Shape", [X], opset=13)
    for start, end in [(1, None), (-3, -1), (0, 10), (-10, 2), (3, 1)]:
        kw = {"start": start} if end is None else {"start": start, "end": end}
        _same("Shape", [X], opset=15, **kw)
    _same("Size", [X], opset=13)
    _same("Expand", [np.arange(3, dtype=np.int32).reshape(3, 1), np.array([2, 1, 4], np.int64)], opset=13)
    _same("Expand", [np.ones((2, 1), bool), np.array([3], np.int64)], opset=8)
    _same("Identity", [X.astype(np.int64)], opset=16)


@pytest.mark.parametrize("opset", [7, 10, 12, 13, 22])
def test_dropout_inference(opset):
    inputs = [X]
    if opset >= 12:
        inputs = [X, np.array(0.3, np.float32), np.array(False)]
    _same("Dropout", inputs, n_outputs=2, opset=opset)


@pytest.mark.parametrize("mode", ["DCR", "CRD"])
def test_depth_to_space_space_to_depth(mode):
    x = np.arange(2 * 8 * 3 * 2, dtype=np.float32).reshape(2, 8, 3, 2)
    _same("DepthToSpace", [x], opset=13, blocksize=2, mode=mode)
    _same("SpaceToDepth", [X], opset=13, blocksize=2)
    _same("DepthToSpace", [x], opset=1, blocksize=2)
    # SpaceToDepth-28 (mode) is newer than ONNX Runtime's opsets: compare with the onnx reference.
    y = run_kernel("SpaceToDepth", [X], opset=28, blocksize=2, mode=mode)[0]
    back = run_kernel("DepthToSpace", [y], opset=28, blocksize=2, mode=mode)[0]
    assert np.array_equal(back, X)


def test_reshape_zero_and_minus_one_dims():
    # 0 copies the input's dim (a real 0 with allowzero), -1 takes what is left; on strided inputs too.
    x, strided = X.reshape(6, 4, 6), X[:, ::2, :, ::-1]  # (6, 4, 6) and a strided (2, 2, 4, 6)
    for shape in ([0, -1], [-1, 0, 3], [0, 0, 0], [0, 2, -1, 1], [-1]):
        _same("Reshape", [x, np.array(shape, np.int64)], opset=14)
    for shape in ([0, -1], [-1, 0, 3], [0, 0, 0, 0], [0, 2, -1, 1], [-1]):
        _same("Reshape", [strided, np.array(shape, np.int64)], opset=14)
    _same("Reshape", [np.zeros((2, 0, 3), np.float32), np.array([0, -1], np.int64)], opset=14)
    _same("Reshape", [np.zeros((2, 0, 3), np.float32), np.array([0, 7], np.int64)], opset=14, allowzero=1)
    (a,) = run_kernel("Reshape", [x, np.array([2, -1, 4], np.int32)], opset=14)  # any integer tensor is read
    assert a.shape == (2, 18, 4) and np.shares_memory(a, x)  # a view, as NumPy's reshape makes
    with pytest.raises(ValueError):
        run_kernel("Reshape", [x, np.array([5, -1], np.int64)], opset=14)


def test_transpose_squeeze_unsqueeze_strided():
    strided = X[:, ::2, :, ::-1]
    for perm in ([3, 2, 1, 0], [0, 2, 1, 3], [0, 1, 2, 3]):
        _same("Transpose", [strided], opset=13, perm=perm)
        (a,) = run_kernel("Transpose", [strided], opset=13, perm=perm)
        assert a.flags.c_contiguous
    ones = np.ones((3, 1, 5, 1), np.float32)[::-1, :, ::2]
    _same("Squeeze", [ones, np.array([-1, 1], np.int64)], opset=13)
    _same("Unsqueeze", [strided, np.array([0, -1], np.int64)], opset=13)


def test_transpose_of_a_scalar_is_a_scalar():
    _same("Transpose", [np.array(2.5, np.float32)], opset=13)
    (a,) = run_kernel("Transpose", [np.array(2.5, np.float32)], opset=13)
    assert a.shape == () and a == 2.5
