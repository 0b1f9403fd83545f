"""Kernel tests of ops/loss.py: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss against ONNX Runtime."""
import numpy as np
import pytest

from tests.ops.harness import run_kernel, run_ort

rng = np.random.default_rng(0)
SCORES = rng.standard_normal((3, 5, 2)).astype(np.float32)
TARGET = np.array([[0, 4], [2, 1], [3, 3]], np.int64)
WEIGHT = np.array([1.0, 0.5, 2.0, 1.5, 0.25], np.float32)


def _close(op, inputs, n_outputs=1, **attrs):
    outs = run_kernel(op, inputs, n_outputs=n_outputs, opset=13, **attrs)
    refs = run_ort(op, inputs, n_outputs=n_outputs, opset=13, **attrs)
    for a, b in zip(outs, refs):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_negative_log_likelihood_loss(reduction):
    logp = np.log(np.exp(SCORES) / np.exp(SCORES).sum(axis=1, keepdims=True)).astype(np.float32)
    _close("NegativeLogLikelihoodLoss", [logp, TARGET], reduction=reduction)
    _close("NegativeLogLikelihoodLoss", [logp, TARGET, WEIGHT], reduction=reduction, ignore_index=3)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_softmax_cross_entropy_loss(reduction):
    _close("SoftmaxCrossEntropyLoss", [SCORES, TARGET], n_outputs=2, reduction=reduction)
    _close("SoftmaxCrossEntropyLoss", [SCORES, TARGET, WEIGHT], n_outputs=2, reduction=reduction, ignore_index=4)
