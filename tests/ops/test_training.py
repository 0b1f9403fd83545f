"""Kernel tests of ops/training.py (ai.onnx.preview.training): Adagrad, Momentum, Adam against onnx.reference
(ONNX Runtime has no kernels for this domain)."""
import numpy as np
import pytest

from tests.ops.harness import run_kernel, run_reference

TRAINING = "ai.onnx.preview.training"
rng = np.random.default_rng(0)
R, T = np.array(0.1, np.float32), np.array(3, np.int64)
X, G, S1, S2 = (rng.standard_normal(4).astype(np.float32) for _ in range(4))


def _close(op, inputs, n_outputs, **attrs):
    outs = run_kernel(op, inputs, n_outputs=n_outputs, opset=1, domain=TRAINING, **attrs)
    refs = run_reference(op, inputs, n_outputs=n_outputs, opset=1, domain=TRAINING, **attrs)
    assert len(outs) == len(refs) == n_outputs
    for a, b in zip(outs, refs):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_adagrad():
    _close("Adagrad", [R, T, X, G, np.abs(S1)], 2, decay_factor=0.1, epsilon=1e-5, norm_coefficient=0.01)


@pytest.mark.parametrize("mode", ["standard", "nesterov"])
def test_momentum(mode):
    _close("Momentum", [R, T, X, G, S1], 2, alpha=0.9, beta=0.5, mode=mode, norm_coefficient=0.01)


def test_adam():
    _close("Adam", [R, T, X, G, S1, np.abs(S2)], 3, alpha=0.9, beta=0.999, epsilon=1e-6, norm_coefficient=0.01,
           norm_coefficient_post=0.02)
