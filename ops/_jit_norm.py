"""Compiled twins of ops.contrib_norm's row reductions (Numba; see ops._compiled).

Each loop computes, row by row, exactly what its NumPy twin in contrib_norm computes over the whole array:
float32 products and adds in the same order, a fused multiply-add as the exact float64 product plus the float64
accumulator rounded once to float32. The callers pass C-contiguous float32 arrays, outputs included.
"""
from __future__ import annotations

import math

import numba
from numba import float32, float64

from ._compiled import JIT_OPTIONS


@numba.njit(inline="always", **JIT_OPTIONS)
def _fma_square(v, acc):
    w = float64(v)
    return float32(w * w + float64(acc))


@numba.njit(**JIT_OPTIONS)
def _lane_sum_squares(x):
    """contrib_norm._lane_sum_squares for one row (16 elements or more)."""
    n = x.shape[0]
    full = n // 8 * 8
    # Eight float32 accumulators, x*x added with fused multiply-adds, lane j taking every eighth element.
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = float32(0)
    for i in range(0, full, 8):
        a0, a1 = _fma_square(x[i], a0), _fma_square(x[i + 1], a1)
        a2, a3 = _fma_square(x[i + 2], a2), _fma_square(x[i + 3], a3)
        a4, a5 = _fma_square(x[i + 4], a4), _fma_square(x[i + 5], a5)
        a6, a7 = _fma_square(x[i + 6], a6), _fma_square(x[i + 7], a7)
    # The lanes reduced pairwise: (l + l+4), then (0 + 2) and (1 + 3), then the two halves.
    s0, s1, s2, s3 = a0 + a4, a1 + a5, a2 + a6, a3 + a7
    total = (s0 + s2) + (s1 + s3)
    j = full
    if n - full >= 4:  # the four-wide step: products rounded to float32, added one by one
        for j in range(full, full + 4):
            total = total + x[j] * x[j]
        j = full + 4
    for j in range(j, n):  # fused scalar steps
        total = _fma_square(x[j], total)
    return total


@numba.njit(inline="always", **JIT_OPTIONS)
def _sqrt(v):  # float32 sqrt: rounding the float64 root of a float32 is the correctly rounded float32 root
    return float32(math.sqrt(float64(v)))


@numba.njit(**JIT_OPTIONS)
def _seq_sum_squares(x):
    # Left to right in float32, from the first square (normalization._seq_sum of x*x).
    total = x[0] * x[0]
    for j in range(1, x.shape[0]):
        total = total + x[j] * x[j]
    return total


@numba.njit(inline="always", **JIT_OPTIONS)
def _divide_by_rms(row, scale, nf, eps, out):
    """out = row / rms * scale with rms = sqrt(left-to-right sum of squares / n + eps); returns 1 / rms."""
    rms = _sqrt(_seq_sum_squares(row) / nf + eps)
    for j in range(row.shape[0]):
        out[j] = row[j] / rms * scale[j]
    return float32(1) / rms


@numba.njit(**JIT_OPTIONS)
def simplified_layer_norm(x, scale, epsilon, y, inv):
    """x, y (rows, n), scale (n,), inv (rows,); epsilon a float32. As contrib_norm.SimplifiedLayerNormalization."""
    rows, n = x.shape
    nf, eps = float32(n), float32(epsilon)
    for r in range(rows):
        row, out = x[r], y[r]
        if n < 16:
            inv[r] = _divide_by_rms(row, scale, nf, eps, out)
        else:
            k = float32(1) / _sqrt(_lane_sum_squares(row) / nf + eps)
            inv[r] = k
            for j in range(n):
                out[j] = row[j] * k * scale[j]


@numba.njit(**JIT_OPTIONS)
def simplified_layer_norm_last_axis(x, scale, epsilon, y, inv):
    """simplified_layer_norm over the last axis of C-contiguous x and y of any rank (not empty), inv holding one
    value per row: the caller's reshapes, made here where they cost nothing."""
    n = x.shape[-1]
    rows = x.size // n
    simplified_layer_norm(x.reshape((rows, n)), scale, epsilon, y.reshape((rows, n)), inv.reshape((rows,)))


@numba.njit(**JIT_OPTIONS)
def skip_simplified_layer_norm(v, gamma, epsilon, y, inv):
    """v = input + skip (+ bias), y (rows, n), inv (rows,). As contrib_norm.SkipSimplifiedLayerNormalization."""
    nf, eps = float32(v.shape[1]), float32(epsilon)
    for r in range(v.shape[0]):
        inv[r] = _divide_by_rms(v[r], gamma, nf, eps, y[r])


@numba.njit(**JIT_OPTIONS)
def skip_layer_norm(v, gamma, beta, has_beta, epsilon, y, mean, inv):
    """Welford per row, as contrib_norm.SkipLayerNormalization; beta ignored unless has_beta."""
    rows, n = v.shape
    nf, eps, one = float32(n), float32(epsilon), float32(1)
    for r in range(rows):
        row, out = v[r], y[r]
        mu, m2 = float32(0), float32(0)
        for h in range(n):
            d = row[h] - mu
            mu = mu + d / float32(h + 1)
            m2 = m2 + d * (row[h] - mu)
        std = _sqrt(m2 / nf + eps)
        mean[r], inv[r] = mu, one / std
        for j in range(n):
            t = (row[j] - mu) / std * gamma[j]
            out[j] = t + beta[j] if has_beta else t


@numba.njit(**JIT_OPTIONS)
def skip_simplified_layer_norm_last_axis(v, gamma, epsilon, y, inv):
    """skip_simplified_layer_norm over the last axis of C-contiguous v and y of any rank (not empty)."""
    n = v.shape[-1]
    rows = v.size // n
    skip_simplified_layer_norm(v.reshape((rows, n)), gamma, epsilon, y.reshape((rows, n)), inv.reshape((rows,)))


@numba.njit(**JIT_OPTIONS)
def skip_layer_norm_last_axis(v, gamma, beta, has_beta, epsilon, y, mean, inv):
    """skip_layer_norm over the last axis of C-contiguous v and y of any rank (not empty)."""
    n = v.shape[-1]
    rows = v.size // n
    skip_layer_norm(v.reshape((rows, n)), gamma, beta, has_beta, epsilon, y.reshape((rows, n)), mean.reshape((rows,)),
                    inv.reshape((rows,)))
