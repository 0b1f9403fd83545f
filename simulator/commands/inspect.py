"""`simulator inspect`: what an encodings file does to a model, tensor by tensor."""
from __future__ import annotations

import json

from .. import safe_io
from ._options import add_runner_options, output_file, positive_int, runner_run_options

NAME = "inspect"
HELP = "show each tensor's encoding (or none) in graph order, totals per bitwidth and suspicious encodings"
EXAMPLES = (
    'simulator inspect examples/tiny_cnn/model.onnx -e examples/tiny_cnn/model.encodings',
    'simulator inspect examples/tiny_cnn/model.onnx -e examples/tiny_cnn/model.encodings -d examples/tiny_cnn/data --max-samples 2',
    'simulator inspect examples/tiny_cnn/model.onnx -e examples/tiny_cnn/model.encodings --json report.json',
)


def _json_target(text: str) -> str:
    return text if text == "-" else output_file(text)


def add_arguments(p) -> None:
    p.add_argument("model", help="the ONNX model file")
    p.add_argument("--encodings", "-e", help="the AIMET encodings file (omit to list the model's tensors)")
    p.add_argument("--data", "-d", help="a data folder: also check each grid against the observed range")
    p.add_argument("--max-samples", type=positive_int, default=None, help="read at most this many samples of --data")
    p.add_argument("--json", nargs="?", const="-", metavar="FILE", type=_json_target,
                   help="write the report as JSON (to FILE, or to stdout without one) instead of the table")
    p.add_argument("--encoded-only", action="store_true", help="list only the encoded tensors in the table")
    add_runner_options(p, resume=False)


def run(args) -> int:
    from ..tools.inspect import inspect_encodings  # noqa: PLC0415

    report = inspect_encodings(args.model, args.encodings, args.data, args.max_samples,
                               runner_options=runner_run_options(args))
    if args.json:
        text = json.dumps(report.to_dict(), indent=2, default=str)
        if args.json == "-":
            print(text)
        else:
            safe_io.write_text(args.json, text + "\n", "--json file")
            print(f"report written to {args.json} ({len(report.encoded)} encoded tensor(s), "
                  f"{len(report.warnings)} warning(s))")
    else:
        print(report.format_table(only_encoded=args.encoded_only))
    return 0
