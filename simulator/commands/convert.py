"""`simulator convert`: rewrite an encodings file in another version (0.6.1, 1.0.0, 2.0.0)."""
from __future__ import annotations

import sys

NAME = "convert"
HELP = "convert an AIMET encodings file between versions 0.6.1, 1.0.0 and 2.0.0"
EXAMPLES = (
    'simulator convert examples/tiny_cnn/model.encodings --to 2.0.0 -o model_v2.encodings -m examples/tiny_cnn/model.onnx',
    'simulator convert model_v2.encodings --to 0.6.1 -o model_v061.encodings -m model.onnx',
)


def add_arguments(p) -> None:
    from ..tools.convert import WRITE_VERSIONS  # noqa: PLC0415

    p.add_argument("encodings", help="the encodings file to convert")
    p.add_argument("--to", "-t", required=True, choices=WRITE_VERSIONS, dest="version", help="the target version")
    p.add_argument("--output", "-o", required=True, help="where to write the converted file")
    p.add_argument("--model", "-m", help="the ONNX model (recommended: gives the per-channel axis 2.0.0 states and "
                                         "tells parameters from activations for a 2.x source)")


def run(args) -> int:
    from ..tools.convert import convert_encodings  # noqa: PLC0415

    conv = convert_encodings(args.encodings, args.version, model=args.model, output=args.output)
    for note in conv.notes:
        print(f"note: {note}", file=sys.stderr)
    n = len(conv.source.encodings)
    print(f"converted {n} encoding(s) from {conv.source.version} to {args.version}: {args.output}")
    return 0
