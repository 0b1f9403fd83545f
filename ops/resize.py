"""Resize and Upsample: nearest (all nearest_mode variants), linear and cubic, every
coordinate_transformation_mode, scales or sizes, keep_aspect_ratio_policy and axes (18+).

Interpolation is separable: one axis after the other, with ONNX Runtime's float32 coordinate arithmetic
((x + 0.5f) / scale - 0.5f ...) so that nearest picks the same pixels. Linear and cubic results can differ
from ORT by float32 rounding (ORT forms the 2-D bilinear sum in one expression). Antialias (18+, linear and
cubic, downscaling) widens the filter by 1/scale and normalises its taps, in float64.
"""
from __future__ import annotations

import math

from ._attrs import positive_axis
from .registry import register


def _f32(xp, v):
    return xp.asarray(v, dtype=xp.float32)


def _source_coords(xp, mode, out_len, in_len, scale, roi_start=0.0, roi_end=1.0, resized_len=None):
    """The input coordinate of each output index along one axis (float32, as ORT computes it).
    `resized_len` is the unrounded output length in_len * scale when the node gives scales (the spec's
    length_resized for align_corners); by default the integer output length."""
    x = xp.arange(out_len, dtype=xp.float32)
    s = xp.float32(scale)
    half = xp.float32(0.5)
    if mode == "half_pixel":
        return (x + half) / s - half
    if mode == "half_pixel_symmetric":
        adj = xp.float32(out_len) / (s * xp.float32(in_len))
        center = xp.float32(in_len) / xp.float32(2)
        offset = center * (xp.float32(1) - adj)
        return offset + (x + half) / s - half
    if mode == "pytorch_half_pixel":
        return (x + half) / s - half if out_len > 1 else xp.zeros_like(x)
    if mode == "align_corners":
        length = out_len if resized_len is None else resized_len
        if length == 1 or out_len == 1 and resized_len is None:
            return xp.zeros_like(x)
        return x * xp.float32(in_len - 1) / xp.float32(length - 1)
    if mode == "asymmetric":
        return x / s
    if mode == "tf_half_pixel_for_nearest":
        return (x + half) / s
    if mode == "tf_crop_and_resize":
        a, b = xp.float32(roi_start), xp.float32(roi_end)
        if out_len > 1:
            return a * xp.float32(in_len - 1) + x * (b - a) * xp.float32(in_len - 1) / xp.float32(out_len - 1)
        return xp.full_like(x, half * (a + b) * xp.float32(in_len - 1))
    raise ValueError(f"unknown coordinate_transformation_mode {mode!r}")


def _nearest_index(xp, coords, nearest_mode, in_len, scale):
    if nearest_mode == "round_prefer_floor":
        f = xp.floor(coords)
        idx = xp.where(coords - f == xp.float32(0.5), f, xp.round(coords))
    elif nearest_mode == "round_prefer_ceil":
        idx = xp.floor(coords + xp.float32(0.5))
    elif nearest_mode == "floor":
        idx = xp.floor(coords)
    elif nearest_mode == "ceil":
        idx = xp.ceil(coords)
    elif nearest_mode == "simple":
        # Resize-10 / Upsample: ceil when downsampling, truncation otherwise (ORT's SIMPLE mode).
        idx = xp.ceil(coords) if scale < 1 else xp.trunc(coords)
    else:
        raise ValueError(f"unknown nearest_mode {nearest_mode!r}")
    return xp.clip(idx, 0, in_len - 1).astype(xp.int64)


def _cubic_weights(xp, t, a):
    """Keys cubic weights for the taps at offsets -1, 0, 1, 2 from floor(x), t = x - floor(x)."""
    a = xp.float32(a)
    one, two = xp.float32(1), xp.float32(2)

    def near(d):  # |d| <= 1
        return ((a + two) * d - (a + xp.float32(3))) * d * d + one

    def far(d):  # 1 < |d| < 2
        return ((a * d - xp.float32(5) * a) * d + xp.float32(8) * a) * d - xp.float32(4) * a

    return [far(t + one), near(t), near(one - t), far(two - t)]


def _antialias_coeffs(xp, ratio, scale, mode, a):
    """Per output index, the taps of the downscaling (antialias) filter: the linear or cubic kernel stretched by
    1/scale and normalised to sum 1. `ratio` is the fractional source position (1 where it is an integer)."""
    if mode == "linear":
        start = int(math.floor(-1 / scale) + 1)
        n = 2 - 2 * start
        args = (xp.arange(start, start + n).reshape(1, n) - ratio.reshape(-1, 1)) * scale
        w = xp.clip(1 - xp.abs(args), 0, 1)
    else:
        start = int(math.floor(-2 / scale) + 1)
        n = 2 - 2 * start
        d = xp.abs((xp.arange(start, start + n).reshape(1, n) - ratio.reshape(-1, 1)) * scale)
        near = (a + 2) * d ** 3 - (a + 3) * d ** 2 + 1
        far = a * d ** 3 - 5 * a * d ** 2 + 8 * a * d - 4 * a
        w = xp.where(d <= 1, near, xp.where(d < 2, far, 0.0))
    return w / w.sum(axis=1, keepdims=True)


def _antialias_axis(xp, x, axis, out_len, scale, mode, ctm, cubic_coeff_a, exclude_outside, resized_len):
    in_len = x.shape[axis]
    coords = _source_coords(xp, ctm, out_len, in_len, scale, resized_len=resized_len).astype(xp.float64)
    base = xp.floor(coords)
    ratio = xp.where(coords == base, 1.0, coords - base)
    w = _antialias_coeffs(xp, ratio, scale, mode, cubic_coeff_a)
    n = w.shape[1]
    pad = int(math.ceil(n / 2))
    xpad = coords + pad
    p = xp.floor(xpad)
    frac = xpad - p
    if n % 2 == 0:
        off = xp.where(frac == 0, -(n // 2), -(n // 2) + 1)
    else:
        off = xp.where(frac <= 0.5, -((n - 1) // 2), -((n - 1) // 2) + 1)
    idx = (p.astype(xp.int64) + off).reshape(-1, 1) + xp.arange(n).reshape(1, n) - pad
    if exclude_outside:
        w = xp.where((idx < 0) | (idx >= in_len), 0.0, w)
        total = w.sum(axis=1, keepdims=True)
        w = w / xp.where(total == 0, 1.0, total)
    gathered = xp.take(x.astype(xp.float64), xp.clip(idx, 0, in_len - 1), axis=axis)
    shape = (1,) * axis + w.shape + (1,) * (x.ndim - axis - 1)
    return (gathered * w.reshape(shape)).sum(axis=axis + 1).astype(x.dtype)


def _resize_axis(xp, x, axis, out_len, scale, mode, ctm, nearest_mode, cubic_coeff_a, exclude_outside,
                 extrapolation_value, roi_start, roi_end, resized_len=None, antialias=0):
    in_len = x.shape[axis]
    if antialias and mode in ("linear", "cubic") and scale < 1:
        return _antialias_axis(xp, x, axis, out_len, scale, mode, ctm, cubic_coeff_a, exclude_outside,
                               resized_len)
    coords = _source_coords(xp, ctm, out_len, in_len, scale, roi_start, roi_end, resized_len)
    shape = [1] * x.ndim
    shape[axis] = out_len
    if mode == "nearest":
        out = xp.take(x, _nearest_index(xp, coords, nearest_mode, in_len, scale), axis=axis)
    elif mode == "linear":
        c = xp.clip(coords, 0, in_len - 1)
        i0 = xp.floor(c).astype(xp.int64)
        i1 = xp.minimum(i0 + 1, in_len - 1)
        w1 = c - i0.astype(xp.float32)
        w0 = xp.float32(1) - w1
        same = i0 == i1
        w0 = xp.where(same, xp.float32(0.5), w0)
        w1 = xp.where(same, xp.float32(0.5), w1)
        out = (xp.take(x, i0, axis=axis) * w0.reshape(shape).astype(x.dtype)
               + xp.take(x, i1, axis=axis) * w1.reshape(shape).astype(x.dtype))
    elif mode == "cubic":
        f = xp.floor(coords)
        base = f.astype(xp.int64)
        ws = _cubic_weights(xp, coords - f, cubic_coeff_a)
        idxs = [base + o for o in (-1, 0, 1, 2)]
        if exclude_outside:
            ws = [xp.where((i >= 0) & (i < in_len), w, xp.float32(0)) for w, i in zip(ws, idxs)]
            total = ws[0] + ws[1] + ws[2] + ws[3]
            ws = [w / total for w in ws]
        out = None
        for w, i in zip(ws, idxs):
            term = xp.take(x, xp.clip(i, 0, in_len - 1), axis=axis) * w.reshape(shape).astype(x.dtype)
            out = term if out is None else out + term
    else:
        raise ValueError(f"unknown Resize mode {mode!r}")
    if ctm == "tf_crop_and_resize":
        outside = ((coords < 0) | (coords > in_len - 1)).reshape(shape)
        out = xp.where(outside, out.dtype.type(extrapolation_value), out)
    return out


def _resize(xp, X, scales, sizes, roi=None, *, mode="nearest", coordinate_transformation_mode="half_pixel",
            nearest_mode="round_prefer_floor", cubic_coeff_a=-0.75, exclude_outside=0, extrapolation_value=0.0,
            antialias=0, axes=None, keep_aspect_ratio_policy="stretch"):
    rank = X.ndim
    axes = list(range(rank)) if axes is None else [positive_axis(a, rank) for a in axes]
    in_shape = list(X.shape)
    full_scales = [1.0] * rank
    out_shape = list(in_shape)
    from_scales = not (sizes is not None and len(sizes))
    if sizes is not None and len(sizes):
        sizes = [int(s) for s in sizes]
        if keep_aspect_ratio_policy != "stretch":
            ratios = [sizes[i] / in_shape[a] for i, a in enumerate(axes)]
            r = min(ratios) if keep_aspect_ratio_policy == "not_larger" else max(ratios)
            for a in axes:
                full_scales[a] = r
                # ORT rounds half away from zero here.
                out_shape[a] = int(math.floor(in_shape[a] * r + 0.5))
        else:
            for i, a in enumerate(axes):
                out_shape[a] = sizes[i]
                full_scales[a] = float(xp.float32(sizes[i]) / xp.float32(in_shape[a]))
    else:
        for i, a in enumerate(axes):
            s = float(scales[i])
            full_scales[a] = s
            out_shape[a] = int(in_shape[a] * float(xp.float32(s)))
    roi_full = None
    if roi is not None and len(roi) and coordinate_transformation_mode == "tf_crop_and_resize":
        roi = [float(v) for v in roi]
        n = len(roi) // 2
        roi_full = [(0.0, 1.0)] * rank
        for i, a in enumerate(axes if n == len(axes) else range(rank)):
            roi_full[a] = (roi[i], roi[i + n])
    y = X
    for a in range(rank):
        if out_shape[a] == in_shape[a] and full_scales[a] == 1.0 and coordinate_transformation_mode != "tf_crop_and_resize":
            continue
        rs, re = roi_full[a] if roi_full else (0.0, 1.0)
        # align_corners divides by length_resized - 1. The spec (scale = length_resized / length_original) and
        # onnx's reference take the unrounded in * scale when scales are given; ONNX Runtime takes the integer
        # output length. Linear and cubic follow the spec; nearest keeps ORT's pixel choice.
        resized = in_shape[a] * full_scales[a] if from_scales and mode != "nearest" else None
        y = _resize_axis(xp, y, a, out_shape[a], full_scales[a], mode, coordinate_transformation_mode, nearest_mode,
                         cubic_coeff_a, exclude_outside, extrapolation_value, rs, re, resized, antialias)
    return y.astype(X.dtype, copy=False)


def _list(v):
    return None if v is None else [float(a) for a in v.reshape(-1).tolist()]


@register("Resize", 10, host_inputs=(1,))
def Resize_10(xp, X, scales, *, mode="nearest"):
    return _resize(xp, X, _list(scales), None, mode=mode, coordinate_transformation_mode="asymmetric",
                   nearest_mode="simple")


@register("Resize", 11, 13, host_inputs=(1, 2, 3))
def Resize_11(xp, X, roi=None, scales=None, sizes=None, *, coordinate_transformation_mode="half_pixel",
              cubic_coeff_a=-0.75, exclude_outside=0, extrapolation_value=0.0, mode="nearest",
              nearest_mode="round_prefer_floor"):
    return _resize(xp, X, _list(scales), _list(sizes), _list(roi), mode=mode,
                   coordinate_transformation_mode=coordinate_transformation_mode, nearest_mode=nearest_mode,
                   cubic_coeff_a=cubic_coeff_a, exclude_outside=exclude_outside,
                   extrapolation_value=extrapolation_value)


@register("Resize", 18, 19, host_inputs=(1, 2, 3))
def Resize(xp, X, roi=None, scales=None, sizes=None, *, antialias=0, axes=None,
           coordinate_transformation_mode="half_pixel", cubic_coeff_a=-0.75, exclude_outside=0,
           extrapolation_value=0.0, keep_aspect_ratio_policy="stretch", mode="nearest",
           nearest_mode="round_prefer_floor"):
    return _resize(xp, X, _list(scales), _list(sizes), _list(roi), mode=mode,
                   coordinate_transformation_mode=coordinate_transformation_mode, nearest_mode=nearest_mode,
                   cubic_coeff_a=cubic_coeff_a, exclude_outside=exclude_outside,
                   extrapolation_value=extrapolation_value, antialias=antialias, axes=axes,
                   keep_aspect_ratio_policy=keep_aspect_ratio_policy)


def _upsample(xp, X, scales, mode):
    mode = "linear" if mode in ("linear", "bilinear") else mode
    return _resize(xp, X, scales, None, mode=mode, coordinate_transformation_mode="asymmetric", nearest_mode="simple")


@register("Upsample", 1)
def Upsample_1(xp, X, *, height_scale, width_scale, mode="nearest"):
    return _upsample(xp, X, [1.0] * (X.ndim - 2) + [height_scale, width_scale], mode)


@register("Upsample", 7)
def Upsample_7(xp, X, *, scales, mode="nearest"):
    return _upsample(xp, X, scales, mode)


@register("Upsample", 9, 10, host_inputs=(1,))
def Upsample(xp, X, scales, *, mode="nearest"):
    return _upsample(xp, X, _list(scales), mode)
