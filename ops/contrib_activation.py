"""ONNX Runtime's com.microsoft activations: Gelu, BiasGelu, FastGelu, QuickGelu.

float32 reproduces ORT's CPU kernels bit for bit (measured against ORT 1.32): the erf, tanh and logistic
are MLAS's (ops.elementwise / ops.activation), with ORT's operation order around them. Other float types
compute in their own type with NumPy's transcendentals.
"""
from __future__ import annotations

from . import _compiled
from ._mlas_constants import GELU_FAST_C, GELU_SQRT1_2, GELU_SQRT_2_OVER_PI
from .activation import mlas_logistic, mlas_tanh
from .elementwise import Erf, compiled_map, mlas_erf
from .registry import register

MS = "com.microsoft"


def _f32(x):
    return x.dtype.kind == "f" and x.dtype.itemsize == 4


def _erf_gelu(xp, x):
    # 0.5 * x * (erf(x / sqrt(2)) + 1), the erf on x * M_SQRT1_2.
    if _f32(x) and _compiled.enabled(xp):
        return compiled_map(xp, "erf_gelu", x)
    t = x.dtype.type
    inner = x * t(GELU_SQRT1_2)
    e = mlas_erf(xp, inner) if _f32(x) else Erf(xp, inner)
    return (t(0.5) * x) * (e + t(1))


@register("Gelu", 1, domain=MS)
def Gelu(xp, X):
    """ORT contrib: bit for bit with ORT 1.32 (float32)."""
    return _erf_gelu(xp, X)


@register("BiasGelu", 1, domain=MS)
def BiasGelu(xp, A, B):
    """ORT contrib: bit for bit with ORT 1.32 (float32)."""
    return _erf_gelu(xp, A + B)


@register("FastGelu", 1, domain=MS)
def FastGelu(xp, X, bias=None):
    """ORT contrib: bit for bit with ORT 1.32 (float32)."""
    # ORT: 0.5 * x * (1 + tanh(x * (C * x * x + sqrt(2/pi)))), bias added to x first.
    x = X if bias is None else X + bias
    if _f32(x) and _compiled.enabled(xp):
        return compiled_map(xp, "fast_gelu", x)
    t = x.dtype.type
    inner = x * ((t(GELU_FAST_C) * x) * x + t(GELU_SQRT_2_OVER_PI))
    th = mlas_tanh(xp, inner) if _f32(x) else xp.tanh(inner)
    return (t(0.5) * x) * (th + t(1))


@register("QuickGelu", 1, domain=MS)
def QuickGelu(xp, X, *, alpha=1.702):
    """ORT contrib: bit for bit with ORT 1.32 (float32)."""
    # x * sigmoid(alpha * x)
    t = X.dtype.type
    if _f32(X) and _compiled.enabled(xp):
        return compiled_map(xp, "quick_gelu", X, t(alpha))
    z = X * t(alpha)
    if _f32(X):
        return X * mlas_logistic(xp, z)
    return X * (t(1) / (t(1) + xp.exp(-z))).astype(X.dtype)
