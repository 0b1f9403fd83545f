import numpy as np
import pytest

from tests.ops.harness import run_kernel, run_ort

RNG = np.random.default_rng(0)


def grid(shape):
    # Values on a quantization grid: window averages land exactly on ties.
    return (RNG.integers(-128, 128, shape) * np.float32(0.0123)).astype(np.float32)


AVG = [
    ((2, 3, 9, 11), dict(kernel_shape=[3, 3])),
    ((2, 3, 9, 11), dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
    ((2, 3, 9, 11), dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1)),
    ((2, 3, 10, 11), dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)),
    ((2, 3, 10, 11), dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1, count_include_pad=1)),
    ((2, 3, 9, 11), dict(kernel_shape=[3, 3], strides=[3, 3])),
    ((1, 4, 7, 7), dict(kernel_shape=[7, 7])),
    ((1, 4, 14, 14), dict(kernel_shape=[2, 2], strides=[2, 2])),
    ((2, 3, 12), dict(kernel_shape=[5], pads=[2, 2])),
    ((2, 3, 6, 7, 8), dict(kernel_shape=[3, 3, 3], pads=[1, 1, 1, 1, 1, 1])),
    ((2, 3, 11, 13, 9), dict(kernel_shape=[3, 3, 3], strides=[2, 2, 2], pads=[0, 1, 0, 1, 1, 1], ceil_mode=1)),
    ((2, 3, 9, 11), dict(kernel_shape=[3, 3], auto_pad="SAME_UPPER", strides=[2, 2])),
    ((2, 3, 9, 11), dict(kernel_shape=[4, 4], auto_pad="SAME_LOWER", strides=[2, 2])),
    ((2, 3, 9, 11), dict(kernel_shape=[3, 3], auto_pad="VALID", strides=[2, 2])),
]


@pytest.mark.parametrize("opset", [11, 19, 22])
@pytest.mark.parametrize("shape,attrs", AVG)
def test_average_pool_bit_exact_on_grid(shape, attrs, opset):
    x = grid(shape)
    (out,) = run_kernel("AveragePool", [x], opset=opset, **attrs)
    (ref,) = run_ort("AveragePool", [x], opset=opset, **attrs)
    assert out.dtype == np.float32 and out.shape == ref.shape
    np.testing.assert_array_equal(out.view(np.int32), ref.view(np.int32))


@pytest.mark.parametrize("attrs", [dict(kernel_shape=[3, 3], dilations=[2, 2]),
                                   dict(kernel_shape=[3, 3], dilations=[2, 1], pads=[1, 2, 1, 2], count_include_pad=1)])
def test_average_pool_dilations(attrs):
    x = grid((2, 3, 12, 12))
    (out,) = run_kernel("AveragePool", [x], opset=19, **attrs)
    (ref,) = run_ort("AveragePool", [x], opset=19, **attrs)
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("shape", [(2, 64, 7, 7), (1, 16, 56, 56), (2, 8, 13), (2, 8, 3, 5, 7)])
@pytest.mark.parametrize("opset", [1, 22])
def test_global_average_pool_bit_exact_on_grid(shape, opset):
    x = grid(shape)
    (out,) = run_kernel("GlobalAveragePool", [x], opset=opset)
    (ref,) = run_ort("GlobalAveragePool", [x], opset=opset)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.view(np.int32), ref.view(np.int32))


MAX = [
    ((2, 3, 9, 11), dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
    ((2, 3, 10, 11), dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)),
    ((2, 3, 12, 12), dict(kernel_shape=[3, 3], dilations=[2, 2], pads=[1, 1, 1, 1])),
    ((2, 3, 12, 12), dict(kernel_shape=[2, 3], storage_order=1, auto_pad="SAME_UPPER", strides=[2, 2])),
    ((2, 3, 13), dict(kernel_shape=[4], strides=[2], auto_pad="SAME_LOWER")),
    ((1, 2, 5, 6, 7), dict(kernel_shape=[2, 3, 2], strides=[2, 1, 2], pads=[1, 0, 1, 0, 1, 1])),
]


@pytest.mark.parametrize("shape,attrs", MAX)
@pytest.mark.parametrize("opset", [12, 22])
def test_max_pool_values_and_indices(shape, attrs, opset):
    x = RNG.standard_normal(shape).astype(np.float32)
    out, idx = run_kernel("MaxPool", [x], n_outputs=2, opset=opset, **attrs)
    ref, ref_idx = run_ort("MaxPool", [x], n_outputs=2, opset=opset, **attrs)
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(idx, ref_idx)
    assert out.dtype == np.float32 and idx.dtype == np.int64


def test_max_pool_opset1_and_global():
    x = RNG.standard_normal((2, 3, 9, 9)).astype(np.float32)
    out = run_kernel("MaxPool", [x], opset=1, kernel_shape=[2, 2], strides=[2, 2])[0]
    np.testing.assert_array_equal(out, run_ort("MaxPool", [x], opset=7, kernel_shape=[2, 2], strides=[2, 2])[0])
    (g,) = run_kernel("GlobalMaxPool", [x], opset=1)
    np.testing.assert_array_equal(g, run_ort("GlobalMaxPool", [x], opset=1)[0])


@pytest.mark.parametrize("opset", [2, 11, 18])
@pytest.mark.parametrize("attrs", [dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
                                   dict(kernel_shape=[3, 3], p=3), dict(kernel_shape=[2, 2], p=1)])
def test_lp_pool(attrs, opset):
    x = grid((2, 3, 9, 11))
    (out,) = run_kernel("LpPool", [x], opset=opset, **attrs)
    (ref,) = run_ort("LpPool", [x], opset=opset, **attrs)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref, rtol=3e-7, atol=0)


@pytest.mark.parametrize("p", [1, 2, 3])
def test_global_lp_pool(p):
    x = grid((2, 3, 9, 11))
    (out,) = run_kernel("GlobalLpPool", [x], opset=2, p=p)
    (ref,) = run_ort("GlobalLpPool", [x], opset=2, p=p)
    np.testing.assert_allclose(out, ref, rtol=3e-7, atol=0)


@pytest.mark.parametrize("shape,attrs", MAX + [((1, 8, 112, 112), dict(kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 1, 1])),
                                               ((2, 5, 14, 14), dict(kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1]))])
def test_max_pool_without_indices_equals_the_indices_path(shape, attrs):
    # One output: the tap-slice fast path (ops/_taps.py); two outputs: window views reduced by max.
    x = RNG.standard_normal(shape).astype(np.float32)
    (ref,) = run_ort("MaxPool", [x], n_outputs=1, opset=12, **attrs)
    (fast,) = run_kernel("MaxPool", [x], n_outputs=1, opset=12, **attrs)
    np.testing.assert_array_equal(fast, ref)
    x.flat[::7] = -np.inf  # windows of -inf and padding only (ORT's MLAS answers -FLT_MAX there)
    (fast,) = run_kernel("MaxPool", [x], n_outputs=1, opset=12, **attrs)
    plain, _ = run_kernel("MaxPool", [x], n_outputs=2, opset=12, **attrs)
    assert fast.flags.c_contiguous
    np.testing.assert_array_equal(fast.view(np.int32), plain.view(np.int32))
