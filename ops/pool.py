"""Pooling: MaxPool, AveragePool, LpPool and their Global forms.

Average pooling over quantization-grid values lands on exact ties, so every window is summed in the
input dtype in the order ONNX Runtime's CPU kernels (MLAS) use, then divided by the count once:
  * "global" (kernel covers the whole input, strides 1, no pads): four interleaved lane sums
    (lane j takes elements j, j+4, ...), combined as (l0+l2)+(l1+l3), then the tail elements;
  * "vector" (2D/3D, last stride <= 2, every kernel dim <= 32): each kernel column is summed top to
    bottom (planes outer, rows inner), then the column sums left to right;
  * "generic" (everything else, and every dilated window): row-major order over the window.
Padding is filled with 0, which adds exactly, so summing padded windows gives the same bits.
"""
from __future__ import annotations

import math
from functools import partial

from . import _pool_nan
from ._attrs import ints_or_default
from ._taps import PhaseTaps
from .registry import register

# MLAS keeps the vectorised pooling row in a 2048-float stack buffer (minus 3 floats of slack).
_MLAS_REDUCTION_BUFFER = 2048 - 3


def pool_geometry(in_shape, kernel, strides, pads, dilations, auto_pad, ceil_mode=0):
    """Output spatial shape and (begin, end) pads, the way ONNX Runtime's pool attributes compute them."""
    n = len(kernel)
    pads = ints_or_default(pads, 2 * n, 0)
    begin, end, out = list(pads[:n]), list(pads[n:]), []
    for i in range(n):
        size, k, s, d = in_shape[i], kernel[i], strides[i], dilations[i]
        ek = (k - 1) * d + 1
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            o = -(-size // s)
            need = max(0, (o - 1) * s + ek - size)
            begin[i] = (need + 1) // 2 if auto_pad == "SAME_LOWER" else need // 2
            end[i] = need - begin[i]
        elif auto_pad == "VALID":
            begin[i] = end[i] = 0
            o = (size - ek) // s + 1
        else:
            span = size + begin[i] + end[i] - ek
            if ceil_mode:
                o = -(-span // s) + 1
                # The last window must start inside the input or its left padding.
                if (o - 1) * s >= size + begin[i]:
                    o -= 1
            else:
                o = span // s + 1
        out.append(max(int(o), 0))
    return out, begin, end


def _windows(xp, X, kernel, strides, dilations, out, begin, fill):
    """A (N, C, *out, *kernel) view of the zero/`fill`-padded input (windows may run past the pads)."""
    n = len(kernel)
    pad_width = [(0, 0), (0, 0)]
    for i in range(n):
        need = (out[i] - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1
        pad_width.append((begin[i], max(0, need - X.shape[2 + i] - begin[i])))
    if any(p != (0, 0) for p in pad_width):
        X = xp.pad(X, pad_width, mode="constant", constant_values=fill)
    ext = [(kernel[i] - 1) * dilations[i] + 1 for i in range(n)]
    W = xp.lib.stride_tricks.sliding_window_view(X, ext, axis=tuple(range(2, 2 + n)))
    sl = (slice(None), slice(None))
    sl += tuple(slice(0, (out[i] - 1) * strides[i] + 1, strides[i]) for i in range(n))
    sl += tuple(slice(None, None, dilations[i]) for i in range(n))
    return W[sl]


def _window_tap(W, tap):
    """Tap `tap` (a kernel index tuple) of every window of a _windows view."""
    return W[(Ellipsis,) + tap]


def _valid_counts(xp, size, k, s, d, o, b, e, dtype):
    """Per output position: taps inside the input, and taps inside input+pads (for count_include_pad)."""
    starts = xp.arange(o) * s - b
    taps = starts[:, None] + xp.arange(k)[None, :] * d
    inside = ((taps >= 0) & (taps < size)).sum(axis=1)
    in_pads = ((taps >= -b) & (taps < size + e)).sum(axis=1)
    return inside.astype(dtype), in_pads.astype(dtype)


def _sum_in_order(tap, order):
    """Sum window taps (tap(index) -> array) in an explicit list of kernel index tuples."""
    acc = tap(order[0])
    if len(order) > 1:
        acc = acc + tap(order[1])
        for idx in order[2:]:
            acc += tap(idx)
    return acc


def _row_major(kernel):
    out = [()]
    for k in kernel:
        out = [t + (j,) for t in out for j in range(k)]
    return out


def _window_sum(tap, kernel, route):
    if route == "vector":
        # Each column over the leading kernel dims first, then the columns left to right.
        cols = [_sum_in_order(tap, [t + (kw,) for t in _row_major(kernel[:-1])]) for kw in range(kernel[-1])]
        return _sum_in_order(cols.__getitem__, list(range(len(cols))))
    return _sum_in_order(tap, _row_major(kernel))


def _global_sum(xp, X):
    """MLAS global reduction: four lane sums over the flattened spatial dims, then the tail."""
    N, C = X.shape[:2]
    flat = X.reshape(N, C, -1)
    size = flat.shape[2]
    main = (size // 4) * 4
    if main:
        lanes = flat[:, :, :main].reshape(N, C, main // 4, 4)
        acc = xp.zeros((N, C, 4), dtype=X.dtype)
        for j in range(main // 4):
            acc = acc + lanes[:, :, j]
        total = (acc[..., 0] + acc[..., 2]) + (acc[..., 1] + acc[..., 3])
    else:
        total = xp.zeros((N, C), dtype=X.dtype)
    for j in range(main, size):
        total = total + flat[:, :, j]
    return total.reshape((N, C) + (1,) * (X.ndim - 2))


def _mlas_route(in_shape, kernel, strides, begin, end):
    if list(kernel) == list(in_shape) and all(s == 1 for s in strides) and not any(begin) and not any(end):
        return "global"
    if len(kernel) >= 2 and strides[-1] <= 2 and all(k <= 32 for k in kernel):
        if _MLAS_REDUCTION_BUFFER - begin[-1] - end[-1] >= in_shape[-1]:
            return "vector"
    return "generic"


def _average(xp, X, kernel_shape, strides, pads, dilations, auto_pad, ceil_mode, count_include_pad, mlas):
    n = X.ndim - 2
    kernel = [int(k) for k in kernel_shape]
    strides = ints_or_default(strides, n, 1)
    dilations = ints_or_default(dilations, n, 1)
    in_shape = list(X.shape[2:])
    out, begin, end = pool_geometry(in_shape, kernel, strides, pads, dilations, auto_pad, ceil_mode)
    # ORT leaves MLAS for its own row-major loop when ceil_mode windows must count padding.
    route = _mlas_route(in_shape, kernel, strides, begin, end) if mlas and not (ceil_mode and count_include_pad) else "generic"
    if route == "global":
        return _global_sum(xp, X) / X.dtype.type(math.prod(kernel))
    taps = PhaseTaps(xp, X, kernel, strides, dilations, out, begin, 0)
    total = taps.crop(_window_sum(taps.taps.__getitem__, kernel, route))
    # Divisor: an outer product of per-axis tap counts (small integers, exact in any float dtype).
    count = None
    for i in range(n):
        inside, in_pads = _valid_counts(xp, in_shape[i], kernel[i], strides[i], dilations[i], out[i],
                                        begin[i], end[i], X.dtype)
        c = in_pads if count_include_pad else inside
        c = c.reshape((-1,) + (1,) * (n - 1 - i))
        count = c if count is None else count * c
    return total / xp.maximum(count, X.dtype.type(1))


@register("AveragePool", 1, 7, 10, 11)
def AveragePool(xp, X, *, auto_pad="NOTSET", ceil_mode=0, count_include_pad=0, kernel_shape=None, pads=None,
                strides=None):
    # ORT runs these versions through MlasPool (no dilations before opset 19).
    return _average(xp, X, kernel_shape, strides, pads, None, auto_pad, ceil_mode, count_include_pad, True)


@register("AveragePool", 19, 22)
def AveragePool_19(xp, X, *, auto_pad="NOTSET", ceil_mode=0, count_include_pad=0, dilations=None,
                   kernel_shape=None, pads=None, strides=None):
    # From opset 19 ORT uses its own loop (row-major window sum, then one division) for every case.
    return _average(xp, X, kernel_shape, strides, pads, dilations, auto_pad, ceil_mode, count_include_pad, False)


@register("GlobalAveragePool", 1, 22)
def GlobalAveragePool(xp, X):
    return _global_sum(xp, X) / X.dtype.type(math.prod(X.shape[2:]))


def _lowest(xp, dtype):
    return -float("inf") if dtype.kind == "f" else xp.iinfo(dtype).min


@register("MaxPool", 1, 8, 10, 11, 12, 22)
def MaxPool(xp, X, *, auto_pad="NOTSET", ceil_mode=0, dilations=None, kernel_shape=None, pads=None,
            storage_order=0, strides=None, _n_outputs=2):
    n = X.ndim - 2
    kernel = [int(k) for k in kernel_shape]
    strides = ints_or_default(strides, n, 1)
    dilations = ints_or_default(dilations, n, 1)
    in_shape = list(X.shape[2:])
    out, begin, end = pool_geometry(in_shape, kernel, strides, pads, dilations, auto_pad, ceil_mode)
    if _n_outputs < 2:
        # Max over one slice per kernel tap: far faster than reducing the window axes of a strided
        # view, and max is exact whatever the order.
        taps = PhaseTaps(xp, X, kernel, strides, dilations, out, begin, _lowest(xp, X.dtype))
        Y = None
        for view in taps.taps.values():
            Y = view.copy() if Y is None else xp.maximum(Y, view, out=Y)
        if X.dtype.kind == "f" and bool(xp.isnan(Y).any()):  # a window held a NaN: ONNX Runtime's order
            mlas = X.dtype == xp.float32 and all(d == 1 for d in dilations) and not storage_order
            if mlas and _pool_nan.uses_vector_kernel(X, kernel, strides, begin, end):
                return _pool_nan.vector_kernel(xp, X, kernel, strides, begin, out)
            valid = PhaseTaps(xp, xp.ones(X.shape, dtype=xp.bool_), kernel, strides, dilations, out, begin, 0)
            Y, _ = _pool_nan.max_over_taps(xp, list(taps.taps.values()), list(valid.taps.values()), not mlas,
                                           X.dtype)
        return taps.crop(Y)
    W = _windows(xp, X, kernel, strides, dilations, out, begin, _lowest(xp, X.dtype))
    kaxes = tuple(range(2 + n, 2 + 2 * n))
    Y = W.max(axis=kaxes)
    # Indices: first maximum in row-major window order, as a flat index into X (NCHW, or
    # column-major spatial order when storage_order == 1).
    flatW = W.reshape(W.shape[:2 + n] + (-1,))
    if X.dtype.kind == "f" and bool(xp.isnan(Y).any()):
        flatM = _windows(xp, xp.ones(X.shape, dtype=xp.bool_), kernel, strides, dilations, out, begin, False)
        flatM = flatM.reshape(flatW.shape)
        Y, arg = _pool_nan.max_over_taps(xp, [flatW[..., k] for k in range(flatW.shape[-1])],
                                         [flatM[..., k] for k in range(flatW.shape[-1])], True, X.dtype)
    else:
        arg = xp.argmax(flatW, axis=-1)
    N, C = X.shape[:2]
    index = (xp.arange(N * C, dtype=xp.int64).reshape(N, C) * math.prod(in_shape)).reshape((N, C) + (1,) * n)
    rem = arg
    coords = []
    for i in reversed(range(n)):
        coords.append(rem % kernel[i])
        rem = rem // kernel[i]
    coords.reverse()
    place = 1
    order = range(n) if storage_order else reversed(range(n))
    for i in order:
        pos = (xp.arange(out[i], dtype=xp.int64) * strides[i] - begin[i]).reshape((-1,) + (1,) * (n - 1 - i))
        index = index + (pos + coords[i].astype(xp.int64) * dilations[i]) * place
        place *= in_shape[i]
    return Y, index.astype(xp.int64)


@register("GlobalMaxPool", 1, 22)
def GlobalMaxPool(xp, X):
    return X.max(axis=tuple(range(2, X.ndim)), keepdims=True)


def _lp_power(xp, X, p):
    # ORT: std::pow(|x|, int64 p) is evaluated in double, then rounded to the input dtype.
    a = xp.abs(X)
    if p == 2:
        return a * a if X.dtype.itemsize >= 4 else (a.astype("float64") ** 2).astype(X.dtype)
    return (a.astype("float64") ** float(p)).astype(X.dtype)


def _lp_root(X, total, p):
    # ORT: std::pow(y, 1.0f / p) with a float exponent, evaluated in double (bit-exact against ORT).
    return (total.astype("float64") ** float(X.dtype.type(1) / X.dtype.type(p))).astype(X.dtype)


@register("LpPool", 1, 2, 11, 18, 22)
def LpPool(xp, X, *, auto_pad="NOTSET", ceil_mode=0, dilations=None, kernel_shape=None, p=2, pads=None,
           strides=None):
    n = X.ndim - 2
    kernel = [int(k) for k in kernel_shape]
    strides = ints_or_default(strides, n, 1)
    dilations = ints_or_default(dilations, n, 1)
    out, begin, _ = pool_geometry(list(X.shape[2:]), kernel, strides, pads, dilations, auto_pad, ceil_mode)
    W = _windows(xp, _lp_power(xp, X, p), kernel, strides, dilations, out, begin, 0)
    return _lp_root(X, _window_sum(partial(_window_tap, W), kernel, "generic"), p)


@register("GlobalLpPool", 1, 2, 22)
def GlobalLpPool(xp, X, *, p=2):
    n = X.ndim - 2
    kernel = list(X.shape[2:])
    W = _windows(xp, _lp_power(xp, X, p), kernel, [1] * n, [1] * n, [1] * n, [0] * n, 0)
    return _lp_root(X, _window_sum(partial(_window_tap, W), kernel, "generic"), p)
