"""The vendor's newer Simulator overview page, as written: `from simulator import api` and module functions."""
from __future__ import annotations

import os

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "tiny_cnn")
MODEL, ENCODINGS, DATA = (os.path.join(EXAMPLE, f) for f in ("model.onnx", "model.encodings", "data"))


def test_overview_page_session_and_layerwise_comparison(tmp_path):
    from simulator import api

    params = api.GetInferenceSessionParameters(input_model_path=MODEL, input_encodings_path=ENCODINGS, use_cuda=False)
    session = api.get_quantization_sim(params).session
    x = np.zeros(session._inputs_meta[0].shape, np.float32)
    assert session.get_inputs()[0].type == "tensor(float)"
    logits, = session.run(["logits_updated"], {session.get_inputs()[0].name: x})

    res = api.compare_model_by_layer(api.LayerwiseCheckerParameters(
        input_data_path=DATA,
        input_model_path_0=MODEL,
        input_encodings_path_0=ENCODINGS,
        input_model_path_1=MODEL,
        input_encodings_path_1=ENCODINGS,
        metric="snr",
        threshold=100,
        use_cuda=False,
        layer_match_info=[("/relu1/Relu_output_0", "/relu1/Relu_output_0"), ("logits", "logits")],
        export_featuremap=True,
        export_featuremap_path=str(tmp_path / "featuremaps"),
    ))
    samples = 0
    for input_name, result in res.items():
        _, result_dict = result
        assert set(result_dict) >= {"/relu1/Relu_output_0", "logits"}
        for featuremap, snr in result_dict.items():
            assert snr == float("inf") or snr >= 100, (input_name, featuremap, snr)
        samples += 1
    assert samples == len(api.load_input_data(DATA))
    assert os.listdir(tmp_path / "featuremaps")


def test_overview_page_module_functions():
    from simulator import api

    assert len(api.run_inference(api.InferenceRunnerParameters(
        input_model_path=MODEL, input_encodings_path=ENCODINGS, input_data_path=DATA))) == len(api.load_input_data(DATA))
    res = api.compare_model_by_inference(api.InferenceCheckerParameters(
        input_data_path=DATA, input_model_path_0=MODEL, input_encodings_path_0=ENCODINGS,
        input_model_path_1=MODEL, input_encodings_path_1=ENCODINGS, metric="snr", threshold=30, use_cuda=False))
    assert all(passed for passed, _ in res.values())
    assert isinstance(api.get_inference_session(api.InferenceSessionParameters(
        input_model_path=MODEL, input_encodings_path=ENCODINGS)), api.InferenceSession)
