"""The vendor API's parameter schemas (pydantic): the import path `from simulator.schema.base import ...`.

Field names follow the API page's code examples; the spellings of its field lists are accepted too
(input_encondings_path, input_encondings_path_0/1, input_model_path0/1, meric). Unknown fields and
invalid values raise ParameterError naming the field.

The schemas live in fields (the base class and shared field checks), options (the shared simulation and
comparison options), parameters (the public classes) and debugging (sensitivity, mixed precision, dump
verification); this module re-exports them all.
"""
from __future__ import annotations

from .fields import _alias, _describe, _optional_threshold, _Parameters, data_folder, encodings_file, model_file  # noqa: F401
from .options import METRICS, Rounding, _MetricOptions, _SimulationOptions  # noqa: F401
from .parameters import (FeaturemapVerifierParameters, GetInferenceSessionParameters,  # noqa: F401
                         InferenceCheckerParameters, InferenceRunnerParameters, InferenceSessionParameters,
                         LayerwiseCheckerParameters)

__all__ = ["InferenceRunnerParameters", "GetInferenceSessionParameters", "InferenceSessionParameters",
           "InferenceCheckerParameters", "LayerwiseCheckerParameters",
           "FeaturemapVerifierParameters", "METRICS"]

from .debugging import DumpVerifierParameters, MixedPrecisionParameters, SensitivityParameters  # noqa: E402

__all__ += ["SensitivityParameters", "MixedPrecisionParameters", "DumpVerifierParameters"]
