"""Tensors made from attributes or shapes: Constant, ConstantOfShape, Range, EyeLike, OneHot."""
from __future__ import annotations

import math

from ._attrs import ints, positive_axis
from .dtypes import dtype_of
from .registry import register


# ---------------------------------------------------------------------------------------------- Constants


@register("Constant", 1, 9, 11, 12, 13, 19, 21, 23, 24, 25)
def Constant(xp, *, value=None, sparse_value=None, value_float=None, value_floats=None, value_int=None,
             value_ints=None, value_string=None, value_strings=None):
    if value is not None:
        return xp.asarray(value)
    if value_float is not None:
        return xp.asarray(value_float, dtype=xp.float32)
    if value_floats is not None:
        return xp.asarray(value_floats, dtype=xp.float32).reshape(len(value_floats))
    if value_int is not None:
        return xp.asarray(value_int, dtype=xp.int64)
    if value_ints is not None:
        return xp.asarray(value_ints, dtype=xp.int64).reshape(len(value_ints))
    if value_string is not None:
        return xp.asarray(value_string, dtype=object)
    if value_strings is not None:
        return xp.asarray(value_strings, dtype=object)
    if sparse_value is not None:  # the attribute reader hands it over already made dense
        return xp.asarray(sparse_value)
    raise ValueError("Constant node has no value attribute")


@register("ConstantOfShape", 9, 20, 21, 23, 24, 25, host_inputs=(0,))
def ConstantOfShape(xp, input, *, value=None):
    shape = tuple(ints(input))
    if value is None:
        return xp.zeros(shape, dtype=xp.float32)
    v = xp.asarray(value).reshape(-1)
    return xp.full(shape, v[0], dtype=v.dtype)


# ---------------------------------------------------------------------------------------------- Range


def _range(xp, start, limit, delta):
    dt = start.dtype
    s, l, d = start.reshape(-1)[0], limit.reshape(-1)[0], delta.reshape(-1)[0]
    # ORT: n = ceil((limit - start) / delta), the difference in T, the division in double.
    diff = (l - s) if dt.kind == "f" else int(l) - int(s)
    n = max(int(math.ceil(float(diff) / float(d))), 0)
    if dt.kind == "f":
        # ORT accumulates: value = start; value += delta (sequential cumsum in T).
        steps = xp.full((n,), d, dtype=dt)
        if n:
            steps[0] = s
        return xp.cumsum(steps, dtype=dt)
    return (int(s) + xp.arange(n, dtype=xp.int64) * int(d)).astype(dt)


@register("Range", 11, host_inputs=(0, 1, 2))
def Range_11(xp, start, limit, delta):
    return _range(xp, start, limit, delta)


@register("Range", 27, host_inputs=(0, 1, 2))
def Range(xp, start, limit, delta, *, stash_type=1):
    if start.dtype.name in ("float16", "bfloat16") and stash_type == 1:
        f = xp.float32
        return _range(xp, start.astype(f), limit.astype(f), delta.astype(f)).astype(start.dtype)
    return _range(xp, start, limit, delta)


# ---------------------------------------------------------------------------------------------- EyeLike / OneHot


@register("EyeLike", 9, 22)
def EyeLike(xp, input, *, dtype=None, k=0):
    dt = input.dtype if dtype is None else dtype_of(dtype)
    return xp.eye(input.shape[0], input.shape[1], k=k, dtype=dt)


@register("OneHot", 9, 11, 28, host_inputs=(1,))
def OneHot(xp, indices, depth, values, *, axis=-1):
    d = int(depth.reshape(-1)[0])
    idx = indices.astype(xp.int64) if indices.dtype.kind != "f" else xp.trunc(indices).astype(xp.int64)
    idx = xp.where(idx < 0, idx + d, idx)
    r = indices.ndim + 1
    axis = positive_axis(axis, r)
    hot = xp.expand_dims(idx, axis) == xp.arange(d, dtype=xp.int64).reshape([d if i == axis else 1 for i in range(r)])
    off, on = values.reshape(-1)[0], values.reshape(-1)[1]
    return xp.where(hot, on, off).astype(values.dtype)
