"""Parameter schemas of the debugging entry points: sensitivity analysis and mixed-precision search
(re-exported by simulator.schema.base)."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from ..metrics import END_METRICS
from ..paths import checked_path

from .fields import data_folder, encodings_file, finite, model_file
from .options import _SimulationOptions
from .parameters import FeaturemapVerifierParameters

MOVES = ("int16", "float")


class SensitivityParameters(_SimulationOptions):
    """Rank the quantizer groups (a node's outputs, a node's weights, a graph input) by their effect on the end
    metric against the float model (docs/debugging.md)."""
    input_model_path: str = Field(description="The ONNX model file.")
    input_encodings_path: str = Field(description="Its AIMET encodings file.")
    input_data_path: str = Field(description="The input data folder (toolchain layout).")
    metric: Literal[tuple(END_METRICS)] = Field("snr", description="End metric: 'snr' (dB, each output pooled over the "
                                           "samples, the lowest output) or 'top1' (share of rows whose argmax agrees "
                                           "with the float model's).")
    moves: list[Literal[MOVES]] = Field(default_factory=lambda: ["float", "int16"], description="Changes measured "
                                        "per group: 'float' (encodings removed: float32) and/or 'int16' (16-bit grid "
                                        "over the same range).")
    reverse: bool = Field(True, description="Also measure each group quantized alone (every other tensor float).")
    max_samples: Optional[int] = Field(None, ge=1, description="Use only the first N samples.")
    worst_sample: bool = Field(False, description="Score each output by its worst sample instead of its value "
                               "pooled over all samples (as compare's per-sample verdict judges).")

    _model = field_validator("input_model_path", mode="before")(classmethod(lambda cls, v: model_file(v)))
    _data = field_validator("input_data_path", mode="before")(classmethod(lambda cls, v: data_folder(v)))

    @field_validator("input_encodings_path", mode="before")
    @classmethod
    def _enc(cls, v):
        path = encodings_file(v)
        if path is None:
            raise ValueError("an encodings file is required (a float model has no quantizer to analyse)")
        return path

    @field_validator("moves", mode="before")
    @classmethod
    def _moves(cls, v):
        if isinstance(v, str):
            v = [m.strip() for m in v.split(",") if m.strip()]
        if isinstance(v, (list, tuple)):
            v = [m.lower() if isinstance(m, str) else m for m in v]
            if not v:
                raise ValueError(f"give at least one move ({', '.join(MOVES)})")
        return v

    @field_validator("metric", mode="before")
    @classmethod
    def _metric(cls, v):
        return v.lower() if isinstance(v, str) else v


    @model_validator(mode="after")
    def _one_process(self):
        if self.workers != 1 or self.scheduler or self.checkpoint_path or self.resume:
            raise ValueError("workers, scheduler, checkpoint_path and resume: the sensitivity analysis and the "
                             "mixed-precision search run in one process (docs/scale-out.md lists the commands that "
                             "spread samples over workers)")
        return self


class MixedPrecisionParameters(SensitivityParameters):
    """Find a small set of per-group precision changes that meets a target (docs/debugging.md)."""
    moves: list[Literal[MOVES]] = Field(default_factory=lambda: ["int16", "float"], description="Allowed moves per "
                                        "group: 'int16' and/or 'float'.")
    reverse: bool = False
    target: float = Field(description="The end metric to reach: SNR in dB, or a top-1 agreement share (0 to 1).")
    tolerance: Optional[float] = Field(None, ge=0, description="Prefer 16 bits over float for a group when its "
                                       "16-bit metric comes within this much of its float metric (default: 1 dB "
                                       "for snr, 0 for top1).")
    output_encodings_path: Optional[str] = Field(None, description="Write the result here as an encodings file "
                                                 "of the source's version.")
    exclude_list_path: Optional[str] = Field(None, description="Write the node names moved to float here, one a "
                                             "line.")

    @field_validator("target", "tolerance", mode="before")
    @classmethod
    def _finite(cls, v):
        return finite(v, "")


class DumpVerifierParameters(FeaturemapVerifierParameters):
    """verify_featuremaps with the dump reader's options: a name map, the rounding-tie tolerance."""
    name_map_path: Optional[str] = Field(None, description="A JSON file {dump file name: tensor name} (default: by "
                                         "name, sanitized name, then unique suffix).")
    tie_tolerance: float = Field(0.01, ge=0, le=0.5, description="A one-step difference is a rounding tie when the "
                                 "simulator's value before its encoding lies within this many steps of half-way.")

    @field_validator("name_map_path", mode="before")
    @classmethod
    def _map(cls, v):
        return None if v is None else checked_path(v, "name map file", ValueError, expected="a JSON file")


__all__ = ["SensitivityParameters", "MixedPrecisionParameters", "DumpVerifierParameters"]
