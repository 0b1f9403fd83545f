"""MaxPool over windows holding NaN, against ONNX Runtime (docs/errors.md, "NaN and inf").

Which element a max keeps when a NaN is in the window depends on ONNX Runtime's kernel (ops/_pool_nan.py):
its vectorised MLAS kernels (2-D/3-D float32, last stride 1 or 2: ResNet's 3x3/2 MaxPool), its generic MLAS
kernels (1-D, larger strides: std::max from the lowest float, "NaN and 5 give 5"), and MaxPool*DTask
(dilations, the Indices output, float64). Each is compared here with ONNX Runtime bit for bit."""
import numpy as np
import pytest

from tests.ops.harness import run_kernel, run_ort

pytest.importorskip("onnxruntime")
RNG = np.random.default_rng(13)

GENERIC_KERNEL_CASES = [
    ((2, 3, 17), dict(kernel_shape=[3])),
    ((2, 3, 17), dict(kernel_shape=[3], strides=[2], pads=[1, 1])),
    ((1, 2, 16), dict(kernel_shape=[4], strides=[3], pads=[2, 1], ceil_mode=1)),
    ((2, 2, 9, 13), dict(kernel_shape=[3, 3], strides=[3, 3])),
    ((2, 2, 9, 13), dict(kernel_shape=[2, 4], strides=[1, 3], pads=[1, 1, 1, 1])),
    ((1, 2, 5, 6, 10), dict(kernel_shape=[2, 2, 3], strides=[1, 2, 3], pads=[0, 1, 1, 1, 0, 1])),
]
VECTOR_KERNEL_CASES = [
    ((1, 4, 16, 16), dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),  # ResNet's stem
    ((2, 3, 9, 11), dict(kernel_shape=[2, 2], strides=[2, 2])),
    ((2, 3, 7, 10), dict(kernel_shape=[3, 2], strides=[1, 1], pads=[1, 0, 2, 1])),
    ((1, 2, 5, 6, 9), dict(kernel_shape=[2, 3, 3], strides=[2, 1, 2], pads=[1, 1, 1, 0, 1, 1])),
    ((1, 2, 4, 5, 7), dict(kernel_shape=[3, 2, 2], strides=[1, 2, 1])),
]
TASK_CASES = [  # dilations: ONNX Runtime's MaxPool*DTask
    ((2, 3, 17), dict(kernel_shape=[3], dilations=[2], pads=[1, 1])),
    ((2, 2, 9, 13), dict(kernel_shape=[3, 3], strides=[1, 2], dilations=[2, 1], pads=[1, 1, 1, 1])),
    ((1, 2, 6, 6, 7), dict(kernel_shape=[2, 2, 2], strides=[1, 1, 2], dilations=[1, 2, 2])),
]


def _with_nan(shape, share):
    x = RNG.standard_normal(shape).astype(np.float32)
    x[RNG.random(shape) < share] = np.nan
    return x


@pytest.mark.parametrize("share", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("shape,attrs", GENERIC_KERNEL_CASES + VECTOR_KERNEL_CASES)
def test_maxpool_with_nan_equals_onnxruntime(shape, attrs, share):
    x = _with_nan(shape, share)
    (got,) = run_kernel("MaxPool", [x], **attrs)
    (want,) = run_ort("MaxPool", [x], **attrs)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("share", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("shape,attrs,indices", [(s, a, False) for s, a in TASK_CASES]
                         + [(s, a, True) for s, a in TASK_CASES + GENERIC_KERNEL_CASES[:4]])
def test_maxpool_task_path_with_nan_equals_onnxruntime(shape, attrs, share, indices):
    """Dilations or the Indices output: values and indices as ONNX Runtime's MaxPool*DTask gives them."""
    x = _with_nan(shape, share)
    got = run_kernel("MaxPool", [x], n_outputs=1 + indices, opset=12, **attrs)
    want = run_ort("MaxPool", [x], n_outputs=1 + indices, opset=12, **attrs)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("shape,attrs", GENERIC_KERNEL_CASES[:2] + TASK_CASES[:1])
def test_maxpool_float64_with_nan_equals_onnxruntime(shape, attrs):
    x = _with_nan(shape, 0.4).astype(np.float64)
    (got,) = run_kernel("MaxPool", [x], opset=12, **attrs)
    (want,) = run_ort("MaxPool", [x], opset=12, **attrs)
    np.testing.assert_array_equal(got, want)


def test_a_window_of_nan_and_5_gives_5():
    x = np.array([[[[np.nan, 5.0, 1.0, 2.0]]]], np.float32)
    (got,) = run_kernel("MaxPool", [x], kernel_shape=[1, 2], strides=[1, 2])
    (want,) = run_ort("MaxPool", [x], kernel_shape=[1, 2], strides=[1, 2])
    np.testing.assert_array_equal(got, np.array([[[[5.0, 2.0]]]], np.float32))
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("shape,attrs", GENERIC_KERNEL_CASES + [((2, 3, 12, 12), dict(kernel_shape=[3, 3],
                                                                                      strides=[2, 2],
                                                                                      pads=[1, 1, 1, 1]))])
def test_without_nan_the_fast_path_is_unchanged(shape, attrs):
    """No NaN: the np.maximum path, bit for bit what ONNX Runtime gives (the NaN rule never runs)."""
    x = RNG.standard_normal(shape).astype(np.float32)
    (got,) = run_kernel("MaxPool", [x], **attrs)
    (want,) = run_ort("MaxPool", [x], **attrs)
    np.testing.assert_array_equal(got, want)
