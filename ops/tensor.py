"""Tensor construction, indexing and rearrangement: Concat, Split, Slice, Gather*, Scatter*, Pad, Tile, Constant,
ConstantOfShape, Cast, CastLike, Range, TopK, ArgMax, ArgMin, NonZero, OneHot, Trilu, CumSum, EyeLike, Compress, Unique.

Kernels with several (optional) outputs return them all; the caller keeps those the node names. Split with
neither `split` nor `num_outputs` needs the node's output count: the caller passes it as `_n_outputs`.
"""
from __future__ import annotations

import math

from .dtypes import dtype_of, onnx_type_of
from .registry import register


def _ints(v):
    if v is None:
        return None
    if hasattr(v, "tolist"):
        v = v.tolist()
    if isinstance(v, (int, float, bool)):
        return [int(v)]
    return [int(a) for a in v]


def _axis(a, rank):
    return a + rank if a < 0 else a


# ---------------------------------------------------------------------------------------------- Concat / Split


@register("Concat", 1)
def Concat_1(xp, *inputs, axis=1):
    # Concat-1 defaults axis to 1; later versions require it.
    return Concat(xp, *inputs, axis=axis)


@register("Concat", 4, 11, 13)
def Concat(xp, *inputs, axis):
    arrays = [x for x in inputs if x is not None]
    return xp.concatenate(arrays, axis=_axis(axis, arrays[0].ndim))


def _split(xp, x, axis, split, n_outputs, num_outputs=None):
    axis = _axis(axis, x.ndim)
    dim = x.shape[axis]
    if split is None or len(split) == 0:
        n = num_outputs if num_outputs is not None else n_outputs
        if n is None:
            raise ValueError("Split without 'split' needs the number of outputs (_n_outputs)")
        if num_outputs is not None:
            # Split-18: chunks of ceil(dim / n), the last one smaller.
            chunk = -(-dim // n)
            split = [min(chunk, max(dim - i * chunk, 0)) for i in range(n)]
        else:
            split = [dim // n] * n
    bounds, pos = [], 0
    for s in split:
        bounds.append((pos, pos + s))
        pos += s
    index = [slice(None)] * x.ndim
    outs = []
    for a, b in bounds:
        index[axis] = slice(a, b)
        outs.append(x[tuple(index)].copy())
    return tuple(outs)


@register("Split", 1, host_inputs=(1,))
def Split_1(xp, input, split_input=None, *, axis=0, split=None, _n_outputs=None):
    # Split-1 takes the split either as an attribute or as the optional second input.
    return _split(xp, input, axis, split if split_input is None else _ints(split_input), _n_outputs)


@register("Split", 2, 11)
def Split_2(xp, input, *, axis=0, split=None, _n_outputs=None):
    return _split(xp, input, axis, split, _n_outputs)


@register("Split", 13, host_inputs=(1,))
def Split_13(xp, input, split=None, *, axis=0, _n_outputs=None):
    return _split(xp, input, axis, _ints(split), _n_outputs)


@register("Split", 18, host_inputs=(1,))
def Split(xp, input, split=None, *, axis=0, num_outputs=None, _n_outputs=None):
    return _split(xp, input, axis, _ints(split), _n_outputs, num_outputs)


# ---------------------------------------------------------------------------------------------- Slice


def _slice(xp, data, starts, ends, axes, steps):
    rank = data.ndim
    axes = list(range(len(starts))) if axes is None else [_axis(a, rank) for a in axes]
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
    return _slice(xp, data, _ints(starts), _ints(ends), _ints(axes), _ints(steps))


# ---------------------------------------------------------------------------------------------- Gather / Scatter


def _fix_indices(xp, indices, dim):
    indices = indices.astype(xp.int64)
    return xp.where(indices < 0, indices + dim, indices)


@register("Gather", 1, 11, 13)
def Gather(xp, data, indices, *, axis=0):
    axis = _axis(axis, data.ndim)
    return xp.take(data, _fix_indices(xp, indices, data.shape[axis]), axis=axis)


@register("GatherElements", 11, 13)
def GatherElements(xp, data, indices, *, axis=0):
    axis = _axis(axis, data.ndim)
    return xp.take_along_axis(data, _fix_indices(xp, indices, data.shape[axis]), axis=axis)


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
    axis = _axis(axis, data.ndim)
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


# ---------------------------------------------------------------------------------------------- Pad / Tile


def _pad(xp, data, pads, mode, value, axes=None):
    rank = data.ndim
    axes = list(range(rank)) if axes is None else [_axis(a, rank) for a in axes]
    n = len(axes)
    before, after = [0] * rank, [0] * rank
    for i, a in enumerate(axes):
        before[a], after[a] = pads[i], pads[i + n]
    # Negative pads crop first.
    crop = tuple(slice(max(-b, 0), d - max(-e, 0)) for b, e, d in zip(before, after, data.shape))
    x = data[crop]
    width = [(max(b, 0), max(e, 0)) for b, e in zip(before, after)]
    if mode == "constant":
        return xp.pad(x, width, mode="constant", constant_values=x.dtype.type(value))
    if mode in ("reflect", "edge", "wrap"):
        return xp.pad(x, width, mode=mode)
    raise ValueError(f"unknown Pad mode {mode!r}")


@register("Pad", 1)
def Pad_1(xp, data, *, paddings, mode="constant", value=0.0):
    return _pad(xp, data, paddings, mode, value)


@register("Pad", 2)
def Pad_2(xp, data, *, pads, mode="constant", value=0.0):
    return _pad(xp, data, pads, mode, value)


def _pad_value(constant_value):
    if constant_value is None or constant_value.size == 0:
        return 0
    return constant_value.reshape(-1)[0].item()


@register("Pad", 11, 13, host_inputs=(1, 2))
def Pad_11(xp, data, pads, constant_value=None, *, mode="constant"):
    return _pad(xp, data, _ints(pads), mode, _pad_value(constant_value))


@register("Pad", 18, 19, 21, 23, 24, 25, host_inputs=(1, 2, 3))
def Pad(xp, data, pads, constant_value=None, axes=None, *, mode="constant"):
    # 'wrap' exists from 19; an 18 model cannot name it (onnx checks the attribute).
    return _pad(xp, data, _ints(pads), mode, _pad_value(constant_value), _ints(axes))


@register("Tile", 1, host_inputs=(1, 2))
def Tile_1(xp, input, tiles, axis):
    reps = [1] * input.ndim
    reps[_axis(int(axis.reshape(-1)[0]), input.ndim)] = int(tiles.reshape(-1)[0])
    return xp.tile(input, reps)


@register("Tile", 6, 13, host_inputs=(1,))
def Tile(xp, input, repeats):
    return xp.tile(input, tuple(_ints(repeats)))


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
    shape = tuple(_ints(input))
    if value is None:
        return xp.zeros(shape, dtype=xp.float32)
    v = xp.asarray(value).reshape(-1)
    return xp.full(shape, v[0], dtype=v.dtype)


# ---------------------------------------------------------------------------------------------- Cast

_FLOAT8_MAX = {  # name -> largest finite value, for Cast's saturate rule
    "float8_e4m3fn": 448.0, "float8_e4m3fnuz": 240.0, "float8_e5m2": 57344.0, "float8_e5m2fnuz": 57344.0,
}


def _cast(xp, x, dtype, saturate=1):
    if x.dtype == dtype:
        return x.copy()
    name = getattr(dtype, "name", str(dtype))
    if name in _FLOAT8_MAX and x.dtype.kind == "f":
        src = x.astype(xp.float32)
        m = _FLOAT8_MAX[name]
        if saturate:
            # Cast-19: out-of-range values (inf included) clip to +-max; NaN stays NaN.
            src = xp.where(xp.isnan(src), src, xp.clip(src, -m, m))
        elif name == "float8_e4m3fn" or name.endswith("fnuz"):
            # Non-saturating: overflow (after rounding) and inf become NaN for types without inf.
            src = xp.where(xp.isinf(src), xp.asarray(xp.nan, dtype=xp.float32), src)
        return src.astype(dtype)
    if dtype == xp.bool_:
        return x != 0
    if x.dtype.kind == "f" and dtype.kind in "iu":
        # C++ static_cast: truncation toward zero; NaN -> 0 keeps numpy from warning noise.
        t = xp.trunc(x)
        return xp.where(xp.isnan(t), 0, t).astype(dtype)
    return x.astype(dtype)


_CAST1_NAMES = {"FLOAT": 1, "UINT8": 2, "INT8": 3, "UINT16": 4, "INT16": 5, "INT32": 6, "INT64": 7, "STRING": 8,
                "BOOL": 9, "FLOAT16": 10, "DOUBLE": 11, "UINT32": 12, "UINT64": 13}


@register("Cast", 1)
def Cast_1(xp, input, *, to):
    return _cast(xp, input, dtype_of(_CAST1_NAMES[to.upper()] if isinstance(to, str) else int(to)))


@register("Cast", 6, 9, 13)
def Cast_6(xp, input, *, to):
    return _cast(xp, input, dtype_of(to))


@register("Cast", 19, 21, 23)
def Cast_19(xp, input, *, to, saturate=1):
    return _cast(xp, input, dtype_of(to), saturate)


def _to_e8m0(xp, x, dtype, saturate, round_mode):
    """float -> float8e8m0 (a power of two 2^(e-127), 0xFF is NaN): the float32 exponent, rounded by round_mode."""
    bits = xp.ascontiguousarray(x.astype(xp.float32)).view(xp.uint32)
    e = ((bits >> 23) & 0xFF).astype(xp.uint16)
    special = e == 0xFF
    if round_mode == "nearest":
        g = (bits & 0x400000) > 0
        r = (bits & 0x200000) > 0
        s = (bits & 0x1FFFFF) > 0
        up = g & (r | s | (e > 0)) & ~special
    elif round_mode == "up":
        up = ((bits & 0x7FFFFF) > 0) & ~special
    elif round_mode == "down":
        up = xp.zeros(e.shape, dtype=bool)
    else:
        raise ValueError(f"Cast: round_mode must be up, down or nearest, not {round_mode!r}")
    if saturate:
        up = up & (e != 0xFE)
    e = xp.where(special, 0xFF, e + up.astype(xp.uint16)).astype(xp.uint8)
    return e.view(dtype)


@register("Cast", 24, 25, 28)
def Cast(xp, input, *, to, saturate=1, round_mode="up"):
    dtype = dtype_of(to)
    if getattr(dtype, "name", "") == "float8_e8m0fnu" and input.dtype.kind == "f":
        return _to_e8m0(xp, input, dtype, saturate, round_mode)
    return _cast(xp, input, dtype, saturate)


@register("CastLike", 15)
def CastLike_15(xp, input, target_type):
    return _cast(xp, input, target_type.dtype)


@register("CastLike", 19, 21, 23)
def CastLike_19(xp, input, target_type, *, saturate=1):
    return _cast(xp, input, target_type.dtype, saturate)


@register("CastLike", 24, 25)
def CastLike(xp, input, target_type, *, round_mode="up", saturate=1):
    return Cast(xp, input, to=onnx_type_of(target_type.dtype), saturate=saturate, round_mode=round_mode)


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


# ---------------------------------------------------------------------------------------------- TopK / Arg


def _topk(xp, x, k, axis, largest, sorted_):
    axis = _axis(axis, x.ndim)
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


def _arg(xp, fn, data, axis, keepdims, select_last_index):
    axis = _axis(axis, data.ndim)
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


# ---------------------------------------------------------------------------------------------- Misc


@register("NonZero", 9, 13)
def NonZero(xp, X):
    x = X.reshape(1) if X.ndim == 0 else X
    nz = xp.nonzero(x)
    if X.ndim == 0:
        return xp.zeros((0, int(nz[0].size)), dtype=xp.int64)
    return xp.stack(nz).astype(xp.int64).reshape(X.ndim, -1)


@register("OneHot", 9, 11, 28, host_inputs=(1,))
def OneHot(xp, indices, depth, values, *, axis=-1):
    d = int(depth.reshape(-1)[0])
    idx = indices.astype(xp.int64) if indices.dtype.kind != "f" else xp.trunc(indices).astype(xp.int64)
    idx = xp.where(idx < 0, idx + d, idx)
    r = indices.ndim + 1
    axis = _axis(axis, r)
    hot = xp.expand_dims(idx, axis) == xp.arange(d, dtype=xp.int64).reshape([d if i == axis else 1 for i in range(r)])
    off, on = values.reshape(-1)[0], values.reshape(-1)[1]
    return xp.where(hot, on, off).astype(values.dtype)


@register("Trilu", 14, host_inputs=(1,))
def Trilu(xp, input, k=None, *, upper=1):
    kk = 0 if k is None else int(k.reshape(-1)[0])
    return xp.triu(input, kk) if upper else xp.tril(input, kk)


@register("CumSum", 11, 14, host_inputs=(1,))
def CumSum(xp, x, axis, *, exclusive=0, reverse=0):
    a = _axis(int(axis.reshape(-1)[0]), x.ndim)
    y = xp.flip(x, axis=a) if reverse else x
    out = xp.cumsum(y, axis=a, dtype=x.dtype)
    if exclusive:
        # Shift by one along the axis, zero first.
        zero = xp.zeros_like(xp.take(out, xp.arange(1), axis=a))
        out = xp.concatenate([zero, xp.take(out, xp.arange(out.shape[a] - 1), axis=a)], axis=a)
    return xp.flip(out, axis=a) if reverse else out


@register("EyeLike", 9, 22)
def EyeLike(xp, input, *, dtype=None, k=0):
    dt = input.dtype if dtype is None else dtype_of(dtype)
    return xp.eye(input.shape[0], input.shape[1], k=k, dtype=dt)


@register("Compress", 9, 11, 28, host_inputs=(1,))
def Compress(xp, input, condition, *, axis=None):
    cond = [bool(c) for c in condition.reshape(-1).tolist()]
    if axis is None:
        flat = input.reshape(-1)
        sel = [i for i, c in enumerate(cond[:flat.shape[0]]) if c]
        return flat[xp.asarray(sel, dtype=xp.int64)]
    a = _axis(axis, input.ndim)
    sel = [i for i, c in enumerate(cond[:input.shape[a]]) if c]
    return xp.take(input, xp.asarray(sel, dtype=xp.int64), axis=a)


@register("Unique", 11, 28)
def Unique(xp, X, *, axis=None, sorted=1):
    if axis is None:
        y, idx, inv, cnt = xp.unique(X.reshape(-1), return_index=True, return_inverse=True, return_counts=True)
        ax = 0
    else:
        ax = _axis(axis, X.ndim)
        y, idx, inv, cnt = xp.unique(X, return_index=True, return_inverse=True, return_counts=True, axis=ax)
    inv = inv.reshape(-1)
    if not sorted:
        # Order by first occurrence instead of by value.
        order = xp.argsort(idx, kind="stable")
        rank = xp.empty_like(order)
        rank[order] = xp.arange(order.shape[0], dtype=order.dtype)
        y, idx, cnt, inv = xp.take(y, order, axis=ax), idx[order], cnt[order], rank[inv]
    return y, idx.astype(xp.int64), inv.astype(xp.int64), cnt.astype(xp.int64)


@register("CumProd", 26, host_inputs=(1,))
def CumProd(xp, x, axis, *, exclusive=0, reverse=0):
    a = int(axis.reshape(-1)[0])
    a = a + x.ndim if a < 0 else a
    y = xp.flip(x, axis=a) if reverse else x
    out = xp.cumprod(y, axis=a, dtype=x.dtype)
    if exclusive:
        ones = xp.ones_like(xp.take(out, [0], axis=a))
        out = xp.concatenate([ones, xp.take(out, list(range(out.shape[a] - 1)), axis=a)], axis=a)
    return xp.flip(out, axis=a) if reverse else out


@register("BitCast", 26)
def BitCast(xp, input, *, to):
    dtype = xp.dtype(dtype_of(to))
    if dtype.itemsize != input.dtype.itemsize:
        raise ValueError(f"BitCast: {input.dtype} and {dtype} differ in width")
    if dtype == xp.bool_:
        return (input.reshape(-1).view(xp.uint8) != 0).reshape(input.shape)
    return xp.ascontiguousarray(input.reshape(-1)).view(dtype).reshape(input.shape)


@register("TensorScatter", 24, host_inputs=(2,))
def TensorScatter(xp, past_cache, update, write_indices=None, *, axis=-2, mode="linear"):
    axis = axis + past_cache.ndim if axis < 0 else axis
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


@register("CenterCropPad", 18, host_inputs=(1,))
def CenterCropPad(xp, input_data, shape, *, axes=None):
    rank = input_data.ndim
    axes = list(range(rank)) if axes is None else [a + rank if a < 0 else a for a in axes]
    sizes = [int(v) for v in shape.reshape(-1).tolist()]
    out_shape = list(input_data.shape)
    for a, s in zip(axes, sizes):
        out_shape[a] = s
    out = xp.zeros(out_shape, dtype=input_data.dtype)
    src, dst = [slice(None)] * rank, [slice(None)] * rank
    for a, s in zip(axes, sizes):
        d = input_data.shape[a]
        if s <= d:  # crop: start at (d - s) // 2
            st = (d - s) // 2
            src[a], dst[a] = slice(st, st + s), slice(0, s)
        else:  # pad: the input starts at (s - d) // 2
            st = (s - d) // 2
            src[a], dst[a] = slice(0, d), slice(st, st + d)
    out[tuple(dst)] = input_data[tuple(src)]
    return out
