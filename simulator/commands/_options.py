"""Options the commands share: how to simulate (device, rounding, int32 bias, determinism, kernels), the metric
and its threshold (from simulator.metrics' registry), the reports to write, the progress bar; argparse types."""
from __future__ import annotations

from ..metrics import METRIC_NAMES, higher_is_better_names
from ..quantization import ROUNDING_MODES

METRIC_CHOICES = METRIC_NAMES


def add_simulation_options(p, runner: bool = False) -> None:
    p.add_argument("--cuda", action="store_true", help="run on the GPU through CuPy")
    p.add_argument("--rounding", choices=ROUNDING_MODES, default=ROUNDING_MODES[0],
                   help="rounding of quantization ties (default: %(default)s, as AIMET)")
    p.add_argument("--int32-bias", action="store_true", help="apply 2.x files' int32 bias encodings")
    p.add_argument("--deterministic", action="store_true", help="accumulate matrix products in float64: the same "
                   "bits on CPU and GPU, whatever the BLAS (slower; docs/quantization.md)")
    p.add_argument("--kernels", choices=("numpy", "onnxruntime"), default="numpy",
                   help="float kernels: numpy, the independent reference (default), or onnxruntime, ONNX Runtime's "
                   "CPU kernels, which reproduce AIMET's QuantSim bit for bit (pip install '.[onnxruntime]')")
    p.add_argument("--ort-threads", type=int, default=0, metavar="N",
                   help="with --kernels onnxruntime: ONNX Runtime's thread count, which decides its summation "
                   "order (default 0: ONNX Runtime's default, as AIMET on this machine)")
    if runner:  # the commands whose sample loop goes through simulator.runner (run, compare, layerwise, verify)
        add_runner_options(p)


def simulation_options(args) -> dict:
    """The parameter-schema fields of add_simulation_options' options."""
    return dict(use_cuda=args.cuda, rounding=args.rounding, apply_int32_bias=args.int32_bias,
                deterministic=args.deterministic, kernels=args.kernels, ort_threads=args.ort_threads,
                **(runner_options(args) if hasattr(args, "workers") else {}))


def add_metric_options(p) -> None:
    """--metric, --threshold and --top-k of the commands that compare (compare, layerwise, verify, bisect)."""
    p.add_argument("--metric", "-m", default="snr", type=str.lower, choices=METRIC_CHOICES,
                   help="the metric (default: %(default)s; docs/comparison.md gives the formulas)")
    p.add_argument("--threshold", "-t", type=float, default=30.0,
                   help=f"pass/fail threshold (default: %(default)s); {', '.join(higher_is_better_names())} pass at "
                        f">=, the error metrics at <=")
    p.add_argument("--top-k", type=int, default=1, help="k of the topk metric (default: %(default)s)")


def metric_options(args) -> dict:
    """The parameter-schema fields of add_metric_options' options."""
    return dict(metric=args.metric, threshold=args.threshold, top_k=args.top_k)


def add_isolated_threshold(p) -> None:
    p.add_argument("--isolated-threshold", type=float, help="threshold of the isolated check (default: --threshold)")


def add_report_options(p, what: str = "the report", html_as: str = "a standalone HTML page with a plot",
                       type=None) -> None:
    """--json, --csv and --html: the reports to write (`type`: the argparse type of their paths)."""
    p.add_argument("--json", metavar="FILE", type=type, help=f"write {what} as JSON")
    p.add_argument("--csv", metavar="FILE", type=type, help=f"write {what} as CSV")
    p.add_argument("--html", metavar="FILE", type=type, help=f"write {what} as {html_as}")


def add_quiet(p) -> None:
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def add_common_options(p, two_models: bool = True) -> None:
    """Options the comparison commands share: models, metric, threshold, reports, simulation options."""
    if two_models:
        p.add_argument("model0", help="the reference ONNX model")
        p.add_argument("model1", help="the ONNX model compared with it (may be the same file)")
        p.add_argument("--encodings0", "-e0", help="encodings of model 0 (omit for float)")
        p.add_argument("--encodings1", "-e1", help="encodings of model 1 (omit for float)")
        p.add_argument("--data", "-d", required=True, help="the input data folder")
    add_metric_options(p)
    add_report_options(p, type=output_file)
    p.add_argument("--threshold-scope", choices=("sample", "pooled", "mean"), default="sample",
                   help="what must pass: every sample (default), the pooled value over all samples, or the mean of "
                        "the per-sample values")
    p.add_argument("--samples-jsonl", metavar="FILE", help="stream each sample's row to FILE (JSON lines) and keep "
                   "none in memory: the report then lists no per-sample rows, only the worst samples")
    p.add_argument("--checkpoint-dir", metavar="DIR", help="save each finished shard in DIR; --resume skips them")
    add_simulation_options(p, runner=True)
    add_quiet(p)


def common_params(args) -> dict:
    return dict(**metric_options(args), threshold_scope=args.threshold_scope, samples_path=args.samples_jsonl,
                keep_samples=not args.samples_jsonl, checkpoint_path=args.checkpoint_dir, resume=args.resume,
                **simulation_options(args))


def model_params(args) -> dict:
    return dict(input_model_path_0=args.model0, input_encodings_path_0=args.encodings0,
                input_model_path_1=args.model1, input_encodings_path_1=args.encodings1, input_data_path=args.data)


def positive_int(text: str) -> int:
    """argparse type of a count that must be 1 or more (--max-samples 0 or -3 would silently mean one sample)."""
    import argparse  # noqa: PLC0415

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def output_file(text: str) -> str:
    """argparse type of a report file to write: its folder must exist (checked before a long run, never created)."""
    import argparse  # noqa: PLC0415
    import os  # noqa: PLC0415

    folder = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"folder {os.path.dirname(text) or folder!r} of {text!r} does not exist "
                                         f"(create it first)")
    return text


def add_runner_options(p, resume: bool = True) -> None:
    """How the samples are spread over processes (simulator.runner; docs/scale-out.md)."""
    p.add_argument("--workers", "-j", type=positive_int, default=1, help="worker processes (default: %(default)s, "
                   "this process); the result is the same bits for any number")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run the samples on a Dask cluster (tcp://host:8786); "
                   "its workers read the data folder from shared storage")
    p.add_argument("--shard-size", type=positive_int, default=16, help="samples per shard (default: %(default)s)")
    if resume:
        p.add_argument("--resume", action="store_true", help="skip the shards an interrupted run already finished")


def runner_options(args) -> dict:
    return dict(workers=args.workers, scheduler=args.scheduler, shard_size=args.shard_size)


def runner_run_options(args):
    """simulator.runner.Options of add_runner_options' options (commands without a parameter schema)."""
    from ..runner import Options  # noqa: PLC0415

    return Options(workers=args.workers, scheduler=args.scheduler, shard_size=args.shard_size)
