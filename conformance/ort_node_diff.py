"""Node by node against ONNX Runtime: which of the project's kernels differ from ORT's CPU kernels.

    python conformance/ort_node_diff.py [--root DIR ...] [--kernels numpy|onnxruntime] [--ort-threads 2]

Every node of every golden case (quantized, sample_000) is re-run as a one-node ONNX Runtime session
(optimisations off, every input fed, as kernels="onnxruntime" runs it) on exactly the inputs the
simulator gave it, and its output is compared with the simulator's output before its encoding. Prints,
per op type, the nodes that are bit-identical and the share of identical elements. This is the
measurement behind ort_kernels.ORT_OPS.
"""
from __future__ import annotations

import argparse
import collections
import os
import sys

import numpy as np
import onnx

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from simulator import data  # noqa: E402
from simulator.encodings import load_encodings  # noqa: E402
from simulator.errors import SimulatorError  # noqa: E402
from simulator.interpreter import Interpreter  # noqa: E402
from simulator.model import load_model  # noqa: E402
from simulator.ort_kernels import OrtNode, element_types  # noqa: E402

SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "shared",
                      "conformance")


def diff_case(case_dir: str, kernels: str, threads: int, stats: dict) -> None:
    interp = Interpreter(load_model(os.path.join(case_dir, "model.onnx")),
                         load_encodings(os.path.join(case_dir, "model.encodings")), kernels=kernels,
                         ort_threads=threads if kernels == "onnxruntime" else 0)
    _, feed = next(iter(data.iter_samples(os.path.join(case_dir, "data"), interp.inputs)))
    seen, raw = dict(interp.constants), {}

    def observe(name, value, raw_value):
        seen[name], raw[name] = value, raw_value

    interp.run(feed, set(), observer=observe)
    for step in interp.steps:
        if step.subgraphs or step.node.domain not in ("", "ai.onnx"):
            continue
        args = [seen[n] if n else None for n in step.inputs]
        node, op = step.node, step.node.op_type
        if step.kernel.op_type != op:  # rewritten in the plan (DivMulFusion): compare what the step computes
            node = onnx.helper.make_node(step.kernel.op_type, list(step.inputs), list(step.outputs))
            op = f"{op} as {step.kernel.op_type} (rewrite)"
        try:
            got = OrtNode(node, interp.opsets, element_types(args, step.inputs), threads)(np, *args)
        except Exception as exc:  # an op ORT does not run on these types: counted, not compared
            stats[f"{op} (ORT refused)"]["nodes"] += 1
            print(f"{os.path.basename(case_dir)}: {step.label}: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        entry = stats[op]
        same_node = True
        for name, ort_value in zip(step.outputs, got):
            if not name or ort_value is None:
                continue
            ours = np.asarray(raw[name])
            same = ours.shape == ort_value.shape and np.array_equal(ours, ort_value, equal_nan=True)
            same_node &= bool(same)
            if ours.shape == ort_value.shape and ours.dtype.kind == "f":
                entry["same_elements"] += int(np.sum((ours == ort_value) | (np.isnan(ours) & np.isnan(ort_value))))
            else:
                entry["same_elements"] += ours.size if same else 0
            entry["elements"] += ours.size
        entry["nodes"] += 1
        entry["same_nodes"] += same_node


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", action="append", help="a folder of golden cases (default: aimet and aimet_deep)")
    parser.add_argument("--kernels", default="numpy", choices=["numpy", "onnxruntime"])
    parser.add_argument("--ort-threads", type=int, default=2, help="ONNX Runtime's thread count (default 2: the "
                        "golden cases'; 0: this machine's)")
    args = parser.parse_args(argv)
    roots = args.root or [os.path.join(SHARED, "aimet"), os.path.join(SHARED, "aimet_deep")]
    stats = collections.defaultdict(lambda: collections.Counter())
    for root in roots:
        for case in sorted(os.listdir(root)):
            try:
                diff_case(os.path.join(root, case), args.kernels, args.ort_threads, stats)
            except SimulatorError as exc:  # a case the simulator refuses: said, and skipped
                print(f"{case}: refused: {exc}", file=sys.stderr)
    print(f"{'op':24} {'nodes identical':>16} {'elements identical':>19}")
    for op, s in sorted(stats.items(), key=lambda kv: (kv[1]["same_nodes"] == kv[1]["nodes"], kv[0])):
        share = s["same_elements"] / max(s["elements"], 1)
        print(f"{op:24} {s['same_nodes']:>7} of {s['nodes']:<6} {share:>19.4%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
