"""Compiled twins of MLAS's tanh, logistic and erf polynomials and of the Gelus built on them (Numba; see
ops._compiled).

Element by element, each loop computes what its NumPy twin (ops.activation.mlas_tanh / mlas_logistic,
ops.elementwise.mlas_erf, ops.contrib_activation's Gelus) computes over the array: the same float32 constants,
the same order, a fused multiply-add as the exact float64 product plus the float64 addend rounded once to
float32, NumPy's NaN-propagating minimum/maximum. x and out are flat C-contiguous float32 arrays of one size.
"""
from __future__ import annotations

import numba
from numba import float32, float64, int64, uint32

from . import _mlas_constants as K
from ._compiled import JIT_OPTIONS


def _f32s(values):
    return tuple(float32(v) for v in values)


# The NumPy twins round every constant to float32 before use; so do these (frozen into the loops).
_TANH = (float32(K.TANH_RANGE), _f32s(K.TANH_ALPHA), _f32s(K.TANH_BETA))
_LOGISTIC = (float32(K.LOGISTIC_RANGE), _f32s(K.LOGISTIC_ALPHA), _f32s(K.LOGISTIC_BETA))
_ERF_S, _ERF_B, _ERF_E = _f32s(K.ERF_SMALL), _f32s(K.ERF_BIG), _f32s(K.ERF_EXP_POLY)
_ERF_K = _f32s((K.ERF_UPPER, K.ERF_SPLIT, K.ERF_EXP_LOWER, K.ERF_EXP_C, K.LOG2_RECIPROCAL, K.LOG2_HIGH, K.LOG2_LOW))
_GELU_K = _f32s((K.GELU_FAST_C, K.GELU_SQRT_2_OVER_PI, K.GELU_SQRT1_2, 0.5, 1.0))


@numba.njit(inline="always", **JIT_OPTIONS)
def _fma(a, b, c):
    return float32(float64(a) * float64(b) + float64(c))


@numba.njit(inline="always", **JIT_OPTIONS)
def _horner(p, x, coeffs):
    for c in coeffs:
        p = _fma(p, x, c)
    return p


@numba.njit(inline="always", **JIT_OPTIONS)
def _maximum(a, b):  # np.maximum: a NaN a propagates, else the larger, b on a tie
    return a if a > b or a != a else b


@numba.njit(inline="always", **JIT_OPTIONS)
def _minimum(a, b):
    return a if a < b or a != a else b


@numba.njit(inline="always", **JIT_OPTIONS)
def _odd_rational(x, consts):
    bound, alpha, beta = consts
    v = _minimum(_maximum(x, -bound), bound)
    v2 = v * v
    p = _horner(_fma(v2, alpha[0], alpha[1]), v2, alpha[2:])
    q = _horner(_fma(v2, beta[0], beta[1]), v2, beta[2:])
    return (v * p) / q


@numba.njit(inline="always", **JIT_OPTIONS)
def _tanh1(x):
    return _odd_rational(x, _TANH)


@numba.njit(inline="always", **JIT_OPTIONS)
def _logistic1(x):
    return _maximum(_odd_rational(x, _LOGISTIC) + float32(0.5), float32(0))


@numba.njit(**JIT_OPTIONS)
def _erf_into(x, out):
    """out = mlas_erf(x), with out's bits (viewed as uint32) as the scratch for the bit manipulations."""
    xb, ob = x.view(uint32), out.view(uint32)
    upper, split, exp_lower, c, log2_rcp, log2_hi, log2_lo = _ERF_K
    for i in range(x.shape[0]):
        sign = xb[i] & uint32(0x80000000)
        a = abs(x[i])
        a = upper if a != a else _minimum(a, upper)
        small = _fma(_horner(_ERF_S[0], a * a, _ERF_S[1:]), a, a)
        big = a > split
        ab = a if big else float32(0)
        r = -_fma(_horner(_ERF_B[0], ab, _ERF_B[1:]), ab, ab)
        r = _maximum(r, exp_lower)
        vr = _fma(r, log2_rcp, c) - c
        vf = _fma(vr, log2_lo, _fma(vr, log2_hi, r))
        y = _horner(_ERF_E[0], vf, _ERF_E[1:])
        ob[i] = uint32(((int64(vr) + 127) << 23) & 0xFFFFFFFF)  # 2^int(vr), built in out's bits
        out[i] = float32(1) - y * out[i]
        bits = ob[i] | sign
        if not big:
            out[i] = small
            bits |= ob[i]
        ob[i] = bits


@numba.njit(**JIT_OPTIONS)
def tanh(x, out):
    for i in range(x.shape[0]):
        out[i] = _tanh1(x[i])


@numba.njit(**JIT_OPTIONS)
def logistic(x, out):
    for i in range(x.shape[0]):
        out[i] = _logistic1(x[i])


@numba.njit(**JIT_OPTIONS)
def erf(x, out):
    _erf_into(x, out)


@numba.njit(**JIT_OPTIONS)
def fast_gelu(x, out):
    """0.5 * x * (1 + tanh(x * (C * x * x + sqrt(2/pi)))), as contrib_activation.FastGelu (and Gelu-20 tanh)."""
    c, b, _, half, one = _GELU_K
    for i in range(x.shape[0]):
        v = x[i]
        out[i] = (half * v) * (_tanh1(v * ((c * v) * v + b)) + one)


@numba.njit(**JIT_OPTIONS)
def erf_gelu(x, out):
    """0.5 * x * (erf(x * M_SQRT1_2) + 1), as contrib_activation's Gelu (and Gelu-20 none)."""
    _, _, s, half, one = _GELU_K
    for i in range(x.shape[0]):
        out[i] = x[i] * s
    _erf_into(out, out)
    for i in range(x.shape[0]):
        out[i] = (half * x[i]) * (out[i] + one)


@numba.njit(**JIT_OPTIONS)
def quick_gelu(x, alpha, out):
    """x * logistic(x * alpha), as contrib_activation.QuickGelu; alpha a float32."""
    for i in range(x.shape[0]):
        out[i] = x[i] * _logistic1(x[i] * alpha)
