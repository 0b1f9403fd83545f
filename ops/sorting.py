"""Order-based selection: TopK, ArgMax, ArgMin, Unique.

Kernels with several outputs return them all; the caller keeps those the node names.
"""
from __future__ import annotations

from ._attrs import positive_axis
from .registry import register


# ---------------------------------------------------------------------------------------------- TopK


def _topk(xp, x, k, axis, largest, sorted_):
    axis = positive_axis(axis, x.ndim)
    n = x.shape[axis]
    if largest:
        # Descending with ties broken by the lower index: stable ascending sort of the reversed axis.
        rev = xp.flip(x, axis=axis)
        order = xp.flip(xp.argsort(rev, axis=axis, kind="stable"), axis=axis)
        idx = (n - 1) - order
    else:
        idx = xp.argsort(x, axis=axis, kind="stable")
    idx = xp.take(idx, xp.arange(k), axis=axis).astype(xp.int64)
    return xp.take_along_axis(x, idx, axis=axis), idx


@register("TopK", 1)
def TopK_1(xp, X, *, k, axis=-1):
    return _topk(xp, X, k, axis, 1, 1)


@register("TopK", 10, host_inputs=(1,))
def TopK_10(xp, X, K, *, axis=-1):
    return _topk(xp, X, int(K.reshape(-1)[0]), axis, 1, 1)


@register("TopK", 11, 24, host_inputs=(1,))
def TopK(xp, X, K, *, axis=-1, largest=1, sorted=1):
    return _topk(xp, X, int(K.reshape(-1)[0]), axis, largest, sorted)


# ---------------------------------------------------------------------------------------------- ArgMax / ArgMin


def _arg(xp, fn, data, axis, keepdims, select_last_index):
    axis = positive_axis(axis, data.ndim)
    x = data.astype(xp.uint8) if data.dtype == xp.bool_ else data
    if select_last_index:
        n = x.shape[axis]
        out = (n - 1) - fn(xp.flip(x, axis=axis), axis=axis)
    else:
        out = fn(x, axis=axis)
    out = out.astype(xp.int64)
    return xp.expand_dims(out, axis) if keepdims else out


@register("ArgMax", 1, 11)
def ArgMax_1(xp, data, *, axis=0, keepdims=1):
    return _arg(xp, xp.argmax, data, axis, keepdims, 0)


@register("ArgMax", 12, 13)
def ArgMax(xp, data, *, axis=0, keepdims=1, select_last_index=0):
    return _arg(xp, xp.argmax, data, axis, keepdims, select_last_index)


@register("ArgMin", 1, 11)
def ArgMin_1(xp, data, *, axis=0, keepdims=1):
    return _arg(xp, xp.argmin, data, axis, keepdims, 0)


@register("ArgMin", 12, 13)
def ArgMin(xp, data, *, axis=0, keepdims=1, select_last_index=0):
    return _arg(xp, xp.argmin, data, axis, keepdims, select_last_index)


# ---------------------------------------------------------------------------------------------- Unique


@register("Unique", 11, 28)
def Unique(xp, X, *, axis=None, sorted=1):
    if axis is None:
        y, idx, inv, cnt = xp.unique(X.reshape(-1), return_index=True, return_inverse=True, return_counts=True)
        ax = 0
    else:
        ax = positive_axis(axis, X.ndim)
        y, idx, inv, cnt = xp.unique(X, return_index=True, return_inverse=True, return_counts=True, axis=ax)
    inv = inv.reshape(-1)
    if not sorted:
        # Order by first occurrence instead of by value.
        order = xp.argsort(idx, kind="stable")
        rank = xp.empty_like(order)
        rank[order] = xp.arange(order.shape[0], dtype=order.dtype)
        y, idx, cnt, inv = xp.take(y, order, axis=ax), idx[order], cnt[order], rank[inv]
    return y, idx.astype(xp.int64), inv.astype(xp.int64), cnt.astype(xp.int64)
