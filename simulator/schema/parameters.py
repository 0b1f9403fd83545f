"""The vendor API's public parameter classes (re-exported by simulator.schema.base, the vendor's import path).

Field names follow the API page's code examples; the spellings of its field lists are accepted too
(input_encondings_path, input_encondings_path_0/1, input_model_path0/1, meric).
"""
from __future__ import annotations

from typing import Optional

from pydantic import Field, field_validator, model_validator

from .fields import _alias, _optional_threshold, data_folder, dump_folder, encodings_file, model_file
from .options import _MetricOptions, _SimulationOptions


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
    _dump = field_validator("featuremap_path", mode="before")(classmethod(lambda cls, v: dump_folder(v)))
    _data = field_validator("input_data_path", mode="before")(
        classmethod(lambda cls, v: None if v is None else data_folder(v)))
    _iso = field_validator("isolated_threshold", mode="before")(classmethod(lambda cls, v: _optional_threshold(v)))
