"""Kernel tests of ops/layout.py: Concat, Split, Pad, Tile, Trilu, CenterCropPad, against ONNX Runtime (onnx.reference where ONNX Runtime lacks the op)."""
import numpy as np
import pytest

from tests.ops.harness import assert_same as _same
from tests.ops.harness import run_reference
from tests.ops.harness import run_ort

ops_mod = __import__("ops")

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


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge", "wrap"])
def test_pad(mode):
    pads = np.array([0, 1, 2, 1, 0, -1], np.int64)
    _same("Pad", [X, pads, np.array(1.5, np.float32)], opset=19, mode=mode)
    _same("Pad", [X, np.array([1, 2, 0, 1], np.int64), None, np.array([1, -1], np.int64)], opset=19, mode=mode)
    if mode != "wrap":
        _same("Pad", [I, pads], opset=13, mode=mode)
        _same("Pad", [X], opset=2, mode=mode, pads=[0, 1, 2, 1, 0, 1], value=2.0)


def test_tile_trilu():
    _same("Tile", [I, np.array([2, 1, 3], np.int64)], opset=13)
    _same("Tile", [B, np.array([1, 2, 1], np.int64)], opset=6)
    for k in (None, np.array(1, np.int64), np.array(-2, np.int64)):
        for upper in (0, 1):
            _same("Trilu", [I] if k is None else [I, k], opset=14, upper=upper)


def test_center_crop_pad():
    # Crops and pads at once, centred (odd differences put the extra element after): the spec's reference.
    _same("CenterCropPad", [X, np.array([2, 7], np.int64)], opset=18, ref=run_reference, axes=[0, 2])
    _same("CenterCropPad", [I, np.array([5, 1, 4], np.int64)], opset=18, ref=run_reference)
