import numpy as np
import pytest

from tests.ops.harness import max_ulp_diff, run_kernel, run_ort, run_reference

rng = np.random.default_rng(0)


def f32(*shape, scale=3.0):
    return np.asarray(rng.standard_normal(shape) * scale, dtype=np.float32)


def both(op, inputs, opset=17, **attrs):
    (out,) = run_kernel(op, inputs, opset=opset, **attrs)
    (ref,) = run_ort(op, inputs, opset=opset, **attrs)
    assert out.dtype == ref.dtype and out.shape == ref.shape
    return out, ref


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div"])
@pytest.mark.parametrize("shapes", [((2, 3, 4), (2, 3, 4)), ((2, 3, 4), (4,)), ((1, 3, 1), (2, 1, 5)), ((2, 3), ())])
def test_arithmetic_float_exact(op, shapes):
    a, b = f32(*shapes[0]), f32(*shapes[1])
    out, ref = both(op, [a, b], opset=14)
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div"])
def test_arithmetic_int(op, dtype):
    a = rng.integers(-50, 50, (3, 7)).astype(dtype)
    b = rng.integers(1, 9, (3, 7)).astype(dtype) * rng.choice([-1, 1], (3, 7)).astype(dtype)
    out, ref = both(op, [a, b], opset=14)
    np.testing.assert_array_equal(out, ref)  # Div truncates toward zero


def test_legacy_broadcast_axis():
    a, b = f32(2, 3, 4), f32(3)
    (out,) = run_kernel("Add", [a, b], opset=6, broadcast=1, axis=1)
    np.testing.assert_array_equal(out, a + b[:, None])
    (out,) = run_kernel("Mul", [a, f32(4)], opset=1, broadcast=1)
    assert out.shape == a.shape


def test_mod():
    a = rng.integers(-20, 20, (4, 5)).astype(np.int32)
    b = rng.integers(1, 6, (4, 5)).astype(np.int32) * rng.choice([-1, 1], (4, 5)).astype(np.int32)
    out, ref = both("Mod", [a, b], opset=13)
    np.testing.assert_array_equal(out, ref)
    out, ref = both("Mod", [a, b], opset=13, fmod=1)
    np.testing.assert_array_equal(out, ref)
    x, y = f32(4, 5), f32(4, 5) + np.float32(0.5)
    out, ref = both("Mod", [x, y], opset=13, fmod=1)
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("exponent", [np.float32(2), np.float32(3), np.float32(0.5), np.array([1.5, -2.0, 0.25], np.float32)])
def test_pow_float(exponent):
    x = np.abs(f32(4, 3)) + np.float32(0.1)
    out, ref = both("Pow", [x, np.asarray(exponent)], opset=15)
    assert max_ulp_diff(out, ref) <= 1


def test_pow_int_exponent_and_int_base():
    x = f32(4, 3)
    out, ref = both("Pow", [x, np.array(3, np.int64)], opset=15)
    np.testing.assert_array_equal(out, ref)
    b = rng.integers(-5, 5, (6,)).astype(np.int32)
    out, ref = both("Pow", [b, np.array([0, 1, 2, 3, 2, 1], np.int32)], opset=15)
    np.testing.assert_array_equal(out, ref)


EXACT_UNARY = ["Neg", "Abs", "Reciprocal", "Sqrt", "Floor", "Ceil", "Round", "Sign", "Exp", "Erf"]


@pytest.mark.parametrize("op", EXACT_UNARY)
def test_unary_exact(op):
    x = f32(64, 33)
    if op in ("Sqrt",):
        x = np.abs(x)
    if op == "Round":
        x = np.concatenate([x.ravel(), np.array([0.5, 1.5, 2.5, -0.5, -2.5], np.float32)])
    out, ref = both(op, [x], opset=13)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, ref)  # Exp, Erf: MLAS reproduced bit for bit


def test_exp_erf_wide_range_exact():
    x = np.concatenate([f32(50000, scale=30.0), np.array([0, -0.0, 88.7, 89, -104, -200, 1e-30], np.float32)])
    for op in ("Exp", "Erf"):
        out, ref = both(op, [x], opset=13)
        np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("op,lo,hi", [("Log", 0.01, 50), ("Sin", -10, 10), ("Cos", -10, 10), ("Tan", -1.4, 1.4),
                                      ("Asin", -0.99, 0.99), ("Acos", -0.99, 0.99), ("Atan", -10, 10),
                                      ("Sinh", -5, 5), ("Cosh", -5, 5), ("Asinh", -10, 10), ("Acosh", 1.01, 10),
                                      ("Atanh", -0.99, 0.99)])
def test_unary_transcendental_close(op, lo, hi):
    x = rng.uniform(lo, hi, 4096).astype(np.float32)
    out, ref = both(op, [x], opset=13 if op in ("Log",) else 9 if op not in ("Sin", "Cos", "Tan", "Asin", "Acos", "Atan") else 7)
    # ORT uses Eigen's vectorised float32 polynomials here; libm is a few ulps away.
    assert max_ulp_diff(out, ref) <= 4


def test_unary_int():
    x = rng.integers(-9, 9, (5, 4)).astype(np.int32)
    for op in ("Neg", "Abs", "Sign"):
        out, ref = both(op, [x], opset=13)
        np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("op", ["Sum", "Mean", "Max", "Min"])
def test_variadic(op):
    xs = [f32(2, 3, 4), f32(3, 1), f32(4), f32(2, 3, 4)]
    out, ref = both(op, xs, opset=13)
    np.testing.assert_array_equal(out, ref)
    out, ref = both(op, xs[:1], opset=13)
    np.testing.assert_array_equal(out, ref)


def test_clip_versions():
    x = f32(5, 6)
    (old,) = run_kernel("Clip", [x], opset=6, min=-1.0, max=0.5)
    (old_ref,) = run_ort("Clip", [x], opset=6, min=-1.0, max=0.5)
    np.testing.assert_array_equal(old, old_ref)
    (old_default,) = run_kernel("Clip", [x], opset=6)
    np.testing.assert_array_equal(old_default, x)
    out, ref = both("Clip", [x, np.array(-1, np.float32), np.array(0.5, np.float32)], opset=13)
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(out, old)
    out, ref = both("Clip", [x, None, np.array(0.5, np.float32)], opset=11)
    np.testing.assert_array_equal(out, ref)
    xi = rng.integers(-10, 10, (7,)).astype(np.int32)
    out, ref = both("Clip", [xi, np.array(-3, np.int32), np.array(4, np.int32)], opset=13)
    np.testing.assert_array_equal(out, ref)


def test_where():
    c = rng.random((3, 4)) > 0.5
    out, ref = both("Where", [c, f32(3, 4), f32(4)], opset=16)
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("op", ["Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual"])
def test_comparisons(op):
    a = rng.integers(-3, 3, (4, 5)).astype(np.float32)
    b = rng.integers(-3, 3, (5,)).astype(np.float32)
    out, ref = both(op, [a, b], opset=16 if "OrEqual" in op else 13)
    assert out.dtype == np.bool_
    np.testing.assert_array_equal(out, ref)
    ai, bi = a.astype(np.int64), b.astype(np.int64)
    out, ref = both(op, [ai, bi], opset=16 if "OrEqual" in op else 13)
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("op", ["And", "Or", "Xor"])
def test_logical(op):
    a, b = rng.random((3, 4)) > 0.5, rng.random((4,)) > 0.5
    out, ref = both(op, [a, b], opset=7)
    np.testing.assert_array_equal(out, ref)


def test_not_isnan_isinf():
    a = rng.random((3, 4)) > 0.5
    out, ref = both("Not", [a], opset=1)
    np.testing.assert_array_equal(out, ref)
    x = np.array([1.0, np.nan, np.inf, -np.inf, 0.0], np.float32)
    out, ref = both("IsNaN", [x], opset=20)
    np.testing.assert_array_equal(out, ref)
    for attrs in ({}, {"detect_negative": 0}, {"detect_positive": 0}):
        out, ref = both("IsInf", [x], opset=20, **attrs)
        np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint32, np.uint64])
@pytest.mark.parametrize("direction", ["LEFT", "RIGHT"])
def test_bitshift(dtype, direction):
    x = rng.integers(0, 200, (10,)).astype(dtype)
    y = rng.integers(0, 7, (10,)).astype(dtype)
    out, ref = both("BitShift", [x, y], opset=11, direction=direction)
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("op", ["BitwiseAnd", "BitwiseOr", "BitwiseXor"])
def test_bitwise(op):
    a = rng.integers(-100, 100, (4, 5)).astype(np.int32)
    b = rng.integers(-100, 100, (5,)).astype(np.int32)
    (out,) = run_kernel(op, [a, b], opset=18)
    (ref,) = run_reference(op, [a, b], opset=18)
    np.testing.assert_array_equal(out, ref)
    (out,) = run_kernel("BitwiseNot", [a], opset=18)
    np.testing.assert_array_equal(out, run_reference("BitwiseNot", [a], opset=18)[0])
