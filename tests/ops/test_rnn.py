"""RNN, GRU and LSTM against ONNX Runtime: directions, sequence_lens, layout, linear_before_reset, peepholes."""
import numpy as np
import pytest

from tests.ops.harness import run_kernel, run_ort

rng = np.random.default_rng(1)


def _inputs(gates, num_dir, T=4, N=3, I=5, H=2, lens=True):
    X = rng.standard_normal((T, N, I)).astype(np.float32)
    W = rng.standard_normal((num_dir, gates * H, I)).astype(np.float32) * 0.5
    R = rng.standard_normal((num_dir, gates * H, H)).astype(np.float32) * 0.5
    B = rng.standard_normal((num_dir, 2 * gates * H)).astype(np.float32) * 0.1
    seq = np.array([4, 2, 3], np.int32) if lens else None
    h0 = rng.standard_normal((num_dir, N, H)).astype(np.float32)
    return X, W, R, B, seq, h0


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("op,gates,extra", [("RNN", 1, {}), ("GRU", 3, {}), ("GRU", 3, {"linear_before_reset": 1}),
                                            ("LSTM", 4, {})])
def test_matches_ort(op, gates, extra, direction):
    num_dir = 2 if direction == "bidirectional" else 1
    X, W, R, B, seq, h0 = _inputs(gates, num_dir)
    inputs = [X, W, R, B, seq, h0]
    n_out = 2
    if op == "LSTM":
        c0 = rng.standard_normal(h0.shape).astype(np.float32)
        P = rng.standard_normal((num_dir, 3 * 2)).astype(np.float32) * 0.1
        inputs += [c0, P]
        n_out = 3
    got = run_kernel(op, inputs, n_out, hidden_size=2, direction=direction, opset=14, **extra)
    ref = run_ort(op, inputs, n_out, hidden_size=2, direction=direction, opset=14, **extra)
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-6)


def test_layout_1_is_layout_0_transposed():
    # ONNX Runtime's CPU RNNs refuse layout=1: compare with our layout-0 result, which matches ORT above.
    X, W, R, B, _, h0 = _inputs(4, 1, lens=False)
    Xb, h0b = X.transpose(1, 0, 2).copy(), h0.transpose(1, 0, 2).copy()
    Y, Y_h, Y_c = run_kernel("LSTM", [Xb, W, R, B, None, h0b], 3, hidden_size=2, layout=1, opset=14)
    Y0, Y_h0, Y_c0 = run_kernel("LSTM", [X, W, R, B, None, h0], 3, hidden_size=2, opset=14)
    np.testing.assert_array_equal(Y, Y0.transpose(2, 0, 1, 3))
    np.testing.assert_array_equal(Y_h, Y_h0.transpose(1, 0, 2))
    np.testing.assert_array_equal(Y_c, Y_c0.transpose(1, 0, 2))
