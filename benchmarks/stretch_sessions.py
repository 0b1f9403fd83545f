"""The design kernels="onnxruntime" did not take, measured: each stretch of nodes with no quantizer inside as
one ONNX Runtime session at the default optimisation level (so ORT's own rewrites apply inside it), its
inputs and quantized weights fed as graph inputs, the project's quantizers between stretches.

    python benchmarks/stretch_sessions.py [--cases llama_block__w8a16_htp__v1.0.0,...] [--repeat 9]

Prints, per aimet_deep case, the elements identical to AIMET (expected/*.quant.npz, every sample) and the
fastest run time of this design against kernels="onnxruntime" (one-node sessions + the plan's
DivMulFusion). An experiment: it handles graphs without control flow only.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import onnx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from simulator import data  # noqa: E402
from simulator.session import InferenceSession  # noqa: E402

DEEP = os.path.join(os.path.dirname(ROOT), "shared", "conformance", "aimet_deep")
DEFAULT = "llama_block__w8a16_htp__v1.0.0,kv_decoder_prefill__w8a16_htp__v1.0.0,deep_resnet__w8a8_pc__v1.0.0"


class Stretches:
    def __init__(self, sess: InferenceSession, shapes: dict):
        import onnxruntime as ort  # noqa: PLC0415

        interp = self.interp = sess.interpreter
        steps = interp.steps
        graph_outputs = {o.name for o in interp.outputs}
        # Runs of consecutive steps (plan order) joined by tensors without an encoding: a run in plan order
        # cannot form a cycle with another (grouping every unencoded edge does: the embedding of a Llama block
        # feeds both its first RMSNorm and the residual Add after the attention that reads that norm).
        runs: list[list[int]] = []
        for j, s in enumerate(steps):
            current = {o for i in runs[-1] for o in steps[i].outputs} if runs else set()
            if any(n in current and n not in interp.activation_encodings and n not in graph_outputs
                   for n in s.inputs):
                runs[-1].append(j)
            else:
                runs.append([j])
        self.stretches = []
        for members in runs:
            nodes = [steps[i].node for i in members]
            made = {o for i in members for o in steps[i].outputs if o}
            reads = list(dict.fromkeys(n for i in members for n in steps[i].inputs if n and n not in made))
            # Weights and biases are fed, as AIMET's quantizer outputs are; scalars (eps, the 1 of Div) stay constants.
            fixed = {n: interp.constants[n] for n in reads if n in interp.constants
                     and n not in interp.param_quantizers and np.asarray(interp.constants[n]).size <= 1}
            fed = [n for n in reads if n not in fixed]
            inside = set(members)
            used_later = {n for k, s in enumerate(steps) if k not in inside for n in s.inputs} | graph_outputs
            outs = [o for o in made if o in used_later]
            # Each output leaves through an Identity, as in AIMET's session through a quantizer node (a fused
            # node's output that is itself a graph output trips ORT 1.32's MatMulAddFusion).
            nodes = nodes + [onnx.helper.make_node("Identity", [o], [f"{o}::out"]) for o in outs]
            g = onnx.helper.make_graph(
                nodes, "stretch",
                [onnx.helper.make_tensor_value_info(n, onnx.helper.np_dtype_to_tensor_dtype(shapes[n][1]),
                                                    list(shapes[n][0])) for n in fed],
                [onnx.helper.make_tensor_value_info(f"{o}::out", onnx.helper.np_dtype_to_tensor_dtype(shapes[o][1]),
                                                    list(shapes[o][0])) for o in outs],
                [onnx.numpy_helper.from_array(np.asarray(v), n) for n, v in fixed.items()])
            m = onnx.helper.make_model(g, opset_imports=[onnx.helper.make_opsetid(d, v)
                                                         for d, v in interp.opsets.items()])
            m.ir_version = 10
            so = ort.SessionOptions()  # the default level, as AIMET's sim.session
            so.log_severity_level = 3
            sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
            self.stretches.append((sess, fed, outs))

    def run(self, feeds: dict, names: list[str]) -> list:
        interp = self.interp
        values = dict(interp.constants)
        values.update({n: interp.quantize(n, v) for n, v in feeds.items()})
        for sess, fed, outs in self.stretches:
            for o, v in zip(outs, sess.run([f"{o}::out" for o in outs], {n: values[n] for n in fed})):
                values[o] = interp.quantize(o, v)
        return [values[n] for n in names]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args(argv)
    print(f"{'case':44} {'stretches':>9} {'identical (stretch)':>20} {'identical (one-node)':>21} "
          f"{'stretch ms':>11} {'one-node ms':>12}")
    for case in args.cases.split(","):
        d = os.path.join(DEEP, case)
        base = InferenceSession(f"{d}/model.onnx", f"{d}/model.encodings", kernels="onnxruntime")
        names = [o.name for o in base.get_outputs()]
        samples = list(data.iter_samples(f"{d}/data", base.interpreter.inputs))
        shapes = {}
        base.interpreter.run(samples[0][1], set(), observer=lambda n, v, r: shapes.__setitem__(
            n, (np.shape(v), np.asarray(v).dtype)))
        for n, v in base.interpreter.constants.items():
            shapes.setdefault(n, (np.shape(v), np.asarray(v).dtype))
        stretch = Stretches(base, shapes)
        same = {"stretch": 0, "one-node": 0}
        total = 0
        for sample, feed in samples:
            with np.load(f"{d}/expected/{sample}.quant.npz") as ref:
                for key, outs in (("stretch", stretch.run(feed, names)), ("one-node", base.run(None, feed))):
                    same[key] += sum(int(np.count_nonzero(np.asarray(o) == ref[n])) for n, o in zip(names, outs))
                total += sum(ref[n].size for n in names)
        best = {}
        for key, fn in (("stretch", lambda: stretch.run(samples[0][1], names)),
                        ("one-node", lambda: base.run(None, samples[0][1]))) * 2:  # interleaved
            fn()
            for _ in range(args.repeat):
                t = time.perf_counter()
                fn()
                best[key] = min(best.get(key, 1e9), time.perf_counter() - t)
        print(f"{case:44} {len(stretch.stretches):>9} {same['stretch'] / total:>20.4%} "
              f"{same['one-node'] / total:>21.4%} {best['stretch'] * 1e3:>11.2f} {best['one-node'] * 1e3:>12.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
