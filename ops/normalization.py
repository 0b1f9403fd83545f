"""Normalizations: BatchNormalization, LayerNormalization, RMSNormalization, InstanceNormalization,
GroupNormalization, LRN, MeanVarianceNormalization.

Each follows ONNX Runtime's CPU kernel operation by operation (accumulation dtype, sequential sums,
divide vs multiply-by-inverse, where the epsilon goes), because their outputs feed quantizers.
"""
from __future__ import annotations

import math

from .registry import register
from .xp import is_numpy


def _seq_sum(xp, a):
    """Left-to-right sum over the last axis in a's dtype (ORT's plain `for` loops accumulate so)."""
    if is_numpy(xp) and a.shape[-1] > 16:
        return xp.cumsum(a, axis=-1, dtype=a.dtype)[..., -1]  # add.accumulate is strictly sequential
    acc = a[..., 0]
    for j in range(1, a.shape[-1]):
        acc = acc + a[..., j]
    return acc


def _eigen_sum(xp, a, aligned_start):
    """Eigen's vectorised sum (SSE, 4-float packets, two packet accumulators) over the last axis.

    aligned_start: elements before the first 16-byte aligned one (0 for expression operands).
    """
    size = a.shape[-1]
    ps = 4
    s0 = aligned_start
    aligned2 = ((size - s0) // (2 * ps)) * (2 * ps)
    aligned1 = ((size - s0) // ps) * ps
    if aligned1 == 0:
        return _seq_sum(xp, a) if size > 1 else a[..., 0]
    p0 = a[..., s0:s0 + ps]
    if aligned1 > ps:
        p1 = a[..., s0 + ps:s0 + 2 * ps]
        for i in range(s0 + 2 * ps, s0 + aligned2, 2 * ps):
            p0 = p0 + a[..., i:i + ps]
            p1 = p1 + a[..., i + ps:i + 2 * ps]
        p0 = p0 + p1
        if aligned1 > aligned2:
            p0 = p0 + a[..., s0 + aligned2:s0 + aligned2 + ps]
    res = (p0[..., 0] + p0[..., 2]) + (p0[..., 1] + p0[..., 3])
    for i in range(0, s0):
        res = res + a[..., i]
    for i in range(s0 + aligned1, size):
        res = res + a[..., i]
    return res


def _stats_dtype(X):
    # ORT computes half precision in float32 and float/double in their own type.
    return "float32" if X.dtype.itemsize < 4 else X.dtype


@register("BatchNormalization", 1, 6, 7, 9, 14, 15)
def BatchNormalization(xp, X, scale, B, mean, var, *, epsilon=1e-5, momentum=0.9, spatial=1, is_test=0,
                       training_mode=0, consumed_inputs=None):
    dt = X.dtype
    scale, B, mean, var = (t.astype(dt, copy=False) for t in (scale, B, mean, var))
    eps = dt.type(epsilon)
    n = X.ndim
    if training_mode:
        axes = (0,) + tuple(range(2, n))
        count = dt.type(X.size // X.shape[1])
        cur_mean = X.sum(axis=axes, dtype=dt) / count
        cur_var = ((X - cur_mean.reshape((1, -1) + (1,) * (n - 2))) ** 2).sum(axis=axes, dtype=dt) / count
        mom = dt.type(momentum)
        running_mean = mean * mom + cur_mean * (dt.type(1) - mom)
        running_var = var * mom + cur_var * (dt.type(1) - mom)
        mean, var = cur_mean, cur_var
    # spatial == 0 (opsets 1-7): statistics per element of X.shape[1:], not per channel.
    shape = (1,) + tuple(X.shape[1:]) if not spatial else (1, -1) + (1,) * (n - 2)
    # ORT: inv_std = 1/sqrt(var+eps); Y = X * (inv_std*scale) + (B - mean*inv_std*scale).
    inv_std = dt.type(1) / xp.sqrt(var + eps)
    new_scale = inv_std * scale
    new_bias = B - mean * new_scale
    Y = X * new_scale.reshape(shape)
    Y += new_bias.reshape(shape)
    if training_mode:
        return Y, running_mean, running_var
    return Y


def _layer_norm(xp, X, scale, bias, axis, epsilon, simplified, stash_type=1):
    # Measured against ORT 1.32 (its vectorised CPU kernel differs from the scalar loop in older
    # sources): the row mean equals the float64 sum / n rounded to float; the inverse std dev is
    # 1/sqrt(var + eps) in the compute type; Y = fma((x - mean) * inv_std, scale, bias). The fused
    # multiply-add is emulated in float64 (a product of two floats is exact there). Mean is bit-exact;
    # ORT's variance differs by an ulp on some rows, so InvStdDev/Y match on most rows, not all.
    axis = axis % X.ndim
    norm_size = math.prod(X.shape[axis:])
    cdt = _stats_dtype(X)
    x = X.reshape(-1, norm_size).astype(cdt, copy=False)
    dt = x.dtype.type
    xd = x.astype("float64")
    mean_d = xd.sum(axis=-1) / norm_size
    ms_d = (xd * xd).sum(axis=-1) / norm_size
    var = (ms_d if simplified else ms_d - mean_d * mean_d).astype(cdt)
    mean = mean_d.astype(cdt)
    inv = dt(1) / xp.sqrt(var + dt(epsilon))
    s = scale.reshape(-1).astype(cdt, copy=False)
    t = (x if simplified else x - mean[:, None]) * inv[:, None]
    if simplified or bias is None:
        y = t * s
    elif x.dtype.itemsize == 4:
        y = (t.astype("float64") * s + bias.reshape(-1)).astype(cdt)
    else:
        y = t * s + bias.reshape(-1).astype(cdt, copy=False)
    Y = y.astype(X.dtype, copy=False).reshape(X.shape)
    stat_shape = tuple(X.shape[:axis]) + (1,) * (X.ndim - axis)
    # Mean / InvStdDev: float32 for float and double inputs (ORT narrows), else X's type.
    sdt = "float32" if X.dtype.itemsize >= 4 else X.dtype
    return Y, mean.astype(sdt).reshape(stat_shape), inv.astype(sdt).reshape(stat_shape)


@register("LayerNormalization", 17)
def LayerNormalization(xp, X, Scale, B=None, *, axis=-1, epsilon=1e-5, stash_type=1):
    return _layer_norm(xp, X, Scale, B, axis, epsilon, False, stash_type)


@register("RMSNormalization", 23)
def RMSNormalization(xp, X, scale, *, axis=-1, epsilon=1e-5, stash_type=1):
    return _layer_norm(xp, X, scale, None, axis, epsilon, True, stash_type)[0]


@register("InstanceNormalization", 1, 6, 22)
def InstanceNormalization(xp, input, scale, B, *, epsilon=1e-5, consumed_inputs=None):
    X = input
    N, C = X.shape[:2]
    W = math.prod(X.shape[2:])
    x = X.reshape(N * C, W)
    dt = x.dtype.type
    # ORT: Eigen mean() over a Map (its packet loop starts at the first 16-byte aligned element of each
    # row, assuming a 16-byte aligned tensor), then squaredNorm() of (x - mean) (an expression: start 0).
    starts = [(-(W * i)) % 4 for i in range(min(N * C, 4))]
    mean = xp.empty((N * C,), dtype=x.dtype)
    for r in range(len(starts)):
        mean[r::4] = _eigen_sum(xp, x[r::4], starts[r]) / dt(W)
    d = x - mean[:, None]
    sq = _eigen_sum(xp, d * d, 0)
    inv_std = dt(1) / xp.sqrt(sq / dt(W) + dt(epsilon))
    ch_scale = inv_std * xp.tile(scale.astype(x.dtype, copy=False), N)
    ch_shift = xp.tile(B.astype(x.dtype, copy=False), N) - mean * ch_scale
    return (x * ch_scale[:, None] + ch_shift[:, None]).reshape(X.shape)


@register("GroupNormalization", 18, 21)
def GroupNormalization(xp, X, scale, bias, *, epsilon=1e-5, num_groups=None, stash_type=1):
    N, C = X.shape[:2]
    G = int(num_groups)
    cdt = _stats_dtype(X) if stash_type == 1 else X.dtype
    x = X.reshape(N, G, -1).astype(cdt, copy=False)
    n = x.dtype.type(x.shape[-1])
    mean = x.sum(axis=-1, keepdims=True, dtype=x.dtype) / n
    d = x - mean
    var = (d * d).sum(axis=-1, keepdims=True, dtype=x.dtype) / n
    y = (d / xp.sqrt(var + x.dtype.type(epsilon))).reshape(X.shape)
    # Opset 18 has one scale/bias per group; opset 21 one per channel.
    if scale.shape[0] == G and G != C:
        scale = xp.repeat(scale, C // G)
        bias = xp.repeat(bias, C // G)
    shape = (1, C) + (1,) * (X.ndim - 2)
    y = y * scale.astype(cdt, copy=False).reshape(shape) + bias.astype(cdt, copy=False).reshape(shape)
    return y.astype(X.dtype, copy=False)


@register("LRN", 1, 13)
def LRN(xp, X, *, size, alpha=1e-4, beta=0.75, bias=1.0):
    dt = X.dtype.type
    N, C = X.shape[:2]
    pre = (size - 1) // 2
    a = dt(alpha) / dt(size)
    # ORT keeps a running window over channels: scale[0] = bias + sum of a*sq over the first window,
    # then scale[c] = (scale[c-1] + a*sq[head]) + (-a)*sq[tail], on a zero-padded square buffer.
    sq = X * X
    padded = xp.zeros((N, C + size - 1) + tuple(X.shape[2:]), dtype=X.dtype)
    padded[:, pre:pre + C] = sq
    terms = padded * a
    cur = xp.full((N,) + tuple(X.shape[2:]), dt(bias), dtype=X.dtype)
    for c in range(size):
        cur = cur + terms[:, c]
    scales = [cur]
    for c in range(1, C):
        cur = (cur + terms[:, c + size - 1]) + (-terms[:, c - 1])
        scales.append(cur)
    scale = xp.stack(scales, axis=1)
    return X * scale ** dt(-beta)


@register("MeanVarianceNormalization", 9, 13)
def MeanVarianceNormalization(xp, X, *, axes=(0, 2, 3)):
    # The ONNX function: (X - E[X]) / (sqrt(E[X^2] - E[X]^2) + 1e-9).
    axes = tuple(int(a) % X.ndim for a in axes)
    count = X.dtype.type(math.prod(X.shape[a] for a in axes))
    mean = X.sum(axis=axes, keepdims=True, dtype=X.dtype) / count
    mean_sq = (X * X).sum(axis=axes, keepdims=True, dtype=X.dtype) / count
    std = xp.sqrt(mean_sq - mean * mean)
    return (X - mean) / (std + X.dtype.type(1e-9))


@register("LpNormalization", 1, 22)
def LpNormalization(xp, input, *, axis=-1, p=2):
    if p == 1:
        norm = xp.abs(input).sum(axis=axis, keepdims=True)
    elif p == 2:
        norm = xp.sqrt((input * input).sum(axis=axis, keepdims=True))
    else:
        raise ValueError(f"LpNormalization: p must be 1 or 2, not {p}")
    zero = input.dtype.type(0)
    safe = xp.where(norm == zero, input.dtype.type(1), norm)
    return xp.where(norm == zero, zero, input / safe).astype(input.dtype)
