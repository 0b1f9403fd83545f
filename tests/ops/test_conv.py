import numpy as np
import pytest

from tests.ops.harness import run_kernel, run_ort

RNG = np.random.default_rng(0)


def r(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


CONV = [
    ([(2, 4, 9, 10), (6, 4, 3, 3), (6,)], dict(pads=[1, 1, 1, 1])),
    ([(2, 4, 9, 10), (6, 2, 3, 3), (6,)], dict(group=2, strides=[2, 2], dilations=[2, 1])),
    ([(2, 8, 9, 10), (8, 1, 3, 3), (8,)], dict(group=8, pads=[1, 1, 1, 1])),
    ([(2, 8, 9, 10), (16, 1, 3, 3), None], dict(group=8, auto_pad="SAME_UPPER", strides=[2, 2])),
    ([(2, 4, 9, 10), (6, 4, 4, 4), None], dict(auto_pad="SAME_LOWER", strides=[2, 2])),
    ([(2, 4, 9, 10), (6, 4, 3, 3), None], dict(auto_pad="VALID", strides=[2, 3])),
    ([(2, 4, 17), (6, 4, 5), (6,)], dict(pads=[2, 1], dilations=[2])),
    ([(1, 4, 6, 7, 8), (6, 2, 3, 3, 3), (6,)], dict(group=2, pads=[1, 1, 1, 1, 1, 1])),
    ([(1, 64, 14, 14), (32, 64, 1, 1), (32,)], {}),
    ([(3, 6, 7, 7), (9, 2, 1, 1), (9,)], dict(group=3, strides=[2, 2])),  # pointwise, grouped, batched
    ([(3, 6, 7, 7), (4, 6, 1, 1), None], {}),
]


@pytest.mark.parametrize("opset", [1, 11, 22])
@pytest.mark.parametrize("shapes,attrs", CONV)
def test_conv_matches_ort(shapes, attrs, opset):
    ins = [r(*s) if s else None for s in shapes]
    (out,) = run_kernel("Conv", ins, opset=opset, **attrs)
    (ref,) = run_ort("Conv", ins, opset=max(opset, 7), **attrs)
    assert out.dtype == np.float32 and out.shape == ref.shape
    # MLAS sums in its own blocked FMA order: float32 rounding-level differences only.
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


CONVT = [
    ([(2, 4, 5, 6), (4, 3, 3, 3), (3,)], dict(strides=[2, 2])),
    ([(2, 4, 5, 6), (4, 3, 3, 3), (6,)], dict(strides=[2, 2], group=2, pads=[1, 1, 1, 1], output_padding=[1, 1])),
    ([(2, 4, 5, 6), (4, 3, 3, 3), None], dict(strides=[2, 2], dilations=[2, 1])),
    ([(2, 4, 5, 6), (4, 3, 3, 3), None], dict(strides=[2, 2], output_shape=[10, 12])),
    ([(2, 4, 5, 6), (4, 3, 3, 3), None], dict(strides=[2, 2], output_shape=[10, 12], auto_pad="SAME_UPPER")),
    ([(2, 4, 5, 6), (4, 3, 4, 4), None], dict(strides=[2, 2], auto_pad="SAME_UPPER")),
    ([(2, 4, 5, 6), (4, 3, 4, 4), None], dict(strides=[2, 2], auto_pad="SAME_LOWER")),
    ([(2, 4, 7), (4, 3, 3), (3,)], dict(strides=[3])),
    ([(1, 4, 3, 4, 5), (4, 2, 3, 3, 3), (2,)], dict(strides=[2, 2, 2], pads=[1, 0, 1, 0, 1, 0])),
]


@pytest.mark.parametrize("opset", [11, 22])
@pytest.mark.parametrize("shapes,attrs", CONVT)
def test_conv_transpose_matches_ort(shapes, attrs, opset):
    ins = [r(*s) if s else None for s in shapes]
    (out,) = run_kernel("ConvTranspose", ins, opset=opset, **attrs)
    (ref,) = run_ort("ConvTranspose", ins, opset=opset, **attrs)
    assert out.dtype == np.float32 and out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


def test_conv_float64_stays_float64():
    x, w = r(1, 3, 6, 6).astype(np.float64), r(4, 3, 3, 3).astype(np.float64)
    (out,) = run_kernel("Conv", [x, w, None], opset=11)
    # ORT has no double Conv: compare with the float32 run.
    (ref,) = run_ort("Conv", [x.astype(np.float32), w.astype(np.float32)], opset=11)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
