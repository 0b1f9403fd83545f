"""The fake-quantization grid pass of simulator.quantization as one compiled loop (Numba, the `[fast]` extra).

The same float32 operations in the same order as _fake_quantize_into and the CUDA kernel beside it: x / scale
(a true division), - offset, rounding (half up as floor(v + just-below-half), or half to even), clip to
[0, qmax] with NaN kept, + offset, * scale. Each float32 operation is computed in float64 and rounded to float32
once, which for a single +, -, * or / is the correctly rounded float32 result (float64 carries more than twice
float32's precision plus two bits), so the bits are NumPy's; tests/test_jit_quantization.py holds them to it.
Imported only when compiled loops are enabled (ops._compiled).
"""
from __future__ import annotations

import numba
import numpy as np
from numba import float32, float64

from ops._compiled import JIT_OPTIONS


@numba.njit(**JIT_OPTIONS)
def grid_pass(x, out, scale, offset, qmax, below_half, half_up):
    """out[i] = fake-quantized x[i]; x and out flat float32 arrays, the grid's parameters float32 scalars."""
    s, o, bh = float64(scale), float64(offset), float64(below_half)
    top, zero = float32(qmax), float32(0.0)
    for i in range(x.size):
        v = float32(float64(x[i]) / s)
        v = float32(float64(v) - o)
        if half_up:
            v = np.floor(float32(float64(v) + bh))
        else:
            v = np.rint(v)
        if v < zero:
            v = zero
        elif v > top:
            v = top
        v = float32(float64(v) + o)
        out[i] = float32(float64(v) * s)


@numba.njit(**JIT_OPTIONS)
def grid(x, out, params, half_up):
    """grid_pass over x into out (both C-contiguous float32 of one shape, any rank; out allocated by the caller:
    an array NumPy made owns its data and has NumPy's dtype object), params the float32 (scale, offset, qmax,
    just below half): one call of four arguments per activation."""
    grid_pass(x.reshape(-1), out.reshape(-1), params[0], params[1], params[2], params[3], half_up)
