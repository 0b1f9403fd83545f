"""Softmax, LogSoftmax, Hardmax.

Before opset 13 the input is coerced to 2-D at `axis` (default 1) and the op runs over the
flattened trailing block; from 13 it runs along the single `axis` (default -1).

float32 Softmax/LogSoftmax reproduce ORT's MlasComputeSoftmax on x86-64 AVX512F bit for bit:
exp(x - max) as MlasComputeSumExpF32KernelAvx512F, summed in its 16-lane accumulator order,
then x * (1 / sum) or (x - max) - logf(sum).
"""
from __future__ import annotations

from . import _compiled
from ._mlas_constants import LOGF_A, LOGF_INVC, LOGF_LN2, LOGF_LOGC
from .elementwise import mlas_exp
from .registry import register


def glibc_logf(xp, x):
    """logf for positive normal float32 x (a softmax sum is >= 1); other values via log in double."""
    x = xp.ascontiguousarray(x, dtype=xp.float32)
    ix = x.view(xp.uint32)
    tmp = ix - xp.uint32(0x3F330000)
    i = ((tmp >> 19) % 16).astype(xp.int64)
    k = (tmp.view(xp.int32) >> 23).astype(xp.float64)
    iz = ix - (tmp & xp.uint32(0xFF800000))
    invc = xp.asarray(LOGF_INVC, dtype=xp.float64)[i]
    logc = xp.asarray(LOGF_LOGC, dtype=xp.float64)[i]
    z = iz.view(xp.float32).astype(xp.float64)
    r = z * invc - 1.0
    y0 = logc + k * LOGF_LN2
    r2 = r * r
    y = LOGF_A[1] * r + LOGF_A[2]
    y = LOGF_A[0] * r2 + y
    y = y * r2 + (y0 + r)
    ok = (x > 0) & xp.isfinite(x) & (ix >= xp.uint32(0x00800000))
    return xp.where(ok, y, xp.log(x.astype(xp.float64))).astype(xp.float32)


def _mlas_softmax_rows(xp, x, log):
    f = xp.float32
    if _compiled.enabled(xp) and x.dtype == f:
        out = xp.empty(x.shape, dtype=f)
        _compiled.loops("attention").softmax_rows(x, out, log)
        return out
    neg_max = -xp.max(x, axis=1, keepdims=True)
    shifted = x + neg_max
    e, s = mlas_sum_exp(xp, shifted)
    if log:
        return shifted - glibc_logf(xp, s)
    return e * (f(1) / s)


def mlas_sum_exp(xp, shifted):
    """(exp(shifted), its row sums (n, 1)) of 2-D float32 rows as MlasComputeSumExpF32KernelAvx512F."""
    f = xp.float32
    n, d = shifted.shape
    if _compiled.enabled(xp) and shifted.dtype == f:
        e, s = xp.empty((n, d), dtype=f), xp.empty((n, 1), dtype=f)
        _compiled.loops("attention").sum_exp_rows(shifted, e, s)
        return e, s
    # This ORT build clamps at the full exp range (-103.97), not LowerRangeSumExp (-88.38): checked
    # against ORT on inputs whose exp is subnormal.
    e = mlas_exp(xp, shifted)
    # Per-lane sequential accumulation over 16-wide chunks (the tail chunk masked: zeros).
    chunks = -(-d // 16)
    padded = xp.zeros((n, chunks * 16), dtype=f)
    padded[:, :d] = e
    padded = padded.reshape(n, chunks, 16)
    acc = padded[:, 0, :].copy()
    for c in range(1, chunks):
        acc = acc + padded[:, c, :]
    # Horizontal reduction: upper 8 lanes onto lower 8, two vhaddps, then the two 128-bit halves.
    a = acc[:, 8:] + acc[:, :8]
    s = ((a[:, 0] + a[:, 1]) + (a[:, 2] + a[:, 3])) + ((a[:, 4] + a[:, 5]) + (a[:, 6] + a[:, 7]))
    return e, s[:, None]


def _generic_softmax_rows(xp, x, log):
    shifted = x - xp.max(x, axis=1, keepdims=True)
    e = xp.exp(shifted)
    s = xp.sum(e, axis=1, keepdims=True)
    return (shifted - xp.log(s) if log else e / s).astype(x.dtype)


def _rows(xp, x, log):
    if x.dtype == xp.float32:
        return _mlas_softmax_rows(xp, x, log)
    return _generic_softmax_rows(xp, x, log)


def _coerced_2d(xp, x, axis, fn):
    # Opset 1/11 semantics: flatten to (prod(shape[:axis]), prod(shape[axis:])).
    if x.ndim == 0:
        return fn(x.reshape(1, 1)).reshape(())
    axis = axis % x.ndim if x.ndim else 0
    n = 1
    for s in x.shape[:axis]:
        n *= s
    if x.size == 0:
        return x.copy()
    return fn(x.reshape(n, -1)).reshape(x.shape)


def _along_axis(xp, x, axis, fn):
    if x.ndim == 0:
        return fn(x.reshape(1, 1)).reshape(())
    if x.size == 0:
        return x.copy()
    moved = xp.moveaxis(x, axis, -1)
    out = fn(xp.ascontiguousarray(moved).reshape(-1, moved.shape[-1]))
    return xp.moveaxis(out.reshape(moved.shape), -1, axis)


@register("Softmax", 1, 11)
def Softmax_1(xp, input, *, axis=1):
    return _coerced_2d(xp, input, axis, lambda m: _rows(xp, m, False))


@register("Softmax", 13)
def Softmax(xp, input, *, axis=-1):
    return _along_axis(xp, input, axis, lambda m: _rows(xp, m, False))


@register("LogSoftmax", 1, 11)
def LogSoftmax_1(xp, input, *, axis=1):
    return _coerced_2d(xp, input, axis, lambda m: _rows(xp, m, True))


@register("LogSoftmax", 13)
def LogSoftmax(xp, input, *, axis=-1):
    return _along_axis(xp, input, axis, lambda m: _rows(xp, m, True))


def _hardmax_rows(xp, m):
    # One-hot of the first maximum in each row.
    out = xp.zeros(m.shape, dtype=m.dtype)
    out[xp.arange(m.shape[0]), xp.argmax(m, axis=1)] = 1
    return out


@register("Hardmax", 1, 11)
def Hardmax_1(xp, input, *, axis=1):
    return _coerced_2d(xp, input, axis, lambda m: _hardmax_rows(xp, m))


@register("Hardmax", 13)
def Hardmax(xp, input, *, axis=-1):
    return _along_axis(xp, input, axis, lambda m: _hardmax_rows(xp, m))
