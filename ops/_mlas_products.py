"""Matrix products in the order ONNX Runtime's attention kernels compute them (measured against ORT 1.32).

sgemm: MlasSgemm, for the attention matrices: each output a chain of fused multiply-adds over K, K cut into
MLAS's StrideK blocks (128, traded against StrideN by the shape) whose sums are added. gemv_qk / gemv_sv: the single-token decode products of ORT's flash
GroupQueryAttention (MlasGQADecodeQK / MlasGQADecodeSV, plain multiplies and adds): eight lanes over the head
dimension reduced pairwise, and a running sum over the positions. float32 only; a fused multiply-add is
emulated in float64 (exact product, one add) as in ops.elementwise.fma32.
"""
from __future__ import annotations

import math

from . import _compiled
from .xp import is_numpy

def _stride_k(n: int, k: int) -> int:
    """MlasSgemm's K block: StrideN = StrideK = 128, halving one while doubling the other to fit the shape."""
    stride_n, stride_k = 128, 128
    if k <= 0:  # no K blocks at all
        return stride_k
    if n >= k:
        while stride_k // 2 >= k:
            stride_n, stride_k = stride_n * 2, stride_k // 2
    else:
        while stride_n > 16 and stride_n // 2 >= n:
            stride_n, stride_k = stride_n // 2, stride_k * 2
    return stride_k


# The products of a chunk of K are formed at once (float64, exact), at most this many elements at a time, so that
# the chain itself is two in-place operations per k (a small token step is bounded by calls, not by arithmetic).
_CHUNK_ELEMENTS = 1 << 20


def sgemm(xp, A, B, alpha=None, C=None):
    """alpha * A (..., M, K) @ B (..., K, N) (+ C), float32: each K block's chain is scaled by alpha, then added
    to what the earlier blocks (or C) left."""
    f = xp.float32
    batch = A.shape[:-2] if A.shape[:-2] == B.shape[:-2] else tuple(xp.broadcast_shapes(A.shape[:-2], B.shape[:-2]))
    shape = batch + (A.shape[-2], B.shape[-1])
    if _compiled.enabled(xp) and _exact_in_float32(xp, A, B):
        return _sgemm_compiled(xp, A, B, alpha, C, batch, shape)
    on_host = is_numpy(xp)
    a, b = A.astype(xp.float64), B.astype(xp.float64)
    out = None if C is None else xp.broadcast_to(C, shape).astype(f)
    k_total = A.shape[-1]
    block = _stride_k(B.shape[-1], k_total)
    per_k = 1
    for d in shape:
        per_k *= d
    chunk = max(1, _CHUNK_ELEMENTS // max(per_k, 1))
    wide = None if on_host else xp.empty(shape, dtype=xp.float64)  # fl64(product + acc), then rounded into acc
    for k0 in range(0, k_total, block):
        acc = xp.zeros(shape, dtype=f)
        k_end = min(k_total, k0 + block)
        for c0 in range(k0, k_end, chunk):
            c1 = min(k_end, c0 + chunk)
            products = a[..., c0:c1, None] * b[..., None, c0:c1, :]  # [..., m, k - c0, n] = a[m, k] b[k, n]
            for i in range(c1 - c0):
                if on_host:  # one call per k: the float64 add rounded into acc as it is stored
                    xp.add(products[..., i, :], acc, out=acc, dtype=xp.float64, casting="unsafe")
                else:
                    xp.add(products[..., i, :], acc, out=wide)
                    acc[...] = wide
        if alpha is not None:
            acc = acc * f(alpha)
        out = acc if out is None else out + acc
    return out if out is not None else xp.zeros(shape, dtype=f)


def sgemm_m1(xp, A, B, C=None):
    """A (..., 1, K) @ B (..., K, N) (+ C) as MlasSgemmKernelM1Avx, which MlasGemm takes for a single row with
    alpha 1, beta 0 or 1 and B not transposed: rows of B in blocks of 4, then 2, then 1, each block's plain
    products summed in order ((p0 + p1) + p2) + p3, then added to C (or to +0)."""
    f = xp.float32
    batch = tuple(xp.broadcast_shapes(A.shape[:-2], B.shape[:-2]))
    k, n = B.shape[-2:]
    if _compiled.enabled(xp) and A.dtype == B.dtype == f:
        out = xp.empty(batch + (1, n), dtype=f)
        c = out if C is None else _flat(xp, C, batch, (1, n))
        _compiled.loops("attention").sgemm_m1(_flat(xp, A, batch, (1, k)), _flat(xp, B, batch, (k, n)),
                                              c.reshape(math.prod(batch), 1, n), C is not None,
                                              out.reshape(math.prod(batch), 1, n))
        return out
    a, b = A.astype(f), B.astype(f)
    acc = xp.zeros(batch + (1, n), dtype=f) if C is None else xp.broadcast_to(C, batch + (1, n)).astype(f)
    r = 0
    for width in (4, 2, 1):
        while k - r >= width:
            block = a[..., r:r + 1].swapaxes(-1, -2) * b[..., r:r + 1, :]
            for i in range(1, width):
                block = block + a[..., r + i:r + i + 1].swapaxes(-1, -2) * b[..., r + i:r + i + 1, :]
            acc = block + acc
            r += width
            if width < 4:
                break
    return acc


def gemv_qk(xp, q, keys):
    """q (..., H) . keys (..., T, H) -> (..., T): eight lanes of products, ((0+1)+(2+3))+((4+5)+(6+7)), tail."""
    if _compiled.enabled(xp) and q.dtype == keys.dtype == xp.float32:
        return _gemv_compiled(xp, "gemv_qk", q, keys, keys.shape[-2])
    h = q.shape[-1]
    full = h // 8 * 8
    q = q[..., None, :]
    acc = xp.zeros(keys.shape[:-1] + (8,), dtype=xp.float32)
    for i in range(0, full, 8):
        acc = acc + q[..., i:i + 8] * keys[..., i:i + 8]
    total = ((acc[..., 0] + acc[..., 1]) + (acc[..., 2] + acc[..., 3])) + \
        ((acc[..., 4] + acc[..., 5]) + (acc[..., 6] + acc[..., 7]))
    for i in range(full, h):
        total = total + q[..., i] * keys[..., i]
    return total


def gemv_sv(xp, p, values):
    """p (..., T) @ values (..., T, H) -> (..., H): out += p[t] * values[t], t in order."""
    if _compiled.enabled(xp) and p.dtype == values.dtype == xp.float32:
        return _gemv_compiled(xp, "gemv_sv", p, values, values.shape[-1])
    if values.shape[-2] == 0:
        return xp.zeros(values.shape[:-2] + (values.shape[-1],), dtype=xp.float32)
    # A running float32 sum in t order is add.accumulate (sequential, unlike add.reduce); adding +0 last gives
    # the sign of zero a sum started from +0 has.
    products = p[..., :, None] * values
    return xp.add.accumulate(products, axis=-2)[..., -1, :] + xp.float32(0)


def _exact_in_float32(xp, *arrays) -> bool:
    """Whether every array given is float32 or float16 (float16 widens to float32 exactly), so that the compiled
    loop, which takes float32, computes what the float64 twin computes."""
    return all(a.dtype in (xp.float32, xp.float16) for a in arrays)


def _flat(xp, x, batch, tail):
    """x broadcast to batch + tail, as float32 with one flat batch axis (a view where the layout allows)."""
    if x.dtype != xp.float32:
        x = x.astype(xp.float32)
    shape = batch + tail
    if x.shape != shape:
        x = xp.broadcast_to(x, shape)
    return x if x.ndim == len(tail) + 1 else x.reshape((math.prod(batch),) + tail)


def _gemv_compiled(xp, name, vector, matrix, width):
    """The compiled decode GEMV `name` of vector (..., a) and matrix (..., T, H), giving (..., width)."""
    batch = vector.shape[:-1]
    if batch != matrix.shape[:-2]:
        batch = tuple(xp.broadcast_shapes(batch, matrix.shape[:-2]))
    out = xp.empty(batch + (width,), dtype=xp.float32)
    getattr(_compiled.loops("attention"), name)(_flat(xp, vector, batch, vector.shape[-1:]),
                                                _flat(xp, matrix, batch, matrix.shape[-2:]),
                                                out.reshape(math.prod(batch), width))
    return out


def _sgemm_compiled(xp, A, B, alpha, C, batch, shape):
    m, k = A.shape[-2:]
    n = B.shape[-1]
    out = xp.empty(shape, dtype=xp.float32)
    c = out if C is None else _flat(xp, C, batch, (m, n))  # out stands in for an absent C (never read)
    _compiled.loops("attention").sgemm(_flat(xp, A, batch, (m, k)), _flat(xp, B, batch, (k, n)),
                                       xp.float32(1 if alpha is None else alpha), alpha is not None,
                                       c.reshape(math.prod(batch), m, n), C is not None, _stride_k(n, k),
                                       out.reshape(math.prod(batch), m, n))
    return out
