"""The option bases the parameter schemas share: how to simulate (device, rounding, int32 bias, determinism,
kernels) and how to compare (metric, threshold, top_k; the metrics come from simulator.metrics' registry)."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, field_validator

from ..metrics import METRIC_NAMES as METRICS
from ..metrics import higher_is_better_names, names_text, unknown_metric
from ..quantization import HALF_AWAY_FROM_ZERO, HALF_TO_EVEN
from .fields import _alias, _Parameters, finite

Rounding = Literal["half_away_from_zero", "half_to_even", "onnxruntime_qdq"]


class _SimulationOptions(_Parameters):
    use_cuda: bool = Field(False, description="Run on the GPU through CuPy; False runs on the CPU.")
    rounding: Rounding = Field(HALF_AWAY_FROM_ZERO, description="Rounding of quantization ties: AIMET's "
                               f"'{HALF_AWAY_FROM_ZERO}' (default), ONNX QuantizeLinear's '{HALF_TO_EVEN}', or "
                               "'onnxruntime_qdq' (ONNX Runtime's QDQ order: round x/scale to even, then add the "
                               "zero point).")
    apply_int32_bias: bool = Field(False, description="Apply 2.x files' int32 bias encodings (AIMET's simulation "
                                   "does not; a QDQ runtime would).")

    deterministic: bool = Field(False, description="Accumulate matrix products in float64, rounded to float32 "
                                "once: the same bits on CPU and GPU under any BLAS build (slower; not AIMET's "
                                "float32 order).")

    kernels: Literal["numpy", "onnxruntime"] = Field(
        "numpy", description="Float kernels: 'numpy', the independent pure-NumPy reference (default), or "
        "'onnxruntime', ONNX Runtime's CPU kernels for Conv, ConvTranspose, MatMul, Gemm and LayerNormalization, "
        "AIMET's bits (needs the onnxruntime extra; CPU only, not with deterministic).")
    ort_threads: int = Field(0, ge=0, description="kernels='onnxruntime' only: ONNX Runtime's intra-op thread "
                             "count, which decides MLAS's summation order; 0 (default) is ONNX Runtime's default, "
                             "AIMET's on the same machine; set the core count of the machine AIMET ran on.")

    # the sample loop (simulator.runner; docs/scale-out.md): ignored by get_inference_session
    workers: int = Field(1, ge=1, description="Worker processes for the samples (1: this process, as before).")
    scheduler: Optional[str] = Field(None, description="A Dask scheduler address (tcp://host:8786): the samples "
                                     "run on its workers, which read the data folder from shared storage.")
    shard_size: int = Field(16, ge=1, le=1 << 20, description="Samples per shard: the unit of work, of "
                            "checkpoints and of re-runs after a worker dies (the results do not depend on it).")
    checkpoint_path: Optional[str] = Field(None, description="A folder where each finished shard's result is saved, "
                                           "so that resume=True can skip them.")
    resume: bool = Field(False, description="Skip the shards already saved in checkpoint_path.")

    @field_validator("use_cuda", "apply_int32_bias", "deterministic", "resume", mode="before")
    @classmethod
    def _strict_bool(cls, v):
        if not isinstance(v, bool):
            raise ValueError(f"expected true or false, got {v!r}")
        return v


class _MetricOptions(_SimulationOptions):
    """The metric, its threshold and options, shared by the checkers (docs/comparison.md gives the formulas)."""
    metric: Literal[METRICS] = Field("snr", validation_alias=_alias("metric", "meric"),
                                     description=f"{names_text(METRICS)}.")
    threshold: float = Field(30.0, allow_inf_nan=False, description="Pass/fail threshold; "
                             f"{names_text(higher_is_better_names(), 'and')} pass at value >= threshold, the error "
                             "metrics at value <= threshold.")
    top_k: int = Field(1, ge=1, description="k of the topk metric: the reference's top-1 class must be among the "
                       "compared model's top k.")
    threshold_scope: Literal["sample", "pooled", "mean"] = Field(
        "sample", description="What must pass: every sample (default), the pooled value (the metric of all samples' "
        "elements together) or the mean of the per-sample values.")
    samples_path: Optional[str] = Field(None, description="Write each sample's row (passed, values) to this "
                                        "JSON-lines file as the samples are merged.")
    keep_samples: bool = Field(True, description="Keep the per-sample rows in the result; False keeps memory "
                               "constant in the number of samples (rows then only in samples_path).")

    @field_validator("metric", mode="before")
    @classmethod
    def _metric(cls, v):
        if isinstance(v, str) and v.lower() not in METRICS:
            raise ValueError(unknown_metric(v))
        return v.lower() if isinstance(v, str) else v

    @field_validator("threshold", mode="before")
    @classmethod
    def _finite(cls, v):
        return finite(v)
