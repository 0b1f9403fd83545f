"""Quantized ops: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, QLinearConv, QLinearMatMul, ConvInteger,
MatMulInteger.

Quantization rounds half to even (`rint`) and saturates to the target type's range; float8 targets saturate to the
type's largest finite value when `saturate` is set. Granularity follows the scale's shape: a scalar is per tensor, a
1-D scale is per axis, a scale of the input's rank is blocked along `axis` by `block_size`.
"""
from __future__ import annotations

from ._attrs import positive_axis
from .conv import Conv
from .dtypes import dtype_of
from .registry import register

_INT_RANGES = {"uint8": (0, 255), "int8": (-128, 127), "uint16": (0, 65535), "int16": (-32768, 32767),
               "uint4": (0, 15), "int4": (-8, 7), "uint2": (0, 3), "int2": (-2, 1),
               "int32": (-2 ** 31, 2 ** 31 - 1)}
_FLOAT8_MAX = {"float8_e4m3fn": 448.0, "float8_e4m3fnuz": 240.0, "float8_e5m2": 57344.0, "float8_e5m2fnuz": 57344.0}


def _per_axis(xp, s, shape, axis, block_size):
    """`s` (scale or zero point) shaped to broadcast against an input of `shape`."""
    if s.ndim == 0 or s.size == 1 and len(shape) == 0:
        return s.reshape(())
    rank = len(shape)
    axis = positive_axis(axis, rank)
    if s.ndim == 1 and not block_size:
        return s.reshape([-1 if i == axis else 1 for i in range(rank)]) if s.size > 1 or rank else s.reshape(())
    if block_size:
        s = xp.repeat(s, block_size, axis=axis)
        index = [slice(None)] * rank
        index[axis] = slice(0, shape[axis])
        return s[tuple(index)]
    return s


def _quantize(xp, x, y_scale, y_zero_point, axis, saturate, block_size, output_dtype, precision):
    if y_zero_point is not None:
        dtype = y_zero_point.dtype
    elif output_dtype:
        dtype = dtype_of(output_dtype)
    else:
        dtype = xp.dtype(xp.uint8)
    scale = _per_axis(xp, y_scale, x.shape, axis, block_size)
    work = dtype_of(precision) if precision else scale.dtype
    q = x.astype(work) / scale.astype(work)
    name = dtype.name
    if name in _INT_RANGES:
        lo, hi = _INT_RANGES[name]
        q = xp.rint(q.astype(xp.float64))
        if y_zero_point is not None:
            q = q + _per_axis(xp, y_zero_point, x.shape, axis, block_size).astype(xp.float64)
        return xp.clip(q, lo, hi).astype(dtype)
    if name in _FLOAT8_MAX:
        q = q.astype(xp.float32)
        if saturate:
            m = _FLOAT8_MAX[name]
            q = xp.where(xp.isnan(q), q, xp.clip(q, -m, m))
        return q.astype(dtype)
    if y_zero_point is not None:
        q = q + _per_axis(xp, y_zero_point, x.shape, axis, block_size).astype(q.dtype)
    return q.astype(xp.float32).astype(dtype)


@register("QuantizeLinear", 10)
def QuantizeLinear_10(xp, x, y_scale, y_zero_point=None):
    return _quantize(xp, x, y_scale, y_zero_point, 1, 1, 0, 0, 0)


@register("QuantizeLinear", 13)
def QuantizeLinear_13(xp, x, y_scale, y_zero_point=None, *, axis=1):
    return _quantize(xp, x, y_scale, y_zero_point, axis, 1, 0, 0, 0)


@register("QuantizeLinear", 19)
def QuantizeLinear_19(xp, x, y_scale, y_zero_point=None, *, axis=1, saturate=1):
    return _quantize(xp, x, y_scale, y_zero_point, axis, saturate, 0, 0, 0)


@register("QuantizeLinear", 21)
def QuantizeLinear_21(xp, x, y_scale, y_zero_point=None, *, axis=1, block_size=0, output_dtype=0, saturate=1):
    return _quantize(xp, x, y_scale, y_zero_point, axis, saturate, block_size, output_dtype, 0)


@register("QuantizeLinear", 23, 24, 25, 28)
def QuantizeLinear(xp, x, y_scale, y_zero_point=None, *, axis=1, block_size=0, output_dtype=0, precision=0,
                   saturate=1):
    return _quantize(xp, x, y_scale, y_zero_point, axis, saturate, block_size, output_dtype, precision)


def _dequantize(xp, x, x_scale, x_zero_point, axis, block_size, output_dtype):
    scale = _per_axis(xp, x_scale, x.shape, axis, block_size)
    if x.dtype.kind in "iu" or x.dtype.name in _INT_RANGES:
        v = x.astype(xp.int64)
        if x_zero_point is not None:
            v = v - _per_axis(xp, x_zero_point, x.shape, axis, block_size).astype(xp.int64)
        v = v.astype(xp.float32)
    else:
        v = x.astype(xp.float32)
        if x_zero_point is not None:
            v = v - _per_axis(xp, x_zero_point, x.shape, axis, block_size).astype(xp.float32)
    out_dtype = dtype_of(output_dtype) if output_dtype else scale.dtype
    if scale.dtype == xp.float64:
        return (v.astype(xp.float64) * scale).astype(out_dtype)
    return (v * scale.astype(xp.float32)).astype(out_dtype)


@register("DequantizeLinear", 10)
def DequantizeLinear_10(xp, x, x_scale, x_zero_point=None):
    return _dequantize(xp, x, x_scale, x_zero_point, 1, 0, 0)


@register("DequantizeLinear", 13, 19)
def DequantizeLinear_13(xp, x, x_scale, x_zero_point=None, *, axis=1):
    return _dequantize(xp, x, x_scale, x_zero_point, axis, 0, 0)


@register("DequantizeLinear", 21)
def DequantizeLinear_21(xp, x, x_scale, x_zero_point=None, *, axis=1, block_size=0):
    return _dequantize(xp, x, x_scale, x_zero_point, axis, block_size, 0)


@register("DequantizeLinear", 23, 24, 25, 28)
def DequantizeLinear(xp, x, x_scale, x_zero_point=None, *, axis=1, block_size=0, output_dtype=0):
    return _dequantize(xp, x, x_scale, x_zero_point, axis, block_size, output_dtype)


@register("DynamicQuantizeLinear", 11)
def DynamicQuantizeLinear(xp, x):
    f = xp.float32
    x_min = min(float(x.min()) if x.size else 0.0, 0.0)
    x_max = max(float(x.max()) if x.size else 0.0, 0.0)
    scale = f((f(x_max) - f(x_min)) / f(255))
    zp = float(xp.clip(xp.rint(f(0) - f(x_min) / scale), 0, 255)) if scale else 0.0
    q = xp.rint(x / scale) if scale else xp.zeros(x.shape, f)
    y = xp.clip(q + zp, 0, 255).astype(xp.uint8)
    return y, xp.asarray(scale, dtype=f), xp.asarray(zp, dtype=xp.uint8)


def _centered(xp, v, zp, axis_len=None, axis=None):
    out = v.astype(xp.int64)
    if zp is not None:
        z = zp.astype(xp.int64)
        if z.ndim == 1 and z.size > 1 and axis is not None:
            z = z.reshape([-1 if i == axis else 1 for i in range(v.ndim)])
        out = out - z
    return out


def _int_conv(xp, X, W, **conv):
    # Integer products summed exactly: float64 holds every partial sum of 8/16-bit operands exactly.
    return xp.rint(Conv(xp, X.astype(xp.float64), W.astype(xp.float64), **conv)).astype(xp.int64)


@register("ConvInteger", 10)
def ConvInteger(xp, x, w, x_zero_point=None, w_zero_point=None, *, auto_pad="NOTSET", dilations=None, group=1,
                kernel_shape=None, pads=None, strides=None):
    X = _centered(xp, x, x_zero_point)
    Wc = _centered(xp, w, w_zero_point, axis=0)
    return _int_conv(xp, X, Wc, auto_pad=auto_pad, dilations=dilations, group=group, kernel_shape=kernel_shape,
                     pads=pads, strides=strides).astype(xp.int32)


@register("MatMulInteger", 10)
def MatMulInteger(xp, A, B, a_zero_point=None, b_zero_point=None):
    a = A.astype(xp.int64)
    if a_zero_point is not None:
        z = a_zero_point.astype(xp.int64)
        a = a - (z.reshape(-1, 1) if z.ndim == 1 and z.size > 1 else z)
    b = _centered(xp, B, b_zero_point)
    return xp.matmul(a, b).astype(xp.int32)


def _requantize(xp, acc, scale, y_zero_point, like):
    dtype = y_zero_point.dtype if y_zero_point is not None else like.dtype
    lo, hi = _INT_RANGES[dtype.name]
    r = acc.astype(xp.float64) * scale
    if y_zero_point is not None:
        r = r + y_zero_point.astype(xp.float64)
    return xp.clip(xp.rint(r), lo, hi).astype(dtype)


@register("QLinearConv", 10)
def QLinearConv(xp, x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B=None, *,
                auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None, strides=None):
    X = _centered(xp, x, x_zero_point)
    Wc = _centered(xp, w, w_zero_point, axis=0)
    acc = _int_conv(xp, X, Wc, auto_pad=auto_pad, dilations=dilations, group=group, kernel_shape=kernel_shape,
                    pads=pads, strides=strides)
    if B is not None:
        acc = acc + B.astype(xp.int64).reshape([1, -1] + [1] * (acc.ndim - 2))
    ws = w_scale.astype(xp.float32)
    if ws.size > 1:
        ws = ws.reshape([1, -1] + [1] * (acc.ndim - 2))
    scale = (x_scale.astype(xp.float32) * ws / y_scale.astype(xp.float32)).astype(xp.float64)
    return _requantize(xp, acc, scale, y_zero_point, x)


@register("QLinearMatMul", 10, 21)
def QLinearMatMul(xp, a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point):
    A = a.astype(xp.int64)
    if a_zero_point is not None:
        z = a_zero_point.astype(xp.int64)
        A = A - (z.reshape(-1, 1) if z.ndim == 1 and z.size > 1 else z)
    Bc = _centered(xp, b, b_zero_point)
    acc = xp.matmul(A, Bc)
    f = xp.float32 if a_scale.dtype == xp.float32 else a_scale.dtype
    scale = (a_scale.astype(f) * b_scale.astype(f) / y_scale.astype(f)).astype(xp.float64)
    return _requantize(xp, acc, scale, y_zero_point, a)
