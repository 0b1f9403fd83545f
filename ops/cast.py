"""Changing element types: Cast, CastLike (float8 saturation, float8e8m0 rounding) and BitCast."""
from __future__ import annotations

from .dtypes import dtype_of, onnx_type_of
from .registry import register


_FLOAT8_MAX = {  # name -> largest finite value, for Cast's saturate rule
    "float8_e4m3fn": 448.0, "float8_e4m3fnuz": 240.0, "float8_e5m2": 57344.0, "float8_e5m2fnuz": 57344.0,
}


def _cast(xp, x, dtype, saturate=1):
    if x.dtype == dtype:
        return x.copy()
    name = getattr(dtype, "name", str(dtype))
    if name in _FLOAT8_MAX and x.dtype.kind == "f":
        src = x.astype(xp.float32)
        m = _FLOAT8_MAX[name]
        if saturate:
            # Cast-19: out-of-range values (inf included) clip to +-max; NaN stays NaN.
            src = xp.where(xp.isnan(src), src, xp.clip(src, -m, m))
        elif name == "float8_e4m3fn" or name.endswith("fnuz"):
            # Non-saturating: overflow (after rounding) and inf become NaN for types without inf.
            src = xp.where(xp.isinf(src), xp.asarray(xp.nan, dtype=xp.float32), src)
        return src.astype(dtype)
    if dtype == xp.bool_:
        return x != 0
    if x.dtype.kind == "f" and dtype.kind in "iu":
        # C++ static_cast: truncation toward zero; NaN -> 0 keeps numpy from warning noise.
        t = xp.trunc(x)
        return xp.where(xp.isnan(t), 0, t).astype(dtype)
    return x.astype(dtype)


_CAST1_NAMES = {"FLOAT": 1, "UINT8": 2, "INT8": 3, "UINT16": 4, "INT16": 5, "INT32": 6, "INT64": 7, "STRING": 8,
                "BOOL": 9, "FLOAT16": 10, "DOUBLE": 11, "UINT32": 12, "UINT64": 13}


@register("Cast", 1)
def Cast_1(xp, input, *, to):
    return _cast(xp, input, dtype_of(_CAST1_NAMES[to.upper()] if isinstance(to, str) else int(to)))


@register("Cast", 6, 9, 13)
def Cast_6(xp, input, *, to):
    return _cast(xp, input, dtype_of(to))


@register("Cast", 19, 21, 23)
def Cast_19(xp, input, *, to, saturate=1):
    return _cast(xp, input, dtype_of(to), saturate)


def _to_e8m0(xp, x, dtype, saturate, round_mode):
    """float -> float8e8m0 (a power of two 2^(e-127), 0xFF is NaN): the float32 exponent, rounded by round_mode."""
    bits = xp.ascontiguousarray(x.astype(xp.float32)).view(xp.uint32)
    e = ((bits >> 23) & 0xFF).astype(xp.uint16)
    special = e == 0xFF
    if round_mode == "nearest":
        g = (bits & 0x400000) > 0
        r = (bits & 0x200000) > 0
        s = (bits & 0x1FFFFF) > 0
        up = g & (r | s | (e > 0)) & ~special
    elif round_mode == "up":
        up = ((bits & 0x7FFFFF) > 0) & ~special
    elif round_mode == "down":
        up = xp.zeros(e.shape, dtype=bool)
    else:
        raise ValueError(f"Cast: round_mode must be up, down or nearest, not {round_mode!r}")
    if saturate:
        up = up & (e != 0xFE)
    e = xp.where(special, 0xFF, e + up.astype(xp.uint16)).astype(xp.uint8)
    return e.view(dtype)


@register("Cast", 24, 25, 28)
def Cast(xp, input, *, to, saturate=1, round_mode="up"):
    dtype = dtype_of(to)
    if getattr(dtype, "name", "") == "float8_e8m0fnu" and input.dtype.kind == "f":
        return _to_e8m0(xp, input, dtype, saturate, round_mode)
    return _cast(xp, input, dtype, saturate)


@register("CastLike", 15)
def CastLike_15(xp, input, target_type):
    return _cast(xp, input, target_type.dtype)


@register("CastLike", 19, 21, 23)
def CastLike_19(xp, input, target_type, *, saturate=1):
    return _cast(xp, input, target_type.dtype, saturate)


@register("CastLike", 24, 25)
def CastLike(xp, input, target_type, *, round_mode="up", saturate=1):
    return Cast(xp, input, to=onnx_type_of(target_type.dtype), saturate=saturate, round_mode=round_mode)


@register("BitCast", 26)
def BitCast(xp, input, *, to):
    dtype = xp.dtype(dtype_of(to))
    if dtype.itemsize != input.dtype.itemsize:
        raise ValueError(f"BitCast: {input.dtype} and {dtype} differ in width")
    if dtype == xp.bool_:
        return (input.reshape(-1).view(xp.uint8) != 0).reshape(input.shape)
    return xp.ascontiguousarray(input.reshape(-1)).view(dtype).reshape(input.shape)
