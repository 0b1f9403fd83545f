"""`simulator layerwise`: compare two models tensor by tensor; isolated and cumulative error per layer."""
from __future__ import annotations

from .. import safe_io
from ..errors import ParameterError
from ._options import add_common_options, add_isolated_threshold, common_params, model_params
from .compare import finish, run_with_progress

NAME = "layerwise"
HELP = ("compare two models layer by layer (model 0 is the reference): the cumulative and the isolated error of "
        "every shared tensor, and the first layer that fails")
EXAMPLES = (
    'simulator layerwise examples/tiny_cnn/model.onnx examples/tiny_cnn/model.onnx -e1 examples/tiny_cnn/model.encodings -d examples/tiny_cnn/data',
    'simulator layerwise examples/tiny_cnn/model.onnx examples/tiny_cnn/model.onnx -e1 examples/tiny_cnn/model.encodings -d examples/tiny_cnn/data --html layers.html',
    'simulator layerwise fp32.onnx int8.onnx -e1 int8.encodings -d data --match /conv1/Conv_output_0 conv1_out',
)


def add_arguments(p) -> None:
    add_common_options(p)
    p.add_argument("--match", nargs=2, action="append", metavar=("NAME0", "NAME1"), default=[],
                   help="compare tensor NAME0 of model 0 with NAME1 of model 1 (repeatable; default: every tensor "
                        "name the two graphs share)")
    p.add_argument("--match-file", metavar="FILE", help="a JSON file of pairs [[name0, name1], ...] or "
                   "{name0: name1}")
    add_isolated_threshold(p)
    p.add_argument("--no-isolated", action="store_true", help="skip the isolated re-run of each layer")
    p.add_argument("--export-featuremap", metavar="DIR", help="save the compared featuremaps under DIR "
                   "(model_0/<sample>/<tensor>.npy, model_1/..., index.json)")


def _name(value) -> str:
    """A tensor name from a match file: a string (a nested list or object is not a name)."""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise TypeError(value)
    return str(value)


def _match_info(args):
    pairs = [tuple(m) for m in args.match]
    if args.match_file:
        loaded = safe_io.read_json(args.match_file, "--match-file", ParameterError)
        items = loaded.items() if isinstance(loaded, dict) else loaded
        try:
            pairs += [(_name(a), _name(b)) for a, b in items]
        except (TypeError, ValueError):
            raise ParameterError(f"--match-file {args.match_file!r} must hold [[name0, name1], ...] or "
                                 f"{{name0: name1}}") from None
    return pairs or None


def run(args) -> int:
    from .. import data
    from ..api import Simulator, _model_inputs
    from ..schema.base import LayerwiseCheckerParameters

    params = LayerwiseCheckerParameters(**model_params(args), **common_params(args),
                                        layer_match_info=_match_info(args), isolated=not args.no_isolated,
                                        isolated_threshold=args.isolated_threshold,
                                        export_featuremap=bool(args.export_featuremap),
                                        export_featuremap_path=args.export_featuremap)
    total = data.count_samples(params.input_data_path, _model_inputs(params.input_model_path_0))
    result = run_with_progress(Simulator.compare_model_by_layer, params, total, args.quiet)
    return finish(result, args)
