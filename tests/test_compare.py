"""compare_model_by_inference, compare_model_by_layer and verify_featuremaps: results as users read them, the
golden cases, isolated vs cumulative error, and verification of dumps made by a perturbed simulator."""
import dataclasses
import json
import math
import os
import re

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from simulator import compare, data, metrics
from simulator.api import Simulator
from simulator.compare import sanitize
from simulator.errors import DataError, ParameterError
from simulator.executor import Executor
from simulator.schema.base import FeaturemapVerifierParameters, InferenceCheckerParameters, LayerwiseCheckerParameters
from simulator.session import InferenceSession
from tests.conftest import GOLDEN, ROOT, golden_cases, require_golden

EXAMPLE = os.path.join(ROOT, "examples", "tiny_cnn")
MODEL, ENC, DATA = f"{EXAMPLE}/model.onnx", f"{EXAMPLE}/model.encodings", f"{EXAMPLE}/data"


# -- small models built here ---------------------------------------------------------------------

def _mlp(path, out_name="y", second_output=None):
    """x[1,4] -> MatMul W -> h -> Relu -> r -> Add b -> out_name (and optionally Neg(r) -> second_output)."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 6)).astype(np.float32), "W")
    b = numpy_helper.from_array(rng.standard_normal(6).astype(np.float32), "b")
    nodes = [helper.make_node("MatMul", ["x", "W"], ["h"], "mm"), helper.make_node("Relu", ["h"], ["r"], "relu"),
             helper.make_node("Add", ["r", "b"], [out_name], "add")]
    outputs = [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, [1, 6])]
    if second_output:
        nodes.append(helper.make_node("Neg", ["r"], [second_output], "neg"))
        outputs.append(helper.make_tensor_value_info(second_output, TensorProto.FLOAT, [1, 6]))
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])], outputs,
                              [w, b])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return str(path)


def _encodings(path, entries):
    """A 1.0.0 file with 8-bit per-tensor activation encodings {name: (scale, offset)}."""
    acts = [{"name": n, "bw": 8, "dtype": "INT", "enc_type": "PER_TENSOR", "is_sym": False, "offset": [float(o)],
             "scale": [float(s)]} for n, (s, o) in entries.items()]
    with open(path, "w") as f:
        json.dump({"version": "1.0.0", "activation_encodings": acts, "param_encodings": []}, f)
    return str(path)


def _data(folder, n=3):
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(1)
    for i in range(n):
        np.save(os.path.join(folder, f"s{i}.npy"), rng.standard_normal((1, 4)).astype(np.float32))
    return str(folder)


def _empty_encodings(tmp_path):
    path = tmp_path / "empty.encodings"
    path.write_text(json.dumps({"activation_encodings": {}, "param_encodings": {}}))
    return str(path)


def _checker(**kw):
    base = dict(input_model_path_0=MODEL, input_model_path_1=MODEL, input_encodings_path_1=ENC, input_data_path=DATA)
    return InferenceCheckerParameters(**{**base, **kw})


# -- compare_model_by_inference ------------------------------------------------------------------

def test_result_reads_as_the_toolchains_users_read_it():
    res = Simulator.compare_model_by_inference(_checker(metric="snr", threshold=30))
    assert list(res) == sorted(res) == [f"input_0000{i}" for i in range(4)]
    for input_name, result in res.items():
        passed, result_dict = result
        assert passed is True and set(result_dict) == {"logits", "probabilities"}
        for output_name, value in result_dict.items():
            assert 30 < value < 80
    assert res.passed and res.failed_samples == []
    for out in ("logits", "probabilities"):
        per_sample = [d[out] for _, d in res.values()]
        assert res.worst[out] == min(per_sample)
        assert res.mean[out] == pytest.approx(np.mean(per_sample))
        assert min(per_sample) <= res.overall[out] <= max(per_sample)
    d = json.loads(res.to_json())
    assert d["metric"]["formula"].startswith("10*log10") and d["metric"]["higher_is_better"] is True
    assert d["samples"]["input_00000"]["values"]["logits"] == res["input_00000"][1]["logits"]
    text = str(res)
    assert "RESULT: PASS" in text and "input_00003" in text and "worst" in text and "10*log10" in text



def test_a_result_is_built_once_and_read_only():
    """The reducer builds the result after the last sample; nothing writes it afterwards (its report stays what
    the run found)."""
    res = Simulator.compare_model_by_inference(_checker(metric="snr", threshold=30))
    layers = compare.compare_by_layer(LayerwiseCheckerParameters(input_model_path_0=MODEL, input_model_path_1=MODEL,
                                                                 input_encodings_path_1=ENC, input_data_path=DATA))
    for result, name in ((res, "threshold"), (res, "worst"), (layers, "layers"), (layers, "verdict")):
        with pytest.raises(AttributeError, match="read-only"):
            setattr(result, name, None)
    assert layers.verdict == "pass" and res.passed

def test_identical_models_give_inf_db_and_zero_rmse():
    res = Simulator.compare_model_by_inference(_checker(input_encodings_path_0=ENC, metric="snr", threshold=200))
    assert all(v == math.inf for _, d in res.values() for v in d.values()) and res.passed
    assert json.loads(res.to_json())["worst"]["logits"] == "inf"  # strict JSON
    res = Simulator.compare_model_by_inference(_checker(input_encodings_path_0=ENC, metric="rmse", threshold=0))
    assert all(v == 0.0 for _, d in res.values() for v in d.values()) and res.passed


@pytest.mark.parametrize("metric,threshold,passes", [
    ("snr", 30, True), ("snr", 60, False), ("psnr", 40, True), ("psnr", 90, False), ("cosine", 0.999, True),
    ("cosine", 0.9999999, False), ("rmse", 1.0, True), ("rmse", 1e-6, False), ("mse", 1.0, True), ("mse", 1e-9, False),
    ("mae", 1.0, True), ("mae", 1e-6, False), ("max_abs", 10, True), ("max_abs", 1e-6, False),
    ("relative_l2", 0.1, True), ("relative_l2", 1e-6, False), ("topk", 1.0, True)])
def test_threshold_direction_through_the_api(metric, threshold, passes):
    res = Simulator.compare_model_by_inference(_checker(metric=metric, threshold=threshold))
    assert res.passed is passes
    assert (res.failed_samples == []) is passes


def test_topk_on_the_classifier_output(tmp_path):
    res = Simulator.compare_model_by_inference(_checker(metric="topk", threshold=1.0, top_k=1))
    assert all(d["probabilities"] == 1.0 for _, d in res.values())  # the quantized model keeps every argmax
    assert json.loads(res.to_json())["metric"]["k"] == 1


def test_outputs_match_by_name_alias_then_position(tmp_path):
    data_dir = _data(tmp_path / "data")
    a = _mlp(tmp_path / "a.onnx", "y")
    upd = _mlp(tmp_path / "b.onnx", "y_updated")
    other = _mlp(tmp_path / "c.onnx", "z")
    two = _mlp(tmp_path / "d.onnx", "q", second_output="n")
    res = Simulator.compare_model_by_inference(InferenceCheckerParameters(
        input_model_path_0=a, input_model_path_1=upd, input_data_path=data_dir))
    assert res.matched_by == "name" and res.outputs == [("y", "y_updated")] and res.worst["y"] == math.inf
    res = Simulator.compare_model_by_inference(InferenceCheckerParameters(
        input_model_path_0=a, input_model_path_1=other, input_data_path=data_dir))
    assert res.matched_by == "position" and res.outputs == [("y", "z")] and "matched by position" in str(res)
    with pytest.raises(ParameterError, match=r"match neither by name.*by position \(1 vs 2 outputs\)"):
        Simulator.compare_model_by_inference(InferenceCheckerParameters(
            input_model_path_0=a, input_model_path_1=two, input_data_path=data_dir))


def test_reports_json_csv_html(tmp_path):
    res = Simulator.compare_model_by_inference(_checker())
    res.save(tmp_path / "r.json")
    res.save(tmp_path / "r.csv")
    res.save(tmp_path / "r.html")
    assert json.loads((tmp_path / "r.json").read_text())["passed"] is True
    rows = (tmp_path / "r.csv").read_text().splitlines()
    assert rows[0] == "sample,output,output_model_1,metric,value,passed" and len(rows) == 1 + 4 * 2 + 3 * 2
    page = (tmp_path / "r.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", page)  # standalone: nothing loaded from elsewhere
    plain = res.to_html(interactive=False)  # the page without Plotly
    assert "<svg" in plain and "http" not in plain.replace("http://www.w3.org/2000/svg", "")
    with pytest.raises(ParameterError, match="unknown format"):
        res.save(tmp_path / "r.xlsx")


# -- golden cases --------------------------------------------------------------------------------

def test_golden_float_vs_quantized_snr_matches_the_expected_outputs(tmp_path):
    """Per sample and output, the checker's SNR equals the SNR of the case's expected float and quant outputs."""
    require_golden()
    empty = _empty_encodings(tmp_path)
    worst_gap, count = 0.0, 0
    for case in golden_cases():
        d = os.path.join(GOLDEN, case)
        res = Simulator.compare_model_by_inference(InferenceCheckerParameters(
            input_model_path_0=f"{d}/model.onnx", input_encodings_path_0=empty, input_model_path_1=f"{d}/model.onnx",
            input_encodings_path_1=f"{d}/model.encodings", input_data_path=f"{d}/data", metric="snr"))
        for sample, (_, values) in res.items():
            with np.load(f"{d}/expected/{sample}.float.npz") as f, np.load(f"{d}/expected/{sample}.quant.npz") as q:
                assert set(values) == set(f.files)
                for output, value in values.items():
                    expected = metrics.snr(f[output], q[output])
                    assert value == pytest.approx(expected, abs=0.5), (case, sample, output)
                    worst_gap = max(worst_gap, abs(value - expected))
                    count += 1
    assert count >= 40 * 3
    print(f"SNR agreement over {count} sample-outputs: worst gap {worst_gap:.4f} dB")


def _corrupt(src, dst, tensor, factor=50.0):
    enc = json.load(open(src))
    hit = [a for a in enc["activation_encodings"] if a["name"] == tensor]
    assert len(hit) == 1
    hit[0]["scale"] = [s * factor for s in hit[0]["scale"]]
    json.dump(enc, open(dst, "w"))
    return str(dst)


CORRUPTED = [("cnn_residual__w8a8__v1.0.0", "/c2/Conv_output_0"), ("seq_model__w8a8__v1.0.0", "/Mul_output_0"),
             ("transformer_block__w8a8__v1.0.0", "/MatMul_1_output_0")]


@pytest.mark.parametrize("case,tensor", CORRUPTED)
def test_golden_layerwise_points_at_the_corrupted_encoding(tmp_path, case, tensor):
    require_golden()
    d = os.path.join(GOLDEN, case)
    empty = _empty_encodings(tmp_path)
    params = dict(input_model_path_0=f"{d}/model.onnx", input_encodings_path_0=empty,
                  input_model_path_1=f"{d}/model.onnx", input_data_path=f"{d}/data", metric="snr", threshold=15)
    clean = Simulator.compare_model_by_layer(LayerwiseCheckerParameters(
        **params, input_encodings_path_1=f"{d}/model.encodings"))
    assert clean.first_failure is None and clean.passed and clean.verdict == "pass"
    bad = _corrupt(f"{d}/model.encodings", tmp_path / "bad.encodings", tensor)
    res = Simulator.compare_model_by_layer(LayerwiseCheckerParameters(**params, input_encodings_path_1=bad))
    assert res.first_failure == tensor and res.first_isolated_failure == tensor
    assert res.verdict == "isolated" and tensor in res.diagnosis and not res.passed
    keys = [r.key for r in res.layers]
    assert keys.index(tensor) > 0 and all(clean.layer(k).worst == res.layer(k).worst for k in keys[:keys.index(tensor)])
    rec = res.layer(tensor)
    assert rec.worst < 15 and rec.isolated_steps.n and rec.steps.n
    for sample, (passed, values) in res.items():  # {sample: (passed, {layer: value})}
        assert passed is False and values[tensor] == rec.values[sample]
    print(f"{case}: first failing layer {res.first_failure} at {rec.worst:.1f} dB (clean: "
          f"{clean.layer(tensor).worst:.1f} dB)")


# -- compare_model_by_layer on small models ------------------------------------------------------

def test_isolated_beside_cumulative_and_quantization_steps(tmp_path):
    data_dir = _data(tmp_path / "data")
    a = _mlp(tmp_path / "a.onnx")
    enc = _encodings(tmp_path / "q.encodings", {"h": (0.05, -128), "r": (0.02, 0), "y": (0.03, -100)})
    res = Simulator.compare_model_by_layer(LayerwiseCheckerParameters(
        input_model_path_0=a, input_model_path_1=a, input_encodings_path_1=enc, input_data_path=data_dir,
        metric="snr", threshold=10))
    assert [r.key for r in res.layers] == ["x", "h", "r", "y"]
    assert [r.op_type for r in res.layers] == ["Input", "MatMul", "Relu", "Add"]
    x, h, r, y = res.layers
    assert x.worst == math.inf and x.isolated_worst is None and "graph input" in x.isolated_note
    # h: MatMul on exact inputs, its output quantized: the isolated error is the cumulative one, <= half a step
    assert h.isolated_worst == h.worst and h.isolated_steps.max <= 0.5 + 1e-4
    # r = Relu(h): its input h already carries h's quantization error cumulatively; in isolation the float
    # reference h is re-quantized by h's encoding and r's own encoding adds its rounding
    assert r.steps.n and r.isolated_steps.n
    for sample in res:
        assert res.layer("h").values[sample] == res[sample][1]["h"]
    d = json.loads(res.to_json())
    assert d["layers"][1]["isolated_passed"] is True and "steps_rms" in d["layers"][1]
    text = str(res)
    assert "isolated worst" in text and "first failing layer: none" in text


def test_layer_match_info_pairs_different_names(tmp_path):
    data_dir = _data(tmp_path / "data")
    a = _mlp(tmp_path / "a.onnx", "y")
    c = _mlp(tmp_path / "c.onnx", "z")
    res = Simulator.compare_model_by_layer(LayerwiseCheckerParameters(
        input_model_path_0=a, input_model_path_1=c, input_data_path=data_dir, layer_match_info=[("y", "z"),
                                                                                                ("r", "r")]))
    assert [r.key for r in res.layers] == ["r", "y -> z"]
    assert all(v == math.inf for r in res.layers for v in r.values.values())
    assert res.layer("y -> z").isolated_worst == math.inf
    with pytest.raises(ParameterError, match="tensor 'nope' does not exist in model"):
        Simulator.compare_model_by_layer(LayerwiseCheckerParameters(
            input_model_path_0=a, input_model_path_1=c, input_data_path=data_dir, layer_match_info=[("nope", "z")]))


def test_export_featuremap_and_memory_spill(tmp_path):
    params = dict(input_model_path_0=MODEL, input_model_path_1=MODEL, input_encodings_path_1=ENC, input_data_path=DATA,
                  export_featuremap=True, export_featuremap_path=str(tmp_path / "fm"))
    res = Simulator.compare_model_by_layer(LayerwiseCheckerParameters(**params))
    index = json.load(open(tmp_path / "fm" / "index.json"))
    assert index["samples"] == list(res) and len(index["featuremaps"]) == len(res.layers)
    entry = next(e for e in index["featuremaps"] if e["name0"] == "/Add_output_0")
    quant = Simulator.run_inference(__import__("simulator.schema.base", fromlist=["x"]).InferenceRunnerParameters(
        input_model_path=MODEL, input_encodings_path=ENC, input_data_path=DATA, layerwise_check_name=["/Add_output_0"]))
    for sample, outs in quant.items():
        np.testing.assert_array_equal(np.load(tmp_path / "fm" / "model_1" / sample / entry["file1"]), outs[2])
        assert os.path.isfile(tmp_path / "fm" / "model_0" / sample / entry["file0"])
    # every reference featuremap spilled to disk gives the same numbers
    spilled = compare.compare_by_layer(LayerwiseCheckerParameters(**{**params, "export_featuremap": False}),
                                       memory_limit=0)
    assert spilled.to_dict()["layers"] == res.to_dict()["layers"]


# -- verification against dumps ------------------------------------------------------------------

def _f64(fn):
    def kernel(xp, *args, **kw):  # float64 accumulation: results differ from float32 kernels by an ulp here and there
        args = [a.astype(np.float64) if isinstance(a, np.ndarray) and a.dtype == np.float32 else a for a in args]
        return fn(xp, *args, **kw).astype(np.float32)
    return kernel


def _dump(d, out, encodings, fmt="npy", perturb=True):
    """Dump every tensor of a simulator run (Conv/MatMul/Gemm in float64 when perturb) as another tool would."""
    s = InferenceSession(f"{d}/model.onnx", encodings)
    plan = s.interpreter.plan  # immutable: the perturbed kernels go into a copy
    if perturb:
        plan = dataclasses.replace(plan, steps=tuple(
            dataclasses.replace(step, kernel=dataclasses.replace(step.kernel, fn=_f64(step.kernel.fn)))
            if step.node.op_type in ("Conv", "MatMul", "Gemm") else step for step in plan.steps))
    executor = Executor(plan)
    names = []
    for i, (sample, feed) in enumerate(data.iter_samples(f"{d}/data", plan.inputs)):
        values = {}
        executor.run(s.prepare_feed(feed), set(), observer=lambda n, v, r: values.__setitem__(n, np.asarray(v)))
        names = list(values)
        if fmt == "npy":
            os.makedirs(out / sample, exist_ok=True)
            for n, v in values.items():
                np.save(out / sample / f"{sanitize(n)}.npy", v)
        elif fmt == "npz":
            os.makedirs(out, exist_ok=True)
            np.savez(out / f"{sample}.npz", **values)
        else:  # AIMET's layer-output dump: raw float32, inputs/ and outputs/layer_outputs_N/
            os.makedirs(out / "inputs", exist_ok=True)
            os.makedirs(out / "outputs" / f"layer_outputs_{i}", exist_ok=True)
            feed["input"].astype(np.float32).tofile(out / "inputs" / f"input_{i}.raw")
            for n, v in values.items():
                v.astype(np.float32).tofile(out / "outputs" / f"layer_outputs_{i}" / f"{sanitize(n)}.raw")
    if fmt == "aimet":
        json.dump({"layer_output_names": [sanitize(n) for n in names]},
                  open(out / "layer_output_name_order.json", "w"))
    return str(out)


def test_dumps_from_perturbed_kernels_agree_in_isolation_where_the_cumulative_comparison_drifts(tmp_path):
    require_golden()
    d = os.path.join(GOLDEN, "transformer_block__w8a8__v1.0.0")
    dump = _dump(d, tmp_path / "dump", f"{d}/model.encodings")
    res = Simulator.verify_featuremaps(FeaturemapVerifierParameters(
        input_model_path=f"{d}/model.onnx", input_encodings_path=f"{d}/model.encodings", featuremap_path=dump,
        metric="snr", threshold=60))
    quantized = [r for r in res.layers if r.has_steps and r.isolated_values]
    assert len(quantized) >= 10
    # in isolation every layer agrees: at most one rounding flip of one step, SNR >= 100 dB
    assert all(r.isolated_worst >= 100 for r in res.layers if r.isolated_values)
    assert all(r.isolated_steps.max <= 1.0 + 1e-3 for r in quantized)
    # cumulatively the flips cascade: many elements several steps off, SNR far below the isolated one
    drift = min(res.layers, key=lambda r: r.worst)
    assert drift.worst < 60 and max(r.steps.max for r in quantized) >= 2.5
    assert res.first_failure is not None and res.first_isolated_failure is None
    assert res.verdict == "cascade" and "every layer agrees in isolation" in res.diagnosis and not res.passed
    print(f"cumulative {drift.worst:.1f} dB at {drift.key}; isolated there "
          f"{metrics.METRIC_INFO['snr'].worst([drift.isolated_worst])} dB; worst isolated over all layers "
          f"{min(r.isolated_worst for r in res.layers if r.isolated_values):.1f} dB")


def test_a_dump_made_with_a_corrupted_encoding_is_an_isolated_failure(tmp_path):
    require_golden()
    d = os.path.join(GOLDEN, "cnn_residual__w8a16_htp__v1.0.0")
    bad = _corrupt(f"{d}/model.encodings", tmp_path / "bad.encodings", "/Relu_1_output_0", 50.0)
    dump = _dump(d, tmp_path / "dump", bad, perturb=True)
    res = Simulator.verify_featuremaps(FeaturemapVerifierParameters(
        input_model_path=f"{d}/model.onnx", input_encodings_path=f"{d}/model.encodings", featuremap_path=dump,
        input_data_path=f"{d}/data", metric="snr", threshold=60))
    assert res.first_isolated_failure == "/Relu_1_output_0" and res.verdict == "isolated"
    assert "isolated failure at layer '/Relu_1_output_0' (Relu)" in res.diagnosis
    keys = [r.key for r in res.layers]
    before = keys[:keys.index("/Relu_1_output_0")]
    assert all(res.layer(k).isolated_passed is not False for k in before if res.layer(k).isolated_values)
    # the clean perturbed dump of the same model: no isolated failure anywhere
    clean = _dump(d, tmp_path / "clean", f"{d}/model.encodings", perturb=True)
    ok = Simulator.verify_featuremaps(FeaturemapVerifierParameters(
        input_model_path=f"{d}/model.onnx", input_encodings_path=f"{d}/model.encodings", featuremap_path=clean,
        metric="snr", threshold=60))
    assert ok.first_isolated_failure is None and ok.passed


@pytest.mark.parametrize("fmt", ["npz", "aimet"])
def test_dump_formats(tmp_path, fmt):
    require_golden()
    d = os.path.join(GOLDEN, "cnn_residual__w8a8__v1.0.0")
    dump = _dump(d, tmp_path / "dump", f"{d}/model.encodings", fmt=fmt, perturb=False)
    res = Simulator.verify_featuremaps(FeaturemapVerifierParameters(
        input_model_path=f"{d}/model.onnx", input_encodings_path=f"{d}/model.encodings", featuremap_path=dump))
    assert len(res) == 3 and len(res.layers) == 11 and res.passed and res.verdict == "pass"
    assert all(v == math.inf for r in res.layers for v in r.values.values())
    assert all(v == math.inf for r in res.layers for v in r.isolated_values.values())
    assert res.to_dict()["models"][1]["format"] == fmt


def test_dump_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no featuremaps"):
        Simulator.verify_featuremaps(FeaturemapVerifierParameters(input_model_path=MODEL, featuremap_path=str(
            tmp_path / "empty")))
    (tmp_path / "other" / "s0").mkdir(parents=True)
    np.save(tmp_path / "other" / "s0" / "unrelated.npy", np.zeros(3, np.float32))
    with pytest.raises(DataError, match="names a tensor of model"):
        Simulator.verify_featuremaps(FeaturemapVerifierParameters(input_model_path=MODEL, featuremap_path=str(
            tmp_path / "other")))


def test_memory_stays_flat_as_the_data_set_grows(tmp_path):
    import tracemalloc

    x = np.load(f"{DATA}/images/input_00000.npy")
    rng = np.random.default_rng(0)
    peaks = {}
    for n in (4, 40):
        folder = tmp_path / f"d{n}"
        folder.mkdir()
        for i in range(n):
            np.save(folder / f"s{i:03d}.npy", rng.standard_normal(x.shape).astype(np.float32))
        params = LayerwiseCheckerParameters(input_model_path_0=MODEL, input_model_path_1=MODEL,
                                            input_encodings_path_1=ENC, input_data_path=str(folder))
        tracemalloc.start()
        res = Simulator.compare_model_by_layer(params)
        peaks[n] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    per_sample = 2 * sum(4 * int(np.prod(r.shape)) for r in res.layers)  # both models' featuremaps of one sample
    # holding the featuremaps of 36 more samples would add 36 * per_sample bytes; only a few floats per layer are
    assert peaks[40] - peaks[4] < 0.25 * 36 * per_sample, (peaks, per_sample)


def test_a_dump_made_with_a_quantizer_off_is_failed_with_a_note_that_says_so(tmp_path):
    """AIMET's 2.0.0 export can write encodings its own sim never enabled (a Conv output in front of a ReLU6):
    its dump then holds that tensor before the encoding. verify still fails the layer (a wrong encoding in the
    file looks the same) but says which of the two it sees; a dump one step off says nothing of the kind."""
    require_golden()
    d = os.path.join(GOLDEN, "cnn_residual__w8a8__v1.0.0")
    dump = _dump(d, tmp_path / "dump", f"{d}/model.encodings", perturb=False)
    s = InferenceSession(f"{d}/model.onnx", f"{d}/model.encodings")
    name = "/Relu_1_output_0"
    for sample, feed in data.iter_samples(f"{d}/data", s.interpreter.inputs):
        quantized, pre = s.run([name, f"{name}::pre_quant"], feed)
        assert not np.array_equal(quantized, pre)
        np.save(os.path.join(dump, sample, f"{sanitize(name)}.npy"), pre)
    params = dict(input_model_path=f"{d}/model.onnx", input_encodings_path=f"{d}/model.encodings",
                  featuremap_path=dump, metric="snr", threshold=60)
    res = Simulator.verify_featuremaps(FeaturemapVerifierParameters(**params))
    assert res.first_isolated_failure == name
    assert "closer to this tensor before its encoding" in res.layer(name).note
    assert "applied no encoding here, or a finer one" in res.diagnosis
    scale = float(s.interpreter.quantizer_for(name, quantized).scale)
    for sample, feed in data.iter_samples(f"{d}/data", s.interpreter.inputs):
        quantized, = s.run([name], feed)
        off = np.where(quantized > 0, quantized + np.float32(scale), quantized).astype(np.float32)  # a step up
        np.save(os.path.join(dump, sample, f"{sanitize(name)}.npy"), off)
    res = Simulator.verify_featuremaps(FeaturemapVerifierParameters(**params))
    assert res.first_isolated_failure == name and "before its encoding" not in (res.layer(name).note or "")
