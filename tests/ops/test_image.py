"""GridSample, RoiAlign, NonMaxSuppression, MaxRoiPool, Col2Im against ONNX Runtime."""
import numpy as np
import pytest

from tests.ops.harness import run_kernel, run_ort

rng = np.random.default_rng(2)


@pytest.mark.parametrize("mode", ["linear", "nearest", "cubic"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [0, 1])
def test_grid_sample(mode, padding_mode, align_corners):
    X = rng.standard_normal((2, 3, 5, 6)).astype(np.float32)
    grid = rng.uniform(-1.3, 1.3, (2, 4, 7, 2)).astype(np.float32)
    kw = dict(mode=mode, padding_mode=padding_mode, align_corners=align_corners, opset=20)
    np.testing.assert_allclose(run_kernel("GridSample", [X, grid], **kw)[0], run_ort("GridSample", [X, grid], **kw)[0],
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", ["avg", "max"])
def test_roi_align(mode):
    X = rng.standard_normal((2, 3, 10, 10)).astype(np.float32)
    rois = np.array([[0, 0, 9, 9], [1.5, 2.2, 6.1, 8.9], [3, 3, 4, 4]], np.float32)
    idx = np.array([0, 1, 0], np.int64)
    kw = dict(mode=mode, output_height=3, output_width=4, sampling_ratio=2, spatial_scale=1.0, opset=16)
    np.testing.assert_allclose(run_kernel("RoiAlign", [X, rois, idx], **kw)[0],
                               run_ort("RoiAlign", [X, rois, idx], **kw)[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("center_point_box", [0, 1])
def test_non_max_suppression(center_point_box):
    boxes = rng.uniform(0, 10, (2, 12, 4)).astype(np.float32)
    scores = rng.uniform(0, 1, (2, 3, 12)).astype(np.float32)
    args = [boxes, scores, np.array([4], np.int64), np.array([0.3], np.float32), np.array([0.2], np.float32)]
    np.testing.assert_array_equal(run_kernel("NonMaxSuppression", args, center_point_box=center_point_box, opset=11)[0],
                                  run_ort("NonMaxSuppression", args, center_point_box=center_point_box, opset=11)[0])


def test_max_roi_pool():
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    rois = np.array([[0, 1, 1, 5, 6], [1, 0, 2, 7, 7], [0, 2.4, 1.6, 3.5, 4.5]], np.float32)
    kw = dict(pooled_shape=[2, 3], spatial_scale=1.0)
    np.testing.assert_array_equal(run_kernel("MaxRoiPool", [x, rois], opset=22, **kw)[0],
                                  run_ort("MaxRoiPool", [x, rois], opset=13, **kw)[0])


def test_col2im():
    x = rng.standard_normal((1, 2 * 4, 12)).astype(np.float32)
    args = [x, np.array([4, 5], np.int64), np.array([2, 2], np.int64)]
    np.testing.assert_allclose(run_kernel("Col2Im", args, opset=18)[0], run_ort("Col2Im", args, opset=18)[0],
                               rtol=1e-6)
