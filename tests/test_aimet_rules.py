"""AIMET's encoding rules that the deep golden cases exposed: LPBQ block scales formed in float64 and
rounded once, and the blockwise layout AIMET writes in 0.6.1 files."""
import json
import os

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from simulator.encodings import parse_encodings
from simulator.interpreter import Interpreter
from simulator.tools.convert import convert_encodings
from tests.conftest import SHARED

DEEP = os.path.join(SHARED, "conformance", "aimet_deep")
f32 = np.float32

# A per-channel float scale for which the two orders differ: float32(3 * s) in float64 is 0.02866252,
# float32(3) * float32(s) in float32 is 0.028662518.
FLOAT_SCALE = 0.009554173266933419
INT_SCALES = [3, 1, 2, 3]  # (channel, block): 2 channels x 2 blocks


def _matmul_model(weight):
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, weight.shape[0]])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(weight, "w")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _lpbq_files():
    scales = [FLOAT_SCALE, 0.004]
    v100 = {"version": "1.0.0", "activation_encodings": [], "param_encodings": [
        {"name": "w", "bw": 8, "compressed_bw": 4, "dtype": "INT", "enc_type": "LPBQ", "is_sym": True,
         "block_size": 2, "scale": scales, "offset": [-128.0, -128.0], "per_block_int_scale": INT_SCALES}]}
    v200 = {"version": "2.0.0", "encodings": [
        {"name": "w", "output_dtype": "int4", "axis": 0, "block_size": 2, "y_zero_point": 0,
         "per_block_int_scale": np.reshape(INT_SCALES, (2, 2)).T.tolist(),  # [in/block, out] for a MatMul
         "per_channel_float_scale": [scales]}]}
    return {"1.0.0": v100, "2.0.0": v200}


@pytest.mark.parametrize("version", ["1.0.0", "2.0.0"])
def test_lpbq_block_scale_is_the_float64_product_rounded_once(version):
    assert f32(3 * FLOAT_SCALE) != f32(3) * f32(FLOAT_SCALE)  # the constructed values tell the orders apart
    enc = parse_encodings(_lpbq_files()[version]).encodings["w"]
    w = np.linspace(-0.1, 0.1, 8, dtype=f32).reshape(4, 2)  # MatMul [in 4, out 2]: blocks of 2 inputs
    interp = Interpreter(_matmul_model(w), parse_encodings(_lpbq_files()[version]))
    q = interp.param_quantizers["w"]
    block = np.array([[3 * FLOAT_SCALE, 2 * 0.004], [1 * FLOAT_SCALE, 3 * 0.004]]).astype(f32)  # [in/2, out]
    np.testing.assert_array_equal(q.scale, np.repeat(block, 2, axis=0))
    assert q.scale[0, 0] == f32(0.02866252) and enc.bitwidth == 4
    # the simulated weight sits on that grid: scale x an integer in [-8, 7]
    np.testing.assert_array_equal(interp.constants["w"], q.scale * np.clip(np.floor(w / q.scale + f32(0.5)), -8, 7))


def _flat_061(scales_in_out):
    """AIMET's 0.6.1 blockwise entry: one flat list, n_blocks x n_channels, the weight's own axis order."""
    return [{"bitwidth": 4, "dtype": "int", "is_symmetric": "True", "offset": -8.0, "scale": float(s),
             "min": -8.0 * float(s), "max": 7.0 * float(s)} for s in np.asarray(scales_in_out).reshape(-1)]


def test_061_blockwise_list_is_laid_out_in_the_weight_axis_order():
    rng = np.random.default_rng(3)
    w = rng.standard_normal((8, 3)).astype(f32)  # MatMul [in 8, out 3]; blocks of 4 -> scales [2, 3]
    block = (np.abs(w).reshape(2, 4, 3).max(axis=1) / 7).astype(f32)
    enc = {"version": "0.6.1", "activation_encodings": {}, "param_encodings": {"w": _flat_061(block)}}
    interp = Interpreter(_matmul_model(w), parse_encodings(enc))
    scale = np.repeat(block, 4, axis=0)
    np.testing.assert_array_equal(interp.param_quantizers["w"].scale, scale)
    np.testing.assert_array_equal(interp.constants["w"], scale * np.clip(np.floor(w / scale + f32(0.5)), -8, 7))
    # a list that is neither per channel nor whole blocks names the tensor
    from simulator.errors import EncodingsError
    bad = {"version": "0.6.1", "activation_encodings": {}, "param_encodings": {"w": _flat_061(np.ones(9) * 0.01)}}
    with pytest.raises(EncodingsError, match=r"tensor 'w'.*9 scales"):
        Interpreter(_matmul_model(w), parse_encodings(bad))


def _case(name):
    case = os.path.join(DEEP, name)
    if not os.path.isfile(os.path.join(case, "model.onnx")):
        pytest.skip(f"deep golden case not found: {case}")
    return case


def _outputs(case, encodings):
    from simulator.data import iter_samples
    from simulator.session import InferenceSession
    s = InferenceSession(os.path.join(case, "model.onnx"), encodings)
    return [(sample, s.run(None, feed)) for sample, feed in iter_samples(os.path.join(case, "data"), s.interpreter.inputs)]


def test_aimet_061_blockwise_decoder_simulates_and_round_trips(tmp_path):
    """AIMET's 0.6.1 file of a 4-bit blockwise decoder: the two MLP down projections [384, 96] hold 6 x 96
    entries. It simulates close to AIMET (the rest is float kernel ulps cascading; the transposed order
    gives 35 dB), and 0.6.1 -> 2.0.0 -> 0.6.1 keeps every bit."""
    case = _case("kv_decoder_prefill__w4a16_bw64_htp__v0.6.1")
    meta = json.load(open(os.path.join(case, "meta.json")))
    assert {n for n, w in meta["weights"].items() if w["scheme"] == "per_block"} == {"onnx::MatMul_270",
                                                                                     "onnx::MatMul_295"}
    ours = _outputs(case, os.path.join(case, "model.encodings"))
    signal = noise = 0.0
    for sample, values in ours:
        with np.load(os.path.join(case, "expected", f"{sample}.quant.npz")) as ref:
            for name, v in zip(meta["outputs"], values):
                signal += float(np.sum(ref[name].astype(np.float64) ** 2))
                noise += float(np.sum((v.astype(np.float64) - ref[name]) ** 2))
    assert 10 * np.log10(signal / noise) >= 80
    model = os.path.join(case, "model.onnx")
    v2 = convert_encodings(os.path.join(case, "model.encodings"), "2.0.0", model=model).data
    proj = next(e for e in v2["encodings"] if e["name"] == "onnx::MatMul_270")
    assert proj["block_size"] == 64 and np.shape(proj["y_scale"]) == (6, 96)
    blind = convert_encodings(os.path.join(case, "model.encodings"), "2.0.0")  # no model: cannot tell, says so
    assert any("without the model a blockwise list" in n for n in blind.notes)
    back = tmp_path / "back.encodings"
    convert_encodings(v2, "0.6.1", model=model, output=back)
    again = _outputs(case, str(back))
    for (_, a), (_, b) in zip(ours, again):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
