"""Run every AIMET golden case (../shared/conformance/aimet and aimet_deep) and print SNR and bit-identity per case.

    python conformance/aimet_golden.py [--root DIR ...] [--rounding half_to_even] [--kernels onnxruntime]
                                       [--ort-threads 2]

Quantized outputs are compared with expected/*.quant.npz (AIMET QuantSim), float outputs (no
encodings) with expected/*.float.npz (ONNX Runtime). Exit status 1 when a case is below the bar
(75 dB quantized, 100 dB float). A case the simulator refuses is printed with its error and counts as
below the bar.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from simulator.api import Simulator  # noqa: E402
from simulator.errors import SimulatorError  # noqa: E402
from simulator.schema.base import InferenceRunnerParameters  # noqa: E402

SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                      "shared", "conformance")
DEFAULT_ROOTS = [os.path.join(SHARED, "aimet"), os.path.join(SHARED, "aimet_deep")]


def compare(case_dir: str, quantized: bool, rounding: str, kernels: str = "numpy",
            ort_threads: int = 0) -> tuple[float, float, int]:
    """(SNR dB over all samples and outputs, fraction of bit-identical elements, element count)."""
    params = InferenceRunnerParameters(
        input_model_path=os.path.join(case_dir, "model.onnx"),
        input_encodings_path=os.path.join(case_dir, "model.encodings") if quantized else None,
        input_data_path=os.path.join(case_dir, "data"), rounding=rounding, kernels=kernels,
        ort_threads=ort_threads if kernels == "onnxruntime" else 0)
    session = Simulator.get_inference_session(params)
    names = [o.name for o in session.get_outputs()]
    signal = noise = 0.0
    same = total = 0
    for sample, outputs in Simulator.run_inference(params).items():
        kind = "quant" if quantized else "float"
        with np.load(os.path.join(case_dir, "expected", f"{sample}.{kind}.npz")) as ref:
            for name, out in zip(names, outputs):
                e = ref[name].astype(np.float64)
                signal += float(np.sum(e ** 2))
                noise += float(np.sum((out.astype(np.float64) - e) ** 2))
                same += int(np.sum(out == ref[name]))
                total += out.size
    snr = float("inf") if noise == 0 else 10 * np.log10(signal / noise)
    return snr, same / max(total, 1), total


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", action="append", help="a folder of golden cases (repeatable; default: "
                        "../shared/conformance/aimet and aimet_deep)")
    parser.add_argument("--rounding", default="half_away_from_zero")
    parser.add_argument("--kernels", default="numpy", choices=["numpy", "onnxruntime"])
    parser.add_argument("--ort-threads", type=int, default=2, help="ONNX Runtime's thread count with --kernels "
                        "onnxruntime (default 2: the count AIMET made the golden cases with; 0: this machine's)")
    args = parser.parse_args(argv)
    roots = args.root or DEFAULT_ROOTS
    missing = [r for r in roots if not os.path.isdir(r)]
    if missing:
        print(f"no golden cases at {', '.join(missing)}", file=sys.stderr)
        return 2
    failed = 0
    print(f"kernels={args.kernels}" + (f", ort_threads={args.ort_threads}" if args.kernels == "onnxruntime" else ""))
    print(f"{'case':44} {'quant SNR':>10} {'identical':>10} {'float SNR':>10}")
    for root in roots:
        for case in sorted(os.listdir(root)):
            d = os.path.join(root, case)
            try:
                q_snr, q_same, _ = compare(d, True, args.rounding, args.kernels, args.ort_threads)
                f_snr, _, _ = compare(d, False, args.rounding, args.kernels, args.ort_threads)
            except SimulatorError as exc:
                failed += 1
                print(f"{case:44} refused: {exc}")
                continue
            ok = q_snr >= 75 and f_snr >= 100
            failed += not ok
            print(f"{case:44} {q_snr:>10.1f} {q_same:>10.4%} {f_snr:>10.1f}{'' if ok else '  FAIL'}")
    print(f"{failed} case(s) below the bar" if failed else "all cases at or above the bar (75 dB quant, 100 dB float)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
