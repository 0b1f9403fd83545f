"""`simulator compare`: run two models on every sample of a data folder and compare their outputs."""
from __future__ import annotations

import sys

from ._options import METRIC_CHOICES, add_common_options, common_params, model_params  # noqa: F401

NAME = "compare"
HELP = "compare the outputs of two models (model 0 is the reference) on every sample of a data folder"
EXAMPLES = (
    'simulator compare examples/tiny_cnn/model.onnx examples/tiny_cnn/model.onnx -e1 examples/tiny_cnn/model.encodings -d examples/tiny_cnn/data',
    'simulator compare examples/tiny_cnn/model.onnx examples/tiny_cnn/model.onnx -e1 examples/tiny_cnn/model.encodings -d examples/tiny_cnn/data -m cosine -t 0.999',
    'simulator compare examples/tiny_cnn/model.onnx examples/tiny_cnn/model.onnx -e1 examples/tiny_cnn/model.encodings -d examples/tiny_cnn/data --html report.html',
)


def run_with_progress(fn, params, total: int, quiet: bool):
    from tqdm import tqdm  # noqa: PLC0415

    with tqdm(total=total, desc="samples", unit="sample", disable=quiet or None, file=sys.stderr) as bar:
        return fn(params, progress=lambda sample: bar.update(1))


def finish(result, args) -> int:
    """Print the table, write the reports asked for; 0 when the threshold holds, 1 when it does not."""
    for warning in result.warnings:
        print(f"simulator: warning: {warning}", file=sys.stderr)
    print(result)
    for path in (args.json, args.csv, args.html):
        if path:
            result.save(path)
            print(f"report written to {path}")
    return 0 if result.passed else 1


def add_arguments(p) -> None:
    add_common_options(p)


def run(args) -> int:
    from .. import data
    from ..api import Simulator
    from ..schema.base import InferenceCheckerParameters
    from ..api import _model_inputs

    params = InferenceCheckerParameters(**model_params(args), **common_params(args))
    total = data.count_samples(params.input_data_path, _model_inputs(params.input_model_path_0))
    result = run_with_progress(Simulator.compare_model_by_inference, params, total, args.quiet)
    return finish(result, args)
