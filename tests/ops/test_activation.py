import numpy as np
import pytest

from tests.ops.harness import run_kernel, run_ort

rng = np.random.default_rng(0)


def x32(*shape, scale=4.0):
    return np.asarray(rng.standard_normal(shape) * scale, dtype=np.float32)


def both(op, inputs, opset=17, **attrs):
    (out,) = run_kernel(op, inputs, opset=opset, **attrs)
    (ref,) = run_ort(op, inputs, opset=opset, **attrs)
    assert out.dtype == ref.dtype == np.float32 and out.shape == ref.shape
    return out, ref


@pytest.mark.parametrize("op", ["Relu", "Sigmoid", "Tanh"])
@pytest.mark.parametrize("opset", [6, 13, 17])
def test_unary_activation_matches_ort_exactly(op, opset):
    # Sigmoid and Tanh reproduce MLAS's FMA3 rational approximations bit for bit.
    x = np.concatenate([x32(2, 3, 1700).ravel(), np.array([0, -0.0, 9, -9, 18, -18, 30, -30, 1e-20], np.float32)])
    out, ref = both(op, [x], opset=opset)
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_exact(approximate):
    x = x32(40001, scale=3.0)
    out, ref = both("Gelu", [x], opset=20, approximate=approximate)
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("op,attrs,opset", [
    ("LeakyRelu", {}, 16), ("LeakyRelu", {"alpha": 0.2}, 6),
    ("HardSigmoid", {}, 6), ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}, 22),
    ("HardSwish", {}, 14),
    ("Softsign", {}, 1),
    ("ThresholdedRelu", {"alpha": 0.7}, 10),
    ("Shrink", {"bias": 0.3, "lambd": 0.8}, 9), ("Shrink", {}, 9),
])
def test_exact_activations(op, attrs, opset):
    x = x32(3, 257)
    out, ref = both(op, [x], opset=opset, **attrs)
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("op,attrs,opset", [
    ("Elu", {}, 6), ("Elu", {"alpha": 0.5}, 22),
    ("Selu", {}, 6), ("Selu", {"alpha": 1.5, "gamma": 1.1}, 22),
    ("Celu", {}, 12), ("Celu", {"alpha": 2.0}, 12),
    ("Softplus", {}, 1),
    ("Mish", {}, 18),
])
def test_exp_based_activations_close(op, attrs, opset):
    # ORT evaluates exp/log1p here with Eigen's vectorised float32 polynomials: an ulp of exp apart,
    # which exp(x) - 1 near 0 turns into a larger relative (but ~6e-8 absolute) difference.
    x = x32(3, 257)
    out, ref = both(op, [x], opset=opset, **attrs)
    np.testing.assert_allclose(out, ref, rtol=1e-6, atol=2e-7)


@pytest.mark.parametrize("slope_shape", [(1,), (5,), (3, 1, 1), (4, 3, 1, 5)])
def test_prelu_broadcast(slope_shape):
    x = x32(4, 3, 2, 5)
    slope = np.asarray(rng.random(slope_shape), dtype=np.float32)
    out, ref = both("PRelu", [x, slope], opset=16)
    np.testing.assert_array_equal(out, ref)


def test_prelu_legacy_channel_slope():
    x = x32(2, 3, 4, 4)
    slope = np.array([0.1, 0.2, 0.3], np.float32)
    (out,) = run_kernel("PRelu", [x, slope], opset=6)
    np.testing.assert_array_equal(out, np.where(x > 0, x, slope[:, None, None] * x))


def test_shrink_int():
    x = np.arange(-5, 6, dtype=np.int32)
    (out,) = run_kernel("Shrink", [x], opset=9, bias=1.0, lambd=2.0)
    (ref,) = run_ort("Shrink", [x], opset=9, bias=1.0, lambd=2.0)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
def test_relu_fast_path_equals_maximum_bit_for_bit(dtype):
    # The NumPy Relu is clip-then-add-zero (faster); it must give maximum(x, 0)'s bits, signed zeros,
    # NaN payloads, infinities and subnormals included.
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 1e-45, -1e-45, 5.0, -5.0], dtype=np.float32)
    x = np.concatenate([x32(3, 1000).ravel(), specials]).astype(dtype)
    x = np.concatenate([x, np.array([0x7FC00123, 0xFFC00456], np.uint32).view(np.float32).astype(dtype)])
    (out,) = run_kernel("Relu", [x], opset=14)
    expected = np.maximum(x, dtype(0))
    bits = {2: np.uint16, 4: np.uint32, 8: np.uint64}[x.dtype.itemsize]
    np.testing.assert_array_equal(out.view(bits), expected.view(bits))
