"""The vendor API's parameter schemas (pydantic).

Field names follow the API page's code examples; the spellings of its field lists are accepted too
(input_encondings_path, input_encondings_path_0/1, input_model_path0/1, meric). Unknown fields and
invalid values raise ParameterError naming the field.
"""
from __future__ import annotations

import math
from typing import Literal, Optional

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import ParameterError
from ..paths import checked_path
from ..quantization import HALF_AWAY_FROM_ZERO, HALF_TO_EVEN

METRICS = ("snr", "psnr", "rmse", "mse", "mae", "max_abs", "cosine", "relative_l2", "topk")
Rounding = Literal["half_away_from_zero", "half_to_even", "onnxruntime_qdq"]


def model_file(value) -> str:
    return checked_path(value, "model file", ValueError, expected="the model file itself (e.g. model.onnx)")


def encodings_file(value) -> Optional[str]:
    if value is None or value == "":
        return None  # no encodings: float inference
    return checked_path(value, "encodings file", ValueError,
                        expected="the encodings file itself (e.g. model.encodings)")


def data_folder(value) -> str:
    return checked_path(value, "data folder", ValueError, folder=True,
                        expected="the folder that holds the input data")


def _alias(*names: str):
    return AliasChoices(*names)


class _Parameters(BaseModel):
    """Base: forbids unknown fields and turns validation errors into one ParameterError."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, validate_assignment=True, frozen=False)

    def __init__(self, **data):
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise ParameterError(_describe(type(self), exc)) from None

    @model_validator(mode="before")
    @classmethod
    def _one_spelling(cls, data):
        """A field given under two spellings with different values is ambiguous."""
        if isinstance(data, dict):
            for name, info in cls.model_fields.items():
                alias = info.validation_alias
                choices = [c for c in getattr(alias, "choices", []) if isinstance(c, str)]
                given = [c for c in choices if c in data]
                if len({repr(data[c]) for c in given}) > 1:
                    raise ValueError(f"{name!r} is given twice with different values: "
                                     + ", ".join(f"{c}={data[c]!r}" for c in given))
        return data


def _describe(cls, exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "parameters"
        if err["type"] == "extra_forbidden":
            valid = ", ".join(cls.model_fields)
            problems.append(f"unknown field {where!r} (valid fields: {valid})")
        elif err["type"] == "missing":
            problems.append(f"field {where!r} is required")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"field {where!r}: {msg}")
    return f"invalid {cls.__name__}: " + "; ".join(problems)


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


class GetInferenceSessionParameters(_SimulationOptions):
    input_model_path: str = Field(description="The ONNX model file (not its folder).")
    input_encodings_path: Optional[str] = Field(
        None, validation_alias=_alias("input_encodings_path", "input_encondings_path"),
        description="The AIMET encodings file; None (or an empty file) means float inference.")

    _model = field_validator("input_model_path", mode="before")(classmethod(lambda cls, v: model_file(v)))
    _enc = field_validator("input_encodings_path", mode="before")(classmethod(lambda cls, v: encodings_file(v)))


class InferenceSessionParameters(GetInferenceSessionParameters):
    """GetInferenceSessionParameters under the name of the API page's examples (a subclass, so that its
    errors say the name the user wrote)."""


class InferenceRunnerParameters(GetInferenceSessionParameters):
    input_data_path: str = Field(description="The input data folder (toolchain layout).")
    layerwise_check_name: list[str] = Field(
        default_factory=list, description="Tensor names whose featuremaps are returned after the outputs.")

    _data = field_validator("input_data_path", mode="before")(classmethod(lambda cls, v: data_folder(v)))

    @field_validator("layerwise_check_name", mode="before")
    @classmethod
    def _names(cls, v):
        if v is None:
            return []
        if isinstance(v, str):
            return [v]
        return v


class _MetricOptions(_SimulationOptions):
    """The metric, its threshold and options, shared by the checkers (docs/comparison.md gives the formulas)."""
    metric: Literal[METRICS] = Field("snr", validation_alias=_alias("metric", "meric"),
                                     description="snr, psnr, rmse, mse, mae, max_abs, cosine, relative_l2 or topk.")
    threshold: float = Field(30.0, allow_inf_nan=False, description="Pass/fail threshold; snr, psnr, cosine and topk "
                             "pass at value >= threshold, the error metrics at value <= threshold.")
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
            raise ValueError(f"unknown metric {v!r}; valid metrics: {', '.join(METRICS)}")
        return v.lower() if isinstance(v, str) else v

    @field_validator("threshold", mode="before")
    @classmethod
    def _finite(cls, v):
        if isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isfinite(v):
            raise ValueError(f"threshold must be a finite number, got {v!r}")
        return v


class InferenceCheckerParameters(_MetricOptions):
    input_model_path_0: str = Field(validation_alias=_alias("input_model_path_0", "input_model_path0"),
                                    description="The reference model.")
    input_encodings_path_0: Optional[str] = Field(
        None, validation_alias=_alias("input_encodings_path_0", "input_encondings_path_0", "input_encodings_path0"))
    input_model_path_1: str = Field(validation_alias=_alias("input_model_path_1", "input_model_path1"),
                                    description="The model compared with the reference.")
    input_encodings_path_1: Optional[str] = Field(
        None, validation_alias=_alias("input_encodings_path_1", "input_encondings_path_1", "input_encodings_path1"))
    input_data_path: str

    _m0 = field_validator("input_model_path_0", "input_model_path_1", mode="before")(
        classmethod(lambda cls, v: model_file(v)))
    _e = field_validator("input_encodings_path_0", "input_encodings_path_1", mode="before")(
        classmethod(lambda cls, v: encodings_file(v)))
    _data = field_validator("input_data_path", mode="before")(classmethod(lambda cls, v: data_folder(v)))


def _optional_threshold(v):
    if v is None:
        return v
    if isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isfinite(v):
        raise ValueError(f"threshold must be a finite number, got {v!r}")
    return v


class LayerwiseCheckerParameters(InferenceCheckerParameters):
    layer_match_info: Optional[list[tuple[str, str]]] = Field(
        None, description="Pairs (tensor in model 0, tensor in model 1); default: every shared tensor name.")
    export_featuremap: bool = False
    export_featuremap_path: Optional[str] = None
    isolated: bool = Field(True, description="Also re-run each layer's op of model 1 on model 0's inputs (the "
                           "isolated error, beside the cumulative one).")
    isolated_threshold: Optional[float] = Field(None, description="Threshold of the isolated check (default: "
                                                "threshold).")

    _iso = field_validator("isolated_threshold", mode="before")(classmethod(lambda cls, v: _optional_threshold(v)))

    @model_validator(mode="after")
    def _export_path(self):
        if self.export_featuremap and not self.export_featuremap_path:
            raise ValueError("export_featuremap=True needs export_featuremap_path (the folder to write to)")
        return self


class FeaturemapVerifierParameters(_MetricOptions):
    """Verify featuremaps dumped by another tool or a device against the simulator, layer by layer."""
    input_model_path: str = Field(description="The ONNX model the dumps come from.")
    input_encodings_path: Optional[str] = Field(
        None, validation_alias=_alias("input_encodings_path", "input_encondings_path"),
        description="Its encodings; None for a float model.")
    featuremap_path: str = Field(validation_alias=_alias("featuremap_path", "dump_path"),
                                 description="The dump folder: .npy per tensor (one sub-folder per sample), .npz "
                                 "per sample, or AIMET's layer-output dump (outputs/layer_outputs_N/*.raw).")
    input_data_path: Optional[str] = Field(None, description="The inputs the dumps were made from; default: the "
                                           "graph inputs found in the dump (AIMET's inputs/ folder).")
    isolated_threshold: Optional[float] = Field(None, description="Threshold of the isolated check (default: "
                                                "threshold).")

    _model = field_validator("input_model_path", mode="before")(classmethod(lambda cls, v: model_file(v)))
    _enc = field_validator("input_encodings_path", mode="before")(classmethod(lambda cls, v: encodings_file(v)))
    _dump = field_validator("featuremap_path", mode="before")(classmethod(lambda cls, v: data_folder(v)))
    _data = field_validator("input_data_path", mode="before")(
        classmethod(lambda cls, v: None if v is None else data_folder(v)))
    _iso = field_validator("isolated_threshold", mode="before")(classmethod(lambda cls, v: _optional_threshold(v)))


__all__ = ["InferenceRunnerParameters", "GetInferenceSessionParameters", "InferenceSessionParameters",
           "InferenceCheckerParameters", "LayerwiseCheckerParameters",
           "FeaturemapVerifierParameters", "METRICS"]

from .debugging import DumpVerifierParameters, MixedPrecisionParameters, SensitivityParameters  # noqa: E402

__all__ += ["SensitivityParameters", "MixedPrecisionParameters", "DumpVerifierParameters"]
