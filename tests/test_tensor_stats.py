"""What a comparison records per tensor (ranges, clipping against the grid, histograms, per-channel weight
ranges), that JSON, CSV and text carry it, and the plain page when Plotly is absent."""
import json
import os

import numpy as np
import pytest

from simulator import report, report_html
from simulator.api import Simulator
from simulator.errors import ParameterError
from simulator.schema.base import LayerwiseCheckerParameters
from simulator.tensor_stats import HIST_BINS, MAX_CHANNELS, TensorStats, _grouped
from tests.conftest import ROOT

EXAMPLE = os.path.join(ROOT, "examples", "tiny_cnn")


def test_clipping_share_ranges_and_histograms():
    ts = TensorStats()
    ref = np.linspace(-2, 2, 1001, dtype=np.float32)
    grid = (np.float64(-1.0), np.float64(1.0))
    ts.update(ref, np.clip(ref, -1, 1), ref, grid)
    ts.update(ref * 0.5, np.clip(ref * 0.5, -1, 1), ref * 0.5, grid)  # inside the grid: clips nothing
    d = ts.to_dict()
    outside = np.count_nonzero(np.abs(ref) > 1)
    assert d["clipped_share"] == pytest.approx(outside / 2002)
    assert d["observed_range"] == [-2.0, 2.0] and d["grid_range"] == [-1.0, 1.0]
    assert d["compared_range"] == [-1.0, 1.0]
    h = d["histogram"]
    assert len(h["reference"]) == len(h["compared"]) == HIST_BINS and h["samples"] == 2
    assert sum(h["reference"]) == 2002 and sum(h["compared"]) == 2002
    assert h["range"] == [-2.0, 2.0]
    assert h["reference"] == np.histogram(np.concatenate([ref, ref * 0.5]), HIST_BINS, (-2, 2))[0].tolist()


def test_per_channel_grid_counts_each_channel_against_its_own_range():
    ts = TensorStats()
    x = np.array([[0.5, 1.5], [0.5, 1.5]], np.float32)  # channel 0 grid [0, 1], channel 1 grid [0, 2]
    grid = (np.zeros((2, 1)), np.array([[1.0], [2.0]]))
    ts.update(x, x, x, grid)
    assert ts.to_dict()["clipped_share"] == pytest.approx(0.25)


def test_constant_and_non_finite_tensors():
    ts = TensorStats()
    ts.update(np.full(10, 3.0, np.float32), np.full(10, 3.0, np.float32))
    assert sum(ts.to_dict()["histogram"]["reference"]) == 10
    ts = TensorStats()
    a = np.array([np.inf, -np.inf, np.nan, 1.0], np.float32)
    ts.update(a, a)
    assert ts.to_dict()["reference_range"] == [1.0, 1.0]
    ts = TensorStats()
    ts.update(np.arange(5), np.arange(5))  # integer tensors
    assert ts.to_dict()["reference_range"] == [0.0, 4.0]


def test_many_channels_are_grouped_keeping_the_envelope():
    lo = np.arange(1000, dtype=np.float64)
    grouped = _grouped(lo, 4, np.min)
    assert len(grouped) == 250 and grouped[0] == 0 and grouped[-1] == 996
    assert len(_grouped(lo, -(-1000 // MAX_CHANNELS), np.max)) <= MAX_CHANNELS


@pytest.fixture(scope="module")
def example_result():
    return Simulator.compare_model_by_layer(LayerwiseCheckerParameters(
        input_model_path_0=f"{EXAMPLE}/model.onnx", input_model_path_1=f"{EXAMPLE}/model.onnx",
        input_encodings_path_1=f"{EXAMPLE}/model.encodings", input_data_path=f"{EXAMPLE}/data"))


def test_layerwise_records_weights_and_grids(example_result):
    d = example_result.to_dict()
    conv = next(layer for layer in d["layers"] if layer["layer"] == "/conv1/Conv_output_0")
    (w,) = conv["weights"]
    assert w["name"] == "conv1.weight" and w["axis"] == 0 and w["channels"] == 8 and len(w["min"]) == 8
    for lo, hi, gl, gh in zip(w["min"], w["max"], w["grid_min"], w["grid_max"]):
        step = (gh - gl) / 255  # 8-bit: the encoding covers the weight's range to within a step
        assert gl - step <= lo and hi <= gh + step and gh - gl <= 2 * max(-lo, hi) + 2 * step
    assert all(a <= b for a, b in zip(w["min"], w["max"]))
    relu = next(layer for layer in d["layers"] if layer["layer"] == "/relu1/Relu_output_0")
    t = relu["tensor"]
    assert t["grid_range"][0] == 0.0 and 0 <= t["clipped_share"] < 0.01 and t["histogram"]["samples"] == 4
    assert not any(layer["constant"] for layer in d["layers"])
    json.loads(example_result.to_json())  # strict JSON


def test_csv_and_text_carry_the_tensor_fields(example_result):
    rows = example_result.to_csv().splitlines()
    head = rows[0].split(",")
    assert {"clipped_share", "observed_min", "observed_max", "grid_min", "grid_max"} <= set(head)
    relu = next(r.split(",") for r in rows[1:] if ",/relu1/Relu_output_0," in r)
    d = next(layer for layer in example_result.to_dict()["layers"] if layer["layer"] == "/relu1/Relu_output_0")
    assert float(relu[head.index("clipped_share")]) == d["tensor"]["clipped_share"]
    assert float(relu[head.index("grid_max")]) == d["tensor"]["grid_range"][1]
    text = str(example_result)
    assert "clipped" in text.splitlines()[5]


def test_plain_page_without_plotly(example_result, monkeypatch):
    monkeypatch.setattr(report_html, "plotly_js", lambda: None)
    page = example_result.to_html()
    assert "<svg" in page and "Plotly" not in page
    with pytest.raises(ParameterError, match=r"pip install 'onnx-quant-simulator\[report\]'"):
        example_result.to_html(interactive=True)


def test_interactive_page_embeds_the_result():
    pytest.importorskip("plotly")
    d = {"kind": "inference", "metric": {"name": "snr", "unit": "dB", "formula": "f", "higher_is_better": True,
                                         "direction": "higher is better", "threshold": 30.0},
         "models": [], "outputs": [], "passed": True, "samples": {}, "note": "</script><b>"}
    page = report.to_html(d)
    assert page.count("</script>") == page.count("<script")  # the data cannot close its script element
    assert "Plotly" in page and "report-data" in page
