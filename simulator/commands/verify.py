"""`simulator verify`: check featuremaps dumped by another tool or a device against the simulator."""
from __future__ import annotations

from ._options import add_common_options, add_isolated_threshold, common_params
from .compare import finish, run_with_progress

NAME = "verify"
HELP = ("verify featuremaps dumped by another tool or a device (.npy, .npz, AIMET layer-output .raw, device .bin) against the "
        "simulator, layer by layer: cumulative and isolated (the op re-run on the dumped inputs)")
EXAMPLES = (
    'simulator verify examples/tiny_cnn/model.onnx -e examples/tiny_cnn/model.encodings --dumps outputs -d examples/tiny_cnn/data  # what `simulator run` wrote',
    'simulator verify model.onnx -e model.encodings --dumps device_dump/ -d data --html verify.html',
    'simulator verify model.onnx -e model.encodings --dumps aimet_dump/   # outputs/layer_outputs_N/*.raw',
)


def add_arguments(p) -> None:
    p.add_argument("model", help="the ONNX model the dumps come from")
    p.add_argument("--encodings", "-e", help="its AIMET encodings file (omit for float)")
    p.add_argument("--dumps", required=True, help="the dump folder: <sample>/<tensor>.npy, <sample>.npz, or AIMET's "
                   "outputs/layer_outputs_N/<tensor>.raw")
    p.add_argument("--data", "-d", help="the input data folder the dumps were made from (default: the graph inputs "
                   "found in the dump)")
    add_common_options(p, two_models=False)
    add_isolated_threshold(p)
    p.add_argument("--name-map", metavar="FILE", help="a JSON file {dump file name: tensor name} (default: by name, "
                   "sanitized name, then unique suffix)")
    p.add_argument("--tie-tolerance", type=float, default=0.01, help="steps from half-way within which a one-step "
                   "difference counts as a rounding tie (default: %(default)s)")


def run(args) -> int:
    from ..api import Simulator
    from ..compare.dump_reader import Dump
    from ..schema.base import DumpVerifierParameters

    params = DumpVerifierParameters(input_model_path=args.model, input_encodings_path=args.encodings,
                                    featuremap_path=args.dumps, input_data_path=args.data,
                                    isolated_threshold=args.isolated_threshold, name_map_path=args.name_map,
                                    tie_tolerance=args.tie_tolerance, **common_params(args))
    total = len(Dump(params.featuremap_path).samples)
    result = run_with_progress(Simulator.verify_featuremaps, params, total, args.quiet)
    return finish(result, args)
