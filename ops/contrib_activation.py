"""ONNX Runtime's com.microsoft activations: Gelu, BiasGelu, FastGelu, QuickGelu.

float32 reproduces ORT's CPU kernels bit for bit (measured against ORT 1.32): the erf, tanh and logistic
are MLAS's (ops.elementwise / ops.activation), with ORT's operation order around them. Other float types
compute in their own type with NumPy's transcendentals.
"""
from __future__ import annotations

from . import _compiled
from .activation import erf_gelu, mlas_logistic, tanh_gelu
from .elementwise import compiled_map
from .registry import register

MS = "com.microsoft"


def _f32(x):
    return x.dtype.kind == "f" and x.dtype.itemsize == 4


@register("Gelu", 1, domain=MS)
def Gelu(xp, X):
    """ORT contrib: bit for bit with ORT 1.32 (float32)."""
    return erf_gelu(xp, X)


@register("BiasGelu", 1, domain=MS)
def BiasGelu(xp, A, B):
    """ORT contrib: bit for bit with ORT 1.32 (float32)."""
    return erf_gelu(xp, A + B)


@register("FastGelu", 1, domain=MS)
def FastGelu(xp, X, bias=None):
    """ORT contrib: bit for bit with ORT 1.32 (float32)."""
    # ORT: the tanh approximation on x, bias added to x first.
    return tanh_gelu(xp, X if bias is None else X + bias)


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
