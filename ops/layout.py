"""Rearranging a tensor's elements without computing new ones: Concat, Split, Pad, Tile, Trilu, CenterCropPad.

Split with neither `split` nor `num_outputs` needs the node's output count: the caller passes it as `_n_outputs`.
"""
from __future__ import annotations

from ._attrs import ints, positive_axis
from .registry import register


# ---------------------------------------------------------------------------------------------- Concat / Split


@register("Concat", 1)
def Concat_1(xp, *inputs, axis=1):
    # Concat-1 defaults axis to 1; later versions require it.
    return Concat(xp, *inputs, axis=axis)


@register("Concat", 4, 11, 13)
def Concat(xp, *inputs, axis):
    arrays = [x for x in inputs if x is not None]
    return xp.concatenate(arrays, axis=positive_axis(axis, arrays[0].ndim))


def _split(xp, x, axis, split, n_outputs, num_outputs=None):
    axis = positive_axis(axis, x.ndim)
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
    return _split(xp, input, axis, split if split_input is None else ints(split_input), _n_outputs)


@register("Split", 2, 11)
def Split_2(xp, input, *, axis=0, split=None, _n_outputs=None):
    return _split(xp, input, axis, split, _n_outputs)


@register("Split", 13, host_inputs=(1,))
def Split_13(xp, input, split=None, *, axis=0, _n_outputs=None):
    return _split(xp, input, axis, ints(split), _n_outputs)


@register("Split", 18, host_inputs=(1,))
def Split(xp, input, split=None, *, axis=0, num_outputs=None, _n_outputs=None):
    return _split(xp, input, axis, ints(split), _n_outputs, num_outputs)


# ---------------------------------------------------------------------------------------------- Pad / Tile


def _pad(xp, data, pads, mode, value, axes=None):
    rank = data.ndim
    axes = list(range(rank)) if axes is None else [positive_axis(a, rank) for a in axes]
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
    return _pad(xp, data, ints(pads), mode, _pad_value(constant_value))


@register("Pad", 18, 19, 21, 23, 24, 25, host_inputs=(1, 2, 3))
def Pad(xp, data, pads, constant_value=None, axes=None, *, mode="constant"):
    # 'wrap' exists from 19; an 18 model cannot name it (onnx checks the attribute).
    return _pad(xp, data, ints(pads), mode, _pad_value(constant_value), ints(axes))


@register("Tile", 1, host_inputs=(1, 2))
def Tile_1(xp, input, tiles, axis):
    reps = [1] * input.ndim
    reps[positive_axis(int(axis.reshape(-1)[0]), input.ndim)] = int(tiles.reshape(-1)[0])
    return xp.tile(input, reps)


@register("Tile", 6, 13, host_inputs=(1,))
def Tile(xp, input, repeats):
    return xp.tile(input, tuple(ints(repeats)))


# ---------------------------------------------------------------------------------------------- Trilu / CenterCropPad


@register("Trilu", 14, host_inputs=(1,))
def Trilu(xp, input, k=None, *, upper=1):
    kk = 0 if k is None else int(k.reshape(-1)[0])
    return xp.triu(input, kk) if upper else xp.tril(input, kk)


@register("CenterCropPad", 18, host_inputs=(1,))
def CenterCropPad(xp, input_data, shape, *, axes=None):
    rank = input_data.ndim
    axes = list(range(rank)) if axes is None else [positive_axis(a, rank) for a in axes]
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
