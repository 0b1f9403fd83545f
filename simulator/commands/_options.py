"""Options that every command running the simulator shares (device, rounding, int32 bias, determinism)."""
from __future__ import annotations

from ..quantization import ROUNDING_MODES


def add_simulation_options(p) -> None:
    p.add_argument("--cuda", action="store_true", help="run on the GPU through CuPy")
    p.add_argument("--rounding", choices=ROUNDING_MODES, default=ROUNDING_MODES[0],
                   help="rounding of quantization ties (default: %(default)s, as AIMET)")
    p.add_argument("--int32-bias", action="store_true", help="apply 2.x files' int32 bias encodings")
    p.add_argument("--deterministic", action="store_true", help="accumulate matrix products in float64: the same "
                   "bits on CPU and GPU, whatever the BLAS (slower; docs/quantization.md)")
    add_runner_options(p)


def add_runner_options(p, resume: bool = True) -> None:
    """How the samples are spread over processes (simulator.runner; docs/scale-out.md)."""
    p.add_argument("--workers", "-j", type=int, default=1, help="worker processes (default: %(default)s, this "
                   "process); the result is the same bits for any number")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run the samples on a Dask cluster (tcp://host:8786); "
                   "its workers read the data folder from shared storage")
    p.add_argument("--shard-size", type=int, default=16, help="samples per shard (default: %(default)s)")
    if resume:
        p.add_argument("--resume", action="store_true", help="skip the shards an interrupted run already finished")


def simulation_options(args) -> dict:
    """The parameter-schema fields of add_simulation_options' options."""
    return dict(use_cuda=args.cuda, rounding=args.rounding, apply_int32_bias=args.int32_bias,
                deterministic=args.deterministic, **runner_options(args))


def runner_options(args) -> dict:
    return dict(workers=args.workers, scheduler=args.scheduler, shard_size=args.shard_size)


def runner_run_options(args):
    """simulator.runner.Options of add_runner_options' options (commands without a parameter schema)."""
    from ..runner import Options  # noqa: PLC0415

    return Options(workers=args.workers, scheduler=args.scheduler, shard_size=args.shard_size)
