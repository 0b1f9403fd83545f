"""Matrix products: Gemm, MatMul, Einsum."""
from __future__ import annotations

from .registry import register


@register("Gemm", 1, 6, 7, 9, 11, 13)
def Gemm(xp, A, B, C=None, *, alpha=1.0, beta=1.0, transA=0, transB=0, broadcast=0):
    # `broadcast` (opsets 1 and 6) only allowed what unidirectional broadcasting does anyway.
    if transA:
        A = A.T
    if transB:
        B = B.T
    dt = A.dtype.type
    Y = xp.matmul(A, B)
    # ORT/MLAS: Y is first filled with beta*C, then alpha*A@B is accumulated onto it.
    if alpha != 1.0:
        Y *= dt(alpha)
    if C is not None and beta != 0.0:
        C = C if beta == 1.0 else C * dt(beta)
        Y = Y + C if Y.shape != xp.broadcast_shapes(Y.shape, C.shape) else xp.add(Y, C, out=Y)
    return Y


def matmul(xp, A, B):
    """A @ B; 16-bit floats (float16, bfloat16) accumulate in float32 and round once, on every device
    (cuBLAS would otherwise accumulate float16 in float16)."""
    if A.dtype.itemsize == 2 and A.dtype.kind in "fV":  # the size first: one read rules out float32
        return xp.matmul(A.astype(xp.float32), B.astype(xp.float32)).astype(A.dtype)
    return xp.matmul(A, B)


@register("MatMul", 1, 9, 13)
def MatMul(xp, A, B):
    return matmul(xp, A, B)


def _explicit(equation, ranks):
    """The equation in explicit form ("...->..."), the implicit output being the labels used once, sorted."""
    eq = equation.replace(" ", "")
    if "->" in eq:
        return eq
    labels = eq.replace("...", "").replace(",", "")
    once = sorted(c for c in set(labels) if labels.count(c) == 1)
    return eq + "->" + ("..." if "..." in eq else "") + "".join(once)


@register("Einsum", 12, 28)
def Einsum(xp, *Inputs, equation):
    eq = _explicit(equation, [x.ndim for x in Inputs])
    if Inputs[0].dtype.name == "bfloat16":  # einsum has no bfloat16 loop: float32, rounded once
        return xp.einsum(eq, *[x.astype(xp.float32) for x in Inputs]).astype(Inputs[0].dtype)
    out = xp.einsum(eq, *Inputs)
    return out.astype(Inputs[0].dtype, copy=False)


@register("Det", 11, 22)
def Det(xp, X):
    if X.dtype.itemsize < 4:
        return xp.linalg.det(X.astype(xp.float32)).astype(X.dtype)
    return xp.linalg.det(X).astype(X.dtype)
