"""Build the shipped example: a small residual CNN, its AIMET 1.0.0 encodings and a data folder.

    python examples/make_example.py            # writes examples/tiny_cnn/

Deterministic (fixed seeds), offline, and uses only the project's own dependencies: the encodings
are min-max calibrated with the simulator itself running the float model on the data folder.
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from simulator.session import InferenceSession  # noqa: E402

OUT = os.path.join(HERE, "tiny_cnn")
N_SAMPLES = 4


def build_model(rng) -> onnx.ModelProto:
    def w(name, *shape, s=0.2):
        return numpy_helper.from_array((rng.standard_normal(shape) * s).astype(np.float32), name)

    inits = [w("conv1.weight", 8, 3, 3, 3), w("conv1.bias", 8, s=0.05), w("conv2.weight", 8, 8, 3, 3, s=0.1),
             w("conv2.bias", 8, s=0.05), w("fc.weight", 10, 8, s=0.3), w("fc.bias", 10, s=0.05)]
    nodes = [
        helper.make_node("Conv", ["input", "conv1.weight", "conv1.bias"], ["/conv1/Conv_output_0"], "/conv1/Conv",
                         pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["/conv1/Conv_output_0"], ["/relu1/Relu_output_0"], "/relu1/Relu"),
        helper.make_node("Conv", ["/relu1/Relu_output_0", "conv2.weight", "conv2.bias"], ["/conv2/Conv_output_0"],
                         "/conv2/Conv", pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["/conv2/Conv_output_0", "/relu1/Relu_output_0"], ["/Add_output_0"], "/Add"),
        helper.make_node("Relu", ["/Add_output_0"], ["/relu2/Relu_output_0"], "/relu2/Relu"),
        helper.make_node("GlobalAveragePool", ["/relu2/Relu_output_0"], ["/pool/GlobalAveragePool_output_0"],
                         "/pool/GlobalAveragePool"),
        helper.make_node("Flatten", ["/pool/GlobalAveragePool_output_0"], ["/Flatten_output_0"], "/Flatten"),
        helper.make_node("Gemm", ["/Flatten_output_0", "fc.weight", "fc.bias"], ["logits"], "/fc/Gemm", transB=1),
        helper.make_node("Softmax", ["logits"], ["probabilities"], "/Softmax", axis=-1),
    ]
    graph = helper.make_graph(
        nodes, "tiny_cnn", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10]),
         helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="make_example.py")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def asymmetric(name, lo, hi, bw=8):
    """AIMET-style asymmetric min-max encoding (grid includes zero, offset = round(min/scale))."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = (hi - lo) / (2 ** bw - 1) or 1.0
    offset = float(np.round(lo / scale))
    return {"name": name, "bw": bw, "dtype": "INT", "enc_type": "PER_TENSOR", "is_sym": False,
            "scale": [scale], "offset": [offset]}


def symmetric_per_channel(name, weight, bw=8):
    """Symmetric per-channel (axis 0) weight encoding with the full signed range."""
    absmax = np.abs(weight.reshape(weight.shape[0], -1)).max(axis=1)
    scale = np.maximum(absmax / (2 ** (bw - 1) - 1), 1e-8)
    return {"name": name, "bw": bw, "dtype": "INT", "enc_type": "PER_CHANNEL", "is_sym": True,
            "scale": [float(s) for s in scale], "offset": [-(2.0 ** (bw - 1))] * len(scale)}


def main():
    rng = np.random.default_rng(2026)
    os.makedirs(os.path.join(OUT, "data", "images"), exist_ok=True)
    model = build_model(rng)
    onnx.save(model, os.path.join(OUT, "model.onnx"))
    with open(os.path.join(OUT, "data", "input_folder_mapping.json"), "w") as f:
        json.dump({"input": "images"}, f, indent=2)
    samples = []
    for i in range(N_SAMPLES):
        x = rng.uniform(-1, 1, (1, 3, 16, 16)).astype(np.float32)
        np.save(os.path.join(OUT, "data", "images", f"input_{i:05d}.npy"), x)
        samples.append(x)

    # Calibrate activations on the float model: min and max of each tensor over the samples.
    session = InferenceSession(os.path.join(OUT, "model.onnx"))
    activations = ["input", "/relu1/Relu_output_0", "/conv2/Conv_output_0", "/Add_output_0", "/relu2/Relu_output_0",
                   "/pool/GlobalAveragePool_output_0", "logits", "probabilities"]
    ranges = {n: (np.inf, -np.inf) for n in activations}
    for x in samples:
        for name, value in zip(activations, session.run(activations, {"input": x})):
            lo, hi = ranges[name]
            ranges[name] = (min(lo, float(value.min())), max(hi, float(value.max())))
    weights = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    encodings = {
        "version": "1.0.0",
        "activation_encodings": [asymmetric(n, *ranges[n]) for n in activations],
        "param_encodings": [symmetric_per_channel(n, weights[n]) for n in ("conv1.weight", "conv2.weight",
                                                                           "fc.weight")],
        "quantizer_args": {"activation_bitwidth": 8, "param_bitwidth": 8, "dtype": "int",
                           "per_channel_quantization": True, "quant_scheme": "min_max", "is_symmetric": True},
        "producer": {"package": "examples/make_example.py"},
    }
    with open(os.path.join(OUT, "model.encodings"), "w") as f:
        json.dump(encodings, f, indent=1)
    print(f"wrote {OUT}: model.onnx, model.encodings, data/ ({N_SAMPLES} samples)")


if __name__ == "__main__":
    main()
