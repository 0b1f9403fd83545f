"""MatMulNBits' accuracy levels and g_idx against ONNX Runtime 1.32 with B, scales and zero points as constant
initializers (as exports hold them: ORT prepacks them, and only then takes its int8 path).

accuracy_level 4: ORT's CompInt8 (A quantized to int8 per block) where ORT 1.32 has it; 4- and 8-bit weights bit
for bit (MLAS's AVX512-VNNI kernels, the ones this CPU and any AVX512-VNNI x86-64 dispatch); 2 bits within 1e-6
of the largest output (measured 4.9e-7; the float product is 3e-4 to 1e-2 away, so the bound tells them apart).
Levels 1-3 compute as level 0, in ORT and here (bytes compared).
g_idx: the documented semantics (each k's group), within the same bound of ORT where ORT 1.32 follows them (4 bits,
no or float zero points); ORT's deviations elsewhere (uint8 zero points ignored, 2-bit codes read as 4-bit) are
documented in ops/contrib_matmul.py and docs/llm.md.
"""
import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from ops.contrib_matmul import MatMulNBits, dequantize_weight, unpack_bits  # noqa: E402

f32 = np.float32
MAX_REL = 1e-6
NAMES = ("A", "B", "scales", "zero_points", "g_idx", "bias")


def ort_matmul_nbits(A, *weights, **attrs):
    """One MatMulNBits node in ORT: A fed, the other inputs (B, scales, zero_points, g_idx, bias; None omitted)
    as initializers."""
    ins = ["A"] + [n if w is not None else "" for n, w in zip(NAMES[1:], weights)]
    while ins[-1] == "":
        ins.pop()
    inits = [numpy_helper.from_array(w, n) for n, w in zip(NAMES[1:], weights) if w is not None]
    graph = helper.make_graph([helper.make_node("MatMulNBits", ins, ["Y"], domain="com.microsoft", **attrs)], "g",
                              [helper.make_tensor_value_info("A", TensorProto.FLOAT, A.shape)],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 10
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(None, {"A": A})[0]


def nbits_weights(rng, K, N, bits, block_size, zero_points):
    """B (N, blocks, bytes), scales (N * blocks), zero points: None, "packed" (uint8) or "float"."""
    blocks = -(-K // block_size)
    B = rng.integers(0, 256, (N, blocks, block_size * bits // 8), dtype=np.uint8)
    scales = (rng.random(N * blocks) * 0.1 + 0.01).astype(f32)
    zp = None
    if zero_points == "packed":
        zp = rng.integers(0, 256, (N * -(-blocks * bits // 8),), dtype=np.uint8)
    elif zero_points == "float":
        zp = rng.integers(0, 1 << bits, (N * blocks,)).astype(f32)
    return B, scales, zp


def rel_error(ours, ref):
    return float(np.max(np.abs(ours - ref)) / np.max(np.abs(ref)))


def test_accuracy_level_4_is_ort_int8_compute_over_random_shapes():
    rng = np.random.default_rng(4)
    for _ in range(80):
        bits, block_size = int(rng.choice([2, 4, 4, 8])), int(rng.choice([16, 32, 64, 128, 256]))
        K, N, M = int(rng.integers(1, 300)), int(rng.integers(1, 40)) | 1, int(rng.integers(1, 6))
        zp_kind = rng.choice([None, "packed", "float"] if bits != 8 else [None, "packed"])
        B, scales, zp = nbits_weights(rng, K, N, bits, block_size, zp_kind)
        A = rng.standard_normal((M, K)).astype(f32)
        bias = rng.standard_normal(N).astype(f32) if rng.random() < 0.3 else None
        attrs = dict(K=K, N=N, bits=bits, block_size=block_size, accuracy_level=4)
        ref = ort_matmul_nbits(A, B, scales, zp, None, bias, **attrs)
        ours = MatMulNBits(np, A, B, scales, zp, None, bias, **attrs)
        assert ours.dtype == ref.dtype == f32 and ours.shape == ref.shape
        if bits in (4, 8) and zp_kind != "float":
            assert ours.tobytes() == ref.tobytes(), (block_size, K, N, M, zp_kind)
        else:
            assert rel_error(ours, ref) <= MAX_REL, (bits, block_size, K, N, M, zp_kind)


@pytest.mark.parametrize("bits", [4, 8])
def test_accuracy_level_4_bit_exact_with_batch_dims_and_every_tile_remainder(bits):
    # Rows in pairs and a last odd row, columns in fours and 1-3 left, a tail of blocks shorter than 128.
    rng = np.random.default_rng(bits)
    for block_size in (16, 32, 64, 128):
        for lead, N in (((2, 3), 7), ((5,), 4), ((1,), 1), ((2, 2, 1), 6)):
            K = 3 * 128 + block_size * int(rng.integers(0, 128 // block_size + 1)) - int(rng.integers(0, 9))
            B, scales, zp = nbits_weights(rng, K, N, bits, block_size, "packed")
            A = rng.standard_normal(lead + (K,)).astype(f32)
            attrs = dict(K=K, N=N, bits=bits, block_size=block_size, accuracy_level=4)
            ref = ort_matmul_nbits(A, B, scales, zp, **attrs)
            assert MatMulNBits(np, A, B, scales, zp, **attrs).tobytes() == ref.tobytes(), (block_size, lead, N, K)


def test_accuracy_level_4_quantizes_a_per_block():
    # One block, A chosen so the int8 codes are exact: Y = sa * sb * sum(qa * (q - zp)) with qa = round(127 a / amax).
    K = N = 32
    A = np.linspace(-1, 1, K, dtype=f32).reshape(1, K)
    B = np.full((N, 1, 16), 0x9A, np.uint8)  # codes 10 and 9, alternating
    scales = np.full(N, 0.5, f32)
    ours = MatMulNBits(np, A, B, scales, K=K, N=N, bits=4, block_size=32, accuracy_level=4)
    qa = np.rint(A[0] * f32(127)).astype(np.int64)
    expect = f32(1 / 127) * f32(0.5) * f32(np.dot(qa, np.tile([2, 1], 16)))
    terms = f32(1 / 127) * f32(0.5) * np.abs(qa).sum() * 10  # (the zero point enters as its own sum)
    np.testing.assert_allclose(ours[0], expect, rtol=0, atol=1e-6 * terms)
    assert not np.allclose(ours, MatMulNBits(np, A, B, scales, K=K, N=N, bits=4, block_size=32), rtol=1e-4)


@pytest.mark.parametrize("bits,block_size", [(4, 32), (2, 64), (8, 16)])
def test_accuracy_levels_1_to_3_compute_as_level_0(bits, block_size):
    rng = np.random.default_rng(bits)
    K, N = 100, 7
    B, scales, zp = nbits_weights(rng, K, N, bits, block_size, "packed")
    A = rng.standard_normal((3, K)).astype(f32)
    base = dict(K=K, N=N, bits=bits, block_size=block_size)
    ours0, ref0 = MatMulNBits(np, A, B, scales, zp, **base), ort_matmul_nbits(A, B, scales, zp, **base)
    for level in (1, 2, 3):
        assert MatMulNBits(np, A, B, scales, zp, **base, accuracy_level=level).tobytes() == ours0.tobytes()
        assert ort_matmul_nbits(A, B, scales, zp, **base, accuracy_level=level).tobytes() == ref0.tobytes()
    assert rel_error(ours0, ref0) <= MAX_REL


def test_one_row_at_float_levels_bit_exact_with_held_weights():
    # A token step at levels 0-3: 4-bit B is prepacked (SQ4BitGemmM1Kernel_CompFp32: 16 lanes, columns in
    # fours), 2 and 8 bits are dequantized for MLAS's single-row SGEMM kernel. Every lane tail and column remainder.
    rng = np.random.default_rng(7)
    for K in list(range(1, 35)) + [100, 257, 1024]:
        for N in (1, 2, 3, 4, 5, 7, 33):
            bits, block_size = int(rng.choice([2, 4, 4, 8])), int(rng.choice([16, 32, 64, 128, 256]))
            B, scales, zp = nbits_weights(rng, K, N, bits, block_size, rng.choice([None, "packed"]))
            A = rng.standard_normal((1, 1, K)).astype(f32)
            bias = rng.standard_normal(N).astype(f32) if rng.random() < 0.5 else None
            attrs = dict(K=K, N=N, bits=bits, block_size=block_size, accuracy_level=int(rng.choice([0, 1, 3])))
            ours = MatMulNBits(np, A, B, scales, zp, None, bias, **attrs)
            assert ours.tobytes() == ort_matmul_nbits(A, B, scales, zp, None, bias, **attrs).tobytes(), attrs


def test_g_idx_against_ort_and_the_dequantize_linear_form():
    rng = np.random.default_rng(5)
    for _ in range(30):
        block_size = int(rng.choice([16, 32, 64]))
        K, N, M = int(rng.integers(1, 200)), int(rng.integers(1, 30)) | 1, int(rng.integers(1, 6))
        blocks = -(-K // block_size)
        g_idx = rng.integers(0, blocks, K).astype(np.int32)
        for zp_kind in (None, "float", "packed"):
            B, scales, zp = nbits_weights(rng, K, N, 4, block_size, zp_kind)
            A = rng.standard_normal((M, K)).astype(f32)
            attrs = dict(K=K, N=N, bits=4, block_size=block_size, accuracy_level=int(rng.choice([0, 4])))
            ours = MatMulNBits(np, A, B, scales, zp, g_idx, **attrs)
            # The documented semantics: k's group is g_idx[k]; W = (q - zp[group]) * scale[group], rounded once.
            q = unpack_bits(np, B.reshape(N, -1), 4, K).astype(np.int16)
            z = np.full((N, blocks), 8, np.int16) if zp is None else (
                zp.reshape(N, blocks) if zp_kind == "float" else unpack_bits(np, zp.reshape(N, -1), 4, blocks))
            W = ((q - z[:, g_idx]).astype(f32) * scales.reshape(N, blocks)[:, g_idx])
            np.testing.assert_array_equal(dequantize_weight(np, B, scales, zp, g_idx, K, N, 4, block_size, f32), W)
            np.testing.assert_allclose(ours, A @ W.T, rtol=0, atol=MAX_REL * np.max(np.abs(ours)))
            if zp_kind != "packed":  # (ORT 1.32's g_idx path ignores uint8 zero points)
                assert rel_error(ours, ort_matmul_nbits(A, B, scales, zp, g_idx, **attrs)) <= MAX_REL


def test_g_idx_out_of_range_is_a_clear_error():
    B, scales, _ = nbits_weights(np.random.default_rng(0), 32, 3, 4, 16, None)
    A = np.ones((1, 32), f32)
    with pytest.raises(ValueError, match="g_idx must hold K=32 group indices in \\[0, 2\\)"):
        MatMulNBits(np, A, B, scales, None, np.full(32, 2, np.int32), K=32, N=3, bits=4, block_size=16)
    with pytest.raises(ValueError, match="g_idx"):
        MatMulNBits(np, A, B, scales, None, np.zeros(31, np.int32), K=32, N=3, bits=4, block_size=16)


@pytest.mark.parametrize("bits", [4, 8])
def test_accuracy_level_4_edge_activations_bit_exact(bits):
    # An all-zero row and block (scale 0), huge values, denormals (127 / amax overflows: ORT's codes are 0),
    # and an infinity.
    rng = np.random.default_rng(9)
    K, N, block_size = 160, 6, 32
    B, scales, zp = nbits_weights(rng, K, N, bits, block_size, "packed")
    attrs = dict(K=K, N=N, bits=bits, block_size=block_size, accuracy_level=4)
    A = rng.standard_normal((5, K)).astype(f32)
    A[0] = 0
    A[1, 32:64] = 0
    A[2] *= f32(1e37)
    A[3] *= f32(1e-42)
    A[4, 5] = np.inf
    with np.errstate(all="ignore"):
        ours = MatMulNBits(np, A, B, scales, zp, **attrs)
    assert ours.tobytes() == ort_matmul_nbits(A, B, scales, zp, **attrs).tobytes()
