"""Every AIMET golden case through the vendor API: quantized >= 75 dB, float >= 100 dB."""
import os

import numpy as np
import onnx
import pytest

from simulator.api import Simulator
from simulator.schema.base import InferenceRunnerParameters
from tests.conftest import GOLDEN, golden_cases, require_golden

CASES = golden_cases() or ["<no golden cases>"]


def snr_db(expected: list[np.ndarray], actual: list[np.ndarray]) -> float:
    signal = sum(float(np.sum(e.astype(np.float64) ** 2)) for e in expected)
    noise = sum(float(np.sum((a.astype(np.float64) - e.astype(np.float64)) ** 2)) for a, e in zip(actual, expected))
    return float("inf") if noise == 0 else 10 * np.log10(signal / noise)


def _run(case, quantized):
    d = os.path.join(GOLDEN, case)
    params = InferenceRunnerParameters(
        input_model_path=os.path.join(d, "model.onnx"),
        input_encodings_path=os.path.join(d, "model.encodings") if quantized else None,
        input_data_path=os.path.join(d, "data"))
    results = Simulator.run_inference(params)
    output_names = [o.name for o in onnx.load(params.input_model_path, load_external_data=False).graph.output]
    kind = "quant" if quantized else "float"
    expected, actual = [], []
    for sample, outputs in results.items():
        with np.load(os.path.join(d, "expected", f"{sample}.{kind}.npz")) as ref:
            assert sorted(ref.files) == sorted(output_names)
            for name, out in zip(output_names, outputs):
                assert out.shape == ref[name].shape and out.dtype == ref[name].dtype
                expected.append(ref[name])
                actual.append(out)
    return expected, actual


@pytest.mark.parametrize("case", CASES)
def test_quantized_matches_aimet(case):
    require_golden()
    expected, actual = _run(case, quantized=True)
    snr = snr_db(expected, actual)
    identical = np.mean(np.concatenate([(a == e).reshape(-1) for a, e in zip(actual, expected)]))
    assert snr >= 75, f"{case}: quantized SNR {snr:.1f} dB < 75 dB ({identical:.2%} identical)"


@pytest.mark.parametrize("case", [c for c in CASES if c.endswith("v1.0.0")] or CASES)
def test_float_matches_onnxruntime(case):
    require_golden()
    expected, actual = _run(case, quantized=False)
    snr = snr_db(expected, actual)
    assert snr >= 100, f"{case}: float SNR {snr:.1f} dB < 100 dB"
