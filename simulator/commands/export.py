"""`simulator export`: a standard QDQ ONNX model (QuantizeLinear/DequantizeLinear pairs) from a model and its
encodings."""
from __future__ import annotations

import sys

NAME = "export"
HELP = "export a model and its encodings as a QDQ ONNX model that ONNX Runtime runs"
EXAMPLES = (
    'simulator export examples/tiny_cnn/model.onnx -e examples/tiny_cnn/model.encodings -o qdq.onnx',
    'simulator export examples/tiny_cnn/model.onnx -e examples/tiny_cnn/model.encodings -o qdq.onnx -d examples/tiny_cnn/data   # and check it in ONNX Runtime',
)


def add_arguments(p) -> None:
    p.add_argument("model", help="the ONNX model file")
    p.add_argument("--encodings", "-e", required=True, help="the AIMET encodings file")
    p.add_argument("--output", "-o", required=True, help="the QDQ model to write (.onnx)")
    p.add_argument("--check-data", "-d", help="a data folder: run the QDQ model in ONNX Runtime (optimizations off) "
                                              "and compare with the simulator in rounding mode onnxruntime_qdq")


def run(args) -> int:
    from ..tools.export_qdq import compare_with_simulator, export_qdq  # noqa: PLC0415

    exported = export_qdq(args.model, args.encodings, args.output)
    for note in exported.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"exported {len(exported.quantized)} quantizer(s) as QDQ: {args.output}")
    if args.check_data:
        res = compare_with_simulator(args.model, args.encodings, exported.model, args.check_data)
        print(f"ONNX Runtime vs simulator (onnxruntime_qdq): {res['identical']}/{res['elements']} output elements "
              f"identical over {res['samples']} sample(s), SNR {res['snr_db']:.2f} dB")
    return 0
