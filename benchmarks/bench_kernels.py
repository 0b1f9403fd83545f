"""Benchmark the kernel modes: kernels="numpy" and kernels="onnxruntime" against ONNX Runtime running the
same quantized model as a fake-quant (QDQ) graph, the equivalent of AIMET's QuantSim session.

    python benchmarks/bench_kernels.py [--repeat 9] [--rounds 3] [--models resnet50,kv_decoder,llama_block]

Models: ResNet-50 of the onnx package's light model zoo (converted to opset 13) with benchmarks/bench.py's
8-bit per-tensor activation encodings, batch 1; the aimet_deep golden cases kv_decoder_prefill__w8a16_htp__v1.0.0 and
llama_block__w8a16_htp__v1.0.0 (../shared/conformance) on their sample_000. The QDQ model comes from
simulator.tools.export_qdq and runs with graph optimisations off (with them on, ONNX Runtime fuses the
QDQ groups into integer kernels: another computation). Times: fastest of --repeat runs taken in
--rounds interleaved rounds after rest (bench.timed_rounds); the load time is timed once.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import onnx
import onnx.version_converter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench import calibrate, feeds_for, model_path, timed_rounds  # noqa: E402

from simulator import data  # noqa: E402
from simulator.model import load_model  # noqa: E402
from simulator.session import InferenceSession  # noqa: E402
from simulator.tools.export_qdq import export_qdq  # noqa: E402
from simulator.encodings import load_encodings  # noqa: E402

DEEP = os.path.join(os.path.dirname(ROOT), "shared", "conformance", "aimet_deep")
CASES = {"kv_decoder": "kv_decoder_prefill__w8a16_htp__v1.0.0", "llama_block": "llama_block__w8a16_htp__v1.0.0"}


def model_and_feed(name: str, tmp: str):
    if name == "resnet50":  # opset 9 in the zoo; the QDQ export needs 13 (per-axis DequantizeLinear)
        path = os.path.join(tmp, "resnet50_opset13.onnx")
        model = onnx.version_converter.convert_version(onnx.load(model_path("resnet50")), 13)
        model.ir_version = 8  # IR 3 wants every initializer listed as a graph input; 8 lets them be constants
        inits = {t.name for t in model.graph.initializer}
        keep = [i for i in model.graph.input if i.name not in inits]
        del model.graph.input[:]
        model.graph.input.extend(keep)
        onnx.save(model, path)
        feeds = feeds_for(model_path("resnet50"), "resnet50", 1)
        return path, calibrate(path, feeds, tmp), feeds
    case = os.path.join(DEEP, CASES[name])
    path, enc = os.path.join(case, "model.onnx"), os.path.join(case, "model.encodings")
    inputs = InferenceSession(path).interpreter.inputs
    _, feeds = next(iter(data.iter_samples(os.path.join(case, "data"), inputs)))
    return path, enc, feeds


def ort_qdq_session(path: str, encodings: str):
    import onnxruntime as ort  # noqa: PLC0415

    qdq = export_qdq(load_model(path), load_encodings(encodings)).model
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(qdq.SerializeToString(), so, providers=["CPUExecutionProvider"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="resnet50,kv_decoder,llama_block")
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"{'model':12} {'ORT QDQ ms':>11} {'numpy ms':>9} {'onnxruntime ms':>15} {'numpy/QDQ':>10} "
          f"{'ort-mode/QDQ':>13} {'load numpy s':>13} {'load ort-mode s':>16}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            path, enc, feeds = model_and_feed(name, tmp)
            loads = {}
            sessions = {}
            for kernels in ("numpy", "onnxruntime"):
                t = time.perf_counter()
                sessions[kernels] = InferenceSession(path, enc, kernels=kernels)
                loads[kernels] = time.perf_counter() - t
            qdq = ort_qdq_session(path, enc)
            fns = {"qdq": lambda: qdq.run(None, feeds),
                   "numpy": lambda: sessions["numpy"].run(None, feeds),
                   "onnxruntime": lambda: sessions["onnxruntime"].run(None, feeds)}
            best = timed_rounds(fns, args.repeat, args.rounds)
            print(f"{name:12} {best['qdq'] * 1e3:>11.2f} {best['numpy'] * 1e3:>9.2f} "
                  f"{best['onnxruntime'] * 1e3:>15.2f} "
                  f"{best['numpy'] / best['qdq']:>10.2f} {best['onnxruntime'] / best['qdq']:>13.2f} "
                  f"{loads['numpy']:>13.2f} {loads['onnxruntime']:>16.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
