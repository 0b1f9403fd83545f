"""Compiled twin of ops.contrib_matmul's single-row product (Numba; see ops._compiled): MLAS's M1 transposed-B
kernel, eight lanes of rounded float32 products per row of W, folded as contrib_matmul._m1_transposed_b says.
The lanes live in registers: nothing is allocated, and the products are never stored."""
from __future__ import annotations

import numba
from numba import float32

from ._compiled import JIT_OPTIONS


@numba.njit(inline="always", **JIT_OPTIONS)
def _padded(row, a, i, k):
    # The product at i, or the twin's zero padding past K (a lane is never -0.0, so adding +0.0 keeps it).
    return row[i] * a[i] if i < k else float32(0)


@numba.njit(**JIT_OPTIONS)
def m1_transposed_b(a, w, y):
    """y (N,) = a (K,) @ w (N, K)^T, all float32 and C-contiguous."""
    n, k = w.shape
    full = k // 8 * 8
    fours = n // 4 * 4
    pair_end = fours + 2 if n - fours >= 2 else fours
    for r in range(n):
        row = w[r]
        l0 = l1 = l2 = l3 = l4 = l5 = l6 = l7 = float32(0)
        for i in range(0, full, 8):
            l0, l1 = l0 + row[i] * a[i], l1 + row[i + 1] * a[i + 1]
            l2, l3 = l2 + row[i + 2] * a[i + 2], l3 + row[i + 3] * a[i + 3]
            l4, l5 = l4 + row[i + 4] * a[i + 4], l5 + row[i + 5] * a[i + 5]
            l6, l7 = l6 + row[i + 6] * a[i + 6], l7 + row[i + 7] * a[i + 7]
        if full < k:  # the last, partial group of eight, padded with zeros as in the NumPy twin
            l0, l1 = l0 + _padded(row, a, full, k), l1 + _padded(row, a, full + 1, k)
            l2, l3 = l2 + _padded(row, a, full + 2, k), l3 + _padded(row, a, full + 3, k)
            l4, l5 = l4 + _padded(row, a, full + 4, k), l5 + _padded(row, a, full + 5, k)
            l6 = l6 + _padded(row, a, full + 6, k)  # (a partial group has at most seven)
        if r < fours:
            y[r] = (((l0 + l1) + l2) + l3) + (((l4 + l5) + l6) + l7)
        elif r < pair_end:
            y[r] = ((l0 + l2) + (l4 + l6)) + ((l1 + l3) + (l5 + l7))
        else:
            y[r] = ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7))
