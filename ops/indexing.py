"""Reading and writing elements by position: Slice, Gather*, Scatter*, NonZero, Compress, TensorScatter."""
from __future__ import annotations

import math

from ._attrs import ints, positive_axis
from .registry import register
from .xp import is_numpy


# ---------------------------------------------------------------------------------------------- Slice


def _slice(xp, data, starts, ends, axes, steps):
    rank = data.ndim
    axes = list(range(len(starts))) if axes is None else [positive_axis(a, rank) for a in axes]
    steps = [1] * len(starts) if steps is None else steps
    index = [slice(None)] * rank
    for s, e, a, st in zip(starts, ends, axes, steps):
        d = data.shape[a]
        # Clamp as the spec says: negatives add the dim, then [0, d] for step > 0, [-1, d-1] for step < 0.
        s = s + d if s < 0 else s
        e = e + d if e < 0 else e
        if st > 0:
            s, e = min(max(s, 0), d), min(max(e, 0), d)
        else:
            s, e = min(max(s, 0), d - 1), min(max(e, -1), d - 1)
        index[a] = slice(s, e if e >= 0 else None, st)
    return data[tuple(index)].copy()


@register("Slice", 1)
def Slice_1(xp, data, *, starts, ends, axes=None):
    return _slice(xp, data, starts, ends, axes, None)


@register("Slice", 10, 11, 13, host_inputs=(1, 2, 3, 4))
def Slice(xp, data, starts, ends, axes=None, steps=None):
    return _slice(xp, data, ints(starts), ints(ends), ints(axes), ints(steps))


# ---------------------------------------------------------------------------------------------- Gather


def _fix_indices(xp, indices, dim):
    indices = indices.astype(xp.int64)
    return xp.where(indices < 0, indices + dim, indices)


def _takes_indices_as_given(xp, indices) -> bool:
    """Whether xp's take reads `indices` as ONNX does (integers in [-dim, dim), any other an IndexError): NumPy's
    does, integer indices needing no fix-up; CuPy's wraps out-of-range indices, so they are fixed up first."""
    return indices.dtype.kind == "i" and is_numpy(xp)


@register("Gather", 1, 11, 13)
def Gather(xp, data, indices, *, axis=0):
    axis = positive_axis(axis, data.ndim)
    if _takes_indices_as_given(xp, indices):
        return data.take(indices, axis)  # the method: np.take's dispatch costs more than a token's lookup
    return xp.take(data, _fix_indices(xp, indices, data.shape[axis]), axis=axis)


@register("GatherElements", 11, 13)
def GatherElements(xp, data, indices, *, axis=0):
    axis = positive_axis(axis, data.ndim)
    if not _takes_indices_as_given(xp, indices):
        indices = _fix_indices(xp, indices, data.shape[axis])
    # The output has the indices' shape: off the axis they may be shorter than the data (take_along_axis would
    # broadcast them), so the data is cut to them there.
    if indices.shape != data.shape:
        data = data[tuple(slice(None) if i == axis else slice(d) for i, d in enumerate(indices.shape))]
    return xp.take_along_axis(data, indices, axis=axis)


def _gather_nd(xp, data, indices, batch_dims):
    b = batch_dims
    bshape = data.shape[:b]
    nb = math.prod(bshape)
    q = indices.shape[-1]
    d = data.reshape((nb,) + data.shape[b:])
    idx = indices.reshape((nb, -1, q)).astype(xp.int64)
    dims = xp.asarray(list(data.shape[b:b + q]), dtype=xp.int64)
    idx = xp.where(idx < 0, idx + dims, idx)
    batch = xp.arange(nb, dtype=xp.int64).reshape(nb, 1)
    batch = xp.broadcast_to(batch, idx.shape[:2])
    out = d[(batch,) + tuple(idx[..., i] for i in range(q))]
    return out.reshape(indices.shape[:-1] + data.shape[b + q:])


@register("GatherND", 11)
def GatherND_11(xp, data, indices):
    return _gather_nd(xp, data, indices, 0)


@register("GatherND", 12, 13)
def GatherND(xp, data, indices, *, batch_dims=0):
    return _gather_nd(xp, data, indices, batch_dims)


# ---------------------------------------------------------------------------------------------- Scatter


def _scatter(xp, out, key, updates, reduction):
    """out[key] (op)= updates, applied element by element in order (duplicates: last wins / accumulate)."""
    if reduction == "none":
        out[key] = updates
    elif reduction == "add":
        xp.add.at(out, key, updates)
    elif reduction == "mul":
        xp.multiply.at(out, key, updates)
    elif reduction == "max":
        xp.maximum.at(out, key, updates)
    elif reduction == "min":
        xp.minimum.at(out, key, updates)
    else:
        raise ValueError(f"unknown reduction {reduction!r}")
    return out


def _scatter_nd(xp, data, indices, updates, reduction):
    out = data.copy()
    q = indices.shape[-1]
    idx = indices.reshape(-1, q).astype(xp.int64)
    dims = xp.asarray(list(data.shape[:q]), dtype=xp.int64)
    idx = xp.where(idx < 0, idx + dims, idx)
    upd = updates.reshape((idx.shape[0],) + data.shape[q:])
    return _scatter(xp, out, tuple(idx[:, i] for i in range(q)), upd, reduction)


@register("ScatterND", 11, 13)
def ScatterND_11(xp, data, indices, updates):
    return _scatter_nd(xp, data, indices, updates, "none")


@register("ScatterND", 16, 18)
def ScatterND(xp, data, indices, updates, *, reduction="none"):
    return _scatter_nd(xp, data, indices, updates, reduction)


def _scatter_elements(xp, data, indices, updates, axis, reduction):
    out = data.copy()
    axis = positive_axis(axis, data.ndim)
    idx = _fix_indices(xp, indices, data.shape[axis])
    grids = list(xp.indices(indices.shape, dtype=xp.int64)) if indices.ndim else []
    if grids:
        grids[axis] = idx
    return _scatter(xp, out, tuple(grids), updates, reduction)


@register("Scatter", 9, 11)
def Scatter(xp, data, indices, updates, *, axis=0):
    return _scatter_elements(xp, data, indices, updates, axis, "none")


@register("ScatterElements", 11, 13)
def ScatterElements_11(xp, data, indices, updates, *, axis=0):
    return _scatter_elements(xp, data, indices, updates, axis, "none")


@register("ScatterElements", 16, 18)
def ScatterElements(xp, data, indices, updates, *, axis=0, reduction="none"):
    return _scatter_elements(xp, data, indices, updates, axis, reduction)


@register("TensorScatter", 24, host_inputs=(2,))
def TensorScatter(xp, past_cache, update, write_indices=None, *, axis=-2, mode="linear"):
    axis = positive_axis(axis, past_cache.ndim)
    out = past_cache.copy()
    max_len, seq = past_cache.shape[axis], update.shape[axis]
    batch = past_cache.shape[0]
    starts = [0] * batch if write_indices is None else [int(v) for v in write_indices.reshape(-1).tolist()]
    lead = [slice(None)] * (axis - 1)
    for b in range(batch):
        for s in range(seq):
            p = (starts[b] + s) % max_len if mode == "circular" else starts[b] + s
            out[tuple([b] + lead + [p])] = update[tuple([b] + lead + [s])]
    return out


# ---------------------------------------------------------------------------------------------- Selection


@register("NonZero", 9, 13)
def NonZero(xp, X):
    x = X.reshape(1) if X.ndim == 0 else X
    nz = xp.nonzero(x)
    if X.ndim == 0:
        return xp.zeros((0, int(nz[0].size)), dtype=xp.int64)
    return xp.stack(nz).astype(xp.int64).reshape(X.ndim, -1)


@register("Compress", 9, 11, 28, host_inputs=(1,))
def Compress(xp, input, condition, *, axis=None):
    cond = [bool(c) for c in condition.reshape(-1).tolist()]
    if axis is None:
        flat = input.reshape(-1)
        sel = [i for i, c in enumerate(cond[:flat.shape[0]]) if c]
        return flat[xp.asarray(sel, dtype=xp.int64)]
    a = positive_axis(axis, input.ndim)
    sel = [i for i, c in enumerate(cond[:input.shape[a]]) if c]
    return xp.take(input, xp.asarray(sel, dtype=xp.int64), axis=a)
