"""Kernel tests of ops/random.py. The values are random by definition (ONNX Runtime draws others): what a
user relies on is the shape, dtype and range, and that a seed makes a run reproducible."""
import numpy as np
from onnx import TensorProto

from tests.ops.harness import run_kernel

X = np.zeros((4, 3), np.float64)


def test_seeded_generators_are_reproducible_and_in_range():
    (a,) = run_kernel("RandomUniform", [], opset=22, shape=[2, 3], low=-2.0, high=-1.0, seed=5.0)
    (b,) = run_kernel("RandomUniform", [], opset=22, shape=[2, 3], low=-2.0, high=-1.0, seed=5.0)
    assert a.shape == (2, 3) and a.dtype == np.float32 and np.array_equal(a, b)
    assert ((a >= -2.0) & (a < -1.0)).all()
    (n,) = run_kernel("RandomNormalLike", [X], opset=22, seed=1.0, mean=10.0, scale=0.01)
    assert n.shape == X.shape and n.dtype == np.float64 and np.abs(n - 10.0).max() < 0.1
    (c,) = run_kernel("RandomNormal", [], opset=22, shape=[4], seed=1.0, dtype=TensorProto.DOUBLE)
    assert c.dtype == np.float64 and not np.array_equal(c, run_kernel("RandomNormal", [], opset=22, shape=[4],
                                                                       seed=2.0, dtype=TensorProto.DOUBLE)[0])


def test_bernoulli_and_multinomial_follow_their_inputs():
    p = np.array([[0.0, 1.0, 0.0, 1.0]], np.float32)
    (b,) = run_kernel("Bernoulli", [p], opset=22, seed=3.0)
    assert b.dtype == np.float32 and np.array_equal(b, p)  # probabilities 0 and 1 leave no choice
    logits = np.log(np.array([[1e-9, 1.0, 1e-9], [1.0, 1e-9, 1e-9]], np.float32))
    (m,) = run_kernel("Multinomial", [logits], opset=22, sample_size=5, seed=0.0)
    assert m.dtype == np.int32 and np.array_equal(m, [[1] * 5, [0] * 5])
