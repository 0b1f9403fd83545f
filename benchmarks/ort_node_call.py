"""Per-call cost of a kernels="onnxruntime" node: the simulator's OrtNode against ONNX Runtime's own calls.

    python benchmarks/ort_node_call.py [--calls 2000] [--rounds 7] [--threads 1]

A MatMul of 1x32 by 32x32 (a small decoder's token step) and of 8x256 by 256x256, each called --calls times
per round through: OrtNode (what a plan step calls), InferenceSession.run on the same session, the binding's
run alone (the floor), and NumPy's matmul; fastest round of --rounds interleaved rounds, microseconds per call.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
from onnx import TensorProto, helper

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from simulator.ort_kernels import OrtNode  # noqa: E402


def measure(m: int, k: int, n: int, args) -> dict:
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((1, m, k)).astype(np.float32), rng.standard_normal((k, n)).astype(np.float32)
    node = OrtNode(helper.make_node("MatMul", ["x", "w"], ["y"]), {"": 17}, (TensorProto.FLOAT,) * 2, args.threads)
    import onnxruntime as ort  # noqa: PLC0415
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = args.threads
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info(v, TensorProto.FLOAT, None) for v in ("x", "w")],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    binding = sess._sess
    engines = {"OrtNode": lambda: node(np, x, w),
               "InferenceSession.run": lambda: sess.run(["y"], {"x": x, "w": w}),
               "binding run (floor)": lambda: binding.run(["y"], {"x": x, "w": w}, None),
               "numpy matmul": lambda: np.matmul(x, w)}
    best = {name: float("inf") for name in engines}
    for call in engines.values():
        call()  # warm-up (a first call binds ONNX Runtime's kernel)
    for _ in range(args.rounds):
        for name, call in engines.items():
            time.sleep(0.05)
            start = time.perf_counter()
            for _ in range(args.calls):
                call()
            best[name] = min(best[name], (time.perf_counter() - start) / args.calls)
    return {name: round(v * 1e6, 1) for name, v in best.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    out = {f"MatMul {m}x{k} by {k}x{n}, us per call": measure(m, k, n, args) for m, k, n in ((1, 32, 32), (8, 256, 256))}
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
