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
    p.add_argument("--kernels", choices=("numpy", "onnxruntime"), default="numpy",
                   help="float kernels: numpy, the independent reference (default), or onnxruntime, ONNX Runtime's "
                   "CPU kernels, which reproduce AIMET's QuantSim bit for bit (pip install '.[onnxruntime]')")
    p.add_argument("--ort-threads", type=int, default=0, metavar="N",
                   help="with --kernels onnxruntime: ONNX Runtime's thread count, which decides its summation "
                   "order (default 0: ONNX Runtime's default, as AIMET on this machine)")


def simulation_options(args) -> dict:
    """The parameter-schema fields of add_simulation_options' options."""
    return dict(use_cuda=args.cuda, rounding=args.rounding, apply_int32_bias=args.int32_bias,
                deterministic=args.deterministic, kernels=args.kernels, ort_threads=args.ort_threads)
