"""Compiled twin of ops.contrib_matmul's single-row product (Numba; see ops._compiled): MLAS's M1 transposed-B
kernel, eight lanes of rounded float32 products per row of W, folded as contrib_matmul._m1_transposed_b says.
The lanes live in registers: nothing is allocated, and the products are never stored."""
from __future__ import annotations

import numba
from numba import float32, float64

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


@numba.njit(**JIT_OPTIONS)
def compfp32_row(a, w, lanes, y):
    """y (N,) = a (K,) @ w (N, K)^T as ORT's prepacked 4-bit float kernel (the NumPy twin:
    ops._mlas_qnbit.compfp32_row): per row of w 16 lanes, lane j fused multiply-adds (a float64 product and add,
    rounded) over k = j, j + 16, ... with K padded with zeros; columns in fours folded ((l0+l1)+l2)+l3 per
    quarter, (s0+s2)+(s1+s3), the others halved l[i]+l[i+8], then +4, then (q0+q2)+(q1+q3). lanes: float32 (16,)
    scratch. All float32 and C-contiguous."""
    n, k = w.shape
    padded = (k + 15) // 16 * 16
    fours = n // 4 * 4
    for r in range(n):
        for j in range(16):
            lanes[j] = float32(0)
        for i in range(padded):
            j = i % 16
            product = float64(w[r, i]) * float64(a[i]) if i < k else float64(0)
            lanes[j] = float32(product + float64(lanes[j]))
        if r < fours:
            s0 = ((lanes[0] + lanes[1]) + lanes[2]) + lanes[3]
            s1 = ((lanes[4] + lanes[5]) + lanes[6]) + lanes[7]
            s2 = ((lanes[8] + lanes[9]) + lanes[10]) + lanes[11]
            s3 = ((lanes[12] + lanes[13]) + lanes[14]) + lanes[15]
            y[r] = (s0 + s2) + (s1 + s3)
        else:
            q0 = (lanes[0] + lanes[8]) + (lanes[4] + lanes[12])
            q1 = (lanes[1] + lanes[9]) + (lanes[5] + lanes[13])
            q2 = (lanes[2] + lanes[10]) + (lanes[6] + lanes[14])
            q3 = (lanes[3] + lanes[11]) + (lanes[7] + lanes[15])
            y[r] = (q0 + q2) + (q1 + q3)


@numba.njit(**JIT_OPTIONS)
def int8_lanes(a_codes, q_codes, order, scale_a, scale_b, step_lanes, step_width, lane_blocks, halve_at_end,
               pairs_reduce, lanes, y):
    """The folded lanes y (M, N) of ORT's CompInt8 kernels (the NumPy twin: ops._mlas_qnbit._lanes): a_codes (M, K)
    float32 and q_codes (N, K) uint8, read at order (T,), the offsets in the steps' order; step s feeds step_lanes[s] lanes (16 or 8:
    at the first 8, the 16 are added in halves) with exact dots of step_width[s] codes, scaled by
    float32(sb * sa) of lane_blocks[s, lane]; halve_at_end adds the halves after the last step where still 16;
    the fold is _fold's. lanes: float32 (16,) scratch."""
    M, N = y.shape
    fours = N // 4 * 4
    pairs = M - M % 2 if pairs_reduce else 0
    for m in range(M):
        for n in range(N):
            for j in range(16):
                lanes[j] = float32(0)
            count = 16
            start = 0
            for s in range(step_lanes.shape[0]):
                if step_lanes[s] < count:
                    for j in range(8):
                        lanes[j] = lanes[j] + lanes[j + 8]
                    count = 8
                width = step_width[s]
                for p in range(step_lanes[s]):
                    dot = float64(0)
                    for i in range(start + p * width, start + (p + 1) * width):
                        dot += float64(a_codes[m, order[i]]) * float64(q_codes[n, order[i]])
                    b = lane_blocks[s, p]
                    combined = scale_b[n, b] * scale_a[m, b]
                    lanes[p] = float32(float64(float32(dot)) * float64(combined) + float64(lanes[p]))
                start += step_lanes[s] * width
            if halve_at_end and count == 16:
                for j in range(8):
                    lanes[j] = lanes[j] + lanes[j + 8]
                count = 8
            if count == 8:
                if n < fours:
                    y[m, n] = (((lanes[0] + lanes[1]) + lanes[2]) + lanes[3]) + (((lanes[4] + lanes[5]) + lanes[6])
                                                                             + lanes[7])
                else:
                    y[m, n] = ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) + ((lanes[1] + lanes[5])
                                                                                + (lanes[3] + lanes[7]))
            elif n < fours and m >= pairs:
                s0 = ((lanes[0] + lanes[1]) + lanes[2]) + lanes[3]
                s1 = ((lanes[4] + lanes[5]) + lanes[6]) + lanes[7]
                s2 = ((lanes[8] + lanes[9]) + lanes[10]) + lanes[11]
                s3 = ((lanes[12] + lanes[13]) + lanes[14]) + lanes[15]
                y[m, n] = (s0 + s2) + (s1 + s3)
            else:
                q0 = (lanes[0] + lanes[8]) + (lanes[4] + lanes[12])
                q1 = (lanes[1] + lanes[9]) + (lanes[5] + lanes[13])
                q2 = (lanes[2] + lanes[10]) + (lanes[6] + lanes[14])
                q3 = (lanes[3] + lanes[11]) + (lanes[7] + lanes[15])
                y[m, n] = (q0 + q2) + (q1 + q3)
