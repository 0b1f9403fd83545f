"""Shape manipulation: Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Shape, Size, Expand, Identity, Dropout,
DepthToSpace, SpaceToDepth.

Kernels with optional outputs (Dropout's mask) return every output; the caller keeps those the node names.
"""
from __future__ import annotations

import math

from ._attrs import ints, positive_axis
from .registry import register
from .xp import is_numpy


def _reshape(xp, data, shape, allowzero):
    out = ints(shape)
    if 0 in out and not allowzero:  # 0 copies the input dimension unless allowzero (then it is a real 0)
        out = [data.shape[i] if d == 0 else d for i, d in enumerate(out)]
    if -1 in out:
        known = math.prod(d for d in out if d != -1)
        out[out.index(-1)] = data.size // known if known else 0
    return _reshaped(xp, data, tuple(out))


def _reshaped(xp, data, shape):
    """xp.reshape(data, shape); on the host the array's own method (np.reshape's dispatch costs more than the
    view it makes)."""
    return data.reshape(shape) if is_numpy(xp) else xp.reshape(data, shape)


@register("Reshape", 1)
def Reshape_1(xp, data, *, shape=(), consumed_inputs=None):
    return _reshape(xp, data, shape, 0)


@register("Reshape", 5, 13, host_inputs=(1,))
def Reshape_5(xp, data, shape):
    return _reshape(xp, data, shape, 0)


@register("Reshape", 14, 19, 21, 23, 24, 25, host_inputs=(1,))
def Reshape(xp, data, shape, *, allowzero=0):
    return _reshape(xp, data, shape, allowzero)


@register("Flatten", 1, 9, 11, 13, 21, 23, 24, 25)
def Flatten(xp, input, *, axis=1):
    r = input.ndim
    axis = axis + r if axis < 0 else axis
    outer = math.prod(input.shape[:axis])
    return xp.reshape(input, (outer, math.prod(input.shape[axis:])))


@register("Transpose", 1, 13, 21, 23, 24, 25)
def Transpose(xp, data, *, perm=None):
    if perm is None:
        perm = list(range(data.ndim))[::-1]
    if is_numpy(xp):  # the array's method (np.transpose's dispatch costs more than the view); perm: an ints attribute
        out = data.transpose(perm)
    else:
        out = xp.transpose(data, [int(p) for p in perm])
    return xp.ascontiguousarray(out) if out.ndim else out.copy()  # (ascontiguousarray makes a scalar 1-D)


def _squeeze(xp, data, axes):
    if axes is None:
        axes = [i for i, d in enumerate(data.shape) if d == 1]
    axes = tuple(sorted(positive_axis(a, data.ndim) for a in ints(axes)))
    if not axes:
        return data.copy()
    return data.squeeze(axis=axes) if is_numpy(xp) else xp.squeeze(data, axis=axes)


@register("Squeeze", 1, 11)
def Squeeze_1(xp, data, *, axes=None):
    return _squeeze(xp, data, axes)


@register("Squeeze", 13, 21, 23, 24, 25, host_inputs=(1,))
def Squeeze(xp, data, axes=None):
    return _squeeze(xp, data, axes)


def _unsqueeze(xp, data, axes):
    axes = ints(axes)
    r = data.ndim + len(axes)
    axes = sorted(a + r if a < 0 else a for a in axes)
    shape = list(data.shape)
    for a in axes:
        shape.insert(a, 1)
    return _reshaped(xp, data, tuple(shape))


@register("Unsqueeze", 1, 11)
def Unsqueeze_1(xp, data, *, axes):
    return _unsqueeze(xp, data, axes)


@register("Unsqueeze", 13, 21, 23, 24, 25, host_inputs=(1,))
def Unsqueeze(xp, data, axes):
    return _unsqueeze(xp, data, axes)


@register("Shape", 1, 13)
def Shape_1(xp, data):
    return xp.asarray(list(data.shape), dtype=xp.int64).reshape(data.ndim)


@register("Shape", 15, 19, 21, 23, 24, 25)
def Shape(xp, data, *, start=0, end=None):
    r = data.ndim
    # start/end clamp to [0, rank] after adding rank to negatives.
    s = min(max(start + r if start < 0 else start, 0), r)
    e = r if end is None else min(max(end + r if end < 0 else end, 0), r)
    dims = list(data.shape[s:e]) if e > s else []
    return xp.asarray(dims, dtype=xp.int64).reshape(len(dims))


@register("Size", 1, 13, 19, 21, 23, 24, 25)
def Size(xp, data):
    return xp.asarray(data.size, dtype=xp.int64)


@register("Expand", 8, 13, host_inputs=(1,))
def Expand(xp, input, shape):
    shape = ints(shape)
    a, b = list(input.shape), shape
    n = max(len(a), len(b))
    a, b = [1] * (n - len(a)) + a, [1] * (n - len(b)) + b
    # Bidirectional broadcast: a dim of 1 in the requested shape keeps the input's dim.
    out = [x if y == 1 else y for x, y in zip(a, b)]
    return xp.ascontiguousarray(xp.broadcast_to(input, tuple(out)))


@register("Identity", 1, 13, 14, 16, 19, 21, 23, 24, 25)
def Identity(xp, input):
    return input


# Before opset 12, ONNX Runtime runs Dropout as an identity whose mask output is all zeros (False).
@register("Dropout", 1)
def Dropout_1(xp, data, *, is_test=0, ratio=0.5, consumed_inputs=None):
    return data, xp.zeros(data.shape, dtype=data.dtype)


@register("Dropout", 6)
def Dropout_6(xp, data, *, is_test=0, ratio=0.5):
    return data, xp.zeros(data.shape, dtype=data.dtype)


@register("Dropout", 7)
def Dropout_7(xp, data, *, ratio=0.5):
    # The pre-10 mask has the data's type.
    return data, xp.zeros(data.shape, dtype=data.dtype)


@register("Dropout", 10)
def Dropout_10(xp, data, *, ratio=0.5):
    return data, xp.zeros(data.shape, dtype=xp.bool_)


@register("Dropout", 12, 13, 22, host_inputs=(1, 2))
def Dropout(xp, data, ratio=None, training_mode=None, *, seed=None):
    # Inference: identity, mask all True.
    if training_mode is not None and bool(training_mode.reshape(-1)[0]):
        r = 0.5 if ratio is None else float(ratio.reshape(-1)[0])
        if r != 0.0:
            if seed is None:
                raise NotImplementedError("Dropout with training_mode=True and no seed is random; the simulator "
                                          "runs inference only")
            # A seeded training Dropout draws its mask from the Mersenne Twister seeded with `seed`
            # (NumPy's legacy RandomState on the CPU), so that runs are reproducible.
            mask = xp.random.RandomState(int(seed)).uniform(0, 1.0, data.shape) >= r
            scale = data.dtype.type(1.0 / (1.0 - r))
            return (mask * data * scale).astype(data.dtype), mask
    return data, xp.ones(data.shape, dtype=xp.bool_)


@register("DepthToSpace", 1)
def DepthToSpace_1(xp, input, *, blocksize):
    return DepthToSpace(xp, input, blocksize=blocksize)


@register("DepthToSpace", 11, 13, 28)
def DepthToSpace(xp, input, *, blocksize, mode="DCR"):
    b, c, h, w = input.shape
    bs = blocksize
    if mode == "DCR":
        t = xp.reshape(input, (b, bs, bs, c // (bs * bs), h, w))
        t = xp.transpose(t, (0, 3, 4, 1, 5, 2))
    else:  # CRD
        t = xp.reshape(input, (b, c // (bs * bs), bs, bs, h, w))
        t = xp.transpose(t, (0, 1, 4, 2, 5, 3))
    return xp.reshape(xp.ascontiguousarray(t), (b, c // (bs * bs), h * bs, w * bs))


@register("SpaceToDepth", 1, 13)
def SpaceToDepth(xp, input, *, blocksize):
    b, c, h, w = input.shape
    bs = blocksize
    t = xp.reshape(input, (b, c, h // bs, bs, w // bs, bs))
    t = xp.transpose(t, (0, 3, 5, 1, 2, 4))
    return xp.reshape(xp.ascontiguousarray(t), (b, c * bs * bs, h // bs, w // bs))


@register("SpaceToDepth", 28)
def SpaceToDepth_28(xp, input, *, blocksize, mode="DCR"):
    if mode == "DCR":
        return SpaceToDepth(xp, input, blocksize=blocksize)
    # CRD: the inverse of DepthToSpace's CRD layout.
    b, c, h, w = input.shape
    bs = blocksize
    t = xp.reshape(input, (b, c, h // bs, bs, w // bs, bs))
    t = xp.transpose(t, (0, 1, 3, 5, 2, 4))
    return xp.reshape(xp.ascontiguousarray(t), (b, c * bs * bs, h // bs, w // bs))
