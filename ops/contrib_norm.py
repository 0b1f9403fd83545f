"""ONNX Runtime's layer normalizations for LLMs: SimplifiedLayerNormalization (RMSNorm; ORT defines it in
the ONNX domain), com.microsoft SkipSimplifiedLayerNormalization and SkipLayerNormalization.

Measured against ORT 1.32's CPU kernels:
- SimplifiedLayerNormalization, rows of 16 or more: x*x summed in eight float32 lanes with fused
  multiply-adds, the lanes reduced pairwise (4+4, 2+2, 1+1); of the tail after the last full eight, a
  four-wide step (products rounded, added one by one) when four remain, then fused scalar steps;
  inv = 1 / sqrt(sum / n + eps), Y = x * inv * scale. Shorter rows: a left-to-right sum and
  Y = x / sqrt(...) * scale. Bit for bit for every row length (measured: 1..79, 301, 1000, 4095).
- SkipSimplifiedLayerNormalization: v = (input + skip) + bias, a left-to-right float32 sum of v*v,
  Y = v / sqrt(sum / n + eps) * gamma: bit for bit.
- SkipLayerNormalization: Welford's running mean and sum of squared deviations in float32
  (d = v - mean; mean += d / (h + 1); m2 += d * (v - mean)), std = sqrt(m2 / n + eps),
  Y = (v - mean) / std * gamma + beta: bit for bit, and so are its mean and inv_std_var outputs.
"""
from __future__ import annotations

import math

from . import _compiled
from .normalization import _seq_sum
from .registry import register
from .xp import is_numpy

MS = "com.microsoft"


def _lane_sum_squares(xp, x):
    """Sum of x*x over the last axis as ORT's vectorised RMS loop: 8 fused lanes, a pairwise reduction,
    then the tail: four plain steps (when four remain) and fused scalar steps. A float32 product is exact in float64, so each fused step is one float64 add
    rounded to float32 (fma32's emulation)."""
    n = x.shape[-1]
    full = n // 8 * 8
    sq = x.astype(xp.float64)
    sq *= sq
    lanes = sq[..., :full].reshape(x.shape[:-1] + (full // 8, 8))
    acc = xp.zeros(x.shape[:-1] + (8,), dtype=xp.float32)
    for i in range(full // 8):
        if is_numpy(xp):  # the float64 add rounded into acc as it is stored: one call per step
            xp.add(lanes[..., i, :], acc, out=acc, dtype=xp.float64, casting="unsafe")
        else:
            acc = (lanes[..., i, :] + acc).astype(xp.float32)
    acc = acc[..., :4] + acc[..., 4:]
    acc = acc[..., :2] + acc[..., 2:]
    total = acc[..., 0] + acc[..., 1]
    j = full
    if n - full >= 4:  # a four-wide step: products rounded to float32, added to the total one by one
        for j in range(full, full + 4):
            total = total + sq[..., j].astype(xp.float32)
        j = full + 4
    for j in range(j, n):  # then fused scalar steps
        total = (sq[..., j] + total).astype(xp.float32)
    return total


@register("SimplifiedLayerNormalization", 1)
def SimplifiedLayerNormalization(xp, X, scale, *, axis=-1, epsilon=1e-5, stash_type=1):
    """ORT's RMSNorm (ONNX domain in ORT): bit for bit with ORT 1.32 for every row length (measured)."""
    axis = axis % X.ndim
    f = xp.float32
    if (axis == X.ndim - 1 and X.dtype == f and scale.dtype == f and scale.shape == X.shape[-1:] and X.size
            and _compiled.enabled(xp)):  # float32 rows over the last axis (a token step's): no casts, no reshapes
        Y, inv = xp.empty(X.shape, dtype=f), xp.empty(X.shape[:-1] + (1,), dtype=f)
        _compiled.loops("norm").simplified_layer_norm_last_axis(xp.ascontiguousarray(X), xp.ascontiguousarray(scale),
                                                                epsilon, Y, inv)  # epsilon rounded to float32 there
        return Y, inv
    x = X.reshape(X.shape[:axis] + (math.prod(X.shape[axis:]),)).astype(f, copy=False)  # (-1 fails when empty)
    n = x.shape[-1]
    s = scale.reshape(-1).astype(f, copy=False)
    stats_shape, stats_dtype = X.shape[:axis] + (1,) * (X.ndim - axis), X.dtype if X.dtype.itemsize < 4 else f
    if x.size and s.shape[0] == n and _compiled.enabled(xp):
        Y, inv = xp.empty(X.shape, dtype=f), xp.empty(stats_shape, dtype=f)
        _compiled.loops("norm").simplified_layer_norm(xp.ascontiguousarray(x.reshape(-1, n)), xp.ascontiguousarray(s),
                                                      f(epsilon), Y.reshape(-1, n), inv.reshape(-1))
        return Y.astype(X.dtype, copy=False), inv.astype(stats_dtype, copy=False)
    if n < 16:
        rms = xp.sqrt(_seq_sum(xp, x * x) / f(n) + f(epsilon))
        inv, Y = f(1) / rms, x / rms[..., None] * s
    else:
        inv = f(1) / xp.sqrt(_lane_sum_squares(xp, x) / f(n) + f(epsilon))
        Y = x * inv[..., None] * s
    return Y.astype(X.dtype, copy=False).reshape(X.shape), inv.reshape(stats_shape).astype(stats_dtype)


def _skip_sum(xp, input, skip, bias, cdt):
    """(input + skip) + bias in the compute type cdt: a new array (the kernels return it as their last output)."""
    v = input.astype(cdt, copy=False) + skip.astype(cdt, copy=False)  # skip broadcasts as ORT's offset % skip_size
    return v if bias is None else v + bias.astype(cdt, copy=False)


def _rows_compiled(xp, v, *per_feature):
    """v C-contiguous float32 (its rows along the last axis: the loops' `_last_axis` entries reshape it) and each
    per-feature vector flat, when the compiled loops can take them."""
    n = v.shape[-1]
    if v.dtype != xp.float32 or not v.size or not _compiled.enabled(xp):
        return None
    flat = [xp.ascontiguousarray(p.ravel(), dtype=xp.float32) for p in per_feature]
    if any(p.shape[0] != n for p in flat):
        return None  # the NumPy path broadcasts (or names the mismatch)
    return (xp.ascontiguousarray(v), *flat)


@register("SkipSimplifiedLayerNormalization", 1, domain=MS)
def SkipSimplifiedLayerNormalization(xp, input, skip, gamma, bias=None, *, epsilon=1e-12):
    """ORT contrib: bit for bit with ORT 1.32 (all four outputs; the mean is 0, as ORT returns it)."""
    cdt = xp.float32 if input.dtype.itemsize < 4 else input.dtype
    v = _skip_sum(xp, input, skip, bias, cdt)
    t = v.dtype.type
    rows = _rows_compiled(xp, v, gamma)
    if rows is not None:
        Y, inv = xp.empty(v.shape, dtype=cdt), xp.empty(v.shape[:-1] + (1,), dtype=cdt)
        _compiled.loops("norm").skip_simplified_layer_norm_last_axis(*rows, epsilon, Y, inv)  # epsilon: float32 there
    else:
        rms = xp.sqrt(_seq_sum(xp, v * v) / t(v.shape[-1]) + t(epsilon))
        Y = v / rms[..., None] * gamma.astype(cdt)
        inv = (t(1) / rms)[..., None]
    mean = xp.zeros(v.shape[:-1] + (1,), dtype=xp.float32)  # a simplified norm has no mean (ORT returns zeros)
    # Y, inv and v are this call's own arrays: cast only when the input's type is another
    return (Y.astype(input.dtype, copy=False), mean, inv.astype(xp.float32, copy=False),
            v.astype(input.dtype, copy=False))


@register("SkipLayerNormalization", 1, domain=MS)
def SkipLayerNormalization(xp, input, skip, gamma, beta=None, bias=None, *, epsilon=1e-12):
    """ORT contrib: bit for bit with ORT 1.32 (output, mean, inv_std_var, input_skip_bias_sum)."""
    cdt = xp.float32 if input.dtype.itemsize < 4 else input.dtype
    v = _skip_sum(xp, input, skip, bias, cdt)
    t = v.dtype.type
    rows = _rows_compiled(xp, v, gamma, gamma if beta is None else beta)
    if rows is not None:
        stats = v.shape[:-1] + (1,)
        Y, mean, inv = xp.empty(v.shape, dtype=cdt), xp.empty(stats, dtype=cdt), xp.empty(stats, dtype=cdt)
        x, g, b = rows
        _compiled.loops("norm").skip_layer_norm_last_axis(x, g, b, beta is not None, epsilon, Y, mean, inv)
        return Y.astype(input.dtype, copy=False), mean, inv, v.astype(input.dtype, copy=False)
    mean = xp.zeros(v.shape[:-1], dtype=cdt)
    m2 = xp.zeros(v.shape[:-1], dtype=cdt)
    for h in range(v.shape[-1]):  # Welford, element by element as ORT's loop
        x = v[..., h]
        d = x - mean
        mean = mean + d / t(h + 1)
        m2 = m2 + d * (x - mean)
    std = xp.sqrt(m2 / t(v.shape[-1]) + t(epsilon))
    Y = (v - mean[..., None]) / std[..., None] * gamma.astype(cdt)
    if beta is not None:
        Y = Y + beta.astype(cdt)
    return (Y.astype(input.dtype, copy=False), mean[..., None].astype(xp.float32),
            (t(1) / std)[..., None].astype(xp.float32), v.astype(input.dtype, copy=False))
