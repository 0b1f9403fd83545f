import numpy as np
import pytest

from tests.ops.harness import run_kernel, run_ort, run_reference

ops_mod = __import__("ops")


def _same(op, inputs, n_outputs=1, opset=17, ref=run_ort, **attrs):
    outs = run_kernel(op, inputs, n_outputs=n_outputs, opset=opset, **attrs)[:n_outputs]
    refs = ref(op, inputs, n_outputs=n_outputs, opset=opset, **attrs)
    assert len(outs) >= len(refs)
    for a, b in zip(outs, refs):
        a = np.asarray(a)
        assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), (a, b)


rng = np.random.default_rng(0)
X = rng.standard_normal((3, 4, 5)).astype(np.float32)
I = rng.integers(-9, 9, size=(3, 4, 5)).astype(np.int64)
B = I > 0


@pytest.mark.parametrize("x", [X, I, B])
def test_concat_split(x):
    _same("Concat", [x, x[:, :2]], opset=13, axis=1)
    _same("Concat", [x, x[:, :, :1]], opset=4, axis=-1 + 3)
    _same("Split", [x], n_outputs=2, opset=11, axis=-1, split=[2, 3])
    _same("Split", [x, np.array([1, 3], np.int64)], n_outputs=2, opset=13, axis=1)
    _same("Split", [x], n_outputs=3, opset=18, axis=1, num_outputs=3)
    # An equal split without 'split' needs the node's output count, which the caller passes as _n_outputs.
    k = ops_mod.resolve("Split", "", 13)
    with pytest.raises(ValueError):
        k.fn(np, x, axis=0)
    outs = k.fn(np, x, axis=0, _n_outputs=3)
    refs = run_ort("Split", [x], n_outputs=3, opset=13, axis=0)
    assert all(np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(outs, refs))


@pytest.mark.parametrize("x", [X, I])
def test_slice(x):
    cases = [([0, 1], [2, 10], [0, 2], [1, 2]), ([-1], [-10**9], [1], [-1]), ([10], [-10], [-1], [-2]), ([1], [-1], None, None)]
    for starts, ends, axes, steps in cases:
        inputs = [x, np.array(starts, np.int64), np.array(ends, np.int64)]
        inputs += [None if axes is None else np.array(axes, np.int64), None if steps is None else np.array(steps, np.int64)]
        while inputs[-1] is None:
            inputs.pop()
        _same("Slice", inputs, opset=13)
    _same("Slice", [x], opset=1, starts=[1, 0], ends=[3, -1], axes=[0, 2])


def test_gather_family():
    idx = np.array([[0, -1], [2, 1]], np.int64)
    for x in (X, I, B):
        _same("Gather", [x, idx], opset=13, axis=-2)
        _same("GatherElements", [x, np.array([[[0, -1, 2, 1, 0]]], np.int64).repeat(3, 0)], opset=13, axis=1)
        _same("GatherND", [x, np.array([[0, 1], [2, -1]], np.int64)], opset=13)
        _same("GatherND", [x, np.array([[1], [0], [3]], np.int64)], opset=12, batch_dims=1)
    _same("Gather", [X, np.array(1, np.int32)], opset=11, axis=0)


@pytest.mark.parametrize("reduction", ["none", "add", "mul", "max", "min"])
def test_scatter(reduction):
    opset = 16 if reduction in ("none", "add", "mul") else 18
    kw = {} if reduction == "none" else {"reduction": reduction}
    _same("ScatterND", [X, np.array([[0, 1], [2, 3]], np.int64), np.ones((2, 5), np.float32)], opset=opset, **kw)
    idx = np.array([[[1, 0, 3, 2, 1]]], np.int64)
    _same("ScatterElements", [X, idx, np.full((1, 1, 5), 2.0, np.float32)], opset=opset, axis=1, **kw)
    _same("ScatterElements", [I, np.array([[[-1, 0]]], np.int64), np.ones((1, 1, 2), np.int64)], opset=13, axis=-1)
    _same("ScatterND", [I, np.array([[1]], np.int64), np.zeros((1, 4, 5), np.int64)], opset=11)


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge", "wrap"])
def test_pad(mode):
    pads = np.array([0, 1, 2, 1, 0, -1], np.int64)
    _same("Pad", [X, pads, np.array(1.5, np.float32)], opset=19, mode=mode)
    _same("Pad", [X, np.array([1, 2, 0, 1], np.int64), None, np.array([1, -1], np.int64)], opset=19, mode=mode)
    if mode != "wrap":
        _same("Pad", [I, pads], opset=13, mode=mode)
        _same("Pad", [X], opset=2, mode=mode, pads=[0, 1, 2, 1, 0, 1], value=2.0)


def test_tile_constant_constant_of_shape():
    _same("Tile", [I, np.array([2, 1, 3], np.int64)], opset=13)
    _same("Tile", [B, np.array([1, 2, 1], np.int64)], opset=6)
    from onnx import numpy_helper
    for kw in [{"value": numpy_helper.from_array(X)}, {"value_float": 2.5}, {"value_floats": [1.0, 2.0]},
               {"value_int": 3}, {"value_ints": [1, 2, 3]}]:
        _same("Constant", [], opset=13, **kw)
    _same("ConstantOfShape", [np.array([2, 3], np.int64)], opset=9)
    _same("ConstantOfShape", [np.array([2, 3], np.int64)], opset=20,
          value=numpy_helper.from_array(np.array([7], np.int32)))


@pytest.mark.parametrize("to", [np.float32, np.float16, np.float64, np.int8, np.uint8, np.int32, np.int64, np.bool_])
def test_cast(to):
    from onnx import helper
    t = helper.np_dtype_to_tensor_dtype(np.dtype(to))
    src = [(X * 50).astype(np.float32), I, B, I.astype(np.int32)]
    for x in src:
        if to in (np.uint8,) and x.dtype.kind in "fi":
            x = np.abs(x)
        if to is np.int8 and x.dtype.kind == "f":
            x = np.clip(x, -120, 120)
        _same("Cast", [x], opset=13, to=t)
        _same("Cast", [x], opset=19, to=t)
        _same("CastLike", [x, np.zeros(1, to)], opset=15)


def test_cast_float8_saturate():
    from onnx import TensorProto
    x = np.array([0.0, -0.0, 1.3, 500.0, -1e6, np.inf, -np.inf, np.nan, 0.017], np.float32)
    for to in [TensorProto.FLOAT8E4M3FN, TensorProto.FLOAT8E5M2]:
        for sat in (0, 1):
            a = run_kernel("Cast", [x], opset=19, to=to, saturate=sat)[0].astype(np.float32)
            b = run_reference("Cast", [x], opset=19, to=to, saturate=sat)[0].astype(np.float32)
            assert np.array_equal(a, b, equal_nan=True), (to, sat, a, b)


def test_range_topk_arg():
    for s, l, d in [(0.0, 1.0, 0.1), (3.0, -2.0, -0.7), (1.0, 1.0, 1.0)]:
        _same("Range", [np.array(s, np.float32), np.array(l, np.float32), np.array(d, np.float32)], opset=11)
    _same("Range", [np.array(10, np.int64), np.array(-3, np.int64), np.array(-4, np.int64)], opset=11)
    t = np.array([[3, 1, 3, 2, 1, 3]], np.float32)
    for largest in (0, 1):
        _same("TopK", [t, np.array([4], np.int64)], n_outputs=2, opset=11, largest=largest)
        _same("TopK", [I, np.array([2], np.int64)], n_outputs=2, opset=11, axis=1, largest=largest)
    _same("TopK", [X, np.array([3], np.int64)], n_outputs=2, opset=10, axis=-1)
    _same("TopK", [X], n_outputs=2, opset=1, k=2)
    for op in ("ArgMax", "ArgMin"):
        for last in (0, 1):
            _same(op, [np.array([[1, 3, 3, 0, 0]], np.float32)], opset=12, axis=-1, select_last_index=last)
            _same(op, [I.astype(np.int32)], opset=13, axis=1, keepdims=0, select_last_index=last)
        _same(op, [X], opset=11, axis=2)


def test_misc():
    _same("NonZero", [I], opset=13)
    _same("NonZero", [B], opset=9)
    _same("OneHot", [np.array([[0, 3, -1, 7]], np.int64), np.array(5, np.int64), np.array([0, 2], np.float32)], opset=11)
    _same("OneHot", [np.array([1.7, 2.0], np.float32), np.array([4], np.int64), np.array([-1, 1], np.int64)], opset=11, axis=0)
    for k in (None, np.array(1, np.int64), np.array(-2, np.int64)):
        for upper in (0, 1):
            _same("Trilu", [I] if k is None else [I, k], opset=14, upper=upper)
    for exclusive in (0, 1):
        for reverse in (0, 1):
            _same("CumSum", [I, np.array(-1, np.int64)], opset=14, exclusive=exclusive, reverse=reverse)
            _same("CumSum", [X, np.array(1, np.int32)], opset=11, exclusive=exclusive, reverse=reverse)
    _same("EyeLike", [np.zeros((3, 5), np.float32)], opset=9, k=1)
    _same("EyeLike", [np.zeros((4, 3), np.int32)], opset=9, k=-1, dtype=1)
    _same("Compress", [X, np.array([True, False, True])], opset=11, axis=0)
    _same("Compress", [I, np.array([False, True, True, False, True])], opset=11)
    _same("Compress", [X, np.array([0, 1, 1, 0], bool)], opset=11, axis=-2)
    u = np.array([2, 1, 1, 3, 4, 3], np.float32)
    for s in (0, 1):
        _same("Unique", [u], n_outputs=4, opset=11, sorted=s)
    _same("Unique", [np.array([[1, 0, 0], [1, 0, 0], [2, 3, 4]], np.int64)], n_outputs=4, opset=11, axis=0)
