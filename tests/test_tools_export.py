"""simulator export: the QDQ model runs in ONNX Runtime and equals the simulator in rounding mode
onnxruntime_qdq: every quantizer bit for bit, and with ONNX Runtime's float kernels every output too."""
import json
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from simulator import data
from simulator.cli import main
from simulator.encodings import load_encodings, parse_encodings
from simulator.interpreter import Interpreter
from simulator.model import load_model
from simulator.quantization import HALF_AWAY_FROM_ZERO, ONNXRUNTIME_QDQ, Encoding, bind, fake_quantize
from simulator.tools.export_qdq import compare_with_simulator, export_qdq, run_onnxruntime
from tests.conftest import GOLDEN, golden_cases, require_golden

ort = pytest.importorskip("onnxruntime")


def _cases():
    return [c for c in golden_cases() if c.endswith("v1.0.0")] or ["<none>"]


@pytest.mark.parametrize("case", _cases())
def test_every_quantizer_equals_onnxruntime_bit_for_bit(case):
    require_golden()
    folder = os.path.join(GOLDEN, case)
    model = load_model(os.path.join(folder, "model.onnx"))
    enc = load_encodings(os.path.join(folder, "model.encodings"))
    exported = export_qdq(model, enc)
    qdq = exported.model
    assert set(exported.quantized) == set(enc.encodings)
    ops = {n.op_type for n in qdq.graph.node}
    assert "DequantizeLinear" in ops and "QuantizeLinear" in ops
    # ONNX Runtime's own float kernels (kernels="onnxruntime"): the outputs then depend on the quantizers alone,
    # not on the BLAS build, whose sums differ from MLAS's by an ulp that a 16-bit grid turns into a step.
    interp = Interpreter(model, enc, rounding=ONNXRUNTIME_QDQ, kernels="onnxruntime")
    acts = [n for n in enc.encodings if n not in interp.constants]
    probe = []  # (quantized name, the name of its input in the QDQ model)
    inputs = {i.name for i in qdq.graph.input}
    for n in acts:
        probe.append((n if n not in inputs else f"{n}_dq", n if n in inputs else f"{n}_prequant"))
    weights = [n for n in enc.encodings if n in interp.constants]
    outs = [o.name for o in qdq.graph.output]
    extra = sorted({x for pair in probe for x in pair} | set(weights) - set(outs))
    for n in extra:
        qdq.graph.output.append(onnx.ValueInfoProto(name=n))
    names = outs + extra
    same = total = 0
    for _, feed in data.iter_samples(os.path.join(folder, "data"), interp.inputs):
        got = dict(zip(names, run_onnxruntime(qdq, feed, names)))
        for q_name, in_name in probe:  # the simulator's quantizer on ONNX Runtime's own input
            ours = interp.quantize(q_name.removesuffix("_dq"), got[in_name])
            assert np.array_equal(ours, got[q_name], equal_nan=True), q_name
        for w in weights:
            assert np.array_equal(interp.constants[w], got[w]), w
        sim, _ = interp.run(feed, set(outs))
        for o in outs:
            same += int(np.count_nonzero(sim[o] == got[o]))
            total += sim[o].size
    assert same == total, f"{total - same} of {total} output elements differ from ONNX Runtime's QDQ model"


def _elementwise(tmp_path):
    """A model without matrix products (no BLAS order involved): x*c + x, Relu, Mul by a weight."""
    w = np.linspace(-1, 1, 16, dtype=np.float32).reshape(1, 16)
    nodes = [helper.make_node("Mul", ["x", "w"], ["m"]), helper.make_node("Add", ["m", "x"], ["a"]),
             helper.make_node("Relu", ["a"], ["r"]), helper.make_node("Mul", ["r", "w"], ["y"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 16])],
                          [numpy_helper.from_array(w, "w")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("bits", [(4, 8), (8, 8), (8, 16), (4, 16)])
def test_elementwise_model_equals_onnxruntime_exactly_and_aimet_rounding_does_not(bits):
    pbw, abw = bits
    model = _elementwise(None)
    s_act = 0.01
    enc = {"version": "1.0.0", "param_encodings": [
        {"name": "w", "bw": pbw, "dtype": "INT", "enc_type": "PER_TENSOR", "is_sym": True,
         "scale": [1 / (2 ** (pbw - 1) - 1)], "offset": [-(2.0 ** (pbw - 1))]}],
        "activation_encodings": [
            {"name": n, "bw": abw, "dtype": "INT", "enc_type": "PER_TENSOR", "is_sym": False,
             "scale": [s_act], "offset": [-(2.0 ** (abw - 1)) + 3]} for n in ("x", "m", "a", "r", "y")]}
    enc = parse_encodings(enc)
    qdq = export_qdq(model, enc).model
    # ties everywhere: multiples of half a step
    x = (np.arange(64, dtype=np.float32).reshape(4, 16) - 32) * np.float32(s_act / 2)
    got, = run_onnxruntime(qdq, {"x": x}, ["y"])
    sim, _ = Interpreter(model, enc, rounding=ONNXRUNTIME_QDQ).run({"x": x}, {"y"})
    assert np.array_equal(sim["y"], got)
    aimet, _ = Interpreter(model, enc, rounding=HALF_AWAY_FROM_ZERO).run({"x": x}, {"y"})
    assert not np.array_equal(aimet["y"], got)  # AIMET rounds ties away from zero, after the offset


def test_rounding_mode_is_quantizelinear_then_dequantizelinear():
    """The mode against ONNX Runtime's own QuantizeLinear/DequantizeLinear on a 16-bit grid with an offset,
    where rounding before or after the offset differs."""
    scale, zp = np.float32(3.0517578e-05), 32768
    x = (np.arange(-4000, 4000, dtype=np.float32) * np.float32(0.5) * scale).astype(np.float32)
    x = np.concatenate([x, np.array([np.nan, np.inf, -np.inf, 5.0, -5.0], np.float32)])
    g = helper.make_graph([helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
                           helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [x.size])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [x.size])],
                          [numpy_helper.from_array(np.array(scale), "s"),
                           numpy_helper.from_array(np.array(zp, np.uint16), "z")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)])
    m.ir_version = 10
    ref, = run_onnxruntime(m, {"x": x}, ["y"])
    enc = Encoding("x", "int", 16, np.array([scale]), np.array([-zp], np.float32))
    ours = fake_quantize(np, x, bind(enc, x.shape, rounding=ONNXRUNTIME_QDQ))
    assert np.array_equal(ours, ref)
    with np.errstate(invalid="ignore"):
        aimet = fake_quantize(np, x, bind(enc, x.shape))
    assert np.count_nonzero(aimet[:-5] != ref[:-5]) > 100


def test_float16_and_per_channel_export(tmp_path):
    require_golden()
    folder = os.path.join(GOLDEN, "transformer_block__w8a16_mixed_fp16__v0.6.1")
    out = tmp_path / "qdq.onnx"
    ex = export_qdq(os.path.join(folder, "model.onnx"), os.path.join(folder, "model.encodings"), out)
    m = onnx.load(out)
    casts = [n for n in m.graph.node if n.op_type == "Cast"]
    assert len(casts) == 6  # three float16 activations, a Cast pair each
    dq = {n.input[0]: n for n in m.graph.node if n.op_type == "DequantizeLinear"}
    assert any(a.name == "axis" and a.i == 1 for a in dq["onnx::MatMul_95_quantized"].attribute)
    assert max(o.version for o in m.opset_import if o.domain == "") == 21 and any("opset" in n for n in ex.notes)
    res = compare_with_simulator(os.path.join(folder, "model.onnx"), os.path.join(folder, "model.encodings"), m,
                                 os.path.join(folder, "data"))
    assert res["samples"] == 3 and res["identical"] >= 0.95 * res["elements"] and res["snr_db"] > 90


def test_cli_export(tmp_path, capsys):
    require_golden()
    folder = os.path.join(GOLDEN, "cnn_residual__w8a8_pc__v2.0.0")
    out = tmp_path / "qdq.onnx"
    assert main(["export", os.path.join(folder, "model.onnx"), "-e", os.path.join(folder, "model.encodings"),
                 "-o", str(out), "-d", os.path.join(folder, "data")]) == 0
    printed = capsys.readouterr()
    assert "30/30 output elements identical" in printed.out and "int32 bias" in printed.err
    bad = tmp_path / "bad.encodings"
    bad.write_text(json.dumps({"version": "1.0.0", "param_encodings": [], "activation_encodings": [
        {"name": "input", "bw": 6, "dtype": "INT", "enc_type": "PER_TENSOR", "scale": [0.1], "offset": [0.0]}]}))
    assert main(["export", os.path.join(folder, "model.onnx"), "-e", str(bad), "-o", str(out)]) == 2
    assert "tensor 'input'" in capsys.readouterr().err
