"""Element-wise math, comparison, logical and bitwise ops (Add ... BitwiseNot).

Exp and Erf reproduce ORT's MLAS kernels (x86-64 AVX512F / FMA3 dispatch) bit for bit: the same
constants, operation order and fused multiply-adds. A float32 fma is emulated in float64: the
product of two float32 values is exact in float64, so only the final add rounds twice (float64,
then float32); that double rounding differs from a true fma with probability ~2^-29 per step.
"""
from __future__ import annotations

from . import _compiled
from ._mlas_constants import (ERF_BIG, ERF_EXP_C, ERF_EXP_LOWER, ERF_EXP_POLY, ERF_SMALL, ERF_SPLIT, ERF_UPPER,
                              EXP_LOWER, EXP_POLY, LOG2_HIGH, LOG2_LOW, LOG2_RECIPROCAL, ROUNDING_BIAS)
from .registry import register
from .xp import errstate, is_numpy


# ---------------------------------------------------------------- MLAS emulation helpers

def fma32(xp, a, b, c):
    # The product and the add computed in float64 (the ufuncs' dtype casts each operand exactly), then rounded.
    wide = xp.multiply(a, b, dtype=xp.float64)
    return xp.add(wide, c, dtype=xp.float64).astype(xp.float32)


def horner32(xp, p, x, coeffs):
    """p = fma32(p, x, c) for each c of coeffs in turn, p a float32 array of x's shape (a polynomial's Horner
    steps). On NumPy each step is two calls into two buffers: the float64 product, then the add rounded into p."""
    if not is_numpy(xp) or p.ndim == 0 or p.shape != x.shape:
        for c in coeffs:
            p = fma32(xp, p, x, c)
        return p
    p = p.copy()
    wide = xp.empty(p.shape, dtype=xp.float64)
    for c in coeffs:
        xp.multiply(p, x, out=wide, dtype=xp.float64)
        xp.add(wide, c, out=p, dtype=xp.float64, casting="unsafe")
    return p


def compiled_map(xp, loop, x, *args):
    """The ops._jit_activation loop `loop` over float32 x (any shape), into a new array: out = loop(x, *args)."""
    return _compiled.map_flat(xp, "activation", loop, x, *args)


def mlas_exp_reduced(xp, x):
    """exp(x) for already range-clamped float32 x, as MlasComputeExpF32KernelAvx512F / SumExp (vscalefps)."""
    f = xp.float32
    if _compiled.enabled(xp) and x.dtype == f:
        return _compiled.map_flat(xp, "attention", "exp_reduced_all", x)
    biased = fma32(xp, x, f(LOG2_RECIPROCAL), f(ROUNDING_BIAS))
    m = biased - f(ROUNDING_BIAS)
    r = fma32(xp, m, f(LOG2_HIGH), x)
    r = fma32(xp, m, f(LOG2_LOW), r)
    p = horner32(xp, xp.full(x.shape, EXP_POLY[0], dtype=f), r, [f(c) for c in (*EXP_POLY[1:], EXP_POLY[5])])
    # vscalefps: p * 2^m with a single rounding (ldexp); m is bounded so the int cast is safe.
    m = xp.where(xp.isnan(m), f(0), xp.clip(m, f(-300), f(300)))
    with errstate(xp, over="ignore"):  # overflow to inf is the intended result for large inputs
        return xp.ldexp(p, m.astype(xp.int32)).astype(f)


def mlas_exp(xp, x):
    # No upper clamp in the AVX512F kernel: large inputs overflow to inf through vscalefps.
    return mlas_exp_reduced(xp, xp.maximum(x, xp.float32(EXP_LOWER)))


def mlas_erf(xp, x):
    f = xp.float32
    if _compiled.enabled(xp):
        return compiled_map(xp, "erf", x)
    x = xp.asarray(x, dtype=f, order="C")  # (ascontiguousarray would make a 0-d x 1-d)
    sign = x.view(xp.uint32) & xp.uint32(0x80000000)
    a = xp.abs(x)
    # vminps(a, upper) returns the second operand for NaN: erf(NaN) comes out as +-erf(upper).
    a = xp.where(xp.isnan(a), f(ERF_UPPER), xp.minimum(a, f(ERF_UPPER)))
    s = a * a
    p = xp.full(x.shape, ERF_SMALL[0], dtype=f)
    for c in ERF_SMALL[1:]:
        p = fma32(xp, p, s, f(c))
    small = fma32(xp, p, a, a)
    big = a > f(ERF_SPLIT)
    ab = xp.where(big, a, f(0))
    p = xp.full(x.shape, ERF_BIG[0], dtype=f)
    for c in ERF_BIG[1:]:
        p = fma32(xp, p, ab, f(c))
    r = -fma32(xp, p, ab, ab)
    r = xp.maximum(r, f(ERF_EXP_LOWER))
    c = f(ERF_EXP_C)
    vr = fma32(xp, r, f(LOG2_RECIPROCAL), c) - c
    vf = fma32(xp, vr, f(LOG2_HIGH), r)
    vf = fma32(xp, vr, f(LOG2_LOW), vf)
    y = xp.full(x.shape, ERF_EXP_POLY[0], dtype=f)
    for k in ERF_EXP_POLY[1:]:
        y = fma32(xp, y, vf, f(k))
    # 2^int(vr) built by bit manipulation, as the kernel does.
    pow2 = ((vr.astype(xp.int32) + xp.int32(127)) << 23).view(f)
    y = f(1) - y * pow2
    bits = y.view(xp.uint32) | xp.where(big, xp.uint32(0), small.view(xp.uint32)) | sign
    return bits.view(f)


# ---------------------------------------------------------------- broadcasting

def _legacy(xp, A, B, broadcast, axis):
    # Opset < 7 binary ops: without broadcast=1 the shapes must match; with it B is aligned to A
    # at `axis` (default: suffix alignment, which is NumPy's rule).
    if broadcast and axis is not None and B.ndim and B.ndim < A.ndim:
        axis = axis % A.ndim
        B = B.reshape(B.shape + (1,) * (A.ndim - axis - B.ndim))
    return A, B


def _same_dtype(xp, out, like):
    return out if out.dtype == like.dtype else out.astype(like.dtype)


def _is_int(x):
    return x.dtype.kind in "iu"


# ---------------------------------------------------------------- arithmetic

@register("Add", 1, 6)
def Add_1(xp, A, B, *, broadcast=0, axis=None, consumed_inputs=None):
    A, B = _legacy(xp, A, B, broadcast, axis)
    return Add(xp, A, B)


@register("Add", 7, 13, 14)
def Add(xp, A, B):
    return _same_dtype(xp, xp.add(A, B), A)


@register("Sub", 1, 6)
def Sub_1(xp, A, B, *, broadcast=0, axis=None, consumed_inputs=None):
    A, B = _legacy(xp, A, B, broadcast, axis)
    return Sub(xp, A, B)


@register("Sub", 7, 13, 14)
def Sub(xp, A, B):
    return _same_dtype(xp, xp.subtract(A, B), A)


@register("Mul", 1, 6)
def Mul_1(xp, A, B, *, broadcast=0, axis=None, consumed_inputs=None):
    A, B = _legacy(xp, A, B, broadcast, axis)
    return Mul(xp, A, B)


@register("Mul", 7, 13, 14)
def Mul(xp, A, B):
    return _same_dtype(xp, xp.multiply(A, B), A)


@register("Div", 1, 6)
def Div_1(xp, A, B, *, broadcast=0, axis=None, consumed_inputs=None):
    A, B = _legacy(xp, A, B, broadcast, axis)
    return Div(xp, A, B)


@register("Div", 7, 13, 14)
def Div(xp, A, B):
    if _is_int(A):
        # C integer division truncates toward zero; floor_divide rounds toward -inf.
        q = xp.floor_divide(A, B)
        if A.dtype.kind == "i":
            fix = (xp.remainder(A, B) != 0) & ((A < 0) != (B < 0))
            q = q + fix.astype(q.dtype)
        return _same_dtype(xp, q, A)
    return _same_dtype(xp, xp.divide(A, B), A)


@register("Mod", 10, 13, 28)
def Mod(xp, A, B, *, fmod=0):
    if fmod:
        # fmod: result takes the dividend's sign (C fmod).
        return _same_dtype(xp, xp.fmod(A, B), A)
    return _same_dtype(xp, xp.remainder(A, B), A)  # Mod: sign of the divisor, as Python % (floats too)


@register("Pow", 1)
def Pow_1(xp, X, Y, *, broadcast=0, axis=None):
    X, Y = _legacy(xp, X, Y, broadcast, axis)
    return Pow(xp, X, Y)


@register("Pow", 7, 12, 13, 15)
def Pow(xp, X, Y):
    # ORT special-cases a scalar exponent of 2 or 3 as x*x and x*x*x (in the base type).
    if Y.size == 1:
        e = Y.reshape(()).item()
        if e == 2:
            return _same_dtype(xp, X * X, X)
        if e == 3:
            return _same_dtype(xp, X * X * X, X)
    # Otherwise std::pow: in double unless both are float32 (powf, correctly rounded in practice,
    # which is what rounding the double result gives). Integer results truncate like a C cast.
    out = xp.power(X.astype(xp.float64), Y.astype(xp.float64))
    if _is_int(X):
        out = xp.trunc(out)
    return out.astype(X.dtype)


@register("Neg", 1, 6, 13)
def Neg(xp, X, *, consumed_inputs=None):
    return xp.negative(X)


@register("Abs", 1, 6, 13)
def Abs(xp, X, *, consumed_inputs=None):
    return X.copy() if X.dtype.kind == "u" else xp.abs(X)


@register("Reciprocal", 1, 6, 13)
def Reciprocal(xp, X, *, consumed_inputs=None):
    return _same_dtype(xp, X.dtype.type(1) / X, X)


@register("Sqrt", 1, 6, 13)
def Sqrt(xp, X, *, consumed_inputs=None):
    return xp.sqrt(X)


@register("Exp", 1, 6, 13)
def Exp(xp, X, *, consumed_inputs=None):
    if X.dtype == xp.float32:
        return mlas_exp(xp, X)
    return xp.exp(X)


@register("Log", 1, 6, 13)
def Log(xp, X, *, consumed_inputs=None):
    return xp.log(X)


@register("Floor", 1, 6, 13)
def Floor(xp, X, *, consumed_inputs=None):
    return xp.floor(X)


@register("Ceil", 1, 6, 13)
def Ceil(xp, X, *, consumed_inputs=None):
    return xp.ceil(X)


@register("Round", 11, 22)
def Round(xp, X):
    return xp.round(X)  # half to even, as nearbyint in the default rounding mode


@register("Sign", 9, 13)
def Sign(xp, X):
    return _same_dtype(xp, xp.sign(X), X)


@register("Erf", 9, 13)
def Erf(xp, X):
    if X.dtype == xp.float32:
        return mlas_erf(xp, X)
    from math import erf  # non-float32 types: no MLAS path to match; exact per element

    flat = [erf(v) for v in X.astype(xp.float64).ravel().tolist()]
    return xp.asarray(flat, dtype=xp.float64).reshape(X.shape).astype(X.dtype)


def _unary(name, versions, fn_name):
    def kernel(xp, input):
        return getattr(xp, fn_name)(input)

    kernel.__name__ = kernel.__qualname__ = name
    register(name, *versions)(kernel)
    return kernel


Sin = _unary("Sin", (7, 22), "sin")
Cos = _unary("Cos", (7, 22), "cos")
Tan = _unary("Tan", (7, 22), "tan")
Asin = _unary("Asin", (7, 22), "arcsin")
Acos = _unary("Acos", (7, 22), "arccos")
Atan = _unary("Atan", (7, 22), "arctan")
Sinh = _unary("Sinh", (9, 22), "sinh")
Cosh = _unary("Cosh", (9, 22), "cosh")
Asinh = _unary("Asinh", (9, 22), "arcsinh")
Acosh = _unary("Acosh", (9, 22), "arccosh")
Atanh = _unary("Atanh", (9, 22), "arctanh")


# ---------------------------------------------------------------- variadic

@register("Sum", 1, 6, 8, 13)
def Sum(xp, *data_0, consumed_inputs=None):
    # Left to right, as ORT: ((x0 + x1) + x2) + ...
    out = data_0[0]
    for x in data_0[1:]:
        out = xp.add(out, x)
    return _same_dtype(xp, out if len(data_0) > 1 else out.copy(), data_0[0])


@register("Mean", 1, 6, 8, 13)
def Mean(xp, *data_0, consumed_inputs=None):
    # ORT multiplies the sum by 1/n (rounded to the element type) rather than dividing.
    s = Sum(xp, *data_0)
    t = s.dtype.type
    return _same_dtype(xp, s * (t(1) / t(len(data_0))), data_0[0])


@register("Max", 1, 6, 8, 12, 13)
def Max(xp, *data_0, consumed_inputs=None):
    out = data_0[0]
    for x in data_0[1:]:
        out = xp.maximum(out, x)
    return out.copy() if len(data_0) == 1 else out


@register("Min", 1, 6, 8, 12, 13)
def Min(xp, *data_0, consumed_inputs=None):
    out = data_0[0]
    for x in data_0[1:]:
        out = xp.minimum(out, x)
    return out.copy() if len(data_0) == 1 else out


# ---------------------------------------------------------------- Clip, Where

@register("Clip", 1, 6)
def Clip_6(xp, input, *, min=-3.402823e38, max=3.402823e38, consumed_inputs=None):
    # Before opset 11 the bounds are float attributes.
    t = input.dtype.type
    return xp.minimum(xp.maximum(input, t(min)), t(max))


@register("Clip", 11, 12, 13)
def Clip(xp, input, min=None, max=None):
    out = input
    if min is not None:
        out = xp.maximum(out, min.reshape(()).astype(input.dtype))
    if max is not None:
        out = xp.minimum(out, max.reshape(()).astype(input.dtype))
    return out.copy() if out is input else out


@register("Where", 9, 16)
def Where(xp, condition, X, Y):
    return xp.where(condition, X, Y)


# ---------------------------------------------------------------- comparison and logic

def _compare(name, versions, fn_name):
    def kernel(xp, A, B, *, broadcast=0, axis=None):
        A, B = _legacy(xp, A, B, broadcast, axis)
        return getattr(xp, fn_name)(A, B)

    kernel.__name__ = kernel.__qualname__ = name
    register(name, *versions)(kernel)
    return kernel


Equal = _compare("Equal", (1, 7, 11, 13, 19), "equal")
Less = _compare("Less", (1, 7, 9, 13), "less")
Greater = _compare("Greater", (1, 7, 9, 13), "greater")
LessOrEqual = _compare("LessOrEqual", (12, 16), "less_equal")
GreaterOrEqual = _compare("GreaterOrEqual", (12, 16), "greater_equal")
And = _compare("And", (1, 7), "logical_and")
Or = _compare("Or", (1, 7), "logical_or")
Xor = _compare("Xor", (1, 7), "logical_xor")


@register("Not", 1)
def Not(xp, X):
    return xp.logical_not(X)


@register("IsNaN", 9, 13, 20)
def IsNaN(xp, X):
    return xp.isnan(X)


@register("IsInf", 10, 20)
def IsInf(xp, X, *, detect_negative=1, detect_positive=1):
    out = xp.zeros(X.shape, dtype=bool)
    if detect_positive:
        out |= xp.isposinf(X)
    if detect_negative:
        out |= xp.isneginf(X)
    return out


# ---------------------------------------------------------------- bitwise

@register("BitShift", 11, 28)
def BitShift(xp, X, Y, *, direction):
    # Shifting by >= the bit width is undefined in C; NumPy yields 0 there, which is the x86 result
    # for the vectorised paths and the only portable answer.
    Y = Y.astype(X.dtype)
    if direction == "LEFT":
        return xp.left_shift(X, Y)
    if direction == "RIGHT":
        return xp.right_shift(X, Y)
    raise ValueError(f"BitShift: direction must be LEFT or RIGHT, not {direction!r}")


@register("BitwiseAnd", 18)
def BitwiseAnd(xp, A, B):
    return xp.bitwise_and(A, B)


@register("BitwiseOr", 18)
def BitwiseOr(xp, A, B):
    return xp.bitwise_or(A, B)


@register("BitwiseXor", 18)
def BitwiseXor(xp, A, B):
    return xp.bitwise_xor(A, B)


@register("BitwiseNot", 18)
def BitwiseNot(xp, X):
    return xp.invert(X)
