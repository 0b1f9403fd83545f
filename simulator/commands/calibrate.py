"""`simulator calibrate`: AIMET-compatible min-max encodings from a data folder."""
from __future__ import annotations

import sys

from ._options import add_runner_options, positive_int, runner_run_options

NAME = "calibrate"
HELP = "compute min-max encodings (AIMET layout, any version) for a float model from a data folder"
EXAMPLES = (
    'simulator calibrate examples/tiny_cnn/model.onnx -d examples/tiny_cnn/data -o calibrated.encodings',
    'simulator calibrate examples/tiny_cnn/model.onnx -d examples/tiny_cnn/data -o w8a16.encodings --act-bw 16 --per-channel',
    'simulator calibrate examples/tiny_cnn/model.onnx -d examples/tiny_cnn/data -o mixed.encodings --op-bw Softmax=16 -V 2.0.0',
)


def _pairs(values, what):
    from ..errors import ParameterError  # noqa: PLC0415

    out = {}
    for v in values:
        key, sep, bw = v.rpartition("=")
        if not sep or not key:
            raise ParameterError(f"{what} expects NAME=BITWIDTH (e.g. Softmax=16 or Softmax=float16), got {v!r}")
        out[key] = bw
    return out


def add_arguments(p) -> None:
    from ..tools.convert import WRITE_VERSIONS  # noqa: PLC0415

    p.add_argument("model", help="the float ONNX model")
    p.add_argument("--data", "-d", required=True, help="the calibration data folder")
    p.add_argument("--output", "-o", required=True, help="the encodings file to write")
    p.add_argument("--version", "-V", choices=WRITE_VERSIONS, default="1.0.0", help="file version (default %(default)s)")
    p.add_argument("--param-bw", type=int, default=8, help="weight bitwidth (default %(default)s)")
    p.add_argument("--act-bw", type=int, default=8, help="activation bitwidth (default %(default)s)")
    p.add_argument("--per-channel", action="store_true", help="per-channel weights (default: per tensor)")
    p.add_argument("--act-symmetric", action="store_true", help="symmetric activations (default: asymmetric)")
    p.add_argument("--op-bw", action="append", default=[], metavar="OP=BW",
                   help="bitwidth (or float16) for the outputs and weights of an op type, e.g. Softmax=16 (repeatable)")
    p.add_argument("--tensor-bw", action="append", default=[], metavar="NAME=BW",
                   help="bitwidth (or float16) for one tensor (repeatable)")
    p.add_argument("--max-samples", type=positive_int, default=None, help="calibrate on at most this many samples")
    add_runner_options(p, resume=False)


def run(args) -> int:
    from ..model import load_model  # noqa: PLC0415
    from ..tools.calibrate import CalibrationConfig, calibrate  # noqa: PLC0415

    config = CalibrationConfig(args.param_bw, args.act_bw, args.per_channel, args.act_symmetric,
                               op_bitwidths=_pairs(args.op_bw, "--op-bw"),
                               tensor_bitwidths=_pairs(args.tensor_bw, "--tensor-bw"))
    model = load_model(args.model)
    cal = calibrate(model, args.data, config, args.max_samples, source=args.model,
                    runner_options=runner_run_options(args))
    written = cal.write(args.version, model, args.output)
    for note in written.notes:
        print(f"note: {note}", file=sys.stderr)
    if cal.unobserved:
        print(f"note: {len(cal.unobserved)} tensor(s) never produced on the data, left without an encoding: "
              f"{', '.join(cal.unobserved[:5])}", file=sys.stderr)
    print(f"calibrated {len(cal.encodings)} encoding(s) ({len(cal.params)} parameter(s)) on {cal.samples} sample(s): "
          f"{args.output} (version {args.version})")
    return 0
