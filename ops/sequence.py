"""Sequences and optionals: Sequence*, ConcatFromSequence, SplitToSequence, SequenceMap, Optional*, ReverseSequence.

A sequence value is a Python list of arrays (never mutated: every op returns a new list); an optional value is
None when empty, else the tensor or sequence it holds.
"""
from __future__ import annotations

from ._attrs import positive_axis
from .dtypes import dtype_of
from .registry import register


def _position(pos, n, insert=False):
    if pos is None:
        return n if insert else n - 1
    p = int(pos.reshape(-1)[0])
    p = p + n if p < 0 else p
    if not 0 <= p <= (n if insert else n - 1):
        raise IndexError(f"sequence position {int(pos.reshape(-1)[0])} out of range for length {n}")
    return p


@register("SequenceEmpty", 11)
def SequenceEmpty(xp, *, dtype=1):
    return []


@register("SequenceConstruct", 11)
def SequenceConstruct(xp, *inputs):
    return list(inputs)


@register("SequenceInsert", 11, host_inputs=(2,))
def SequenceInsert(xp, input_sequence, tensor, position=None):
    out = list(input_sequence)
    out.insert(_position(position, len(out), insert=True), tensor)
    return out


@register("SequenceAt", 11, host_inputs=(1,))
def SequenceAt(xp, input_sequence, position):
    return input_sequence[_position(position, len(input_sequence))]


@register("SequenceErase", 11, host_inputs=(1,))
def SequenceErase(xp, input_sequence, position=None):
    out = list(input_sequence)
    del out[_position(position, len(out))]
    return out


@register("SequenceLength", 11)
def SequenceLength(xp, input_sequence):
    return xp.asarray(len(input_sequence), dtype=xp.int64)


@register("ConcatFromSequence", 11)
def ConcatFromSequence(xp, input_sequence, *, axis, new_axis=0):
    if new_axis:
        rank = input_sequence[0].ndim + 1
        return xp.stack(input_sequence, axis=positive_axis(axis, rank))
    return xp.concatenate(input_sequence, axis=axis)


@register("SplitToSequence", 11, 24, host_inputs=(1,))
def SplitToSequence(xp, input, split=None, *, axis=0, keepdims=1):
    axis = positive_axis(axis, input.ndim)
    dim = input.shape[axis]
    if split is None:
        parts = [xp.take(input, [i], axis=axis) for i in range(dim)]
        return [p.squeeze(axis) for p in parts] if not keepdims else parts
    sizes = [int(v) for v in split.reshape(-1).tolist()]
    if split.ndim == 0:
        n = int(split)
        sizes = [n] * (dim // n) + ([dim % n] if dim % n else [])
    out, pos = [], 0
    for s in sizes:
        index = [slice(None)] * input.ndim
        index[axis] = slice(pos, pos + s)
        out.append(input[tuple(index)].copy())
        pos += s
    return out


@register("SequenceMap", 17)
def SequenceMap(xp, input_sequence, *additional_inputs, body):
    results: list[list] = []
    for i, item in enumerate(input_sequence):
        extra = [a[i] if isinstance(a, list) else a for a in additional_inputs]
        outs = body(item, *extra)
        if not results:
            results = [[] for _ in outs]
        for acc, v in zip(results, outs):
            acc.append(v)
    return tuple(results) if results else ([],)


@register("Optional", 15, 28)
def Optional(xp, input=None, *, type=None):
    return input


@register("OptionalHasElement", 15, 18, 28)
def OptionalHasElement(xp, input=None):
    return xp.asarray(input is not None, dtype=xp.bool_)


@register("OptionalGetElement", 15, 18, 28)
def OptionalGetElement(xp, input):
    if input is None:
        raise ValueError("OptionalGetElement on an empty optional")
    return input


@register("ReverseSequence", 10, 28)
def ReverseSequence(xp, input, sequence_lens, *, batch_axis=1, time_axis=0):
    out = input.copy()
    lens = [int(v) for v in sequence_lens.reshape(-1).tolist()]
    for b, n in enumerate(lens):
        src = [slice(None)] * input.ndim
        src[batch_axis] = b
        src[time_axis] = slice(0, n)
        dst = list(src)
        dst[time_axis] = slice(n - 1, None, -1) if n > 0 else slice(0, 0)
        out[tuple(src)] = input[tuple(dst)]
    return out


__all__ = ["dtype_of"]
