"""Whole models against ONNX Runtime: the onnx package's light model zoo and a small transformer."""
import glob
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from simulator.session import InferenceSession

ort = pytest.importorskip("onnxruntime")

LIGHT = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
LIGHT_MODELS = sorted(glob.glob(os.path.join(LIGHT, "light_*.onnx")))


def _ort(model_or_path, feeds, names=None):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    src = model_or_path if isinstance(model_or_path, str) else model_or_path.SerializeToString()
    return ort.InferenceSession(src, so, providers=["CPUExecutionProvider"]).run(names, feeds)


def _light_feeds(model, name):
    from onnx.backend.test.runner import Runner

    inits = {i.name for i in model.graph.initializer}
    return {x.name: Runner.generate_dummy_data(x, seed=0, name=name, random=False)
            for x in model.graph.input if x.name not in inits}


@pytest.mark.skipif(not LIGHT_MODELS, reason="the installed onnx package ships no light model zoo")
@pytest.mark.parametrize("path", LIGHT_MODELS, ids=lambda p: os.path.basename(p)[6:-5])
def test_light_zoo_matches_expected_output(path):
    name = os.path.basename(path)[6:-5]
    model = onnx.load(path)
    feeds = _light_feeds(model, name)
    last = model.graph.node[-1]
    # The logits feeding the final Softmax are compared against ONNX Runtime; the expected output file
    # is compared as onnx's backend runner does (rtol 1e-3, atol 1e-7). SqueezeNet's dummy weights
    # drive its logits to ~1e10, where one-ulp differences in Conv decide which of the 1,000 softmax
    # outputs are 0, so only its logits can be compared.
    logits_name = last.input[0] if last.op_type == "Softmax" else last.output[0]
    session = InferenceSession(path)
    out, logits = session.run([model.graph.output[0].name, logits_name], feeds)
    onnx.checker.check_model(model)
    vi = {v.name: v for v in onnx.shape_inference.infer_shapes(model).graph.value_info}
    model.graph.output.append(vi.get(logits_name) or helper.make_empty_tensor_value_info(logits_name))
    ref_out, ref_logits = _ort(model, feeds, [model.graph.output[0].name, logits_name])
    np.testing.assert_allclose(logits, ref_logits, rtol=1e-5, atol=1e-6)
    if name != "squeezenet":
        expected = numpy_helper.to_array(onnx.load_tensor(path[:-5] + "_output_0.pb"))
        np.testing.assert_allclose(out, expected, rtol=1e-3, atol=1e-7)


def _transformer_model(vocab=50, d=32, heads=4, seq=8):
    rng = np.random.default_rng(7)

    def w(name, *shape, s=0.1):
        return numpy_helper.from_array((rng.standard_normal(shape) * s).astype(np.float32), name)

    def c(name, value, dtype=np.int64):
        return numpy_helper.from_array(np.array(value, dtype=dtype), name)

    hd = d // heads
    inits = [w("emb", vocab, d, s=1.0), w("pos", seq, d, s=0.5), w("ln_w", d, s=1.0), w("ln_b", d),
             w("wqkv", d, 3 * d), w("bqkv", 3 * d), w("wo", d, d), w("w1", d, 4 * d), w("w2", 4 * d, d),
             c("split3", [d, d, d]), c("heads_shape", [1, seq, heads, hd]), c("merge_shape", [1, seq, d]),
             c("axes0", [0]), c("scale", 1.0 / np.sqrt(hd), np.float32), c("neg", -1e9, np.float32),
             c("one", 1.0, np.float32), c("half", 0.5, np.float32), c("sqrt2", np.sqrt(2.0), np.float32)]
    n = helper.make_node
    nodes = [
        n("Gather", ["emb", "ids"], ["tok"], axis=0),
        n("Add", ["tok", "pos"], ["x0"]),
        n("LayerNormalization", ["x0", "ln_w", "ln_b"], ["x1"], axis=-1, epsilon=1e-5),
        n("MatMul", ["x1", "wqkv"], ["qkv0"]), n("Add", ["qkv0", "bqkv"], ["qkv"]),
        n("Split", ["qkv", "split3"], ["q", "k", "v"], axis=-1),
        n("Reshape", ["q", "heads_shape"], ["q4"]), n("Transpose", ["q4"], ["qh"], perm=[0, 2, 1, 3]),
        n("Reshape", ["k", "heads_shape"], ["k4"]), n("Transpose", ["k4"], ["kt"], perm=[0, 2, 3, 1]),
        n("Reshape", ["v", "heads_shape"], ["v4"]), n("Transpose", ["v4"], ["vh"], perm=[0, 2, 1, 3]),
        n("MatMul", ["qh", "kt"], ["s0"]), n("Mul", ["s0", "scale"], ["s1"]),
        n("Cast", ["mask"], ["maskb"], to=TensorProto.BOOL), n("Unsqueeze", ["maskb", "axes0"], ["mask3"]),
        n("Where", ["mask3", "s1", "neg"], ["s2"]),
        n("Softmax", ["s2"], ["p"], axis=-1), n("MatMul", ["p", "vh"], ["o4"]),
        n("Transpose", ["o4"], ["o3"], perm=[0, 2, 1, 3]), n("Reshape", ["o3", "merge_shape"], ["o"]),
        n("MatMul", ["o", "wo"], ["attn"]), n("Add", ["x0", "attn"], ["x2"]),
        n("ReduceMean", ["x2"], ["mu"], axes=[-1]), n("Sub", ["x2", "mu"], ["xc"]),
        n("Pow", ["xc", "sqrt2"], ["xc2"]), n("ReduceMean", ["xc2"], ["var"], axes=[-1]),
        n("Sqrt", ["var"], ["sd"]), n("Div", ["xc", "sd"], ["xn"]),
        n("MatMul", ["xn", "w1"], ["h0"]), n("Div", ["h0", "sqrt2"], ["h1"]), n("Erf", ["h1"], ["h2"]),
        n("Add", ["h2", "one"], ["h3"]), n("Mul", ["h0", "h3"], ["h4"]), n("Mul", ["h4", "half"], ["h5"]),
        n("MatMul", ["h5", "w2"], ["ff"]), n("Add", ["x2", "ff"], ["y0"]),
        n("Tanh", ["y0"], ["y1"]), n("Sigmoid", ["y1"], ["y2"]),
        n("ReduceMax", ["y2"], ["ymax"], axes=[-1], keepdims=0),
        n("Concat", ["y2", "y2"], ["y3"], axis=-1), n("Slice", ["y3", "s_start", "s_end", "s_axes"], ["y"]),
    ]
    inits += [c("s_start", [1]), c("s_end", [2 * d - 1]), c("s_axes", [2])]
    graph = helper.make_graph(
        nodes, "tiny_transformer",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, [1, seq]),
         helper.make_tensor_value_info("mask", TensorProto.INT64, [seq, seq])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, seq, 2 * d - 2]),
         helper.make_tensor_value_info("ymax", TensorProto.FLOAT, [1, seq])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_small_transformer_matches_onnxruntime(tmp_path):
    model = _transformer_model()
    onnx.checker.check_model(model)
    path = str(tmp_path / "t.onnx")
    onnx.save(model, path)
    rng = np.random.default_rng(0)
    feeds = {"ids": rng.integers(0, 50, (1, 8)).astype(np.int64), "mask": np.tril(np.ones((8, 8), np.int64))}
    ours = InferenceSession(path).run(None, feeds)
    ref = _ort(path, feeds)
    for a, b in zip(ours, ref):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
