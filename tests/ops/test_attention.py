"""Attention (23/24), RotaryEmbedding, Swish against ONNX Runtime (onnx's reference where ORT has no kernel)."""
import numpy as np
import pytest

from tests.ops.harness import run_kernel, run_ort, run_reference

rng = np.random.default_rng(3)


def _ref(op, inputs, n, **kw):
    try:
        return run_ort(op, inputs, n, **kw)
    except Exception:  # noqa: BLE001 - ORT lacks this op/opset: onnx's reference evaluator
        return run_reference(op, inputs, n, **kw)


@pytest.mark.parametrize("is_causal", [0, 1])
@pytest.mark.parametrize("gqa", [False, True])
def test_attention_4d_with_past(is_causal, gqa):
    q = rng.standard_normal((2, 4, 3, 8)).astype(np.float32)
    kv_heads = 2 if gqa else 4
    k = rng.standard_normal((2, kv_heads, 3, 8)).astype(np.float32)
    v = rng.standard_normal((2, kv_heads, 3, 8)).astype(np.float32)
    pk = rng.standard_normal((2, kv_heads, 5, 8)).astype(np.float32)
    pv = rng.standard_normal((2, kv_heads, 5, 8)).astype(np.float32)
    mask = rng.standard_normal((3, 8)).astype(np.float32)
    inputs = [q, k, v, mask, pk, pv]
    got = run_kernel("Attention", inputs, 4, is_causal=is_causal, qk_matmul_output_mode=2, opset=23)
    # With a past, the spec aligns the causal mask bottom-right (query i sees keys <= past + i); ONNX Runtime
    # aligns it top-left, so causal cases compare with onnx's reference evaluator.
    ref = (run_reference if is_causal else _ref)("Attention", inputs, 4, is_causal=is_causal,
                                                 qk_matmul_output_mode=2, opset=23)
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-5)


def test_attention_3d_softcap_bool_mask():
    q = rng.standard_normal((2, 3, 4 * 8)).astype(np.float32)
    k = rng.standard_normal((2, 5, 2 * 8)).astype(np.float32)
    v = rng.standard_normal((2, 5, 2 * 6)).astype(np.float32)
    mask = rng.uniform(size=(3, 5)) > 0.3
    kw = dict(q_num_heads=4, kv_num_heads=2, softcap=2.0, opset=23)
    np.testing.assert_allclose(run_kernel("Attention", [q, k, v, mask], **kw)[0],
                               _ref("Attention", [q, k, v, mask], 1, **kw)[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("interleaved", [0, 1])
def test_rotary_embedding(interleaved):
    x = rng.standard_normal((2, 4, 3, 8)).astype(np.float32)
    cos = rng.standard_normal((2, 3, 4)).astype(np.float32)
    sin = rng.standard_normal((2, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(run_kernel("RotaryEmbedding", [x, cos, sin], interleaved=interleaved, opset=23)[0],
                               _ref("RotaryEmbedding", [x, cos, sin], 1, interleaved=interleaved, opset=23)[0],
                               rtol=1e-6, atol=1e-6)


def test_swish():
    x = rng.standard_normal((3, 5)).astype(np.float32)
    np.testing.assert_allclose(run_kernel("Swish", [x], alpha=1.5, opset=24)[0],
                               _ref("Swish", [x], 1, alpha=1.5, opset=24)[0], rtol=1e-6, atol=1e-7)
