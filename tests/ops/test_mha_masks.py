"""MultiHeadAttention with a key padding mask against ONNX Runtime 1.32, bit for bit (the cases a seeded fuzz of
300 trials pinned down: masks (B, T), (B, S, T) and (B,) lengths, fully masked rows, 1-4 heads, 1-10 query rows,
1-12 keys, with and without the QKV bias and an attention bias).

Three causes, all fixed: a single query row's P V product is MLAS's M=1 SGEMM kernel (blocks of 4, 2, 1 rows);
with an attention bias ORT starts the GEMM output from the bias and adds the mask after the product; and ORT's
causal mask is the lowest float added to the padding mask, so that a row whose allowed keys are all padded
attends to those alone (a causal prompt with left padding; a fully padded batch under a causal mask). A second
fuzz (150 trials: past of 1-11 positions, 1-5 query rows, causal or not, mask or not) pins the last.
Each case runs compiled and, under `_compiled.disabled()`, as the NumPy twins (tests/ops/conftest.kernel_path).
"""
import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from tests.ops.harness import run_kernel, run_ort  # noqa: E402

pytestmark = pytest.mark.usefixtures("kernel_path")
MS = "com.microsoft"


def _draw(seed, rows_below, keys_below):
    """A trial's generator, its float32 sampler and shapes: heads, head size, batch, query rows, keys (or past)."""
    rng = np.random.default_rng(seed)
    heads, head, b = int(rng.integers(1, 5)), int(rng.choice([4, 8, 16, 32])), int(rng.integers(1, 3))
    s, kv = int(rng.integers(1, rows_below)), int(rng.integers(1, keys_below))

    def r(*shape):
        return rng.standard_normal(shape).astype(np.float32)
    return rng, r, heads, head, b, s, kv


def case(seed):
    """The fuzz's trial `seed`: its inputs and head count."""
    rng, r, heads, head, b, s, kv = _draw(seed, 11, 13)
    hidden = heads * head
    q, k, v = r(b, s, hidden), r(b, kv, hidden), r(b, kv, hidden)
    kind = int(rng.integers(0, 3))
    if kind == 0:
        mask = (rng.random((b, kv)) > 0.3).astype(np.int32)
        if rng.random() < 0.3:
            mask[0] = 0  # a fully masked batch
    elif kind == 1:
        mask = (rng.random((b, s, kv)) > 0.3).astype(np.int32)
        mask[0, 0] = 0  # a fully masked row
    else:
        mask = rng.integers(0, kv + 1, size=(b,)).astype(np.int32)  # key lengths
    bias = r(3 * hidden) if rng.random() < 0.5 else None
    attention_bias = None
    if rng.random() < 0.4:
        attention_bias = r(1 if rng.random() < 0.5 else b, heads if rng.random() < 0.5 else 1, s, kv)
    return [q, k, v, bias, mask, attention_bias], heads


# Failing before the fix: one query row (25, 43, 60, 79, 106, 136); an attention bias with a fully masked row
# or batch (5, 23, 30, 78, 132, 147); and a few that pass either way (0, 1, 2).
PINNED = [0, 1, 2, 5, 23, 25, 30, 43, 60, 78, 79, 106, 132, 136, 147]


@pytest.mark.parametrize("seed", PINNED)
def test_multi_head_attention_with_padding_masks_is_bit_exact(seed):
    inputs, heads = case(seed)
    ref = run_ort("MultiHeadAttention", inputs, 1, opset=1, domain=MS, num_heads=heads)[0]
    ours = run_kernel("MultiHeadAttention", inputs, 1, opset=1, domain=MS, num_heads=heads)[0]
    assert ours.tobytes() == ref.tobytes(), f"max |diff| {np.abs(ours - ref).max()}"


def case_with_past(seed):
    """The past-and-causal fuzz's trial `seed`: inputs, heads, unidirectional."""
    rng, r, heads, head, b, s, past = _draw(1000 + seed, 6, 12)
    hidden = heads * head
    q, k, v = r(b, s, hidden), r(b, s, hidden), r(b, s, hidden)
    past_k, past_v = r(b, heads, past, head), r(b, heads, past, head)
    mask = (rng.random((b, past + s)) > 0.3).astype(np.int32) if rng.random() < 0.7 else None
    return [q, k, v, None, mask, None, past_k, past_v], heads, int(rng.random() < 0.7)


@pytest.mark.parametrize("seed", [0, 3, 49])  # 49: a fully padded batch under a causal mask
def test_multi_head_attention_with_past_and_causal_mask_is_bit_exact(seed):
    inputs, heads, causal = case_with_past(seed)
    ref = run_ort("MultiHeadAttention", inputs, 3, opset=1, domain=MS, num_heads=heads, unidirectional=causal)
    ours = run_kernel("MultiHeadAttention", inputs, 3, opset=1, domain=MS, num_heads=heads, unidirectional=causal)
    for o, r in zip(ours, ref):
        assert o.tobytes() == r.tobytes(), f"max |diff| {np.abs(o - r).max()}"


@pytest.mark.parametrize("heads,head,s", [(2, 16, 5), (1, 8, 7), (4, 32, 6)])
def test_causal_prompt_with_left_padding_is_bit_exact(heads, head, s):
    rng = np.random.default_rng(s)
    q, k, v = (rng.standard_normal((2, s, heads * head)).astype(np.float32) for _ in range(3))
    mask = np.ones((2, s), np.int32)
    mask[0, :2] = 0
    mask[1, :3] = 0  # the first rows see only padded keys
    inputs = [q, k, v, None, mask]
    ref = run_ort("MultiHeadAttention", inputs, 1, opset=1, domain=MS, num_heads=heads, unidirectional=1)[0]
    ours = run_kernel("MultiHeadAttention", inputs, 1, opset=1, domain=MS, num_heads=heads, unidirectional=1)[0]
    assert ours.tobytes() == ref.tobytes(), f"max |diff| {np.abs(ours - ref).max()}"


@pytest.mark.parametrize("heads,head,past,bias", [(2, 16, 32, False), (3, 8, 9, True), (1, 4, 0, True)])
def test_a_token_step_with_bias_past_and_left_padding_is_bit_exact(heads, head, past, bias):
    """One query row as a decoder's token graph runs it (the compiled path's single call, or the NumPy twins):
    the QKV bias, a past of its own length, a left-padded batch and a full one, causal; all three outputs."""
    rng = np.random.default_rng(past + heads)
    hidden = heads * head
    q, k, v = (rng.standard_normal((2, 1, hidden)).astype(np.float32) for _ in range(3))
    past_k, past_v = (rng.standard_normal((2, heads, past, head)).astype(np.float32) for _ in range(2))
    mask = np.ones((2, past + 1), np.int32)
    mask[0, : (past + 1) // 2] = 0
    inputs = [q, k, v, rng.standard_normal(3 * hidden).astype(np.float32) if bias else None, mask, None, past_k, past_v]
    ref = run_ort("MultiHeadAttention", inputs, 3, opset=1, domain=MS, num_heads=heads, unidirectional=1)
    ours = run_kernel("MultiHeadAttention", inputs, 3, opset=1, domain=MS, num_heads=heads, unidirectional=1)
    for o, r in zip(ours, ref):
        assert o.tobytes() == r.tobytes(), f"max |diff| {np.abs(o - r).max()}"
