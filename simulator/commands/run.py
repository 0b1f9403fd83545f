"""`simulator run`: run a model on every sample of a data folder and save the outputs."""
from __future__ import annotations

import os
import sys
import time

from ._options import add_quiet, add_simulation_options, simulation_options

NAME = "run"
HELP = "run a model on every sample of a data folder and save the outputs"
EXAMPLES = (
    'simulator run examples/tiny_cnn/model.onnx -e examples/tiny_cnn/model.encodings -d examples/tiny_cnn/data -o outputs',
    'simulator run examples/tiny_cnn/model.onnx -d examples/tiny_cnn/data -o float_outputs          # float: no encodings',
    'simulator run examples/tiny_cnn/model.onnx -e examples/tiny_cnn/model.encodings -d examples/tiny_cnn/data -l /relu1/Relu_output_0::pre_quant',
)


def add_model_options(p) -> None:
    """The options every command that loads and runs one model shares."""
    p.add_argument("model", help="the ONNX model file")
    p.add_argument("--encodings", "-e", help="the AIMET encodings file (omit for float inference)")
    add_simulation_options(p, runner=True)


def add_arguments(p) -> None:
    add_model_options(p)
    p.add_argument("--data", "-d", required=True, help="the input data folder")
    p.add_argument("--output-dir", "-o", default="outputs", help="where to write one .npz per sample "
                   "(default: %(default)s)")
    p.add_argument("--layer", "-l", action="append", default=[], metavar="NAME",
                   help="also save this intermediate tensor (repeatable; NAME::pre_quant for its value before "
                        "its encoding)")
    add_quiet(p)


def run(args) -> int:
    from tqdm import tqdm  # noqa: PLC0415

    from .. import data
    from ..inference import run_to_files
    from ..schema.base import InferenceRunnerParameters
    from ..session import InferenceSession

    params = InferenceRunnerParameters(input_model_path=args.model, input_encodings_path=args.encodings,
                                       input_data_path=args.data, layerwise_check_name=args.layer,
                                       **simulation_options(args))
    start = time.perf_counter()
    session = InferenceSession.from_options(params.input_model_path, params.input_encodings_path, params)
    loaded = time.perf_counter() - start
    for warning in session.warnings:
        print(f"simulator: warning: {warning}", file=sys.stderr)
    total = data.count_samples(params.input_data_path, session.interpreter.inputs)
    with tqdm(total=total, desc="samples", unit="sample", disable=args.quiet or None, file=sys.stderr) as bar:
        result = run_to_files(params, args.output_dir, lambda sample: bar.update(1), session=session,
                              resume=args.resume)
    count, summary = result["count"], result["summary"]
    elapsed = time.perf_counter() - start
    enc = session.encodings
    mode = (f"quantized ({enc.version}, {len(enc.encodings)} encodings)" if enc and not enc.is_empty else "float")
    print(f"ran {count} sample(s) of {args.model} [{mode}] in {elapsed:.2f} s (load {loaded:.2f} s)")
    if summary:
        print(f"over all {count} sample(s):" if count > 1 else "over the sample:")
    for name, (dtype, shapes, lo, hi) in summary.items():
        shape = " or ".join(str(list(s)) for s in shapes)
        print(f"  {name}: {dtype}{shape}" + (f"  min {lo:.6g}  max {hi:.6g}" if lo is not None else ""))
    print(f"outputs written to {os.path.abspath(args.output_dir)} (one .npz per sample, keyed by tensor name; a "
          f"sequence's elements as NAME[0], NAME[1], ...; an empty optional is left out)")
    return 0

