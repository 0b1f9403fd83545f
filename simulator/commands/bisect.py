"""`simulator bisect`: the first dumped layer that fails in isolation on any sample, by bisection."""
from __future__ import annotations

from ._options import common_params
from .sensitivity import progress_bar, write_reports

NAME = "bisect"
HELP = ("find the first dumped layer whose isolated error (recomputed from the nearest dumped values) exceeds the "
        "threshold on any sample, by bisection over the dumped layers (O(log L) partial re-runs)")

EXAMPLES = (
    'simulator bisect examples/tiny_cnn/model.onnx -e examples/tiny_cnn/model.encodings --dumps outputs -d examples/tiny_cnn/data  # what `simulator run` wrote',
    'simulator bisect model.onnx -e model.encodings --dumps device_dump/ -d data --threshold 40',
    'simulator bisect model.onnx -e model.encodings --dumps aimet_dump/ --name-map names.json',
)


def add_arguments(p) -> None:
    from .verify import add_arguments as verify_arguments  # noqa: PLC0415

    verify_arguments(p)


def run(args) -> int:
    from ..api import Simulator
    from ..schema.base import DumpVerifierParameters

    params = DumpVerifierParameters(input_model_path=args.model, input_encodings_path=args.encodings,
                                    featuremap_path=args.dumps, input_data_path=args.data,
                                    isolated_threshold=args.isolated_threshold, name_map_path=args.name_map,
                                    tie_tolerance=args.tie_tolerance, **common_params(args))
    with progress_bar(None, args.quiet, "probes") as bar:
        result = Simulator.bisect_dumps(params, progress=lambda _: bar.update(1))
    print(result)
    write_reports(result, args)
    return 0 if result.first_failure is None else 1
