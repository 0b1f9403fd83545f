"""`simulator run`: run a model on every sample of a data folder and save the outputs."""
from __future__ import annotations

import os
import sys
import time

import numpy as np

from .. import safe_io
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
    add_simulation_options(p)


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
    from ..api import iter_inference
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
    names = [o.name for o in session.get_outputs()] + list(args.layer)
    total = data.count_samples(params.input_data_path, session.interpreter.inputs)
    os.makedirs(args.output_dir, exist_ok=True)
    count = 0
    summary = {}  # name -> [dtype, shapes seen, min, max] over every sample
    with tqdm(total=total, desc="samples", unit="sample", disable=args.quiet or None, file=sys.stderr) as bar:
        for sample, arrays in iter_inference(params, session):
            entries = _npz_entries(names, arrays)
            safe_io.write_npz(os.path.join(args.output_dir, f"{sample}.npz"), entries, "output file")
            count += 1
            for name, value in entries.items():
                _summarize(summary, name, np.asarray(value))
            bar.update(1)
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


def _summarize(summary: dict, name: str, value: np.ndarray) -> None:
    entry = summary.setdefault(name, [value.dtype, [], None, None])
    if value.shape not in entry[1] and len(entry[1]) < 3:
        entry[1].append(value.shape)
    if value.size and value.dtype.kind in "fiub":
        lo, hi = np.min(value), np.max(value)
        entry[2] = lo if entry[2] is None else min(entry[2], lo)
        entry[3] = hi if entry[3] is None else max(entry[3], hi)


def _npz_entries(names, values) -> dict:
    """{key: array}: a tensor under its name, a sequence's elements as NAME[i], an empty optional left out."""
    out = {}
    for name, value in zip(names, values):
        if isinstance(value, list):
            out.update({f"{name}[{i}]": v for i, v in enumerate(value)})
        elif value is not None:
            out[name] = value
    return out
