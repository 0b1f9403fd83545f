"""simulator inspect: every encoded tensor of the file and no other, in graph order; totals; warnings."""
import json
import os

import pytest

from simulator.cli import main
from simulator.tools.inspect import inspect_encodings
from tests.conftest import GOLDEN, golden_cases, require_golden


def _file_names(path):
    d = json.load(open(path))
    if "encodings" in d:
        return [e["name"] for e in d["encodings"]]
    names = []
    for section in ("activation_encodings", "param_encodings"):
        entries = d.get(section) or []
        names += list(entries) if isinstance(entries, dict) else [e["name"] for e in entries]
    return names


@pytest.mark.parametrize("case", golden_cases() or ["<none>"])
def test_lists_every_encoded_tensor_of_the_file_and_no_other(case):
    require_golden()
    folder = os.path.join(GOLDEN, case)
    enc_path = os.path.join(folder, "model.encodings")
    report = inspect_encodings(os.path.join(folder, "model.onnx"), enc_path)
    listed = [r.name for r in report.encoded]
    assert sorted(listed) == sorted(_file_names(enc_path))
    assert len({r.name for r in report.rows}) == len(report.rows)
    assert [r.index for r in report.rows] == list(range(len(report.rows)))
    assert not report.unknown
    assert not [w for w in report.warnings if w.code in ("unknown-tensor", "updated-suffix", "channel-count",
                                                         "float-gap", "not-float")]
    assert sum(t["params"] + t["activations"] for t in report.totals.values()) == len(listed)
    encoded = {r.name for r in report.encoded}
    assert set(report.unencoded).isdisjoint(encoded)
    for r in report.encoded:  # each encoding described
        assert r.encoding.label and r.encoding.bitwidth in (4, 8, 16, 32)


def _case(name="cnn_residual__w8a8__v0.6.1"):
    return os.path.join(GOLDEN, name)


def _write(tmp_path, d):
    p = tmp_path / "e.encodings"
    p.write_text(json.dumps(d))
    return str(p)


def test_warnings_name_the_suspicious_tensor(tmp_path):
    require_golden()
    folder = _case()
    d = json.load(open(os.path.join(folder, "model.encodings")))
    act, par = d["activation_encodings"], d["param_encodings"]
    act["/Relu_1_output_0_updated"] = act.pop("/Relu_1_output_0")  # exists only with the suffix
    del act["/c2/Conv_output_0"]  # left float between the encoded /Relu_output_0 and /Relu_1_output_0... via Add
    act["/ReduceMean_output_0"][0]["scale"] = 1e-6  # far too small for the observed range
    act["output"][0].update(scale=10.0, offset=0.0)  # far too large
    par["onnx::Conv_32"] = par["onnx::Conv_32"] * 5  # 5 channel scales for 16 channels
    act["not_a_tensor"] = act["input"]
    report = inspect_encodings(os.path.join(folder, "model.onnx"), _write(tmp_path, d), os.path.join(folder, "data"))
    codes = {(w.code, w.tensor) for w in report.warnings}
    assert ("updated-suffix", "/Relu_1_output_0_updated") in codes
    assert ("float-gap", "/c2/Conv_output_0") in codes
    assert ("clipping", "/ReduceMean_output_0") in codes
    assert ("coarse-grid", "output") in codes
    assert ("float-run", "*") in codes  # the 5 channel scales do not bind: ranges observed on the float model
    assert ("channel-count", "onnx::Conv_32") in codes
    assert ("unknown-tensor", "not_a_tensor") in codes and report.unknown == ["not_a_tensor"]
    assert report.samples == 3
    row = next(r for r in report.rows if r.name == "/ReduceMean_output_0")
    assert row.outside_fraction > 0.5 and row.observed_max > row.encoding.grid_max
    table = report.format_table()
    assert "warning [float-gap] /c2/Conv_output_0" in table and "8-bit" in table


def test_no_encodings_lists_the_model(tmp_path):
    require_golden()
    folder = _case()
    report = inspect_encodings(os.path.join(folder, "model.onnx"))
    assert not report.encoded and report.rows[0].name == "input" and report.rows[0].shape == [1, 3, 32, 32]
    assert [r.name for r in report.rows][-1] in ("output", "fc.bias")


def test_cli_inspect_table_and_json(tmp_path, capsys):
    require_golden()
    folder = _case("transformer_block__w8a16_mixed_fp16__v1.0.0")
    model, enc = os.path.join(folder, "model.onnx"), os.path.join(folder, "model.encodings")
    assert main(["inspect", model, "-e", enc, "--encoded-only"]) == 0
    out = capsys.readouterr().out
    assert "float16" in out and "int8 sym per-channel[96]" in out and "totals:" in out
    path = tmp_path / "r.json"
    assert main(["inspect", model, "-e", enc, "--json", str(path)]) == 0
    d = json.load(open(path))
    assert d["version"] == "1.0.0" and d["totals"]["float16"]["activations"] == 3
    assert sum(1 for r in d["rows"] if r["encoding"]) == len(_file_names(enc))
    assert main(["inspect", model, "-e", os.path.join(folder, "nope.encodings")]) == 2
