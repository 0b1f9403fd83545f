"""`simulator rethreshold`: judge a saved comparison report against another threshold, without re-running."""
from __future__ import annotations

import json

NAME = "rethreshold"
HELP = "re-apply a threshold (per sample, pooled or mean of samples) to a saved compare/layerwise/verify JSON report"
EXAMPLES = (
    "simulator compare examples/tiny_cnn/model.onnx examples/tiny_cnn/model.onnx -e1 examples/tiny_cnn/model.encodings "
    "-d examples/tiny_cnn/data --json report.json   # writes the report",
    "simulator rethreshold report.json --threshold 40 --threshold-scope pooled   # pooled SNR >= 40 dB?",
)


def add_arguments(p) -> None:
    p.add_argument("report", help="the JSON report a comparison wrote (--json)")
    p.add_argument("--threshold", "-t", type=float, required=True, help="the new threshold")
    p.add_argument("--threshold-scope", choices=("sample", "pooled", "mean"), default="sample",
                   help="what must pass: every sample (default), the pooled value, or the mean of the samples")
    p.add_argument("--isolated-threshold", type=float, help="threshold of the isolated check (default: --threshold)")
    p.add_argument("--json", metavar="FILE", help="write the re-judged report as JSON")


def run(args) -> int:
    from ..accumulators import rethreshold  # noqa: PLC0415
    from ..errors import DataError  # noqa: PLC0415
    from ..report import save, to_text  # noqa: PLC0415

    try:
        with open(args.report, encoding="utf-8") as f:
            report = json.load(f)
    except (OSError, ValueError) as exc:
        raise DataError(f"report {args.report!r} cannot be read as JSON: {exc}") from None
    out = rethreshold(report, args.threshold, args.threshold_scope, args.isolated_threshold)
    print(to_text(out))
    if args.json:
        save(out, args.json)
        print(f"report written to {args.json}")
    return 0 if out["passed"] else 1
