"""`verify` on AIMET's own layer dumps (aimet_onnx LayerOutputUtil) of the deep golden cases: every layer
is checked in isolation, each quantized layer agrees within one step, and the verdict names the right layer."""
import csv
import io
import json
import os

import pytest

from simulator.api import Simulator
from simulator.cli import main
from simulator.compare import LayerRecord, LayerwiseCheckResult
from simulator.metrics import get_metric
from simulator.schema.base import FeaturemapVerifierParameters
from tests.conftest import SHARED

DEEP = os.path.join(SHARED, "conformance", "aimet_deep")
DUMPED = ["deep_resnet__w8a8_pc__v1.0.0", "kv_decoder_prefill__w8a16_htp__v1.0.0", "llama_block__w8a16_htp__v1.0.0"]


def _case(name):
    case = os.path.join(DEEP, name)
    if not os.path.isdir(os.path.join(case, "aimet_layer_outputs")):
        pytest.skip(f"AIMET layer dump not found: {case}/aimet_layer_outputs")
    return case


def _verify(case, **kw):
    return Simulator.verify_featuremaps(FeaturemapVerifierParameters(
        input_model_path=f"{case}/model.onnx", input_encodings_path=f"{case}/model.encodings",
        featuremap_path=f"{case}/aimet_layer_outputs", **kw))


@pytest.mark.parametrize("name", DUMPED)
def test_every_dumped_layer_is_checked_in_isolation_within_one_step(name):
    case = _case(name)
    res = _verify(case)
    names = json.load(open(f"{case}/aimet_layer_outputs/layer_output_name_order.json"))["layer_output_names"]
    assert len(res.layers) == len(names) and not res.unmatched  # every dumped file, quantized weights too
    for rec in res.layers:
        assert rec.note is None and rec.values, (rec.key, rec.note)  # read in its own dtype (int64, bool)
        if rec.op_type in ("Input", "Initializer"):
            continue
        assert rec.isolated_values, (rec.key, rec.isolated_note)  # none skipped for an undumped input
        if rec.isolated_steps.n:  # a quantized layer: AIMET's rules, given AIMET's inputs
            assert rec.isolated_steps.max <= 1.01, (rec.key, rec.isolated_steps.max)
            # and almost always bit-identical (a float32 sum an ulp off flips a step now and then; how often
            # depends on the BLAS kernels: 0.13% of a layer at most here, 0.33% with OPENBLAS_CORETYPE=Haswell)
            assert rec.isolated_same[0] >= 0.99 * rec.isolated_same[1], rec.key
    assert res.verdict == "pass" and res.passed
    if name.startswith("kv_decoder"):  # Linear layers dumped at their Add only: the MatMul is re-run first
        assert res.layer("/blocks.0/q/Add_output_0").isolated_rerun == ["node '/blocks.0/q/MatMul' (MatMul)"]
        assert res.layer("m.wte.weight").values  # a quantized constant of the dump


@pytest.mark.parametrize("name", DUMPED[1:])
def test_a_cascade_names_the_worst_isolated_layer(name):
    res = _verify(_case(name), threshold=90.0, isolated_threshold=90.0)  # cumulative ~75 dB, isolated >= 102
    checked = [r for r in res.layers if r.isolated_values]
    worst = min(checked, key=lambda r: r.isolated_worst)
    assert res.verdict == "cascade", res.diagnosis
    assert f"at {worst.key!r}" in res.diagnosis and "1 steps max" in res.diagnosis, res.diagnosis


def test_the_diagnosis_picks_the_worst_not_the_best():
    metric = get_metric("snr")
    layers = []
    for key, cum, iso in (("good", 90.0, 120.0), ("mid", 55.0, 80.0), ("bad", 50.0, 45.0)):
        rec = LayerRecord(key, key, key, "Conv", key, metric, 1, 60.0, 40.0)
        rec.values["s"], rec.isolated_values["s"] = cum, iso
        layers.append(rec)
    res = LayerwiseCheckResult(metric, 60.0, 1, 40.0, [], "a", "b", layers)
    assert res.verdict == "cascade" and res.first_failure == "mid", res.diagnosis
    assert "worst isolated snr 45.00 at 'bad'" in res.diagnosis, res.diagnosis


def test_cli_verify_reports_identical_share_and_steps(tmp_path, capsys):
    case = _case("kv_decoder_prefill__w8a16_htp__v1.0.0")
    out = tmp_path / "r"
    rc = main(["verify", f"{case}/model.onnx", "-e", f"{case}/model.encodings", "--dumps",
               f"{case}/aimet_layer_outputs", "--json", f"{out}.json", "--csv", f"{out}.csv", "-q"])
    text = capsys.readouterr().out
    assert rc == 0 and "iso identical" in text and "RESULT: PASS" in text
    d = json.load(open(f"{out}.json"))
    ln = next(layer for layer in d["layers"] if layer["layer"] == "/blocks.0/ln1/LayerNormalization_output_0")
    assert 0.99 <= ln["isolated_identical"] < 1 and 1 <= ln["isolated_steps_max"] <= 1.01
    rows = list(csv.DictReader(io.StringIO(open(f"{out}.csv").read())))
    row = next(r for r in rows if r["layer"] == ln["layer"])
    assert float(row["isolated_identical"]) == ln["isolated_identical"] and row["isolated_steps_max"]
    rc = main(["verify", f"{case}/model.onnx", "-e", f"{case}/model.encodings", "--dumps",
               f"{case}/aimet_layer_outputs", "--threshold", "90", "-q"])
    assert rc == 1 and "diagnosis (cascade)" in capsys.readouterr().out
