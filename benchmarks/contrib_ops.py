"""Benchmark the LLM norm and activation kernels per call: compiled loops (Numba, ops._jit_*), their NumPy
twins (ops._compiled.disabled()) and ONNX Runtime's one-node session, same run.

    python benchmarks/contrib_ops.py [--repeat 300] [--rounds 3]

Shapes: a small decoder's token step (hidden 32, FFN 64) and an LLM's (hidden 4096, FFN 11008), one row.
Times (microseconds per call): fastest of --repeat calls in --rounds interleaved rounds after rest
(bench.timed_rounds); ONNX Runtime runs with one thread and graph optimisations off, as the golden cases.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench import numpy_twin, timed_rounds  # noqa: E402

from ops import _compiled  # noqa: E402
from ops.registry import resolve  # noqa: E402

MS = "com.microsoft"
RNG = np.random.default_rng(0)


def _r(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


# (op, domain, inputs, attributes)
CASES = {
    "SimplifiedLayerNormalization 32": ("SimplifiedLayerNormalization", "", [_r(1, 1, 32), _r(32)], {"epsilon": 1e-5}),
    "SimplifiedLayerNormalization 4096": ("SimplifiedLayerNormalization", "", [_r(1, 1, 4096), _r(4096)],
                                          {"epsilon": 1e-5}),
    "SkipSimplifiedLayerNormalization 4096": ("SkipSimplifiedLayerNormalization", MS,
                                              [_r(1, 1, 4096), _r(1, 1, 4096), _r(4096)], {}),
    "SkipLayerNormalization 1024": ("SkipLayerNormalization", MS, [_r(1, 1, 1024), _r(1, 1, 1024), _r(1024),
                                                                   _r(1024)], {}),
    "FastGelu 64": ("FastGelu", MS, [_r(1, 1, 64)], {}),
    "FastGelu 11008": ("FastGelu", MS, [_r(1, 1, 11008)], {}),
    "Gelu 64": ("Gelu", MS, [_r(1, 1, 64)], {}),
    "QuickGelu 64": ("QuickGelu", MS, [_r(1, 1, 64)], {}),
}


def _ort_call(op, domain, inputs, attrs):
    import onnxruntime as ort  # noqa: PLC0415
    from onnx import TensorProto, helper  # noqa: PLC0415

    names = [f"x{i}" for i in range(len(inputs))]
    node = helper.make_node(op, names, ["y"], domain=domain, **attrs)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, x.shape)
                                            for n, x in zip(names, inputs)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)])
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    feed = dict(zip(names, inputs))
    return lambda: sess.run(None, feed)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeat", type=int, default=300)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)

    results = {}
    with np.errstate(all="ignore"):
        for name, (op, domain, inputs, attrs) in CASES.items():
            kernel = resolve(op, domain, 1 if domain else 17).fn
            compiled = lambda k=kernel, i=inputs, a=attrs: k(np, *i, **a)  # noqa: E731
            fns = {"onnxruntime": _ort_call(op, domain, inputs, attrs), "compiled": compiled,
                   "numpy": numpy_twin(compiled)}
            best = timed_rounds(fns, args.repeat, args.rounds)
            results[name] = {k: round(v * 1e6, 1) for k, v in best.items()}
            results[name]["numpy/compiled"] = round(best["numpy"] / best["compiled"], 1)
    print(json.dumps({"compiled_loops": _compiled.enabled(np), "us_per_call": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
