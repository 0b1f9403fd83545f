"""A synthetic layer-wise result of any size (a transformer-like chain with constants, data movement,
identical layers and a failure), built through the real LayerRecord accumulation, for the page tests."""
from __future__ import annotations

import math

import numpy as np

from simulator.compare import LayerRecord, LayerwiseCheckResult
from simulator.metrics import get_metric


def synthetic_result(n_layers=1000, n_samples=3, seed=0, identical=False) -> LayerwiseCheckResult:
    """identical: every layer's values (cumulative and isolated) inf, as for a model compared with itself."""
    rng = np.random.default_rng(seed)
    metric = get_metric("snr")
    models = [{"model": "fp32.onnx", "encodings": None}, {"model": "int8.onnx", "encodings": "int8.encodings"}]
    layers = []
    ops = ["MatMul", "Add", "Reshape", "Transpose", "Softmax", "LayerNormalization", "Gelu", "Constant", "Mul"]
    noise = 1e-3
    for i in range(n_layers):
        op = ops[i % len(ops)]
        block = i // len(ops)
        name = f"/encoder/layers.{block}/attention/self/{op}_{i}_output_0"
        rec = LayerRecord(name, name, name, "Initializer" if op == "Constant" else op, f"{op}_{i}", metric, 1, 30.0)
        rec.constant = op == "Constant"
        scale = 0.02
        grid = (np.float64(-128 * scale), np.float64(127 * scale))
        for s in range(n_samples):
            ref = rng.standard_normal(64).astype(np.float32)
            if op == "Constant" or (op in ("Reshape", "Transpose") and i < 40):
                out = ref.copy()  # identical: SNR inf
            else:
                out = ref + (noise * (1 + i / 40)) * rng.standard_normal(64).astype(np.float32)
            if i == 702:
                out = ref + 0.2 * rng.standard_normal(64).astype(np.float32)  # the first failure
            rec.add(f"input_{s:05d}", ref, out, np.float64(scale))
            iso = ref + noise * rng.standard_normal(64).astype(np.float32)
            if i == 702:
                iso = out
            rec.add_isolated(f"input_{s:05d}", ref, iso, np.float64(scale))
            rec.tensor.update(ref, out, out * 1.05, grid)
        if op == "MatMul":
            w = rng.standard_normal((16, 8)).astype(np.float32)
            rec.weights = [{"name": f"w{i}", "axis": 0, "channels": 16, "group": 1, "min": w.min(1).tolist(),
                            "max": w.max(1).tolist(), "grid_min": [-2.5] * 16, "grid_max": [2.5] * 16}]
        if identical:
            for s in rec.values:
                rec.values[s] = rec.isolated_values[s] = math.inf
        layers.append(rec)
    return LayerwiseCheckResult(metric, 30.0, 1, None, models, "model 0", "model 1", layers)
