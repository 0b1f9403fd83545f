"""kernels="onnxruntime" on the contrib ops of LLM exports (SimplifiedLayerNormalization and com.microsoft's):
each op's model run three ways, by ONNX Runtime's own InferenceSession on the whole model, by the simulator in
onnxruntime mode (identical bytes required) and in NumPy mode (close, as its kernels document), over random
shapes that include the NumPy kernels' hard cases (row tails, fully padded rows); and the shipped small decoder generating in
onnxruntime mode with float logits identical to the generation ONNX Runtime's own sessions drive."""
import os

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from simulator.ort_kernels import MS, ORT_OPS
from simulator.session import InferenceSession

ort = pytest.importorskip("onnxruntime", reason="kernels='onnxruntime' needs the onnxruntime extra (pip install "
                          "'.[onnxruntime]')")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
THREADS = 2  # the same intra-op thread count on both sides: MLAS's sums follow it
FLOAT = TensorProto.FLOAT
TYPES = {np.dtype(np.float32): FLOAT, np.dtype(np.int64): TensorProto.INT64, np.dtype(np.int32): TensorProto.INT32,
         np.dtype(np.uint8): TensorProto.UINT8}


def _model(op, inputs, constants, outputs=(0,), domain=MS, **attrs):
    """A one-node model of `op`: `inputs` [(name, array or None)] in position ("" for an omitted optional
    input), those named in `constants` as initializers (as an export holds weights), the rest graph inputs;
    the outputs at the positions `outputs`, the others omitted (empty names)."""
    names = [n if a is not None else "" for n, a in inputs]
    outs = [f"y{i}" if i in outputs else "" for i in range(max(outputs) + 1)]
    node = helper.make_node(op, names, outs, domain=domain, **attrs)
    graph_inputs = [helper.make_tensor_value_info(n, TYPES[a.dtype], a.shape) for n, a in inputs
                    if a is not None and n not in constants]
    inits = [numpy_helper.from_array(a, n) for n, a in inputs if a is not None and n in constants]
    graph = helper.make_graph([node], "g", graph_inputs, [helper.make_tensor_value_info(o, FLOAT, None)
                                                          for o in outs if o], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)])
    model.ir_version = 8
    feed = {n: a for n, a in inputs if a is not None and n not in constants}
    return model.SerializeToString(), feed


def _ort_session(model):
    so = ort.SessionOptions()  # a user's session: the default optimisation level
    so.intra_op_num_threads = THREADS
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


def _three_ways(model, feed):
    """(ONNX Runtime's outputs, onnxruntime mode's, NumPy mode's)."""
    want = _ort_session(model).run(None, feed)
    got = InferenceSession(model, kernels="onnxruntime", ort_threads=THREADS).run(None, feed)
    ref = InferenceSession(model).run(None, feed)
    return want, got, ref


def _check(model, feed, numpy_atol=1e-5):
    """onnxruntime mode: ONNX Runtime's bytes; NumPy mode: within `numpy_atol` of the largest value."""
    want, got, ref = _three_ways(model, feed)
    for w, g, r in zip(want, got, ref, strict=True):
        assert g.dtype == w.dtype and g.shape == w.shape
        assert g.tobytes() == w.tobytes(), f"{np.count_nonzero(g != w)} of {w.size} elements differ from ORT"
        scale = max(float(np.max(np.abs(w), initial=0)), 1.0)
        np.testing.assert_allclose(r, w, rtol=0, atol=numpy_atol * scale)


def _f(rng, *shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


# Row lengths under 16, multiples of 8 and not (MLAS's lanes, its four-wide step and its scalar tail).
ROWS = [1, 7, 12, 16, 20, 33, 64, 100, 257]


@pytest.mark.parametrize("n", ROWS)
def test_simplified_layer_norm(n):
    rng = np.random.default_rng(n)
    model, feed = _model("SimplifiedLayerNormalization", [("x", _f(rng, 2, 3, n)), ("scale", _f(rng, n))],
                         {"scale"}, domain="", epsilon=1e-5)
    _check(model, feed)


@pytest.mark.parametrize("n", ROWS)
@pytest.mark.parametrize("with_bias", [False, True])
def test_skip_simplified_layer_norm(n, with_bias):
    rng = np.random.default_rng(n)
    model, feed = _model("SkipSimplifiedLayerNormalization",
                         [("x", _f(rng, 2, 3, n)), ("skip", _f(rng, 2, 3, n)), ("gamma", _f(rng, n)),
                          ("bias", _f(rng, n) if with_bias else None)], {"gamma", "bias"}, outputs=(0, 3),
                         epsilon=1e-6)
    _check(model, feed)


@pytest.mark.parametrize("n", ROWS)
def test_skip_layer_norm(n):
    rng = np.random.default_rng(n)
    model, feed = _model("SkipLayerNormalization",
                         [("x", _f(rng, 2, 3, n)), ("skip", _f(rng, 2, 3, n)), ("gamma", _f(rng, n)),
                          ("beta", _f(rng, n)), ("bias", _f(rng, n))], {"gamma", "beta", "bias"}, outputs=(0, 1, 2, 3),
                         epsilon=1e-6)
    _check(model, feed)


def _nbits(rng, n, k, bits, block):
    blocks = -(-k // block)
    q = rng.integers(0, 1 << bits, (n, blocks * block), dtype=np.uint8)
    per = 8 // bits
    packed = np.zeros((n, blocks * block // per), np.uint8)
    for j in range(per):
        packed |= (q[:, j::per] << (j * bits)).astype(np.uint8)
    zp_bytes = -(-blocks * bits // 8)
    zq = rng.integers(0, 1 << bits, (n, zp_bytes * per), dtype=np.uint8)
    zp = np.zeros((n, zp_bytes), np.uint8)
    for j in range(per):
        zp |= (zq[:, j::per] << (j * bits)).astype(np.uint8)
    scales = (rng.random((n, blocks)) * 0.02 + 0.001).astype(np.float32)
    return packed.reshape(n, blocks, block * bits // 8), scales.reshape(-1), zp.reshape(-1)


@pytest.mark.parametrize("m,k,n,bits,block", [(1, 64, 48, 4, 32), (3, 96, 40, 4, 16), (8, 128, 64, 4, 64),
                                              (1, 256, 96, 4, 128), (5, 80, 33, 8, 16), (17, 64, 24, 8, 32),
                                              (2, 200, 16, 4, 32)])
@pytest.mark.parametrize("with_zero_points", [False, True])
@pytest.mark.parametrize("accuracy_level", [0, 4])
def test_matmul_nbits(m, k, n, bits, block, with_zero_points, accuracy_level):
    """B, its scales and zero points pre-packed as ONNX Runtime's own session does (fed, they differ). At
    accuracy_level 4 ONNX Runtime quantizes A to 8 bits per block, and so does the NumPy kernel."""
    rng = np.random.default_rng(m * k + n)
    packed, scales, zp = _nbits(rng, n, k, bits, block)
    model, feed = _model("MatMulNBits", [("a", _f(rng, 2, m, k)), ("b", packed), ("scales", scales),
                                         ("zp", zp if with_zero_points else None)], {"b", "scales", "zp"},
                         K=k, N=n, bits=bits, block_size=block, accuracy_level=accuracy_level)
    _check(model, feed)


@pytest.mark.parametrize("interleaved", [0, 1])
@pytest.mark.parametrize("head,rotary", [(16, 0), (24, 0), (20, 20), (32, 16), (40, 24), (64, 0)])
def test_rotary_embedding(interleaved, head, rotary):
    rng = np.random.default_rng(head + rotary)
    heads, seq, max_len = 3, 5, 16
    half = (rotary or head) // 2
    angles = rng.random((max_len, half)).astype(np.float32) * 6
    model, feed = _model("RotaryEmbedding",
                         [("x", _f(rng, 2, seq, heads * head)), ("pos", rng.integers(0, max_len, (2, seq))),
                          ("cos", np.cos(angles)), ("sin", np.sin(angles))], {"cos", "sin"},
                         interleaved=interleaved, num_heads=heads, rotary_embedding_dim=rotary)
    _check(model, feed)


GQA_CASES = {  # name: (attributes, prompt length, past length)
    "prompt": (dict(), 6, 0),
    "token": (dict(), 1, 9),
    "rotary": (dict(do_rotary=1), 5, 0),
    "rotary_token": (dict(do_rotary=1, rotary_interleaved=1), 1, 7),
    "softcap": (dict(softcap=2.0), 6, 0),
    "softcap_token": (dict(softcap=3.0), 1, 11),
    "window": (dict(local_window_size=3), 7, 0),
    "smooth_token": (dict(smooth_softmax=1), 1, 6),
}


@pytest.mark.parametrize("case", sorted(GQA_CASES))
def test_group_query_attention(case):
    attrs, s, past = GQA_CASES[case]
    rng = np.random.default_rng(len(case))
    heads, kv_heads, head, max_len = 4, 2, 16, 16
    angles = rng.random((max_len, head // 2)).astype(np.float32) * 6
    rotary = attrs.get("do_rotary")
    total = past + s
    model, feed = _model(
        "GroupQueryAttention",
        [("q", _f(rng, 1, s, heads * head)), ("k", _f(rng, 1, s, kv_heads * head)), ("v", _f(rng, 1, s, kv_heads * head)),
         ("past_k", _f(rng, 1, kv_heads, max_len, head)), ("past_v", _f(rng, 1, kv_heads, max_len, head)),
         ("seqlens_k", np.array([total - 1], np.int32)), ("total", np.array(total, np.int32)),
         ("cos", np.cos(angles) if rotary else None), ("sin", np.sin(angles) if rotary else None)],
        {"cos", "sin"}, outputs=(0, 1, 2), num_heads=heads, kv_num_heads=kv_heads, **attrs)
    _check(model, feed)


# causal_prompt pads the first two keys: its first two query rows see no key at all (ONNX Runtime's rows of
# -10000-filtered scores, which the NumPy kernel reproduces: tests/ops/test_mha_masks.py).
MHA_CASES = {  # name: (attributes, query length, past length, with key padding mask, with bias)
    "flash": (dict(), 6, 0, False, False),
    "causal_past": (dict(unidirectional=1), 1, 9, True, False),
    "causal_prompt": (dict(unidirectional=1), 7, 0, True, True),
    "bias": (dict(), 5, 0, False, True),
}


@pytest.mark.parametrize("case", sorted(MHA_CASES))
def test_multi_head_attention(case):
    attrs, s, past, masked, biased = MHA_CASES[case]
    rng = np.random.default_rng(len(case))
    heads, head = 2, 16
    hidden = heads * head
    total = s + past
    mask = np.ones((1, total), np.int32)
    mask[0, :2] = 0
    inputs = [("q", _f(rng, 1, s, hidden)), ("k", _f(rng, 1, s, hidden)), ("v", _f(rng, 1, s, hidden)),
              ("bias", _f(rng, 3 * hidden) if biased else None), ("mask", mask if masked else None),
              ("attn_bias", None), ("past_k", _f(rng, 1, heads, past, head) if past else None),
              ("past_v", _f(rng, 1, heads, past, head) if past else None)]
    model, feed = _model("MultiHeadAttention", inputs, {"bias"}, outputs=(0, 1, 2) if past else (0,), num_heads=heads,
                         **attrs)
    _check(model, feed)


@pytest.mark.parametrize("op,extra", [("Gelu", None), ("BiasGelu", "b"), ("FastGelu", None), ("FastGelu", "b"),
                                      ("QuickGelu", None)])
@pytest.mark.parametrize("n", [1, 7, 16, 37, 100, 1000])
def test_gelu_family(op, extra, n):
    rng = np.random.default_rng(n)
    inputs = [("x", _f(rng, 3, n, scale=4.0))] + ([(extra, _f(rng, n))] if extra else [])
    model, feed = _model(op, inputs, {"b"})
    _check(model, feed)


def test_every_contrib_op_of_the_table_is_tested():
    tested = {"SimplifiedLayerNormalization", "SkipSimplifiedLayerNormalization", "SkipLayerNormalization",
              "MatMulNBits", "RotaryEmbedding", "GroupQueryAttention", "MultiHeadAttention", "Gelu", "BiasGelu",
              "FastGelu", "QuickGelu"}
    assert ORT_OPS[MS] | {"SimplifiedLayerNormalization"} <= tested


def _ort_pipeline(folder):
    """The parts as ONNX Runtime's own sessions (a user's: the default optimisation level) chained by the
    project's Pipeline, as benchmarks/llm.py does."""
    import glob  # noqa: PLC0415
    from simulator.pipeline import Pipeline  # noqa: PLC0415
    return Pipeline([_ort_session(f) for f in sorted(glob.glob(os.path.join(folder, "layer_*.onnx")))])


def _decoder(layout, tmp_path_factory):
    if layout == "shipped":
        return os.path.join(ROOT, "examples", "small_decoder")
    from tests.test_pipeline import _maker  # noqa: PLC0415 - the example decoder's maker, loaded once there

    return _maker().make(str(tmp_path_factory.mktemp("dec") / layout), layout)


@pytest.mark.parametrize("layout", ["shipped", "growing", "gqa"])
def test_small_decoder_generates_onnxruntimes_float_logits(layout, tmp_path_factory):
    """Prompt and token steps (MultiHeadAttention or GroupQueryAttention with rotary, SimplifiedLayerNormalization,
    FastGelu, MatMuls of one row): every step's logits ONNX Runtime's bytes, which NumPy mode's are not."""
    from simulator.generation import Generator  # noqa: PLC0415
    from simulator.pipeline import Pipeline  # noqa: PLC0415
    folder = _decoder(layout, tmp_path_factory)
    graphs = [os.path.join(folder, g) for g in ("prompt", "token")]
    want = Generator(*map(_ort_pipeline, graphs)).generate([5, 17, 33, 2, 9], 8)
    got = Generator(*(Pipeline.load(g, quantized=False, kernels="onnxruntime", ort_threads=THREADS)
                      for g in graphs)).generate([5, 17, 33, 2, 9], 8)
    ref = Generator(*(Pipeline.load(g, quantized=False) for g in graphs)).generate([5, 17, 33, 2, 9], 8)
    assert got.tokens == want.tokens and len(got.logits) == len(want.logits) == 8
    for step, (g, w) in enumerate(zip(got.logits, want.logits)):
        assert g.tobytes() == w.tobytes(), f"step {step}: {np.count_nonzero(g != w)} of {w.size} logits differ"
    assert any(r.tobytes() != w.tobytes() for r, w in zip(ref.logits, want.logits))  # what the mode is for
    assert ref.tokens == want.tokens


def test_small_decoder_generates_quantized_in_onnxruntime_mode():
    """The quantized parts (AIMET's session: weights fed) generate the same tokens as NumPy mode."""
    from simulator.generation import Generator  # noqa: PLC0415
    from simulator.pipeline import Pipeline  # noqa: PLC0415
    graphs = [os.path.join(ROOT, "examples", "small_decoder", g) for g in ("prompt", "token")]
    got = Generator(*(Pipeline.load(g, kernels="onnxruntime", ort_threads=THREADS) for g in graphs)).generate([5, 17, 33], 6)
    ref = Generator(*(Pipeline.load(g) for g in graphs)).generate([5, 17, 33], 6)
    assert got.tokens == ref.tokens and len(got.logits) == 6
    assert all(np.abs(g - r).max() <= 0.05 * np.abs(r).max() for g, r in zip(got.logits, ref.logits))


def test_held_constants_are_only_those_no_feed_or_encoding_replaces(tmp_path):
    """A float run holds a MatMul's weight in its session, but not one a feed may override (an initializer
    that is also a graph input), and a quantized run feeds the weight's quantized value."""
    rng = np.random.default_rng(3)
    w, x, w2 = _f(rng, 8, 4), _f(rng, 1, 8), _f(rng, 8, 4)
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", FLOAT, [1, 8]),
                               helper.make_tensor_value_info("w", FLOAT, [8, 4])],
                              [helper.make_tensor_value_info("y", FLOAT, [1, 4])], [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    sess = InferenceSession(model.SerializeToString(), kernels="onnxruntime", ort_threads=THREADS)
    assert sess.run(None, {"x": x, "w": w2})[0].tobytes() == _ort_session(model.SerializeToString()).run(
        None, {"x": x, "w": w2})[0].tobytes()
    assert sess.run(None, {"x": x})[0].tobytes() == _ort_session(model.SerializeToString()).run(None, {"x": x})[0].tobytes()
    import json  # noqa: PLC0415
    enc = tmp_path / "m.encodings"
    enc.write_text(json.dumps({"version": "1.0.0", "activation_encodings": [], "param_encodings": [
        {"name": "w", "dtype": "INT", "enc_type": "PER_TENSOR", "is_sym": True, "bw": 4, "scale": [0.25],
         "offset": [-8]}]}))
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    quant = InferenceSession(str(path), str(enc), kernels="onnxruntime", ort_threads=THREADS)
    wq = quant.run(["w"], {"x": x})[0]
    assert not np.array_equal(wq, w)
    np.testing.assert_allclose(quant.run(["y"], {"x": x})[0], x @ wq, rtol=1e-5, atol=1e-6)
