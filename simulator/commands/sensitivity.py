"""`simulator sensitivity`: rank the quantizer groups by what changing each one alone does to the end metric."""
from __future__ import annotations

import sys

from ..metrics import END_METRICS
from ._options import add_quiet, add_report_options, add_simulation_options, simulation_options

NAME = "sensitivity"
HELP = ("rank the quantizer groups (each node's outputs, each node's weights, each graph input) by the end metric "
        "against the float model with only that group at float or 16 bits, and with only that group quantized")


def add_debug_options(p, moves_default: str) -> None:
    """Options that sensitivity and mixed-precision share."""
    p.add_argument("model", help="the ONNX model")
    p.add_argument("--encodings", "-e", required=True, help="its AIMET encodings file")
    p.add_argument("--data", "-d", required=True, help="the input data folder")
    p.add_argument("--metric", "-m", default="snr", type=str.lower, choices=tuple(END_METRICS),
                   help="end metric: snr (dB, each output pooled over the samples, lowest output) or top1 (share of "
                        "rows whose argmax agrees with the float model); default %(default)s")
    p.add_argument("--moves", default=moves_default, help="comma-separated moves per group: int16, float "
                   "(default: %(default)s)")
    p.add_argument("--max-samples", type=int, metavar="N", help="use only the first N samples")
    p.add_argument("--worst-sample", action="store_true", help="score each output by its worst sample (as compare "
                   "judges each sample) instead of its value pooled over all samples")
    add_report_options(p, what="the result", html_as="an HTML page")
    add_simulation_options(p)
    add_quiet(p)


def debug_params(args) -> dict:
    return dict(input_model_path=args.model, input_encodings_path=args.encodings, input_data_path=args.data,
                metric=args.metric, moves=args.moves, max_samples=args.max_samples,
                worst_sample=args.worst_sample, **simulation_options(args))


def progress_bar(total, quiet: bool, desc: str):
    from tqdm import tqdm  # noqa: PLC0415

    return tqdm(total=total, desc=desc, unit="variant", disable=quiet or None, file=sys.stderr)


def write_reports(result, args) -> None:
    for path in (args.json, args.csv, args.html):
        if path:
            result.save(path)
            print(f"report written to {path}")

EXAMPLES = (
    'simulator sensitivity examples/tiny_cnn/model.onnx -e examples/tiny_cnn/model.encodings -d examples/tiny_cnn/data',
    'simulator sensitivity model.onnx -e model.encodings -d data --moves int16 --json sensitivity.json',
    'simulator sensitivity model.onnx -e model.encodings -d data --metric top1 --worst-sample',
)


def add_arguments(p) -> None:
    add_debug_options(p, "float,int16")
    p.add_argument("--no-reverse", action="store_true", help="skip the reverse check (only the group quantized)")


def run(args) -> int:
    from ..schema.base import SensitivityParameters
    from ..sensitivity import Evaluator, analyze

    params = SensitivityParameters(**debug_params(args), reverse=not args.no_reverse)
    evaluator = Evaluator.from_params(params)
    with progress_bar(len(evaluator.groups) + 1, args.quiet, "groups") as bar:
        result = analyze(evaluator, params.moves, params.reverse, progress=lambda _: bar.update(1))
    print(result)
    write_reports(result, args)
    return 0
