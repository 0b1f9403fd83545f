import itertools

import numpy as np
import pytest

from tests.ops.harness import assert_same as _same
from tests.ops.harness import run_kernel, run_ort, run_reference


def _grid(shape, seed=0):
    # Values on a quantization grid: means land on exact ties, so one ulp of summation order shows.
    rng = np.random.default_rng(seed)
    return (rng.integers(-200, 200, size=shape) * np.float32(0.0123)).astype(np.float32)


def _axes_cases():
    for shape in [(2, 3, 7, 7), (1, 64, 14, 14), (4, 17), (3, 5, 9, 11), (1, 197, 96), (8, 1, 33), (6,), (1, 49, 1, 32)]:
        for k in range(1, len(shape) + 1):
            for axes in itertools.combinations(range(len(shape)), k):
                yield shape, list(axes)
        yield shape, None


@pytest.mark.parametrize("op", ["ReduceMean", "ReduceSum"])
def test_mean_sum_bit_exact_on_grid_values(op):
    total = same = 0
    for i, (shape, axes) in enumerate(_axes_cases()):
        x = _grid(shape, i)
        kw = {} if axes is None else {"axes": axes}
        opset = 13 if op == "ReduceMean" else 11
        (a,) = run_kernel(op, [x], opset=opset, keepdims=1, **kw)
        (b,) = run_ort(op, [x], opset=opset, keepdims=1, **kw)
        assert a.shape == b.shape and a.dtype == np.float32
        total += a.size
        same += int((a.view(np.int32) == b.view(np.int32)).sum())
    assert same == total


@pytest.mark.parametrize("op", ["ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
                                "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp"])
@pytest.mark.parametrize("opset", [11, 13, 18])
@pytest.mark.parametrize("axes,keepdims", [([-1], 1), ([0, 2], 0), ([1], 1), (None, 0)])
def test_reduce_versions_match_ort(op, opset, axes, keepdims):
    x = np.abs(_grid((3, 4, 5), 1)) + np.float32(0.5) if op in ("ReduceLogSum", "ReduceProd") else _grid((3, 4, 5), 1)
    if op == "ReduceProd":
        x = (x / 3).astype(np.float32)
    inputs, kw = [x], {"keepdims": keepdims}
    if opset >= 18 and axes is not None:
        inputs.append(np.array(axes, np.int64))
    elif axes is not None:
        kw["axes"] = axes
    (a,) = run_kernel(op, inputs, opset=opset, **kw)
    (b,) = run_ort(op, inputs, opset=opset, **kw)
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-6)


def test_reduce_sum13_axes_input_and_noop():
    x = _grid((2, 3, 4))
    for inputs, kw in [([x, np.array([1], np.int64)], {}), ([x, np.array([], np.int64)], {"noop_with_empty_axes": 1}),
                       ([x, np.array([], np.int64)], {}), ([x], {"keepdims": 0})]:
        (a,) = run_kernel("ReduceSum", inputs, opset=13, **kw)
        (b,) = run_ort("ReduceSum", inputs, opset=13, **kw)
        assert a.shape == b.shape
        assert np.array_equal(a.view(np.int32), b.view(np.int32))


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd"])
def test_reduce_integers(op, dtype):
    x = np.random.default_rng(2).integers(-5, 6, size=(3, 4, 2)).astype(dtype)
    (a,) = run_kernel(op, [x], opset=11, axes=[1], keepdims=0)
    (b,) = run_ort(op, [x], opset=11, axes=[1], keepdims=0)
    assert a.dtype == b.dtype and np.array_equal(a, b)


@pytest.mark.parametrize("op", ["ReduceMax", "ReduceMin"])
def test_reduce_max_bool_opset20(op):
    x = np.random.default_rng(3).integers(0, 2, size=(3, 4)).astype(bool)
    (a,) = run_kernel(op, [x, np.array([1], np.int64)], opset=20, keepdims=0)
    (b,) = run_ort(op, [x, np.array([1], np.int64)], opset=20, keepdims=0)
    assert a.dtype == np.bool_ and np.array_equal(a, b)


def test_cumsum_cumprod():
    X = np.random.default_rng(0).standard_normal((3, 4, 5)).astype(np.float32)
    I = np.random.default_rng(0).integers(-9, 9, size=(3, 4, 5)).astype(np.int64)
    for exclusive in (0, 1):
        for reverse in (0, 1):
            _same("CumSum", [I, np.array(-1, np.int64)], opset=14, exclusive=exclusive, reverse=reverse)
            _same("CumSum", [X, np.array(1, np.int32)], opset=11, exclusive=exclusive, reverse=reverse)
            _same("CumProd", [I, np.array(-2, np.int64)], opset=26, ref=run_reference, exclusive=exclusive,
                  reverse=reverse)
            _same("CumProd", [X, np.array(2, np.int32)], opset=26, ref=run_reference, exclusive=exclusive,
                  reverse=reverse)
