"""`simulator mixed-precision`: a small set of per-group precision changes that meets a target, written as an
encodings file (the source's version) and a list of the nodes to exclude from quantization."""
from __future__ import annotations

import os

from .sensitivity import add_debug_options, debug_params, progress_bar, write_reports

NAME = "mixed-precision"
HELP = ("find a small set of quantizer groups to raise to 16 bits or keep in float so that the model meets a target "
        "(SNR against the float model, or top-1 agreement); write the encodings file and the exclude list")

EXAMPLES = (
    'simulator mixed-precision examples/tiny_cnn/model.onnx -e examples/tiny_cnn/model.encodings -d examples/tiny_cnn/data --target-snr 50 -o mixed.encodings',
    'simulator mixed-precision model.onnx -e model.encodings -d data --target-top1 0.99 -o mixed.encodings --json search.json',
    'simulator mixed-precision model.onnx -e model.encodings -d data --target-snr 35 --moves int16 -o mixed.encodings',
)


def add_arguments(p) -> None:
    add_debug_options(p, "int16,float")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--target-snr", type=float, metavar="DB", help="the SNR to reach, dB (with --metric snr)")
    target.add_argument("--target-top1", type=float, metavar="SHARE", help="the top-1 agreement to reach, 0 to 1 "
                        "(sets --metric top1)")
    p.add_argument("--output", "-o", required=True, metavar="OUT.encodings", help="the encodings file to write")
    p.add_argument("--exclude-list", metavar="FILE", help="the node names moved to float, one a line (default: "
                   "OUT.exclude.txt beside the encodings file)")
    p.add_argument("--tolerance", type=float, help="prefer 16 bits over float when within this much of float's "
                   "metric (default: 1 dB for snr, 0 for top1)")


def run(args) -> int:
    from ..errors import ParameterError
    from ..mixed_precision import search
    from ..schema.base import MixedPrecisionParameters
    from ..sensitivity import Evaluator

    if args.target_top1 is not None:
        args.metric = "top1"
    elif args.metric != "snr":
        raise ParameterError("--target-snr needs --metric snr (use --target-top1 for top-1 agreement)")
    target = args.target_snr if args.target_snr is not None else args.target_top1
    exclude = args.exclude_list or os.path.splitext(args.output)[0] + ".exclude.txt"
    params = MixedPrecisionParameters(**debug_params(args), target=target, tolerance=args.tolerance,
                                      output_encodings_path=args.output, exclude_list_path=exclude)
    evaluator = Evaluator.from_params(params)
    with progress_bar(None, args.quiet, "variants") as bar:
        result = search(evaluator, params.target, params.moves, params.tolerance, progress=lambda _: bar.update(1))
    if result.reached:
        result.write(params.output_encodings_path, params.exclude_list_path)
    print(result)
    if result.reached:
        print(f"encodings written to {params.output_encodings_path}; nodes to exclude written to "
              f"{params.exclude_list_path}")
    else:
        print("target not reached with the allowed moves: nothing written")
    write_reports(result, args)
    return 0 if result.reached else 1
