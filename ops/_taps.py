"""Kernel taps of a sliding window as long slices, for the ops that combine taps element by element
(depthwise Conv, AveragePool, MaxPool).

A window view (sliding_window_view) has one row per output row and channel, and NumPy pays for each
row of a strided operand: on 14x14 images the bookkeeping costs more than the arithmetic. Here the
padded input is split into its stride phases (one phase when every stride is 1) and each phase is
flattened; output position k = sum over d of o_d * row_d (row_d: the element stride of dim d in a
phase) then reads element k + offset(tap) of the phase that holds the tap, so a tap is one slice per
channel. Positions that fall between output rows are computed too and cropped at the end. Each output
still combines the same input elements, so the results equal the window-view ones bit for bit
(tests/ops/test_conv.py, tests/ops/test_pool.py).
"""
from __future__ import annotations

import itertools
import math


class PhaseTaps:
    """taps[tap] is a (N, C, size) view whose position k holds window tap `tap` (a kernel index tuple)
    of output position k; crop() turns (N, C', size) results into (N, C', *out)."""

    def __init__(self, xp, X, kernel, strides, dilations, out, begin, fill):
        self.xp, self.out = xp, list(out)
        N, C = X.shape[:2]
        n = len(kernel)
        # Beyond the input, up to the last window's end, everything is `fill` (padding, ceil_mode overhang).
        padded = [max(begin[d] + X.shape[2 + d], (out[d] - 1) * strides[d] + (kernel[d] - 1) * dilations[d] + 1)
                  for d in range(n)]
        self.phase_shape = [-(-padded[d] // strides[d]) for d in range(n)]
        row = [math.prod(self.phase_shape[d + 1:]) for d in range(n)]  # element stride of dim d in a phase
        self.size = out[0] * row[0]  # positions per channel: the outputs and the columns between their rows
        reach = sum(((kernel[d] - 1) * dilations[d] // strides[d]) * row[d] for d in range(n)) + self.size
        # Whole extra rows at the end hold the reach of the last taps past the phase; the buffer is
        # contiguous, so that its flat view below is a view with every array library.
        extra_rows = max(0, -(-(reach - math.prod(self.phase_shape)) // row[0])) if row[0] else 0
        shape = (math.prod(strides), N, C, self.phase_shape[0] + extra_rows) + tuple(self.phase_shape[1:])
        phases = xp.zeros(shape, dtype=X.dtype) if fill == 0 else xp.full(shape, fill, dtype=X.dtype)
        for i, phase in enumerate(itertools.product(*(range(s) for s in strides))):
            # Phase p of dim d holds padded rows p, p + s, ...: input rows x0, x0 + s, ... from phase row j0.
            src, dst = [slice(None)] * 2, [i, slice(None), slice(None)]
            for p, s, b, length in zip(phase, strides, begin, X.shape[2:]):
                x0 = (p - b) % s
                j0 = (x0 + b - p) // s
                src.append(slice(x0, None, s))
                dst.append(slice(j0, j0 + len(range(x0, length, s))))
            phases[tuple(dst)] = X[tuple(src)]
        phases = phases.reshape(shape[:3] + (-1,))
        self.taps = {}
        for tap in itertools.product(*(range(k) for k in kernel)):
            phase, start = 0, 0
            for d in range(n):
                reach_d = tap[d] * dilations[d]
                phase = phase * strides[d] + reach_d % strides[d]
                start += (reach_d // strides[d]) * row[d]
            self.taps[tap] = phases[phase, ..., start:start + self.size]

    def crop(self, Y):
        N, C = Y.shape[:2]
        Y = Y.reshape((N, C, self.out[0]) + tuple(self.phase_shape[1:]))
        return self.xp.ascontiguousarray(Y[(Ellipsis,) + tuple(slice(0, o) for o in self.out[1:])])
