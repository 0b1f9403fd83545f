"""Convolutions: Conv and ConvTranspose (1D/2D/3D, groups, dilations, strides, pads, auto_pad).

Conv is im2col over a sliding-window view followed by one batched matmul over all groups, with the
bias added after the GEMM as ORT does; pointwise convolutions need no im2col. Depthwise convolutions
(one input channel per group) are a multiply-accumulate over kernel taps, vectorised over channels
and pixels. MLAS sums in its own blocked FMA order, so results agree with ORT to float32 rounding,
not bit for bit.

The GEMM has exactly one column per output position: columns copied from long tap slices
(ops/_taps.py) would be cheaper but add columns between output rows, and BLAS may sum a column in an
order that depends on the column count (measured with OpenBLAS), which would change results.
"""
from __future__ import annotations

import math

from ._attrs import ints_or_default
from ._taps import PhaseTaps
from .registry import register


def _conv_pads(in_shape, kernel, strides, dilations, pads, auto_pad):
    n = len(kernel)
    pads = ints_or_default(pads, 2 * n, 0)
    begin, end, out = list(pads[:n]), list(pads[n:]), []
    for i in range(n):
        ek = (kernel[i] - 1) * dilations[i] + 1
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            o = -(-in_shape[i] // strides[i])
            need = max(0, (o - 1) * strides[i] + ek - in_shape[i])
            begin[i] = (need + 1) // 2 if auto_pad == "SAME_LOWER" else need // 2
            end[i] = need - begin[i]
        elif auto_pad == "VALID":
            begin[i] = end[i] = 0
        out.append((in_shape[i] + begin[i] + end[i] - ek) // strides[i] + 1)
    return out, begin, end


def _batch_first(xp, Y, N, M, out):
    """(G, M/G, N*O) GEMM results as (N, M, *out)."""
    if N == 1:
        return Y.reshape(1, M, *out)
    G = Y.shape[0]
    return xp.ascontiguousarray(Y.reshape(G, M // G, N, -1).transpose(2, 0, 1, 3)).reshape(N, M, *out)


def _depthwise_taps(xp, X, W, out, strides, dilations, begin):
    """Depthwise convolution: per output, input * weight summed over the kernel taps in row-major
    order, one multiply and one add per tap, over PhaseTaps' long slices (_taps.py says why; the plain
    window-view form is in tests/ops/test_conv.py, equal bit for bit)."""
    G, M, kernel = X.shape[1], W.shape[0], tuple(W.shape[2:])
    taps = PhaseTaps(xp, X, kernel, strides, dilations, out, begin, 0)
    w = W.reshape((1, G, M // G) + kernel + (1,))
    Y = term = None
    for tap, view in taps.taps.items():  # row-major kernel order
        view = view[:, :, None]  # (N, G, 1, size)
        wk = w[(slice(None),) * 3 + tap]
        if Y is None:
            Y = view * wk
            term = xp.empty_like(Y)
        else:
            xp.multiply(view, wk, out=term)
            Y += term
    return taps.crop(Y.reshape(Y.shape[0], M, -1))


@register("Conv", 1, 11, 22)
def Conv(xp, X, W, B=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None,
         strides=None):
    if X.dtype.itemsize < 4:  # float16 / bfloat16: accumulate in float32, round once at the end
        f = xp.float32
        out = Conv(xp, X.astype(f), W.astype(f), None if B is None else B.astype(f), auto_pad=auto_pad,
                   dilations=dilations, group=group, kernel_shape=kernel_shape, pads=pads, strides=strides)
        return out.astype(X.dtype)
    n = X.ndim - 2
    kernel = list(W.shape[2:])
    strides = ints_or_default(strides, n, 1)
    dilations = ints_or_default(dilations, n, 1)
    out, begin, end = _conv_pads(list(X.shape[2:]), kernel, strides, dilations, pads, auto_pad)
    C = X.shape[1]
    M, Cg = W.shape[:2]
    G = int(group)
    if all(k == 1 for k in kernel) and not any(begin) and not any(end):
        Y = _pointwise(xp, X, W, out, strides, G)
    elif Cg == 1 and G == C and G > 1:
        Y = _depthwise_taps(xp, X, W, out, strides, dilations, begin)
    else:
        Y = _im2col(xp, X, W, out, strides, dilations, begin, end, G)
    if B is not None:
        Y += B.reshape((1, M) + (1,) * n)
    return Y


def _pointwise(xp, X, W, out, strides, G):
    """1x1 convolutions (grouped too): no im2col, the (strided) input is already the column matrix."""
    n = X.ndim - 2
    N = X.shape[0]
    M, Cg = W.shape[:2]
    if any(s != 1 for s in strides):
        X = X[(slice(None), slice(None)) + tuple(slice(0, (out[i] - 1) * strides[i] + 1, strides[i])
                                                 for i in range(n))]
    O = math.prod(out)
    cols = xp.ascontiguousarray(X.reshape(N, G, Cg, O).transpose(1, 2, 0, 3)).reshape(G, Cg, N * O)
    return _batch_first(xp, xp.matmul(W.reshape(G, M // G, Cg), cols), N, M, out)


def _im2col(xp, X, W, out, strides, dilations, begin, end, G):
    """im2col over a sliding-window view: (G, Cg*K, N*O), one GEMM per group with the whole batch in
    its columns."""
    n = X.ndim - 2
    N = X.shape[0]
    M, Cg = W.shape[:2]
    kernel = list(W.shape[2:])
    if any(begin) or any(end):  # zeros, then the input inside: xp.pad costs 10-20 us more per call
        padded = xp.zeros(X.shape[:2] + tuple(X.shape[2 + i] + begin[i] + end[i] for i in range(n)), dtype=X.dtype)
        padded[(Ellipsis,) + tuple(slice(begin[i], begin[i] + X.shape[2 + i]) for i in range(n))] = X
        X = padded
    ext = [(kernel[i] - 1) * dilations[i] + 1 for i in range(n)]
    win = xp.lib.stride_tricks.sliding_window_view(X, ext, axis=tuple(range(2, 2 + n)))
    sl = (slice(None), slice(None))
    sl += tuple(slice(0, (out[i] - 1) * strides[i] + 1, strides[i]) for i in range(n))
    sl += tuple(slice(None, None, dilations[i]) for i in range(n))
    win = win[sl]  # (N, C, *out, *kernel)
    K = math.prod(kernel)
    O = math.prod(out)
    # One copy of the transposed window view (measured 10-25% faster than one copy per kernel tap).
    cols = xp.empty((G, Cg) + tuple(kernel) + (N,) + tuple(out), dtype=X.dtype)
    order = (1, 2) + tuple(range(3 + n, 3 + 2 * n)) + (0,) + tuple(range(3, 3 + n))
    cols[...] = win.reshape((N, G, Cg) + tuple(out) + tuple(kernel)).transpose(order)
    cols = cols.reshape(G, Cg * K, N * O)
    return _batch_first(xp, xp.matmul(W.reshape(G, M // G, Cg * K), cols), N, M, out)


@register("ConvTranspose", 1, 11, 22)
def ConvTranspose(xp, X, W, B=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None,
                  output_padding=None, output_shape=None, pads=None, strides=None):
    n = X.ndim - 2
    kernel = list(W.shape[2:])
    strides = ints_or_default(strides, n, 1)
    dilations = ints_or_default(dilations, n, 1)
    out_pad = ints_or_default(output_padding, n, 0)
    in_shape = list(X.shape[2:])
    N, C = X.shape[:2]
    G = int(group)
    Mg = W.shape[1]
    M = Mg * G
    # Full (uncropped) size of the scattered output, before removing pads.
    full = [(in_shape[i] - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 + out_pad[i] for i in range(n)]
    pads_l = ints_or_default(pads, 2 * n, 0)
    begin, end = list(pads_l[:n]), list(pads_l[n:])
    if output_shape:
        target = [int(v) for v in output_shape][-n:]
        for i in range(n):
            total = max(0, full[i] - target[i])
            # ORT: SAME_UPPER puts the extra pad at the end, anything else at the beginning.
            if auto_pad == "SAME_UPPER":
                begin[i], end[i] = total // 2, total - total // 2
            else:
                begin[i], end[i] = total - total // 2, total // 2
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        for i in range(n):
            total = max(0, full[i] - in_shape[i] * strides[i])
            if auto_pad == "SAME_UPPER":
                begin[i], end[i] = total // 2, total - total // 2
            else:
                begin[i], end[i] = total - total // 2, total // 2
    elif auto_pad == "VALID":
        begin, end = [0] * n, [0] * n
    K = math.prod(kernel)
    I = math.prod(in_shape)
    # GEMM: cols[n, g, (mg, k), i] = sum_c W[g, c, (mg, k)] * X[n, g, c, i]
    Wg = W.reshape(G, C // G, Mg * K)
    Xg = X.reshape(N, G, C // G, I)
    cols = xp.matmul(Wg.transpose(0, 2, 1), Xg).reshape(N, M, *kernel, *in_shape)
    # col2im: add tap by tap in row-major kernel order, like ORT's Col2im.
    Y = xp.zeros((N, M, *full), dtype=X.dtype)
    for idx in range(K):
        k = []
        r = idx
        for i in reversed(range(n)):
            k.append(r % kernel[i])
            r //= kernel[i]
        k.reverse()
        dst = (slice(None), slice(None)) + tuple(
            slice(k[i] * dilations[i], k[i] * dilations[i] + (in_shape[i] - 1) * strides[i] + 1, strides[i])
            for i in range(n))
        Y[dst] += cols[(slice(None), slice(None)) + tuple(k)]
    crop = (slice(None), slice(None)) + tuple(slice(begin[i], full[i] - end[i]) for i in range(n))
    Y = Y[crop]
    if output_shape:
        Y = Y[(slice(None), slice(None)) + tuple(slice(0, t) for t in target)]
        grow = [max(0, target[i] - Y.shape[2 + i]) for i in range(n)]
        if any(grow):  # an output_shape beyond the full size is extra output padding (zeros at the end)
            Y = xp.pad(Y, [(0, 0), (0, 0)] + [(0, g) for g in grow])
    if B is not None:
        Y = Y + B.reshape((1, M) + (1,) * n)
    return Y
