import numpy as np
import pytest

from tests.ops.harness import run_kernel, run_ort

# Every ORT comparison runs with the compiled loops and with their NumPy twins (tests/ops/conftest.py).
pytestmark = pytest.mark.usefixtures("kernel_path")

rng = np.random.default_rng(0)


def x32(*shape, scale=3.0):
    return np.asarray(rng.standard_normal(shape) * scale, dtype=np.float32)


def both(op, inputs, opset, **attrs):
    (out,) = run_kernel(op, inputs, opset=opset, **attrs)
    (ref,) = run_ort(op, inputs, opset=opset, **attrs)
    assert out.dtype == ref.dtype and out.shape == ref.shape
    return out, ref


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("shape", [(7,), (300, 1000), (64, 17), (5, 3, 49), (2000, 3)])
def test_last_axis_exact(op, shape):
    # MlasComputeSoftmax reproduced bit for bit: exp, 16-lane sum order, 1/sum or glibc logf.
    x = x32(*shape)
    out, ref = both(op, [x], opset=13)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax", "Hardmax"])
@pytest.mark.parametrize("opset", [1, 11, 13])
@pytest.mark.parametrize("axis", [None, 0, 1, 2, -1])
def test_axis_semantics_by_opset(op, opset, axis):
    x = x32(3, 4, 5)
    if op == "Hardmax":
        x = np.round(x)  # ties: the first maximum wins
    attrs = {} if axis is None else {"axis": axis}
    out, ref = both(op, [x], opset=opset, **attrs)
    np.testing.assert_array_equal(out, ref)


def test_opset_11_and_13_differ():
    x = x32(2, 3, 4)
    (old,) = run_kernel("Softmax", [x], opset=11, axis=1)
    (new,) = run_kernel("Softmax", [x], opset=13, axis=1)
    np.testing.assert_allclose(old.reshape(2, -1).sum(-1), 1, rtol=1e-5)
    np.testing.assert_allclose(new.sum(1), 1, rtol=1e-5)
    assert not np.allclose(old, new)


def test_large_and_extreme_values():
    x = np.array([[0, 1000, -1000, 5], [-1e30, -1e30, -1e30, -1e30], [88, 89, -80, 3]], np.float32)
    for op in ("Softmax", "LogSoftmax"):
        out, ref = both(op, [x], opset=13)
        np.testing.assert_array_equal(out, ref)
