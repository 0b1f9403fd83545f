"""GroupQueryAttention against ONNX Runtime 1.32, bit for bit, on seeded random cases: token steps on a cache
buffer with different lengths per sequence and prompts, 1-2 KV heads in groups of 1-2, with softcap, smooth
softmax, qk_output (both modes), a local window and an attention bias mixed in (a fuzz of 150 such cases had
no difference; these are 16 of them). Each case runs compiled and as the NumPy twins (conftest.kernel_path)."""
import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from tests.ops.harness import run_kernel, run_ort  # noqa: E402

pytestmark = pytest.mark.usefixtures("kernel_path")
MS = "com.microsoft"


def case(seed):
    rng = np.random.default_rng(5000 + seed)
    kv_heads = int(rng.integers(1, 3))
    heads, head, b, buffer = kv_heads * int(rng.integers(1, 3)), int(rng.choice([8, 16, 32])), int(rng.integers(1, 3)), 16

    def r(*shape):
        return rng.standard_normal(shape).astype(np.float32)
    token = rng.random() < 0.6
    attrs = dict(num_heads=heads, kv_num_heads=kv_heads)
    option = int(rng.integers(0, 5))
    if option == 1:
        attrs["softcap"] = float(rng.choice([1.0, 2.0, 5.0]))
    if option == 2:
        attrs["smooth_softmax"] = 1
    if option == 3:
        attrs["qk_output"] = int(rng.integers(1, 3))
    if rng.random() < 0.3:
        attrs["local_window_size"] = int(rng.integers(1, 8))
    if token:
        s, seqlens = 1, rng.integers(1, buffer - 1, size=b).astype(np.int32)
        total = int(seqlens.max()) + 1
        inputs = [r(b, s, heads * head), r(b, s, kv_heads * head), r(b, s, kv_heads * head),
                  r(b, kv_heads, buffer, head), r(b, kv_heads, buffer, head), seqlens, np.array([total], np.int32)]
    else:
        s = total = int(rng.integers(1, 9))
        inputs = [r(b, s, heads * head), r(b, s, kv_heads * head), r(b, s, kv_heads * head), None, None,
                  np.full((b,), s - 1, np.int32), np.array([s], np.int32)]
    if rng.random() < 0.3:
        inputs += [None, None, None, r(1, heads if rng.random() < 0.5 else 1, s, total)]
    return inputs, attrs


@pytest.mark.parametrize("seed", range(16))
def test_group_query_attention_random_cases_bit_exact(seed):
    inputs, attrs = case(seed)
    n = 4 if attrs.get("qk_output") else 3
    ref = run_ort("GroupQueryAttention", inputs, n, opset=1, domain=MS, **attrs)
    ours = run_kernel("GroupQueryAttention", inputs, n, opset=1, domain=MS, **attrs)
    for o, rf in zip(ours, ref):
        assert o.tobytes() == rf.tobytes(), f"{attrs}: max |diff| {np.abs(o - rf).max()}"


def token_case(seed):
    """A token step on a cache buffer (the one-call compiled path where Numba is installed): 1-3 sequences of
    their own lengths, one with the cache nearly full, groups of 1, 2 or 4 query heads per KV head, rotary
    (interleaved or not) with cos/sin tables or none."""
    rng = np.random.default_rng(6000 + seed)
    kv_heads, group, head, b, buffer = int(rng.integers(1, 3)), int(rng.choice([1, 2, 4])), \
        int(rng.choice([16, 32, 48])), int(rng.integers(1, 4)), int(rng.integers(4, 33))  # (rotary: 16k)

    def r(*shape):
        return rng.standard_normal(shape).astype(np.float32)
    heads = kv_heads * group
    seqlens = rng.integers(0, buffer - 1, size=b).astype(np.int32)
    seqlens[0] = buffer - 1
    inputs = [r(b, 1, heads * head), r(b, 1, kv_heads * head), r(b, 1, kv_heads * head),
              r(b, kv_heads, buffer, head), r(b, kv_heads, buffer, head), seqlens, np.array([buffer], np.int32)]
    attrs = dict(num_heads=heads, kv_num_heads=kv_heads)
    if seed % 3:
        attrs.update(do_rotary=1, rotary_interleaved=seed % 2)
        angles = np.arange(buffer).reshape(-1, 1) * 10000.0 ** (-np.arange(head // 2) / (head // 2))
        inputs += [np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)]
    return inputs, attrs


@pytest.mark.parametrize("seed", range(12))
def test_group_query_attention_token_steps_bit_exact(seed):
    inputs, attrs = token_case(seed)
    ref = run_ort("GroupQueryAttention", inputs, 3, opset=1, domain=MS, **attrs)
    ours = run_kernel("GroupQueryAttention", inputs, 3, opset=1, domain=MS, **attrs)
    for o, rf in zip(ours, ref):
        assert o.tobytes() == rf.tobytes(), f"{attrs}: max |diff| {np.abs(o - rf).max()}"
