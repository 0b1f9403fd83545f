"""The vendor API: `Simulator`'s static methods, taking the schemas of simulator.schema.base."""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Iterator, Optional

import numpy as np

from . import data as _data
from .errors import NotImplementedYetError, ParameterError
from .schema.base import (  # noqa: F401 - the schemas are importable from here too
    GetInferenceSessionParameters,
    InferenceCheckerParameters,
    InferenceRunnerParameters,
    InferenceSessionParameters,
    LayerwiseCheckerParameters,
)
from .session import PRE_QUANT_SUFFIX, InferenceSession  # noqa: F401


@dataclass
class QuantizationSim:
    """What get_quantization_sim returns: the model and its encodings, ready to run, as `.session`."""
    session: InferenceSession

    @property
    def encodings(self):
        return self.session.encodings


def _check_params(params, cls):
    if not isinstance(params, cls):
        raise ParameterError(f"expected {cls.__name__}, got {type(params).__name__}")


def _session(params) -> InferenceSession:
    return InferenceSession(params.input_model_path, params.input_encodings_path, use_cuda=params.use_cuda,
                            rounding=params.rounding, apply_int32_bias=params.apply_int32_bias)


def iter_inference(params: InferenceRunnerParameters, session: Optional[InferenceSession] = None
                   ) -> Iterator[tuple[str, list[np.ndarray]]]:
    """run_inference one sample at a time: yields (sample name, [outputs..., featuremaps...])."""
    session = session or _session(params)
    names = [o.name for o in session.get_outputs()] + list(params.layerwise_check_name)
    for name in params.layerwise_check_name:
        session.resolve_name(name)  # an unknown name fails before any sample runs
    for sample, feed in _data.iter_samples(params.input_data_path, session._interp.inputs):
        yield sample, session.run(names, feed)


class Simulator:
    """Entry points of the simulator, as static methods (the API page's `Simulator`)."""

    @staticmethod
    def run_inference(params: InferenceRunnerParameters,
                      progress: Optional[Callable[[str], None]] = None) -> "OrderedDict[str, list[np.ndarray]]":
        """{sample name: [graph outputs in graph order..., layerwise_check_name featuremaps in order]}."""
        _check_params(params, InferenceRunnerParameters)
        results = OrderedDict()
        for sample, arrays in iter_inference(params):
            results[sample] = arrays
            if progress is not None:
                progress(sample)
        return results

    @staticmethod
    def get_inference_session(params: GetInferenceSessionParameters) -> InferenceSession:
        """A session with onnxruntime.InferenceSession's interface (run, get_inputs, get_outputs)."""
        _check_params(params, GetInferenceSessionParameters)
        return _session(params)

    @staticmethod
    def get_quantization_sim(params: GetInferenceSessionParameters) -> QuantizationSim:
        """An object whose `.session` is the inference session of get_inference_session."""
        _check_params(params, GetInferenceSessionParameters)
        return QuantizationSim(_session(params))

    @staticmethod
    def load_input_data(path, model_path=None) -> "OrderedDict[str, dict[str, np.ndarray]]":
        """{sample name: {input name: array}} of a data folder, as run_inference reads it.

        With `model_path`, samples are matched to the model's inputs and checked against their types.
        """
        inputs = None
        if model_path is not None:
            inputs = _model_inputs(model_path)
        return _data.load_input_data(path, inputs)

    @staticmethod
    def compare_model_by_inference(params: InferenceCheckerParameters):
        raise NotImplementedYetError("compare_model_by_inference is not implemented yet in this release")

    @staticmethod
    def compare_model_by_layer(params: LayerwiseCheckerParameters):
        raise NotImplementedYetError("compare_model_by_layer is not implemented yet in this release")


def _model_inputs(model_path):
    from .interpreter import _tensor_info  # noqa: PLC0415
    from .model import load_model  # noqa: PLC0415

    model = load_model(model_path, external_data=False)  # only the inputs' declared types are needed
    initializers = {t.name for t in model.graph.initializer}
    return [_tensor_info(vi) for vi in model.graph.input if vi.name not in initializers]
