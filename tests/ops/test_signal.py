"""Kernel tests of ops/signal.py: DFT, STFT and the window generators against ONNX Runtime (the FFT's last
bits depend on the library: DFT and STFT are compared to a float32 tolerance, the windows exactly)."""
import numpy as np
import pytest
from onnx import TensorProto

from tests.ops.harness import run_kernel, run_ort

rng = np.random.default_rng(0)
SIGNAL = rng.standard_normal((2, 16, 1)).astype(np.float32)


def _close(op, inputs, opset=17, **attrs):
    (a,) = run_kernel(op, inputs, opset=opset, **attrs)
    (b,) = run_ort(op, inputs, opset=opset, **attrs)
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("onesided,inverse", [(0, 0), (1, 0), (0, 1)])
def test_dft(onesided, inverse):
    _close("DFT", [SIGNAL], axis=1, onesided=onesided, inverse=inverse)
    _close("DFT", [SIGNAL, np.array(10, np.int64)], axis=1, onesided=onesided, inverse=inverse)


def test_stft():
    window = np.hanning(8).astype(np.float32)
    _close("STFT", [SIGNAL, np.array(4, np.int64), window, np.array(8, np.int64)], onesided=1)


@pytest.mark.parametrize("op", ["HannWindow", "HammingWindow", "BlackmanWindow"])
def test_windows(op):
    for periodic in (0, 1):
        (a,) = run_kernel(op, [np.array(10, np.int64)], opset=17, periodic=periodic)
        (b,) = run_ort(op, [np.array(10, np.int64)], opset=17, periodic=periodic)
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    (d,) = run_kernel(op, [np.array(5, np.int64)], opset=17, output_datatype=TensorProto.DOUBLE)
    assert d.dtype == np.float64 and d.shape == (5,)


def test_mel_weight_matrix():
    args = [np.array(8, np.int64), np.array(32, np.int64), np.array(16000, np.int64), np.array(0.0, np.float32),
            np.array(8000.0, np.float32)]
    _close("MelWeightMatrix", args)
