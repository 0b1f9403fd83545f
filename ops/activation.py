"""Element-wise activations: Relu, Sigmoid, Tanh, LeakyRelu, PRelu, Elu, Selu, Gelu, ...

Sigmoid, Tanh and Gelu reproduce ORT's MLAS kernels (MlasComputeLogisticF32KernelFma3,
MlasComputeTanhF32KernelFma3, MlasErfKernelFma3) bit for bit; see elementwise.py for the fma
emulation. The remaining formulas follow ORT's functors operation for operation.
"""
from __future__ import annotations

import math

from . import _compiled
from ._mlas_constants import (GELU_FAST_C, GELU_SQRT1_2, GELU_SQRT_2_OVER_PI, LOGISTIC_ALPHA, LOGISTIC_BETA,
                              LOGISTIC_RANGE, TANH_ALPHA, TANH_BETA, TANH_RANGE)
from .elementwise import Erf, compiled_map, fma32, horner32, mlas_erf
from .registry import register
from .xp import is_numpy

def _odd_rational(xp, x, bound, alpha, beta):
    # Clamp, then p(x^2) * x / q(x^2) with Horner steps as fused multiply-adds.
    f = xp.float32
    v = xp.minimum(xp.maximum(x, f(-bound)), f(bound))
    v2 = v * v
    p = horner32(xp, fma32(xp, v2, f(alpha[0]), f(alpha[1])), v2, [f(c) for c in alpha[2:]])
    q = horner32(xp, fma32(xp, v2, f(beta[0]), f(beta[1])), v2, [f(c) for c in beta[2:]])
    return (v * p) / q


def mlas_logistic(xp, x):
    if _compiled.enabled(xp):
        return compiled_map(xp, "logistic", x)
    # The FMA3 kernel only clamps the lower end of the result.
    return xp.maximum(_odd_rational(xp, x, LOGISTIC_RANGE, LOGISTIC_ALPHA, LOGISTIC_BETA) + xp.float32(0.5),
                      xp.float32(0))


def mlas_tanh(xp, x):
    if _compiled.enabled(xp):
        return compiled_map(xp, "tanh", x)
    return _odd_rational(xp, x, TANH_RANGE, TANH_ALPHA, TANH_BETA)


def _f32(x):
    return x.dtype.kind == "f" and x.dtype.itemsize == 4


@register("Relu", 1, 6, 13, 14)
def Relu(xp, X, *, consumed_inputs=None):
    zero = X.dtype.type(0)
    if X.dtype != xp.float32 or not is_numpy(xp):
        return xp.maximum(X, zero)
    # maximum(X, 0) bit for bit, without NumPy's maximum-against-a-scalar loop (about 4x slower than
    # clip): clip keeps NaN and leaves -0.0 as -0.0, which adding +0.0 turns into maximum's +0.0.
    Y = xp.clip(X, zero, X.dtype.type(math.inf))
    Y += zero
    return Y


@register("Sigmoid", 1, 6, 13)
def Sigmoid(xp, X, *, consumed_inputs=None):
    if _f32(X):
        return mlas_logistic(xp, X)
    # Other float types: 1 / (1 + exp(-x)) without overflow warnings for large |x|.
    e = xp.exp(-xp.abs(X))
    one = X.dtype.type(1)
    return xp.where(X >= 0, one / (one + e), e / (one + e)).astype(X.dtype)


@register("Tanh", 1, 6, 13)
def Tanh(xp, X, *, consumed_inputs=None):
    return mlas_tanh(xp, X) if _f32(X) else xp.tanh(X)


@register("LeakyRelu", 1, 6, 16)
def LeakyRelu(xp, X, *, alpha=0.01, consumed_inputs=None):
    return xp.where(X >= 0, X, X.dtype.type(alpha) * X)


@register("PRelu", 1, 6, 7, 9, 16)
def PRelu(xp, X, slope, *, consumed_inputs=None):
    # Opset < 7 allowed a slope of shape (C,) against (N, C, ...): align it to axis 1 then.
    if slope.ndim == 1 and X.ndim > 2 and slope.shape[0] == X.shape[1] and slope.shape[0] != X.shape[-1]:
        slope = slope.reshape((-1,) + (1,) * (X.ndim - 2))
    return xp.where(X > 0, X, slope.astype(X.dtype) * X).astype(X.dtype)


def _expm1_ort(xp, x):
    # ORT evaluates exp(x) - 1 with Eigen's vectorised expf (not reproduced); a correctly rounded
    # exp agrees with it on ~96% of inputs, float32 libm exp on ~89%.
    return xp.exp(x.astype(xp.float64)).astype(x.dtype) - x.dtype.type(1)


@register("Elu", 1, 6, 22)
def Elu(xp, X, *, alpha=1.0, consumed_inputs=None):
    t = X.dtype.type
    return xp.where(X >= 0, X, t(alpha) * _expm1_ort(xp, xp.minimum(X, t(0))))


@register("Selu", 1)
def Selu_1(xp, X, *, alpha=1.6732, gamma=1.0507, consumed_inputs=None):
    # Selu-1's schema rounds the constants to 1.6732 and 1.0507.
    return Selu(xp, X, alpha=alpha, gamma=gamma)


@register("Selu", 6, 22)
def Selu(xp, X, *, alpha=1.67326319217681884765625, gamma=1.05070102214813232421875, consumed_inputs=None):
    t = X.dtype.type
    return t(gamma) * xp.where(X > 0, X, t(alpha) * _expm1_ort(xp, xp.minimum(X, t(0))))


@register("Celu", 12, 28)
def Celu(xp, X, *, alpha=1.0):
    t = X.dtype.type
    a = t(alpha)
    return xp.maximum(t(0), X) + xp.minimum(t(0), a * _expm1_ort(xp, xp.minimum(X / a, t(0))))


@register("HardSigmoid", 1, 6, 22)
def HardSigmoid(xp, X, *, alpha=0.2, beta=0.5, consumed_inputs=None):
    t = X.dtype.type
    return xp.maximum(xp.minimum(t(alpha) * X + t(beta), t(1)), t(0))


@register("HardSwish", 14, 22)
def HardSwish(xp, X):
    # x * HardSigmoid(x, alpha=1/6, beta=0.5), the ONNX function body ORT expands.
    return X * HardSigmoid(xp, X, alpha=1.0 / 6, beta=0.5)


def erf_gelu(xp, x):
    """0.5 * x * (erf(x / sqrt(2)) + 1) as ORT computes it, the erf on x * M_SQRT1_2: MLAS's erf for float32
    (a compiled loop where enabled), the type's own otherwise."""
    if _f32(x) and _compiled.enabled(xp):
        return compiled_map(xp, "erf_gelu", x)
    t = x.dtype.type
    inner = x * t(GELU_SQRT1_2)
    e = mlas_erf(xp, inner) if _f32(x) else Erf(xp, inner)
    return (t(0.5) * x) * (e + t(1))


def tanh_gelu(xp, x):
    """0.5 * x * (1 + tanh(x * (C * x * x + sqrt(2/pi)))), C = 0.044715 * sqrt(2/pi), as ORT computes it: MLAS's
    tanh for float32 (a compiled loop where enabled), NumPy's otherwise."""
    if _f32(x) and _compiled.enabled(xp):
        return compiled_map(xp, "fast_gelu", x)
    t = x.dtype.type
    inner = x * ((t(GELU_FAST_C) * x) * x + t(GELU_SQRT_2_OVER_PI))
    th = mlas_tanh(xp, inner) if _f32(x) else xp.tanh(inner)
    return (t(0.5) * x) * (th + t(1))


@register("Gelu", 20)
def Gelu(xp, X, *, approximate="none"):
    if approximate == "tanh":
        return tanh_gelu(xp, X)
    if approximate == "none":
        return erf_gelu(xp, X)
    raise ValueError(f"Gelu: approximate must be 'none' or 'tanh', not {approximate!r}")


@register("Softplus", 1, 22)
def Softplus(xp, X):
    # ORT: x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)), evaluated without overflow.
    e = xp.exp(-xp.abs(X))
    return xp.where(X > 0, X + xp.log1p(e), xp.log1p(e)).astype(X.dtype)


@register("Softsign", 1, 22)
def Softsign(xp, input):
    # ORT multiplies by the reciprocal rather than dividing.
    one = input.dtype.type(1)
    return input * (one / (one + xp.abs(input)))


@register("Mish", 18, 22)
def Mish(xp, X):
    # The ONNX function body: x * tanh(softplus(x)); ORT runs its Tanh (MLAS) kernel on it.
    return X * Tanh(xp, Softplus(xp, X))


@register("ThresholdedRelu", 10, 22)
def ThresholdedRelu(xp, X, *, alpha=1.0):
    return xp.where(X > X.dtype.type(alpha), X, X.dtype.type(0))


@register("Shrink", 9)
def Shrink(xp, input, *, bias=0.0, lambd=0.5):
    # ORT compares and adds in float (int + float promotes), then casts back to the element type.
    x = input if input.dtype.kind == "f" else input.astype(xp.float32)
    t = x.dtype.type
    b, lam = t(bias), t(lambd)
    out = xp.where(x < -lam, x + b, xp.where(x > lam, x - b, t(0)))
    return out.astype(input.dtype)


@register("Swish", 24)
def Swish(xp, X, *, alpha=1.0):
    # x * sigmoid(alpha * x)
    return (X * Sigmoid(xp, (X * X.dtype.type(alpha)).astype(X.dtype))).astype(X.dtype)
