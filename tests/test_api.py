"""The vendor API as its users call it: the seed page's code examples with real paths, and the session."""
import os
import threading

import numpy as np
import pytest

from simulator.api import Simulator
from simulator.errors import DataError, ParameterError, SimulatorError
from tests.conftest import GOLDEN, ROOT, require_golden

EXAMPLE = os.path.join(ROOT, "examples", "tiny_cnn")
input_model_path = os.path.join(EXAMPLE, "model.onnx")
input_encodings_path = os.path.join(EXAMPLE, "model.encodings")
input_data_path = os.path.join(EXAMPLE, "data")


def test_seed_run_inference_example():
    from simulator.schema.base import InferenceRunnerParameters
    from simulator.api import Simulator

    params = InferenceRunnerParameters(
            input_model_path=input_model_path,
            input_encodings_path=input_encodings_path,
            input_data_path=input_data_path,
            )

    res = Simulator.run_inference(params)
    assert list(res) == ["input_00000", "input_00001", "input_00002", "input_00003"]
    for outputs in res.values():
        logits, probabilities = outputs
        assert logits.shape == (1, 10) and logits.dtype == np.float32
        np.testing.assert_allclose(probabilities.sum(), 1.0, atol=0.02)


def test_seed_get_inference_session_example():
    from simulator.schema.base import InferenceSessionParameters
    from simulator.api import Simulator

    params = InferenceSessionParameters(
            input_model_path=input_model_path,
            input_encodings_path=input_encodings_path,
            use_cuda=False,
            )

    res = Simulator.get_inference_session(params)
    x = np.load(os.path.join(input_data_path, "images", "input_00000.npy"))
    (logits,) = res.run(["logits"], {"input": x})
    assert logits.shape == (1, 10)


def test_seed_field_list_spellings_are_accepted():
    from simulator.schema.base import InferenceRunnerParameters

    p = InferenceRunnerParameters(input_model_path=input_model_path, input_encondings_path=input_encodings_path,
                                  input_data_path=input_data_path, use_cuda=False, layerwise_check_name=[])
    assert p.input_encodings_path == input_encodings_path


def test_seed_compare_example():
    from simulator.schema.base import InferenceCheckerParameters
    from simulator.api import Simulator

    params = InferenceCheckerParameters(
                input_data_path=input_data_path,
                input_model_path_0=input_model_path,
                input_encodings_path_0=input_encodings_path,
                input_model_path_1=input_model_path,
                input_encodings_path_1=input_encodings_path,
                metric="snr",
                threshold=30,
                use_cuda=False,
            )
    res = Simulator.compare_model_by_inference(params)
    for input_name, result in res.items():
        _, result_dict = result
        assert result_dict == {"logits": float("inf"), "probabilities": float("inf")}


def test_schemas_are_importable_from_api():
    from simulator import api
    from simulator.schema import base

    for name in ("InferenceRunnerParameters", "GetInferenceSessionParameters", "InferenceSessionParameters",
                 "InferenceCheckerParameters", "LayerwiseCheckerParameters"):
        assert getattr(api, name) is getattr(base, name)
    # the API page's two names for one schema: the same fields; a subclass so that errors say the name used
    assert issubclass(base.InferenceSessionParameters, base.GetInferenceSessionParameters)
    assert base.InferenceSessionParameters.model_fields.keys() == base.GetInferenceSessionParameters.model_fields.keys()


def _runner(**kw):
    from simulator.schema.base import InferenceRunnerParameters

    args = dict(input_model_path=input_model_path, input_encodings_path=input_encodings_path,
                input_data_path=input_data_path)
    args.update(kw)
    return InferenceRunnerParameters(**args)


def test_layerwise_featuremaps_follow_the_outputs_in_the_order_asked():
    names = ["/Add_output_0", "conv1.weight", "/relu1/Relu_output_0::pre_quant", "logits_updated"]
    res = Simulator.run_inference(_runner(layerwise_check_name=names))
    outs = res["input_00000"]
    assert len(outs) == 2 + len(names)
    assert outs[2].shape == (1, 8, 16, 16) and outs[3].shape == (8, 3, 3, 3)
    np.testing.assert_array_equal(outs[5], outs[0])  # logits_updated is logits


def test_unknown_layer_name_is_a_clear_error():
    with pytest.raises(ParameterError, match="'/nope' does not exist"):
        Simulator.run_inference(_runner(layerwise_check_name=["/nope"]))


def test_encodings_are_optional_float_inference():
    q = Simulator.run_inference(_runner())
    f = Simulator.run_inference(_runner(input_encodings_path=None))
    assert not np.array_equal(q["input_00000"][0], f["input_00000"][0])


def test_empty_encodings_file_is_float(tmp_path):
    empty = tmp_path / "empty.encodings"
    empty.write_text('{"version": "1.0.0", "activation_encodings": [], "param_encodings": []}')
    f = Simulator.run_inference(_runner(input_encodings_path=None))
    e = Simulator.run_inference(_runner(input_encodings_path=str(empty)))
    for a, b in zip(f["input_00001"], e["input_00001"]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kw,match", [
    (dict(input_model_path=EXAMPLE), "is a folder; expected the model file"),
    (dict(input_model_path=os.path.join(EXAMPLE, "missing.onnx")), "does not exist"),
    (dict(input_data_path=input_model_path), "is a file; expected the folder"),
    (dict(input_encodings_path=EXAMPLE), "encodings_path"),
    (dict(use_cuda="yes"), "use_cuda"),
    (dict(rounding="up"), "rounding"),
    (dict(bogus=1), "unknown field 'bogus'"),
])
def test_bad_parameters_name_the_field(kw, match):
    with pytest.raises(ParameterError, match=match):
        _runner(**kw)


def test_checker_spellings_and_metric_validation():
    from simulator.schema.base import InferenceCheckerParameters

    p = InferenceCheckerParameters(input_model_path0=input_model_path, input_encondings_path_0=input_encodings_path,
                                   input_model_path_1=input_model_path, input_encondings_path_1=None,
                                   input_data_path=input_data_path, meric="RMSE", threshold=0.1)
    assert p.metric == "rmse" and p.input_encodings_path_0 == input_encodings_path
    with pytest.raises(ParameterError, match="unknown metric 'snrr'.*valid metrics: snr"):
        InferenceCheckerParameters(input_model_path_0=input_model_path, input_model_path_1=input_model_path,
                                   input_data_path=input_data_path, metric="snrr", threshold=1)
    with pytest.raises(ParameterError, match="threshold"):
        InferenceCheckerParameters(input_model_path_0=input_model_path, input_model_path_1=input_model_path,
                                   input_data_path=input_data_path, metric="snr", threshold=float("nan"))


def test_get_quantization_sim_session():
    from simulator.schema.base import GetInferenceSessionParameters

    sim = Simulator.get_quantization_sim(GetInferenceSessionParameters(
        input_model_path=input_model_path, input_encodings_path=input_encodings_path))
    assert sim.session.get_outputs()[0].name == "logits"
    assert sim.encodings.version == "1.0.0"


def test_load_input_data():
    samples = Simulator.load_input_data(input_data_path, model_path=input_model_path)
    assert list(samples) == ["input_00000", "input_00001", "input_00002", "input_00003"]
    assert samples["input_00000"]["input"].shape == (1, 3, 16, 16)
    assert list(Simulator.load_input_data(input_data_path)["input_00002"]) == ["input"]


# -- the session ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def session():
    from simulator.schema.base import InferenceSessionParameters

    return Simulator.get_inference_session(InferenceSessionParameters(
        input_model_path=input_model_path, input_encodings_path=input_encodings_path))


@pytest.fixture(scope="module")
def x():
    return np.load(os.path.join(input_data_path, "images", "input_00000.npy"))


def test_session_metadata_like_onnxruntime(session):
    (inp,) = session.get_inputs()
    assert (inp.name, inp.shape, inp.type) == ("input", [1, 3, 16, 16], "tensor(float)")
    assert [(o.name, o.shape, o.type) for o in session.get_outputs()] == [
        ("logits", [1, 10], "tensor(float)"), ("probabilities", [1, 10], "tensor(float)")]


def test_session_run_none_returns_graph_outputs(session, x):
    outs = session.run(None, {"input": x})
    assert [o.shape for o in outs] == [(1, 10), (1, 10)]
    again = session.run(None, {"input": x})
    for a, b in zip(outs, again):
        np.testing.assert_array_equal(a, b)


def test_intermediate_is_after_its_encoding_and_pre_quant_before(session, x):
    enc = session.encodings.encodings["/Add_output_0"]
    after, before = session.run(["/Add_output_0", "/Add_output_0::pre_quant"], {"input": x})
    q = after / enc.scale[0] - enc.offset[0]
    np.testing.assert_allclose(q, np.round(q), atol=1e-3)  # on the grid
    assert not np.array_equal(after, before)
    assert np.max(np.abs(after - before)) <= enc.scale[0] / 2 * 1.001


def test_weight_names_give_the_quantized_weight(session):
    w, raw = session.run(["conv1.weight", "conv1.weight::pre_quant"], {"input": np.zeros((1, 3, 16, 16), np.float32)})
    assert w.shape == raw.shape == (8, 3, 3, 3) and not np.array_equal(w, raw)


def test_session_input_errors(session, x):
    with pytest.raises(DataError, match="dtype float64"):
        session.run(None, {"input": x.astype(np.float64)})
    with pytest.raises(DataError, match="shape"):
        session.run(None, {"input": x[:, :2]})
    with pytest.raises(DataError, match="unknown input name"):
        session.run(None, {"input": x, "other": x})
    with pytest.raises(DataError, match="missing input"):
        session.run(None, {})
    with pytest.raises(ParameterError, match="does not exist"):
        session.run(["no_such_tensor"], {"input": x})


def test_session_is_thread_safe(session):
    rng = np.random.default_rng(3)
    xs = [rng.uniform(-1, 1, (1, 3, 16, 16)).astype(np.float32) for _ in range(8)]
    expected = [session.run(None, {"input": v}) for v in xs]
    results = [None] * 8

    def work(i):
        results[i] = session.run(None, {"input": xs[i]})

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, expected):
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)


def test_use_cuda_without_gpu_is_a_clear_error():
    from simulator.backend import array_module

    try:
        import cupy  # noqa: F401
        cupy.cuda.runtime.getDeviceCount()
        pytest.skip("a GPU is usable here")
    except Exception:
        pass
    with pytest.raises(SimulatorError, match="use_cuda=True"):
        array_module(True)


def test_golden_case_session_has_ort_interface():
    require_golden()
    from simulator.schema.base import InferenceSessionParameters

    d = os.path.join(GOLDEN, "transformer_block__w8a16_htp__v1.0.0")
    sess = Simulator.get_inference_session(InferenceSessionParameters(
        input_model_path=os.path.join(d, "model.onnx"), input_encodings_path=os.path.join(d, "model.encodings")))
    x = np.load(os.path.join(d, "data", "input", "sample_000.npy"))
    (out,) = sess.run(["output_updated"], {"input": x})
    with np.load(os.path.join(d, "expected", "sample_000.quant.npz")) as ref:
        assert out.shape == ref["output"].shape
