import numpy as np
import pytest

from tests.ops.harness import run_kernel, run_ort

X = np.random.default_rng(0).standard_normal((1, 2, 5, 7)).astype(np.float32)
E = np.array([], np.float32)

CTMS = ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"]  # ORT lacks tf_half_pixel_for_nearest


def _check(inputs, exact, opset=13, **attrs):
    (a,) = run_kernel("Resize", inputs, opset=opset, **attrs)
    (b,) = run_ort("Resize", inputs, opset=opset, **attrs)
    assert a.shape == b.shape and a.dtype == b.dtype
    if exact:
        assert np.array_equal(a, b)
    else:
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("ctm", CTMS)
@pytest.mark.parametrize("nearest_mode", ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"])
@pytest.mark.parametrize("scales", [[1, 1, 2.0, 3.0], [1, 1, 0.6, 0.5], [1, 1, 1.5, 0.8]])
def test_nearest(ctm, nearest_mode, scales):
    _check([X, E, np.array(scales, np.float32)], True, coordinate_transformation_mode=ctm, mode="nearest",
           nearest_mode=nearest_mode)


@pytest.mark.parametrize("ctm", CTMS + ["half_pixel_symmetric"])
@pytest.mark.parametrize("mode", ["linear", "cubic"])
@pytest.mark.parametrize("sizes", [[1, 2, 9, 4], [1, 2, 3, 14]])
def test_linear_cubic_sizes(ctm, mode, sizes):
    opset = 19 if ctm == "half_pixel_symmetric" else 13
    _check([X, None, None, np.array(sizes, np.int64)], False, opset=opset, coordinate_transformation_mode=ctm, mode=mode)
    if mode == "cubic":
        _check([X, None, None, np.array(sizes, np.int64)], False, opset=opset, coordinate_transformation_mode=ctm,
               mode=mode, exclude_outside=1, cubic_coeff_a=-0.5)


def test_resize_versions():
    (a,) = run_kernel("Resize", [X, np.array([1, 1, 2, 0.5], np.float32)], opset=10, mode="nearest")
    (b,) = run_ort("Resize", [X, np.array([1, 1, 2, 0.5], np.float32)], opset=10, mode="nearest")
    assert np.array_equal(a, b)
    (a,) = run_kernel("Resize", [X, np.array([1, 1, 2, 3], np.float32)], opset=10, mode="linear")
    (b,) = run_ort("Resize", [X, np.array([1, 1, 2, 3], np.float32)], opset=10, mode="linear")
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=2e-6)
    _check([X, None, None, np.array([10, 3], np.int64)], False, opset=18, mode="linear", axes=[2, 3])
    for policy in ("not_larger", "not_smaller"):
        _check([X, None, None, np.array([10, 10], np.int64)], True, opset=18, axes=[2, 3],
               keep_aspect_ratio_policy=policy)
    roi = np.array([0, 0, 0.2, 0.1, 1, 1, 0.9, 1.2], np.float32)
    _check([X, roi, np.array([1, 1, 2, 2], np.float32)], False, opset=11, mode="linear",
           coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=-3.0)
    xi = (X * 10).astype(np.int32)
    _check([xi, E, np.array([1, 1, 2, 2], np.float32)], True, opset=13)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_upsample(mode):
    for opset, inputs, kw in [(9, [X, np.array([1, 1, 2, 3], np.float32)], {}), (7, [X], {"scales": [1.0, 1.0, 2.0, 2.0]})]:
        (a,) = run_kernel("Upsample", inputs, opset=opset, mode=mode, **kw)
        (b,) = run_ort("Upsample", inputs, opset=opset, mode=mode, **kw)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=2e-6)
