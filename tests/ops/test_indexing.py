"""Kernel tests of ops/indexing.py: Slice, Gather*, Scatter*, NonZero, Compress, TensorScatter, against ONNX Runtime (onnx.reference where ONNX Runtime lacks the op)."""
import numpy as np
import pytest

from tests.ops.harness import assert_same as _same
from tests.ops.harness import run_kernel, run_reference

rng = np.random.default_rng(0)
X = rng.standard_normal((3, 4, 5)).astype(np.float32)
I = rng.integers(-9, 9, size=(3, 4, 5)).astype(np.int64)
B = I > 0


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


def test_nonzero_compress():
    _same("NonZero", [I], opset=13)
    _same("NonZero", [B], opset=9)
    _same("Compress", [X, np.array([True, False, True])], opset=11, axis=0)
    _same("Compress", [I, np.array([False, True, True, False, True])], opset=11)
    _same("Compress", [X, np.array([0, 1, 1, 0], bool)], opset=11, axis=-2)


@pytest.mark.parametrize("mode", ["linear", "circular"])
def test_tensor_scatter(mode):
    # A KV cache (batch, heads, max_len, dim) written at each batch's own position.
    cache = rng.standard_normal((2, 3, 6, 4)).astype(np.float32)
    update = rng.standard_normal((2, 3, 2, 4)).astype(np.float32)
    positions = np.array([1, 4 if mode == "linear" else 5], np.int64)
    _same("TensorScatter", [cache, update, positions], opset=24, ref=run_reference, mode=mode)
    _same("TensorScatter", [cache, update], opset=24, ref=run_reference, mode=mode)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.int16, np.uint8])
def test_gather_indices_of_every_integer_type(dtype):
    # Signed indices go to NumPy's take as given (negatives read from the end); unsigned ones are fixed up first.
    signed = np.dtype(dtype).kind == "i"
    idx = np.array([[0, -1], [3, -4]] if signed else [[0, 1], [3, 2]]).astype(dtype)
    (a,) = run_kernel("Gather", [X, idx], opset=13, axis=1)
    assert np.array_equal(a, X[:, [[0, 3], [3, 0]] if signed else [[0, 1], [3, 2]]])
    if dtype in (np.int64, np.int32):  # the types ONNX allows: as ONNX Runtime
        _same("Gather", [X, idx], opset=13, axis=1)
        # indices shorter than the data off the axis: the output has their shape
        _same("GatherElements", [X, np.array([[[0, -1, 2, 1, -5]]]).astype(dtype).repeat(2, 0)], opset=13, axis=2)


def test_gather_boundary_and_scalar_indices():
    # The first and last valid index from each end ([-dim, dim)), a scalar index, an embedding lookup.
    for idx in (np.array([-3, -1, 0, 2], np.int64), np.array(-3, np.int64), np.array(2, np.int32)):
        _same("Gather", [X, idx], opset=13, axis=0)
    embedding = rng.standard_normal((64, 32)).astype(np.float32)
    _same("Gather", [embedding, np.array([[5]], np.int64)], opset=13)
    _same("Gather", [embedding, np.array([[63, -64]], np.int64)], opset=13)
    (strided,) = run_kernel("Gather", [X[:, ::2, ::-1], np.array([-1, 0], np.int64)], opset=13, axis=2)
    assert np.array_equal(strided, X[:, ::2, ::-1][:, :, [4, 0]]) and strided.flags.c_contiguous


@pytest.mark.parametrize("bad", [4, -5, 100, -100])
def test_gather_out_of_range_is_an_error(bad):
    # Past either end of the axis of 4 (-5 too, which adding the dim once would wrap to the last): an error, never a value.
    for op in ("Gather", "GatherElements"):
        with pytest.raises(IndexError, match="out of bounds"):
            run_kernel(op, [X, np.full((3, 1, 5), bad, np.int64)], opset=13, axis=1)


def test_gather_out_of_range_names_the_node():
    from onnx import TensorProto, helper

    from simulator.errors import KernelError
    from simulator.interpreter import Interpreter

    g = helper.make_graph([helper.make_node("Gather", ["table", "ids"], ["y"], name="embed")], "g",
                          [helper.make_tensor_value_info("ids", TensorProto.INT64, [1, 1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [helper.make_tensor("table", TensorProto.FLOAT, [4, 2], list(range(8)))])
    interp = Interpreter(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    assert interp.run({"ids": np.array([[-4]], np.int64)}, {"y"})[0]["y"].tolist() == [[[0.0, 1.0]]]
    for bad in (4, -5):
        with pytest.raises(KernelError, match=rf"node 'embed' \(Gather\) failed on inputs \(table: float32\[4, 2\], "
                                              rf"ids: int64\[1, 1\]\): IndexError: index {bad} is out of bounds"):
            interp.run({"ids": np.array([[bad]], np.int64)}, {"y"})
