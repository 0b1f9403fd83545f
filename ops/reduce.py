"""Reductions: ReduceMean, ReduceSum, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceSumSquare,
ReduceLogSum, ReduceLogSumExp; and the running reductions CumSum and CumProd.

Float sums follow ONNX Runtime's CPU summation order (reduction_ops.h), because a mean over values already on
a quantization grid lands on rounding ties where one ulp decides the next quantizer:
  * ORT merges adjacent reduced / kept axes into a "fast shape" of K (kept) and R (reduced) blocks;
  * all axes (R) and each row of KR: Eigen's vectorised redux (SSE, 4 lanes, two packet accumulators,
    aligned start), then the mean divides once by the count;
  * RK: row after row, sequentially; KRK: MLAS's M=1 SGEMM kernel with a vector of ones, which adds
    groups of 4 rows, ((b0+b1)+b2)+b3, to the running sum (sequential when the K block is 1);
  * RKR: for each kept index, Eigen sums of each inner block added in order;
  * anything else: a plain sequential loop over the reduced elements in C order.
Only float32 takes this path; other dtypes reduce with xp directly.
"""
from __future__ import annotations

import math

from ._attrs import positive_axis
from .registry import register

_LANES = 4  # Eigen packet size of ORT's x86-64 build (SSE)


def _norm_axes(axes, rank):
    return sorted({positive_axis(int(a), rank) for a in axes})


def _eigen_rows(xp, x, offsets):
    """Eigen's redux sum of each row of the 2-D array x; row r starts `offsets[r]` elements past an
    aligned base pointer, which decides where the aligned packets start."""
    M, L = x.shape
    out = xp.empty((M,), dtype=x.dtype)
    starts = [min((-int(o)) % _LANES, L) for o in offsets]
    P = _LANES
    for a in sorted(set(starts)):
        rows = [r for r, s in enumerate(starts) if s == a]
        sel = x if len(rows) == M else x[xp.asarray(rows)]
        size2 = ((L - a) // (2 * P)) * (2 * P)
        size1 = ((L - a) // P) * P
        if size1:
            p0 = sel[:, a:a + P]
            if size1 > P:
                p1 = sel[:, a + P:a + 2 * P]
                for i in range(a + 2 * P, a + size2, 2 * P):
                    p0 = p0 + sel[:, i:i + P]
                    p1 = p1 + sel[:, i + P:i + 2 * P]
                p0 = p0 + p1
                if size1 > size2:
                    p0 = p0 + sel[:, a + size2:a + size2 + P]
            # predux of an SSE packet: (l0 + l2) + (l1 + l3)
            res = (p0[:, 0] + p0[:, 2]) + (p0[:, 1] + p0[:, 3])
            for i in range(a):
                res = res + sel[:, i]
            for i in range(a + size1, L):
                res = res + sel[:, i]
        else:
            res = sel[:, 0]
            for i in range(1, L):
                res = res + sel[:, i]
        if len(rows) == M:
            out[...] = res
        else:
            out[xp.asarray(rows)] = res
    return out


def _seq_sum(xp, x2):
    """Sequential sum over axis 1 of a 2-D array, element by element (ORT's generic loop)."""
    acc = xp.zeros((x2.shape[0],), dtype=x2.dtype)
    for j in range(x2.shape[1]):
        acc = acc + x2[:, j]
    return acc


def _fast_shape(shape, axes):
    """ORT's OptimizeShapeForFastReduce: merge runs of reduced / kept axes."""
    flags = [i in axes for i in range(len(shape))]
    fast, kinds = [shape[0]], [flags[0]]
    for d, f in zip(shape[1:], flags[1:]):
        if f == kinds[-1]:
            fast[-1] *= d
        else:
            fast.append(d)
            kinds.append(f)
    return fast, kinds


def _ort_sum(xp, x, axes, fast=True):
    """Sum of float32 x over the normalised `axes`, in ORT's order; returns the reduced array with the
    reduced axes removed. `fast=False` is for aggregators with no fast path (SumSquare, L1, ...)."""
    shape = tuple(x.shape)
    kept_shape = tuple(d for i, d in enumerate(shape) if i not in axes)
    x = xp.ascontiguousarray(x)
    if len(axes) == len(shape):
        return _eigen_rows(xp, x.reshape(1, -1), [0])[0].reshape(())
    fs, kinds = _fast_shape(shape, axes)
    if fast and kinds == [False, True]:  # KR
        K, R = fs
        return _eigen_rows(xp, x.reshape(K, R), [k * R for k in range(K)]).reshape(kept_shape)
    if fast and kinds == [True, False]:  # RK
        R, K = fs
        return _seq_sum(xp, x.reshape(R, K).T).reshape(kept_shape)
    if fast and kinds == [False, True, False]:  # KRK
        D0, R, K = fs
        x3 = x.reshape(D0, R, K)
        if D0 == 1:  # measured: ORT 1.32 then adds row after row, like RK
            return _seq_sum(xp, x3[0].T).reshape(kept_shape)
        acc = None
        r = 0
        # MLAS SgemmKernelM1Avx: blocks of 4, then 2, then 1 rows of B, each block summed then added to C.
        while R - r >= 4:
            blk = ((x3[:, r] + x3[:, r + 1]) + x3[:, r + 2]) + x3[:, r + 3]
            acc = blk if acc is None else blk + acc
            r += 4
        if R - r >= 2:
            blk = x3[:, r] + x3[:, r + 1]
            acc = blk if acc is None else blk + acc
            r += 2
        if R - r == 1:
            acc = x3[:, r] if acc is None else x3[:, r] + acc
        return acc.reshape(kept_shape)
    if fast and kinds == [True, False, True] and fs[1] > 1:  # RKR (measured: a kept block of 1 takes the generic loop)
        D0, K, D2 = fs
        x3 = x.reshape(D0, K, D2)
        acc = None
        for i in range(D0):
            part = _eigen_rows(xp, x3[i], [(i * K + k) * D2 for k in range(K)])
            acc = part if acc is None else acc + part
        return acc.reshape(kept_shape)
    # Generic loop: reduced elements in C order, accumulator starting at 0.
    kept = [i for i in range(len(shape)) if i not in axes]
    R = int(math.prod(shape[i] for i in axes))
    x2 = xp.transpose(x, kept + list(axes)).reshape(-1, R)
    return _seq_sum(xp, x2).reshape(kept_shape)


def _resolve_axes(data, axes, noop_with_empty_axes):
    """Axes to reduce (normalised), or None for 'return the input unchanged'."""
    rank = data.ndim
    if axes is None or len(axes) == 0:
        if noop_with_empty_axes:
            return None
        return list(range(rank))
    return _norm_axes(axes, rank)


def _finish(xp, out, data, axes, keepdims):
    if keepdims:
        shape = [1 if i in axes else d for i, d in enumerate(data.shape)]
        out = out.reshape(shape)
    return xp.asarray(out, dtype=out.dtype)


def _reduce(xp, kind, data, axes, keepdims, noop_with_empty_axes=0):
    ax = _resolve_axes(data, axes, noop_with_empty_axes)
    if ax is None:
        return data.copy()
    tax = tuple(ax)
    is_f32 = data.dtype == xp.float32
    count = int(math.prod(data.shape[i] for i in ax))
    empty = count == 0
    if kind in ("max", "min"):
        if empty and data.dtype == xp.bool_:
            shape = [d for i, d in enumerate(data.shape) if i not in ax]
            out = xp.full(shape, kind == "min", dtype=xp.bool_)
        elif empty:
            # ORT fills an empty reduction with -inf / +inf (lowest / max for integers).
            kinfo = xp.finfo if data.dtype.kind == "f" else xp.iinfo
            fill = (kinfo(data.dtype).min if data.dtype.kind != "f" else -xp.inf) if kind == "max" else \
                   (kinfo(data.dtype).max if data.dtype.kind != "f" else xp.inf)
            shape = [d for i, d in enumerate(data.shape) if i not in ax]
            out = xp.full(shape, fill, dtype=data.dtype)
        elif data.dtype == xp.bool_:
            out = xp.any(data, axis=tax) if kind == "max" else xp.all(data, axis=tax)
        else:
            out = xp.max(data, axis=tax) if kind == "max" else xp.min(data, axis=tax)
        return _finish(xp, out, data, ax, keepdims)
    if kind == "prod":
        out = xp.prod(data, axis=tax, dtype=data.dtype)
        return _finish(xp, out, data, ax, keepdims)

    # Sum-like reductions.
    if kind in ("sum", "mean", "logsum"):
        src, fast = data, kind != "logsum"
    elif kind in ("sumsquare", "l2"):
        src, fast = data * data, False
    elif kind == "l1":
        src, fast = xp.abs(data), False
    elif kind == "logsumexp":
        src, fast = None, False
    else:
        raise ValueError(kind)

    if kind == "logsumexp":
        # ORT: max over the reduced set, then log(sum(exp(x - max))) + max.
        m = xp.max(data, axis=tax, keepdims=True) if not empty else xp.zeros(
            [1 if i in ax else d for i, d in enumerate(data.shape)], dtype=data.dtype)
        m = xp.where(xp.isinf(m), xp.zeros_like(m), m) if data.dtype.kind == "f" else m
        e = xp.exp(data - m)
        s = _ort_sum(xp, e, ax, fast=False) if (is_f32 and not empty) else xp.sum(e, axis=tax, dtype=data.dtype)
        out = xp.log(s) + m.reshape(s.shape)
        return _finish(xp, out.astype(data.dtype, copy=False), data, ax, keepdims)

    if is_f32 and not empty:
        s = _ort_sum(xp, src, ax, fast=fast)
    else:
        s = xp.sum(src, axis=tax, dtype=data.dtype)
    if kind == "mean":
        if data.dtype.kind == "f":
            out = s / s.dtype.type(count) if count else s * s.dtype.type(xp.nan)
        else:
            # ORT: sum in double, divide, truncate toward zero.
            out = xp.trunc(s.astype(xp.float64) / count).astype(data.dtype) if count else s
    elif kind == "l2":
        out = xp.sqrt(s) if data.dtype.kind == "f" else xp.sqrt(s.astype(xp.float64)).astype(data.dtype)
    elif kind == "logsum":
        out = xp.log(s)
    else:
        out = s
    return _finish(xp, xp.asarray(out).astype(data.dtype, copy=False), data, ax, keepdims)


def _make(name, kind, attr_versions, input_versions, with_noop_attr_versions=()):
    """Register the attribute-axes form for `attr_versions` and the input-axes form for `input_versions`."""

    def attr_kernel(xp, data, *, axes=None, keepdims=1):
        return _reduce(xp, kind, data, axes, keepdims)

    def input_kernel(xp, data, axes=None, *, keepdims=1, noop_with_empty_axes=0):
        ax = None if axes is None else [int(a) for a in axes.reshape(-1).tolist()]
        return _reduce(xp, kind, data, ax, keepdims, noop_with_empty_axes)

    attr_kernel.__name__ = input_kernel.__name__ = name
    if attr_versions:
        register(name, *attr_versions)(attr_kernel)
    if input_versions:
        register(name, *input_versions, host_inputs=(1,))(input_kernel)


_make("ReduceMean", "mean", (1, 11, 13), (18,))
_make("ReduceSum", "sum", (1, 11), (13,))
_make("ReduceMax", "max", (1, 11, 12, 13), (18, 20))
_make("ReduceMin", "min", (1, 11, 12, 13), (18, 20))
_make("ReduceProd", "prod", (1, 11, 13), (18,))
_make("ReduceL1", "l1", (1, 11, 13), (18,))
_make("ReduceL2", "l2", (1, 11, 13), (18,))
_make("ReduceSumSquare", "sumsquare", (1, 11, 13), (18,))
_make("ReduceLogSum", "logsum", (1, 11, 13), (18, 28))
_make("ReduceLogSumExp", "logsumexp", (1, 11, 13), (18, 28))


# ---------------------------------------------------------------------------------------------- CumSum / CumProd


@register("CumSum", 11, 14, host_inputs=(1,))
def CumSum(xp, x, axis, *, exclusive=0, reverse=0):
    a = positive_axis(int(axis.reshape(-1)[0]), x.ndim)
    y = xp.flip(x, axis=a) if reverse else x
    out = xp.cumsum(y, axis=a, dtype=x.dtype)
    if exclusive:
        # Shift by one along the axis, zero first.
        zero = xp.zeros_like(xp.take(out, xp.arange(1), axis=a))
        out = xp.concatenate([zero, xp.take(out, xp.arange(out.shape[a] - 1), axis=a)], axis=a)
    return xp.flip(out, axis=a) if reverse else out


@register("CumProd", 26, host_inputs=(1,))
def CumProd(xp, x, axis, *, exclusive=0, reverse=0):
    a = positive_axis(int(axis.reshape(-1)[0]), x.ndim)
    y = xp.flip(x, axis=a) if reverse else x
    out = xp.cumprod(y, axis=a, dtype=x.dtype)
    if exclusive:
        ones = xp.ones_like(xp.take(out, [0], axis=a))
        out = xp.concatenate([ones, xp.take(out, list(range(out.shape[a] - 1)), axis=a)], axis=a)
    return xp.flip(out, axis=a) if reverse else out
