"""Options that every command running the simulator shares (device, rounding, int32 bias, determinism)."""
from __future__ import annotations

from ..quantization import ROUNDING_MODES


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
