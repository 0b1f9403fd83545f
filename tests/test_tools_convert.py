"""simulator convert: every golden case, converted to each version that can express it (and back), simulates
bit for bit like the original; the written layouts are AIMET's; what a version cannot express is an error
naming the tensor."""
import json
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from simulator import data
from simulator.cli import main
from simulator.encodings import load_encodings, parse_encodings
from simulator.errors import EncodingsError, ParameterError
from simulator.interpreter import Interpreter
from simulator.model import load_model
from simulator.tools.convert import WRITE_VERSIONS, convert_encodings
from tests.conftest import GOLDEN, golden_cases, require_golden


def _all_values(model, enc, data_path=None, feeds=None):
    """Every tensor's value after its encoding, on every sample."""
    interp = Interpreter(model, enc)
    seen = {}

    def obs(name, value, raw):
        seen.setdefault(name, []).append(np.array(value, copy=True))

    samples = feeds if feeds is not None else [f for _, f in data.iter_samples(data_path, interp.inputs)]
    for feed in samples:
        interp.run(feed, set(), observer=obs)
    params = {n: np.asarray(v) for n, v in interp.constants.items()}
    return seen, params


def _same(a, b):
    (va, pa), (vb, pb) = a, b
    assert va.keys() == vb.keys() and pa.keys() == pb.keys()
    for k in va:
        for x, y in zip(va[k], vb[k]):
            assert np.array_equal(x, y, equal_nan=True), k
    for k in pa:
        assert np.array_equal(pa[k], pb[k], equal_nan=True), k


def _reparse(d):
    return parse_encodings(json.loads(json.dumps(d)))


@pytest.mark.parametrize("case", golden_cases() or ["<none>"])
def test_conversions_of_golden_cases_simulate_bit_for_bit(case):
    require_golden()
    folder = os.path.join(GOLDEN, case)
    model = load_model(os.path.join(folder, "model.onnx"))
    src = os.path.join(folder, "model.encodings")
    original = load_encodings(src)
    ref = _all_values(model, original, os.path.join(folder, "data"))
    has_float = any(e.is_float for e in original.encodings.values())
    for version in WRITE_VERSIONS:
        if has_float and version == "2.0.0":
            with pytest.raises(EncodingsError, match=r"tensor '.+'.*float16.*2\.0\.0"):
                convert_encodings(src, version, model=model)
            continue
        conv = convert_encodings(src, version, model=model)
        assert conv.data["version"] == version
        _same(ref, _all_values(model, _reparse(conv.data), os.path.join(folder, "data")))
        back = convert_encodings(json.loads(json.dumps(conv.data)), original.version, model=model)
        _same(ref, _all_values(model, _reparse(back.data), os.path.join(folder, "data")))


def _norm(entry):
    return {k: (np.float32(v).tolist() if k in ("scale", "y_scale") else v) for k, v in entry.items()
            if k not in ("min", "max")}


def test_written_layout_is_aimets():
    require_golden()
    case = os.path.join(GOLDEN, "transformer_block__w8a16_htp__v{}")
    model = os.path.join(case.format("0.6.1"), "model.onnx")
    src = os.path.join(case.format("0.6.1"), "model.encodings")
    gold = {v: json.load(open(os.path.join(case.format(v), "model.encodings"))) for v in WRITE_VERSIONS}
    # 1.0.0: the same sections, names in the same order, the same fields
    d = convert_encodings(src, "1.0.0", model=model).data
    for section in ("activation_encodings", "param_encodings"):
        assert [e["name"] for e in d[section]] == [e["name"] for e in gold["1.0.0"][section]]
        assert [_norm(e) for e in d[section]] == [_norm(e) for e in gold["1.0.0"][section]]
    assert d["quantizer_args"] == gold["1.0.0"]["quantizer_args"]
    # 0.6.1 from 1.0.0: the same per-channel lists; min/max within an ulp of AIMET's
    d = convert_encodings(os.path.join(case.format("1.0.0"), "model.encodings"), "0.6.1", model=model).data
    for section in ("activation_encodings", "param_encodings"):
        assert set(d[section]) == set(gold["0.6.1"][section])
        for name, channels in d[section].items():
            ref = gold["0.6.1"][section][name]
            assert [_norm(c) for c in channels] == [_norm(c) for c in ref]
            for c, r in zip(channels, ref):
                if c["dtype"] == "int":
                    assert np.float32(c["min"]) == pytest.approx(np.float32(r["min"]), rel=1e-6)
                    assert np.float32(c["max"]) == pytest.approx(np.float32(r["max"]), rel=1e-6)
    # 2.0.0: parameters first, signed weights with their axis, activations unsigned; the entries AIMET
    # writes beyond the simulated ones (int32 biases, derived data-movement copies) are the only difference
    d = convert_encodings(src, "2.0.0", model=model).data
    ours = {e["name"]: _norm(e) for e in d["encodings"]}
    theirs = {e["name"]: _norm(e) for e in gold["2.0.0"]["encodings"]}
    assert all(ours[n] == theirs[n] for n in ours)
    extra = {n for n in theirs if n not in ours and theirs[n]["output_dtype"] != "int32"}
    assert extra == {"ln2.weight"} | {n for n in theirs if n.startswith(("/Split", "/Reshape", "/Transpose"))}
    params = {"ln1.weight", "onnx::MatMul_95", "onnx::MatMul_115", "onnx::MatMul_116", "onnx::MatMul_117"}
    assert {e["name"] for e in d["encodings"][:5]} == params  # parameters first, as AIMET writes them
    assert ours["onnx::MatMul_95"]["axis"] == 1 and ours["/qkv/Add_output_0"]["output_dtype"] == "uint16"


def _blocked_model(tmp_path):
    rng = np.random.default_rng(0)
    w = rng.normal(size=(8, 4)).astype(np.float32)
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
                          [numpy_helper.from_array(w, "w")])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    # 1.0.0 PER_BLOCK: channel axis -1 (4 outputs), blocks of 4 along the 8 inputs, (out, in) order
    scales = (np.abs(w).reshape(2, 4, 4).max(axis=1).T.reshape(-1) / 7).tolist()
    enc = {"version": "1.0.0", "activation_encodings": [
        {"name": "x", "bw": 8, "dtype": "INT", "enc_type": "PER_TENSOR", "is_sym": False, "scale": [0.02],
         "offset": [-128.0]}],
        "param_encodings": [{"name": "w", "bw": 4, "dtype": "INT", "enc_type": "PER_BLOCK", "is_sym": True,
                             "block_size": 4, "scale": scales, "offset": [-8.0] * 8}]}
    return load_model(str(path)), enc, rng.normal(size=(2, 8)).astype(np.float32)


def test_per_block_converts_between_1_0_0_2_0_0_and_0_6_1(tmp_path):
    model, enc, x = _blocked_model(tmp_path)
    ref = _all_values(model, parse_encodings(enc), feeds=[{"x": x}])
    d = convert_encodings(enc, "2.0.0", model=model).data
    w = next(e for e in d["encodings"] if e["name"] == "w")
    assert w["output_dtype"] == "int4" and w["block_size"] == 4 and w["axis"] == 0
    assert np.asarray(w["y_scale"]).shape == (2, 4)
    _same(ref, _all_values(model, _reparse(d), feeds=[{"x": x}]))
    back = convert_encodings(json.loads(json.dumps(d)), "1.0.0", model=model).data
    assert [np.float32(s) for s in back["param_encodings"][0]["scale"]] == [np.float32(s) for s in
                                                                            enc["param_encodings"][0]["scale"]]
    _same(ref, _all_values(model, _reparse(back), feeds=[{"x": x}]))
    # 0.6.1: AIMET's flat list in the weight's own order, [in/4, out]; back to 2.0.0 unchanged (the model
    # tells the blocks from the channels).
    old = convert_encodings(json.loads(json.dumps(d)), "0.6.1", model=model).data
    flat = [np.float32(e["scale"]) for e in old["param_encodings"]["w"]]
    assert flat == [np.float32(s) for s in np.asarray(w["y_scale"]).reshape(-1)]
    _same(ref, _all_values(model, _reparse(old), feeds=[{"x": x}]))
    again = convert_encodings(json.loads(json.dumps(old)), "2.0.0", model=model).data
    assert next(e for e in again["encodings"] if e["name"] == "w") == w
    with pytest.raises(EncodingsError, match="tensor 'w'.*per-block.*0.6.1.*needs the model"):
        convert_encodings(enc, "0.6.1")


def test_errors_name_the_version_and_tensor(tmp_path):
    with pytest.raises(ParameterError, match="version '3.0.0'"):
        convert_encodings({"version": "1.0.0", "activation_encodings": [], "param_encodings": []}, "3.0.0")
    enc = {"version": "2.0.0", "encodings": [{"name": "a", "output_dtype": "bfloat16"}]}
    with pytest.raises(EncodingsError, match="tensor 'a'.*bfloat16.*0.6.1"):
        convert_encodings(enc, "0.6.1")


def test_cli_convert(tmp_path, capsys):
    require_golden()
    folder = os.path.join(GOLDEN, "seq_model__w8a8_pc__v2.0.0")
    out = tmp_path / "conv.encodings"
    assert main(["convert", os.path.join(folder, "model.encodings"), "--to", "0.6.1", "-o", str(out),
                 "-m", os.path.join(folder, "model.onnx")]) == 0
    assert load_encodings(out).version == "0.6.1"
    assert "int32 bias" in capsys.readouterr().err
    mixed = os.path.join(GOLDEN, "seq_model__w8a16_mixed_fp16__v1.0.0", "model.encodings")
    assert main(["convert", mixed, "--to", "2.0.0", "-o", str(out)]) == 2
    assert "float16" in capsys.readouterr().err
