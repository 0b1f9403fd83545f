"""LLM benchmarks: a split decoder's token step, and large weights' load time and peak memory, against ONNX Runtime.

    python benchmarks/llm.py token-step [--layout fixed|growing|gqa] [--tokens 20] [--rounds 5] [--kernels onnxruntime]
    python benchmarks/llm.py memory [--layers 8] [--size 2048]
    python benchmarks/llm.py pipeline-step [--calls 400] [--nodes 2000]

token-step: examples/make_small_decoder.py's decoder (4 parts), generated through the same driver with the
simulator (float, quantized) and with ONNX Runtime sessions as the parts (one thread, optimisations off);
each engine's time per token is its fastest --tokens-token run less its fastest prompt-only run, over --rounds
interleaved rounds (half a second of rest between engines). --kernels onnxruntime runs the simulator's engines
with kernels="onnxruntime" on one ONNX Runtime thread, as the ONNX Runtime engine.
pipeline-step: the overhead around the kernels. The small decoder's token pipeline run alone on one token step's
feeds (no generation driver), and each of its parts' session.run on that part's feed, fastest of --calls calls,
per engine; then the executor's cost per node: a session over a chain of --nodes Identity nodes on a 4-element
tensor (a kernel that returns its input), float and with a 16-bit encoding on every output, its fastest run less
that of a one-node chain, divided by the nodes.
memory: a stack of --layers MatMul layers of --size x --size float32 weights in external data; each engine
loads and runs it once in a fresh process, which reports its load time and peak resident memory (VmHWM)
as a multiple of the weight bytes; quantized = 8-bit per-channel weights, 16-bit activations.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "examples"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench import timed  # noqa: E402


def _ort_pipeline(folder):
    import onnxruntime as ort  # noqa: PLC0415

    from simulator.pipeline import Pipeline  # noqa: PLC0415

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    return Pipeline([ort.InferenceSession(f, so, providers=["CPUExecutionProvider"])
                     for f in sorted(glob.glob(os.path.join(folder, "layer_*.onnx")))])


def token_step(args) -> dict:
    import make_small_decoder  # noqa: PLC0415

    from simulator.generation import Generator  # noqa: PLC0415
    from simulator.pipeline import Pipeline  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        folder = make_small_decoder.make(os.path.join(tmp, "dec"), args.layout)
        opts = dict(kernels="onnxruntime", ort_threads=1) if args.kernels == "onnxruntime" else {}
        sim = {q: Generator(Pipeline.load(os.path.join(folder, "prompt"), quantized=q, **opts),
                            Pipeline.load(os.path.join(folder, "token"), quantized=q, **opts)) for q in (False, True)}
        engines = {"onnxruntime": Generator(_ort_pipeline(os.path.join(folder, "prompt")),
                                            _ort_pipeline(os.path.join(folder, "token"))),
                   "float": sim[False], "quantized": sim[True]}
        prompt = [5, 17, 33]
        # The fastest prompt-only run and the fastest full run, each over all rounds, then subtracted (one noisy
        # prompt run on a shared machine would otherwise make a round's difference negative).
        prompt_best = {k: float("inf") for k in engines}
        full_best = {k: float("inf") for k in engines}
        for _ in range(args.rounds):
            for name, gen in engines.items():
                time.sleep(0.5)
                gen.generate(prompt, 2)  # warm-up
                start = time.perf_counter()
                gen.generate(prompt, 1)
                prompt_best[name] = min(prompt_best[name], time.perf_counter() - start)
                start = time.perf_counter()
                gen.generate(prompt, args.tokens + 1)
                full_best[name] = min(full_best[name], time.perf_counter() - start)
        best = {k: (full_best[k] - prompt_best[k]) / args.tokens for k in engines}
    ort_s = best["onnxruntime"]
    return {"layout": args.layout, "kernels": args.kernels, "ms_per_token": {k: round(v * 1000, 3) for k, v in best.items()},
            "ratio_to_onnxruntime": {k: round(v / ort_s, 2) for k, v in best.items() if k != "onnxruntime"}}


def _identity_chain(folder, nodes: int, quantized: bool):
    """A session over `nodes` Identity nodes in a chain (x0 -> x1 -> ... ), 16-bit encodings when quantized."""
    import onnx  # noqa: PLC0415
    from onnx import TensorProto, helper  # noqa: PLC0415

    from simulator.session import InferenceSession  # noqa: PLC0415

    chain = [helper.make_node("Identity", [f"x{i}"], [f"x{i + 1}"], name=f"n{i}") for i in range(nodes)]
    graph = helper.make_graph(chain, "chain", [helper.make_tensor_value_info("x0", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info(f"x{nodes}", TensorProto.FLOAT, [1, 4])])
    path = os.path.join(folder, f"chain{nodes}.onnx")
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    encodings = None
    if quantized:
        encodings = os.path.join(folder, f"chain{nodes}.encodings")
        entries = [{"name": f"x{i}", "dtype": "INT", "enc_type": "PER_TENSOR", "bw": 16, "is_sym": False,
                    "scale": [1e-4], "offset": [-32768]} for i in range(nodes + 1)]
        with open(encodings, "w") as f:
            json.dump({"version": "1.0.0", "activation_encodings": entries, "param_encodings": []}, f)
    return InferenceSession(path, encodings_path=encodings)


def pipeline_step(args) -> dict:
    import make_small_decoder  # noqa: PLC0415

    from simulator.generation import Generator  # noqa: PLC0415
    from simulator.pipeline import Pipeline  # noqa: PLC0415

    out = {"pipeline_ms": {}, "parts_ms": {}, "per_node_us": {}, "one_node_run_us": {}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = make_small_decoder.make(os.path.join(tmp, "dec"), "fixed")
        pipes = {"onnxruntime": (_ort_pipeline(os.path.join(folder, "prompt")),
                                 _ort_pipeline(os.path.join(folder, "token")))}
        for q, name in ((False, "float"), (True, "quantized")):
            pipes[name] = (Pipeline.load(os.path.join(folder, "prompt"), quantized=q),
                           Pipeline.load(os.path.join(folder, "token"), quantized=q))
        for name, (prompt, token) in pipes.items():
            feed = Generator(prompt, token).generate([5, 17, 33], 3, keep_feeds={2}).feeds[2]
            token.record = []
            token.run(None, feed)
            recorded, token.record = token.record, None
            time.sleep(0.5)
            out["pipeline_ms"][name] = round(timed(lambda: token.run(None, feed), args.calls) * 1000, 3)
            out["parts_ms"][name] = [round(timed(lambda: token.parts[i].run(None, f), args.calls) * 1000, 3)
                                     for i, f in recorded]
        x = {"x0": np.ones((1, 4), np.float32)}
        for q, name in ((False, "float"), (True, "quantized")):
            long, short = _identity_chain(tmp, args.nodes, q), _identity_chain(tmp, 1, q)
            calls = max(20, args.calls * 40 // args.nodes)
            t_long = timed(lambda: long.run(None, x), calls)
            t_short = timed(lambda: short.run(None, x), args.calls)
            out["per_node_us"][name] = round((t_long - t_short) / (args.nodes - 1) * 1e6, 3)
            out["one_node_run_us"][name] = round(t_short * 1e6, 1)
    return out


def _make_stack(folder, layers, size):
    import onnx  # noqa: PLC0415
    from onnx import TensorProto, helper, numpy_helper  # noqa: PLC0415

    rng = np.random.default_rng(0)
    nodes, inits = [], []
    for i in range(layers):
        w = (rng.standard_normal((size, size), dtype=np.float32) / np.sqrt(size)).astype(np.float32)
        inits.append(numpy_helper.from_array(w, f"w{i}"))
        nodes.append(helper.make_node("MatMul", [f"x{i}", f"w{i}"], [f"x{i + 1}"], name=f"mm{i}"))
    graph = helper.make_graph(nodes, "stack", [helper.make_tensor_value_info("x0", TensorProto.FLOAT, [1, size])],
                              [helper.make_tensor_value_info(f"x{layers}", TensorProto.FLOAT, [1, size])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = os.path.join(folder, "stack.onnx")
    onnx.save(model, path, save_as_external_data=True, location="stack.data")
    encodings = {"version": "1.0.0", "activation_encodings": [], "param_encodings": []}
    for i in range(layers + 1):
        encodings["activation_encodings"].append({"name": f"x{i}", "dtype": "INT", "enc_type": "PER_TENSOR", "bw": 16,
                                                  "is_sym": False, "scale": [1e-4], "offset": [-32768]})
    for i in range(layers):
        encodings["param_encodings"].append({"name": f"w{i}", "dtype": "INT", "enc_type": "PER_CHANNEL", "bw": 8,
                                             "is_sym": True, "scale": [0.02] * size, "offset": [-128] * size})
    with open(os.path.join(folder, "stack.encodings"), "w") as f:
        json.dump(encodings, f)
    return path, layers * size * size * 4


def _measure_child(engine, path, size):
    """Run in a fresh process: load and run once; print load seconds and peak RSS bytes."""
    x = np.ones((1, size), np.float32)
    start = time.perf_counter()
    if engine == "onnxruntime":
        import onnxruntime as ort  # noqa: PLC0415

        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    else:
        from simulator.session import InferenceSession  # noqa: PLC0415

        sess = InferenceSession(path, os.path.splitext(path)[0] + ".encodings" if engine == "quantized" else None)
    load = time.perf_counter() - start
    sess.run(None, {"x0": x})
    print(json.dumps({"load_s": load, "peak_bytes": _peak_rss()}))


def _peak_rss() -> int:
    """This process's peak resident memory: VmHWM (ru_maxrss would carry the parent's peak across exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def memory(args) -> dict:
    out = {"layers": args.layers, "size": args.size}
    with tempfile.TemporaryDirectory() as tmp:
        path, weight_bytes = _make_stack(tmp, args.layers, args.size)
        out["weight_bytes"] = weight_bytes
        for engine in ("onnxruntime", "float", "quantized"):
            done = subprocess.run([sys.executable, __file__, "_child", engine, path, str(args.size)],
                                  capture_output=True, text=True, check=True)
            r = json.loads(done.stdout.strip().splitlines()[-1])
            out[engine] = {"load_s": round(r["load_s"], 3), "peak_x_weights": round(r["peak_bytes"] / weight_bytes, 2)}
    return out


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_child":
        _measure_child(argv[1], argv[2], int(argv[3]))
        return 0
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    t = sub.add_parser("token-step")
    t.add_argument("--layout", choices=("fixed", "growing", "gqa"), default="fixed")
    t.add_argument("--tokens", type=int, default=20)
    t.add_argument("--rounds", type=int, default=5)
    t.add_argument("--kernels", choices=("numpy", "onnxruntime"), default="numpy")
    m = sub.add_parser("memory")
    m.add_argument("--layers", type=int, default=8)
    m.add_argument("--size", type=int, default=2048)
    s = sub.add_parser("pipeline-step")
    s.add_argument("--calls", type=int, default=400)
    s.add_argument("--nodes", type=int, default=2000)
    args = p.parse_args(argv)
    run = {"token-step": token_step, "memory": memory, "pipeline-step": pipeline_step}[args.what]
    print(json.dumps(run(args), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
