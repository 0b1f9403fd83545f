"""Kernel tests of ops/sequence.py: sequences (Python lists of arrays) and optionals, against ONNX Runtime."""
import numpy as np
import pytest

from tests.ops.harness import run_kernel, run_ort

import ops

X = np.arange(24, dtype=np.float32).reshape(2, 3, 4)


def _same_sequence(op, inputs, **attrs):
    (ours,) = run_kernel(op, inputs, opset=17, **attrs)
    (ref,) = run_ort(op, inputs, opset=17, **attrs)
    assert isinstance(ours, list) and len(ours) == len(ref)
    for a, b in zip(ours, ref):
        assert a.dtype == b.dtype and np.array_equal(a, b)


def test_split_to_sequence():
    _same_sequence("SplitToSequence", [X], axis=1)
    _same_sequence("SplitToSequence", [X], axis=-1, keepdims=0)
    _same_sequence("SplitToSequence", [X, np.array([1, 3], np.int64)], axis=2)
    _same_sequence("SplitToSequence", [X, np.array(2, np.int64)], axis=1)


def test_sequence_ops_compose_like_onnx_runtime():
    seq = ops.resolve("SequenceConstruct", "", 17).fn(np, X[0], X[1])
    inserted = ops.resolve("SequenceInsert", "", 17).fn(np, seq, X[0] * 2, np.array(0, np.int64))
    assert len(seq) == 2 and len(inserted) == 3  # the input sequence is left as it was
    erased = ops.resolve("SequenceErase", "", 17).fn(np, inserted, np.array(-1, np.int64))
    assert np.array_equal(ops.resolve("SequenceAt", "", 17).fn(np, erased, np.array(1, np.int64)), X[0])
    assert int(ops.resolve("SequenceLength", "", 17).fn(np, erased)) == 2
    (ref,) = run_ort("Concat", [X[0] * 2, X[0]], opset=17, axis=1)
    assert np.array_equal(ops.resolve("ConcatFromSequence", "", 17).fn(np, erased, axis=1), ref)
    stacked = ops.resolve("ConcatFromSequence", "", 17).fn(np, erased, axis=-1, new_axis=1)
    assert stacked.shape == (3, 4, 2) and np.array_equal(stacked[..., 0], X[0] * 2)
    with pytest.raises(IndexError, match="position 5 out of range for length 2"):
        ops.resolve("SequenceAt", "", 17).fn(np, erased, np.array(5, np.int64))


def test_optionals_and_reverse_sequence():
    optional = ops.resolve("Optional", "", 18).fn(np, X)
    assert ops.resolve("OptionalHasElement", "", 18).fn(np, optional).item() is True
    assert ops.resolve("OptionalHasElement", "", 18).fn(np, None).item() is False
    assert ops.resolve("OptionalGetElement", "", 18).fn(np, optional) is X
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    (a,) = run_kernel("ReverseSequence", [x, np.array([4, 2, 1], np.int64)], opset=10, batch_axis=1, time_axis=0)
    (b,) = run_ort("ReverseSequence", [x, np.array([4, 2, 1], np.int64)], opset=10, batch_axis=1, time_axis=0)
    assert np.array_equal(a, b)
