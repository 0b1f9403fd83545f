import itertools

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


# The fast depthwise path (flattened stride phases of the padded image, one slice per tap and channel) against the plain one (window
# views): same products in the same order, so equal bit for bit, whatever the strides, dilations and pads.
DEPTHWISE = [
    ((1, 8, 14, 14), (8, 1, 3, 3), dict(pads=[1, 1, 1, 1])),
    ((2, 6, 9, 11), (12, 1, 3, 3), dict(group=6, pads=[1, 1, 1, 1], strides=[2, 2])),
    ((1, 5, 10, 7), (5, 1, 5, 3), dict(pads=[2, 1, 2, 1], dilations=[2, 3])),
    ((1, 4, 12, 12), (4, 1, 3, 3), dict(strides=[3, 3], auto_pad="SAME_UPPER")),
    ((3, 4, 13), (8, 1, 4), dict(group=4, strides=[2], pads=[1, 2])),
    ((1, 3, 5, 6, 7), (3, 1, 3, 2, 3), dict(pads=[1, 0, 1, 1, 1, 0], strides=[2, 2, 2])),
    ((1, 7, 9, 9), (7, 1, 3, 3), dict(auto_pad="VALID")),
    ((2, 3, 11, 10), (3, 1, 3, 3), dict(pads=[0, 1, 2, 1], strides=[3, 2], dilations=[1, 2])),
    ((1, 4, 8, 8), (4, 1, 2, 2), dict(strides=[2, 2])),
]


def _depthwise_windows(win, W):
    """The plain depthwise convolution, tap by tap over window views (N, G, *out, *kernel): each output
    is view * w summed over taps in row-major kernel order, one multiply and one add per tap."""
    N, G = win.shape[:2]
    M, kernel = W.shape[0], W.shape[2:]
    n = len(kernel)
    out = win.shape[2:2 + n]
    w = W.reshape((1, G, M // G) + tuple(kernel) + (1,) * n)
    Y = None
    for tap in itertools.product(*(range(k) for k in kernel)):
        term = win[(Ellipsis,) + tap][:, :, None] * w[(slice(None),) * 3 + tap]
        Y = term if Y is None else Y + term
    return Y.reshape(N, M, *out)


@pytest.mark.parametrize("x_shape,w_shape,attrs", DEPTHWISE)
def test_depthwise_fast_path_equals_plain_path(x_shape, w_shape, attrs):
    from ops import conv
    from ops._attrs import ints_or_default

    x, w = r(*x_shape), r(*w_shape)
    attrs = {"group": x_shape[1], **attrs}
    (fast,) = run_kernel("Conv", [x, w, None], opset=11, **attrs)
    n = x.ndim - 2
    strides = ints_or_default(attrs.get("strides"), n, 1)
    dilations = ints_or_default(attrs.get("dilations"), n, 1)
    out, begin, end = conv._conv_pads(list(x.shape[2:]), list(w.shape[2:]), strides, dilations, attrs.get("pads"),
                                      attrs.get("auto_pad", "NOTSET"))
    padded = np.pad(x, [(0, 0), (0, 0)] + [(b, e) for b, e in zip(begin, end)])
    ext = [(k - 1) * d + 1 for k, d in zip(w.shape[2:], dilations)]
    win = np.lib.stride_tricks.sliding_window_view(padded, ext, axis=tuple(range(2, 2 + n)))
    win = win[(slice(None), slice(None)) + tuple(slice(0, (o - 1) * s + 1, s) for o, s in zip(out, strides))
              + tuple(slice(None, None, d) for d in dilations)]
    plain = _depthwise_windows(win, w)
    assert fast.shape == plain.shape and fast.flags.c_contiguous
    np.testing.assert_array_equal(fast.view(np.uint32), plain.view(np.uint32))
    (ref,) = run_ort("Conv", [x, w], opset=11, **attrs)
    np.testing.assert_allclose(fast, ref, rtol=1e-5, atol=1e-5)

