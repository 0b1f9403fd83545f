"""ONNX Runtime's com.microsoft contrib ops against ORT's own CPU kernels.

Element-wise ops, norms, RotaryEmbedding, GroupQueryAttention and MultiHeadAttention are bit for bit in the
cases below (the attentions multiply in MLAS's order, ops/_mlas_products.py), and so is MatMulNBits with one row
of A (MLAS's single-row kernel; 2 and 8 bits here, 4 bits in test_matmul_nbits_levels.py). MatMulNBits with more
rows multiplies with NumPy's BLAS where ORT uses MLAS: its error is stated as the measured worst case relative to
the output's largest magnitude (MAX_REL) and asserted.
"""
import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from tests.ops.harness import max_ulp_diff, run_kernel, run_ort  # noqa: E402

# Every ORT comparison runs with the compiled loops and with their NumPy twins (tests/ops/conftest.py).
pytestmark = pytest.mark.usefixtures("kernel_path")
MS = "com.microsoft"
RNG = np.random.default_rng(17)
f32 = np.float32
# Worst |ours - ORT| / max|ORT| measured over these cases (ORT 1.32, NumPy's OpenBLAS): 4.0e-7 MatMulNBits (up to
# 1.6e3 ulps, on outputs near zero). Asserted with a margin; see docs/llm.md.
MAX_REL = 1e-6


def r(*shape, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(f32)


def both(op, inputs, n=1, domain=MS, **attrs):
    ours = run_kernel(op, inputs, n_outputs=n, opset=1, domain=domain, **attrs)
    ref = run_ort(op, inputs, n_outputs=n, opset=1, domain=domain, **attrs)
    return ours, ref


def assert_close_to_ort(ours, ref):
    rel = float(np.max(np.abs(ours - ref)) / np.max(np.abs(ref)))
    assert rel <= MAX_REL, f"relative error {rel:.3g} (max ulp {max_ulp_diff(ours, ref)})"


@pytest.mark.parametrize("op,extra,attrs", [
    ("Gelu", [], {}), ("BiasGelu", ["bias"], {}), ("FastGelu", [], {}), ("FastGelu", ["bias"], {}),
    ("QuickGelu", [], {}), ("QuickGelu", [], {"alpha": 1.5})])
def test_gelus_bit_exact(op, extra, attrs):
    x = r(3, 7, 257, scale=3)
    ins = [x] + [r(257) for _ in extra]
    (ours,), (ref,) = both(op, ins, **attrs)
    np.testing.assert_array_equal(ours, ref)


@pytest.mark.parametrize("hidden", [5, 8, 15, 16, 24, 256, 1024, 4096])
def test_simplified_layer_norm_bit_exact(hidden):
    x, scale = r(4, 9, hidden, scale=2) + f32(0.5), r(hidden)
    ours, ref = both("SimplifiedLayerNormalization", [x, scale], n=2, domain="", epsilon=1e-6)
    np.testing.assert_array_equal(ours[0], ref[0])
    np.testing.assert_array_equal(ours[1], ref[1])


def test_simplified_layer_norm_every_row_length_bit_exact():
    # Every tail after the last full eight lanes (0..7 left, with and without the four-wide step), short rows too.
    for hidden in list(range(1, 71)) + [301]:
        x, scale = r(50, hidden, scale=2) + f32(0.5), r(hidden)
        ours, ref = both("SimplifiedLayerNormalization", [x, scale], n=2, domain="", epsilon=1e-6)
        assert ours[0].tobytes() == ref[0].tobytes() and ours[1].tobytes() == ref[1].tobytes(), hidden


@pytest.mark.parametrize("shape", [(0, 32), (2, 0, 8), (0, 5)])
def test_simplified_layer_norm_of_no_rows_is_empty_as_in_onnx_runtime(shape):
    ours, ref = both("SimplifiedLayerNormalization", [np.zeros(shape, f32), r(shape[-1])], n=1, domain="")
    assert ours[0].shape == ref[0].shape == shape


@pytest.mark.parametrize("hidden", [16, 301, 1024])
@pytest.mark.parametrize("with_bias", [False, True])
def test_skip_simplified_layer_norm_bit_exact(hidden, with_bias):
    x, skip, gamma = r(2, 5, hidden), r(2, 5, hidden), r(hidden)
    ins = [x, skip, gamma] + ([r(hidden)] if with_bias else [])
    for attrs in ({}, {"epsilon": 1e-5}):  # the default epsilon is 1e-12
        ours, ref = both("SkipSimplifiedLayerNormalization", ins, n=4, **attrs)
        for o, rf in zip(ours, ref):  # output, mean (0), inv_std_var, input + skip + bias
            np.testing.assert_array_equal(o, rf)


@pytest.mark.parametrize("hidden", [16, 64, 301, 1024])
@pytest.mark.parametrize("with_beta_bias", [False, True])
def test_skip_layer_norm_bit_exact(hidden, with_beta_bias):
    x, skip, gamma = r(2, 5, hidden, scale=2) + f32(0.5), r(2, 5, hidden), r(hidden)
    ins = [x, skip, gamma] + ([r(hidden), r(hidden)] if with_beta_bias else [])
    for attrs in ({}, {"epsilon": 1e-5}):
        ours, ref = both("SkipLayerNormalization", ins, n=4, **attrs)
        for o, rf in zip(ours, ref):  # output, mean, inv_std_var, input + skip + bias
            np.testing.assert_array_equal(o, rf)


@pytest.mark.parametrize("head,interleaved,rotary_dim", [(64, 0, 0), (64, 1, 0), (16, 1, 0), (20, 0, 0),
                                                         (64, 0, 32), (128, 1, 64)])
def test_rotary_embedding_bit_exact(head, interleaved, rotary_dim):
    b, s, heads = 2, 5, 3
    x = r(b, s, heads * head)
    pos = np.array([[3, 4, 5, 6, 7], [0, 1, 2, 3, 4]], np.int64)
    angles = RNG.uniform(0, 6, (16, (rotary_dim or head) // 2)).astype(f32)
    attrs = dict(interleaved=interleaved, num_heads=heads)
    if rotary_dim:
        attrs["rotary_embedding_dim"] = rotary_dim
    (ours,), (ref,) = both("RotaryEmbedding", [x, pos, np.cos(angles), np.sin(angles)], **attrs)
    np.testing.assert_array_equal(ours, ref)


def test_rotary_embedding_every_rotary_dim_bit_exact():
    # Every tail after MLAS's 16-element blocks (its first pair fused, the rest plain), partial rotary dims too.
    for head in range(2, 50, 2):
        for interleaved in (0, 1):
            for rotary_dim in sorted({0, (head // 4) * 2}):
                x, pos = r(2, 3, 2 * head), RNG.integers(0, 10, (2, 3)).astype(np.int64)
                angles = RNG.uniform(0, 6, (10, (rotary_dim or head) // 2)).astype(f32)
                attrs = dict(interleaved=interleaved, num_heads=2, rotary_embedding_dim=rotary_dim)
                (ours,), (ref,) = both("RotaryEmbedding", [x, pos, np.cos(angles), np.sin(angles)], **attrs)
                assert ours.tobytes() == ref.tobytes(), (head, interleaved, rotary_dim)


def _nbits_inputs(K, N, bits, block_size, with_zp):
    blocks = -(-K // block_size)
    B = RNG.integers(0, 256, (N, blocks, block_size * bits // 8), dtype=np.uint8)
    scales = (RNG.random(N * blocks) * 0.1 + 0.01).astype(f32)
    zp = RNG.integers(0, 256, (N * -(-blocks * bits // 8),), dtype=np.uint8) if with_zp else None
    return B, scales, zp


@pytest.mark.parametrize("K,N,bits,block_size", [(64, 32, 4, 32), (256, 48, 4, 64), (128, 16, 8, 32),
                                                 (100, 24, 4, 32), (64, 8, 2, 16)])
@pytest.mark.parametrize("with_zp", [False, True])
def test_matmul_nbits_against_ort_and_dequantize_linear(K, N, bits, block_size, with_zp):
    A = r(3, K)
    B, scales, zp = _nbits_inputs(K, N, bits, block_size, with_zp)
    attrs = dict(K=K, N=N, bits=bits, block_size=block_size)
    (ours,) = run_kernel("MatMulNBits", [A, B, scales, zp], opset=1, domain=MS, **attrs)
    if bits != 2:  # ORT's CPU kernel has no 2-bit path in every build
        (ref,) = run_ort("MatMulNBits", [A, B, scales, zp], opset=1, domain=MS, **attrs)
        assert_close_to_ort(ours, ref)
    # The DequantizeLinear form (opset 21, blocked along K) then MatMul: bit for bit.
    blocks = -(-K // block_size)
    per_byte = 8 // bits
    q = ((B.reshape(N, -1)[..., None] >> (np.arange(per_byte, dtype=np.uint8) * bits)) & ((1 << bits) - 1))
    q = q.reshape(N, -1)[:, :blocks * block_size].astype(np.uint8)
    if zp is None:
        z = np.full((N, blocks), 1 << (bits - 1), np.uint8)
    else:
        z = ((zp.reshape(N, -1)[..., None] >> (np.arange(per_byte, dtype=np.uint8) * bits)) & ((1 << bits) - 1))
        z = z.reshape(N, -1)[:, :blocks].astype(np.uint8)
    (W,) = run_kernel("DequantizeLinear", [q, scales.reshape(N, blocks), z], opset=21, axis=1,
                      block_size=block_size)
    from ops.contrib_matmul import dequantize_weight

    np.testing.assert_array_equal(dequantize_weight(np, B, scales, zp, None, K, N, bits, block_size, f32), W[:, :K])
    (expect,) = run_kernel("MatMul", [A, W[:, :K].T], opset=13)
    np.testing.assert_array_equal(ours, expect)


def test_matmul_nbits_one_row_bit_exact():
    # A token step (one row of A), B fed: MLAS's single-row kernel, every lane tail (K % 8) and row remainder
    # (N % 4). (A fed 4-bit B is not how exports hold it: the kernel follows ORT's prepacked 4-bit path, which
    # tests/ops/test_matmul_nbits_levels.py holds to ORT's bytes.)
    for K in list(range(1, 41)) + [100, 257, 1024]:
        for N in (1, 2, 3, 4, 5, 6, 7, 33):
            bits, block_size = int(RNG.choice([2, 8])), int(RNG.choice([16, 32, 64]))
            B, scales, zp = _nbits_inputs(K, N, bits, block_size, RNG.random() < 0.5)
            ins = [r(1, 1, K), B, scales, zp, None, r(N) if RNG.random() < 0.5 else None]
            (ours,), (ref,) = both("MatMulNBits", ins, K=K, N=N, bits=bits, block_size=block_size)
            assert ours.tobytes() == ref.tobytes(), (K, N, bits, block_size)


def test_matmul_nbits_bias_and_g_idx():
    K, N, bs = 64, 16, 16
    A = r(2, 3, K)
    B, scales, _ = _nbits_inputs(K, N, 4, bs, False)
    bias = r(N)
    g_idx = (np.arange(K) // bs).astype(np.int32)
    plain = run_kernel("MatMulNBits", [A, B, scales], opset=1, domain=MS, K=K, N=N, bits=4, block_size=bs)[0]
    (ours,) = run_kernel("MatMulNBits", [A, B, scales, None, g_idx, bias], opset=1, domain=MS, K=K, N=N, bits=4,
                         block_size=bs)
    np.testing.assert_array_equal(ours, plain + bias)
    (ref,) = run_ort("MatMulNBits", [A, B, scales, None, None, bias], opset=1, domain=MS, K=K, N=N, bits=4,
                     block_size=bs)
    assert_close_to_ort(ours, ref)


def _gqa_inputs(b, s, heads, kv_heads, head):
    return r(b, s, heads * head), r(b, s, kv_heads * head), r(b, s, kv_heads * head)


@pytest.mark.parametrize("heads,kv_heads,head", [(4, 2, 16), (4, 4, 32), (8, 2, 64), (2, 1, 128)])
def test_group_query_attention_bit_exact(heads, kv_heads, head):
    b, s, max_len = 2, 6, 20
    q, k, v = _gqa_inputs(b, s, heads, kv_heads, head)
    attrs = dict(num_heads=heads, kv_num_heads=kv_heads)
    prompt = [q, k, v, None, None, np.full((b,), s - 1, np.int32), np.array([s], np.int32)]
    # a token step on a cache of the maximum length, the two sequences at different lengths
    past_k, past_v = r(b, kv_heads, max_len, head), r(b, kv_heads, max_len, head)
    token = [q[:, :1], k[:, :1], v[:, :1], past_k, past_v, np.array([s, s + 2], np.int32), np.array([s + 3], np.int32)]
    angles = RNG.uniform(0, 6, (32, head // 2)).astype(f32)
    rotary = [np.cos(angles), np.sin(angles)]
    cases = [(prompt, 3, attrs), (prompt, 3, dict(attrs, local_window_size=3)),  # ORT's flash path
             (prompt + rotary, 3, dict(attrs, do_rotary=1)), (prompt, 4, dict(attrs, qk_output=1)),  # its plain path
             (prompt, 3, dict(attrs, smooth_softmax=1)),
             (token, 3, attrs), (token + rotary, 3, dict(attrs, do_rotary=1)),
             (token, 3, dict(attrs, local_window_size=3))]
    for ins, n, a in cases:
        ours, ref = both("GroupQueryAttention", ins, n=n, **a)
        for o, rf in zip(ours, ref):
            np.testing.assert_array_equal(o, rf)


def test_group_query_attention_bias_bit_exact():
    b, s, heads, kv_heads, head = 2, 6, 4, 2, 32
    q, k, v = _gqa_inputs(b, s, heads, kv_heads, head)
    attrs = dict(num_heads=heads, kv_num_heads=kv_heads)
    for shape in ((1, heads, s, s), (b, 1, s, s), (b, heads, s, s)):
        ins = [q, k, v, None, None, np.full((b,), s - 1, np.int32), np.array([s], np.int32), None, None, None,
               r(*shape)]
        for n, a in ((3, {}), (4, {"qk_output": 1})):
            ours, ref = both("GroupQueryAttention", ins, n=n, **a, **attrs)
            for o, rf in zip(ours, ref):
                np.testing.assert_array_equal(o, rf)
    past_k, past_v = r(b, kv_heads, 20, head), r(b, kv_heads, 20, head)
    token = [q[:, :1], k[:, :1], v[:, :1], past_k, past_v, np.array([s, s + 2], np.int32),
             np.array([s + 3], np.int32), None, None, None, r(b, heads, 1, s + 3)]
    ours, ref = both("GroupQueryAttention", token, n=3, **attrs)
    for o, rf in zip(ours, ref):
        np.testing.assert_array_equal(o, rf)


def test_group_query_attention_long_prompt_bit_exact():
    b, s, heads, kv_heads, head = 1, 200, 2, 1, 64  # K blocks of the score x value product: 128 + 72
    q, k, v = _gqa_inputs(b, s, heads, kv_heads, head)
    ins = [q, k, v, None, None, np.full((b,), s - 1, np.int32), np.array([s], np.int32)]
    for n, a in ((3, {}), (4, {"qk_output": 1})):
        ours, ref = both("GroupQueryAttention", ins, n=n, num_heads=heads, kv_num_heads=kv_heads, **a)
        for o, rf in zip(ours, ref):
            np.testing.assert_array_equal(o, rf)


def test_group_query_attention_plain_token_steps_bit_exact():
    # ORT's plain path (softcap, qk_output or smooth softmax): a token step's probs x values is MLAS's single-row
    # SGEMM kernel over each sequence's own length (seqlens_k differ here: 7 and 9 positions).
    b, s, heads, kv_heads, head = 2, 6, 4, 2, 32
    q, k, v = _gqa_inputs(b, s, heads, kv_heads, head)
    past_k, past_v = r(b, kv_heads, 20, head), r(b, kv_heads, 20, head)
    token = [q[:, :1], k[:, :1], v[:, :1], past_k, past_v, np.array([s, s + 2], np.int32), np.array([s + 3], np.int32)]
    for n, a in ((3, {"softcap": 2.0}), (4, {"qk_output": 1}), (4, {"qk_output": 2}), (3, {"smooth_softmax": 1}),
                 (3, {"softcap": 2.0, "local_window_size": 4})):
        ours, ref = both("GroupQueryAttention", token, n=n, num_heads=heads, kv_num_heads=kv_heads, **a)
        for o, rf in zip(ours, ref):
            np.testing.assert_array_equal(o, rf)


@pytest.mark.parametrize("window,with_bias", [(-1, False), (3, False), (-1, True)])
def test_group_query_attention_softcap_prompt_bit_exact(window, with_bias):
    # MlasComputeSoftcap: x / cap, the C library's tanhf, * cap; an attention bias is added after it.
    b, s, heads, kv_heads, head = 2, 6, 4, 2, 32
    q, k, v = _gqa_inputs(b, s, heads, kv_heads, head)
    ins = [q, k, v, None, None, np.full((b,), s - 1, np.int32), np.array([s], np.int32)]
    if with_bias:
        ins += [None, None, None, r(1, heads, s, s)]
    ours, ref = both("GroupQueryAttention", ins, n=3, num_heads=heads, kv_num_heads=kv_heads, softcap=2.0,
                     local_window_size=window)
    for o, rf in zip(ours, ref):
        np.testing.assert_array_equal(o, rf)


@pytest.mark.parametrize("mode", [1, 2])
def test_group_query_attention_softcap_qk_output_bit_exact(mode):
    # qk_output=1 gives the scores after the softcap (and the attention bias), as ORT writes them
    b, s, heads, kv_heads, head = 2, 6, 4, 2, 32
    q, k, v = _gqa_inputs(b, s, heads, kv_heads, head)
    ins = [q, k, v, None, None, np.full((b,), s - 1, np.int32), np.array([s], np.int32), None, None, None,
           r(1, heads, s, s)]
    ours, ref = both("GroupQueryAttention", ins, n=4, num_heads=heads, kv_num_heads=kv_heads, softcap=2.0,
                     qk_output=mode)
    for o, rf in zip(ours, ref):
        np.testing.assert_array_equal(o, rf)


def test_group_query_attention_packed_qkv():
    b, s, heads, kv_heads, head = 1, 4, 4, 2, 16
    q, k, v = _gqa_inputs(b, s, heads, kv_heads, head)
    packed = np.concatenate([q, k, v], axis=-1)
    lens, total = np.full((b,), s - 1, np.int32), np.array([s], np.int32)
    attrs = dict(num_heads=heads, kv_num_heads=kv_heads)
    (out,) = run_kernel("GroupQueryAttention", [packed, None, None, None, None, lens, total], opset=1, domain=MS,
                        **attrs)[:1]
    (sep,) = run_kernel("GroupQueryAttention", [q, k, v, None, None, lens, total], opset=1, domain=MS, **attrs)[:1]
    np.testing.assert_array_equal(out, sep)


@pytest.mark.parametrize("heads,head,s,kv", [(2, 16, 5, 5), (4, 32, 7, 9), (2, 64, 100, 300)])
def test_multi_head_attention_bit_exact(heads, head, s, kv):
    b = 2
    q, k, v = r(b, s, heads * head), r(b, kv, heads * head), r(b, kv, heads * head)
    bias = r(3 * heads * head)
    mask = np.ones((b, kv), np.int32)
    mask[1, -2:] = 0
    past_k, past_v = r(b, heads, 3, head), r(b, heads, 3, head)
    attn_bias = r(1, heads, s, kv)
    for ins, n, attrs in [([q, k, v], 1, {}),  # ORT's flash path
                          ([q, k, v], 3, {}), ([q, k, v, bias], 1, {}), ([q, k, v, bias, mask], 1, {}),
                          ([q, k, v, None, None, attn_bias], 1, {}), ([q, q, q], 1, dict(unidirectional=1)),
                          ([q, q, q, None, None, None, past_k, past_v], 3, dict(unidirectional=1))]:
        ours, ref = both("MultiHeadAttention", ins, n=n, num_heads=heads, **attrs)
        assert len(ours) == n
        for o, rf in zip(ours, ref):
            np.testing.assert_array_equal(o, rf)


def test_contrib_ops_run_in_a_graph():
    """A com.microsoft node resolves through the interpreter (onnx has no schema for it)."""
    from onnx import helper, TensorProto

    from simulator.interpreter import Interpreter

    node = helper.make_node("FastGelu", ["x"], ["y"], domain=MS)
    norm = helper.make_node("SimplifiedLayerNormalization", ["y", "s"], ["z"], epsilon=1e-6)
    g = helper.make_graph([node, norm], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])],
                          [helper.make_tensor_value_info("z", TensorProto.FLOAT, [2, 8])],
                          [helper.make_tensor("s", TensorProto.FLOAT, [8], np.ones(8, f32))])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)])
    x = r(2, 8)
    values, _ = Interpreter(model).run({"x": x}, {"z"})
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    ref = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(None, {"x": x})
    np.testing.assert_array_equal(values["z"], ref[0])
