"""The vendor API: `Simulator`'s static methods, taking the schemas of simulator.schema.base, and the same entry
points as module functions (the vendor's newer overview page):

    from simulator import api
    sess = api.get_quantization_sim(api.GetInferenceSessionParameters(...)).session
    res = api.compare_model_by_layer(api.LayerwiseCheckerParameters(...))
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Iterator, Optional

import numpy as np

from . import data as _data
from . import runner as _runner
from .errors import NotImplementedYetError, ParameterError  # noqa: F401
from .schema.base import (  # noqa: F401 - the schemas are importable from here too
    FeaturemapVerifierParameters,
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
    return InferenceSession.from_options(params.input_model_path, params.input_encodings_path, params)


def iter_inference(params: InferenceRunnerParameters, session: Optional[InferenceSession] = None
                   ) -> Iterator[tuple[str, list[np.ndarray]]]:
    """run_inference one sample at a time: yields (sample name, [outputs..., featuremaps...])."""
    session = session or _session(params)
    names = [o.name for o in session.get_outputs()] + list(params.layerwise_check_name)
    for name in params.layerwise_check_name:
        session.resolve_name(name)  # an unknown name fails before any sample runs
    for sample, feed in _runner.iter_samples(params.input_data_path, session.interpreter.inputs):
        yield sample, session.run(names, feed)


class Simulator:
    """Entry points of the simulator, as static methods (the API page's `Simulator`)."""

    @staticmethod
    def run_inference(params: InferenceRunnerParameters, progress: Optional[Callable[[str], None]] = None,
                      executor=None) -> "OrderedDict[str, list[np.ndarray]]":
        """{sample name: [graph outputs in graph order..., layerwise_check_name featuremaps in order]}.
        params.workers / params.scheduler, or `executor` (a concurrent.futures.Executor or a Dask Client),
        spread the samples over processes (docs/scale-out.md)."""
        _check_params(params, InferenceRunnerParameters)
        from .inference import run_inference  # noqa: PLC0415

        return run_inference(params, progress, executor)

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
    def compare_model_by_inference(params: InferenceCheckerParameters,
                                   progress: Optional[Callable[[str], None]] = None, executor=None):
        """Both models on every sample; {sample: (passed, {output name: metric value})} ordered by sample
        name (an InferenceCheckResult: also .worst/.mean/.overall per output, .passed, .to_json(), print()).
        Model 0 is the reference; docs/comparison.md gives each metric's formula and direction."""
        _check_params(params, InferenceCheckerParameters)
        from .compare import compare_by_inference  # noqa: PLC0415

        return compare_by_inference(params, progress, executor=executor)

    @staticmethod
    def compare_model_by_layer(params: LayerwiseCheckerParameters,
                               progress: Optional[Callable[[str], None]] = None, executor=None):
        """Intermediate tensors of both models, paired by layer_match_info or by shared name:
        {sample: (passed, {layer: value})} (a LayerwiseCheckResult: .layers in graph order with the isolated
        error beside the cumulative one, .first_failure, .verdict, .diagnosis, reports)."""
        _check_params(params, LayerwiseCheckerParameters)
        from .compare import compare_by_layer  # noqa: PLC0415

        return compare_by_layer(params, progress, executor=executor)

    @staticmethod
    def verify_featuremaps(params: FeaturemapVerifierParameters,
                           progress: Optional[Callable[[str], None]] = None, executor=None):
        """Featuremaps dumped by another tool or a device against the simulator, layer by layer: cumulative
        (simulator run vs dump) and isolated (the simulator's op on the dumped inputs vs the dumped output)."""
        _check_params(params, FeaturemapVerifierParameters)
        from .compare import verify_dumps  # noqa: PLC0415

        return verify_dumps(params, progress, executor=executor)


    @staticmethod
    def inspect_encodings(model_path, encodings_path=None, data_path=None, max_samples=None, workers=1, scheduler=None,
                          executor=None):
        """Each tensor of the model in graph order with its encoding, totals, warnings (simulator.tools.inspect);
        `.format_table()` prints it, `.to_dict()` gives it as JSON-ready data."""
        from .tools.inspect import inspect_encodings  # noqa: PLC0415

        from .runner import Options  # noqa: PLC0415

        return inspect_encodings(model_path, encodings_path, data_path, max_samples,
                                 runner_options=Options(workers=workers, scheduler=scheduler, executor=executor))

    @staticmethod
    def convert_encodings(encodings_path, version, output_path=None, model_path=None):
        """Convert an encodings file to version 0.6.1, 1.0.0 or 2.0.0 (simulator.tools.convert); returns the
        conversion (`.data`: the JSON dict, `.notes`), written to `output_path` when given."""
        from .tools.convert import convert_encodings  # noqa: PLC0415

        return convert_encodings(encodings_path, version, model=model_path, output=output_path)

    @staticmethod
    def calibrate(model_path, data_path, output_path=None, version="1.0.0", config=None, max_samples=None, workers=1,
                  scheduler=None, executor=None):
        """Min-max encodings for a float model from a data folder (simulator.tools.calibrate); `config` is a
        CalibrationConfig (bitwidths per weight/activation/op type, per-channel). Returns the Calibration."""
        from .model import load_model  # noqa: PLC0415
        from .tools.calibrate import calibrate  # noqa: PLC0415

        model = load_model(model_path)
        from .runner import Options  # noqa: PLC0415

        cal = calibrate(model, data_path, config, max_samples, source=str(model_path),
                        runner_options=Options(workers=workers, scheduler=scheduler, executor=executor))
        if output_path is not None:
            cal.write(version, model, output_path)
        return cal

    @staticmethod
    def export_qdq(model_path, encodings_path, output_path=None):
        """A QDQ ONNX model (QuantizeLinear/DequantizeLinear at each encoded tensor) that ONNX Runtime runs
        (simulator.tools.export_qdq); equals the simulator with rounding "onnxruntime_qdq"."""
        from .tools.export_qdq import export_qdq  # noqa: PLC0415

        return export_qdq(model_path, encodings_path, output_path)

    # -- debugging: which layer to fix, at what precision (docs/debugging.md) ---------------------

    @staticmethod
    def analyze_sensitivity(params, progress: Optional[Callable[[str], None]] = None):
        """Quantizer groups ranked by the end metric with only that group changed (float, 16 bits) and only that
        group quantized, against the float model (a SensitivityResult: .ranking, .to_dict(), save(path))."""
        from .schema.base import SensitivityParameters  # noqa: PLC0415
        from .sensitivity import run_sensitivity  # noqa: PLC0415

        _check_params(params, SensitivityParameters)
        return run_sensitivity(params, progress)

    @staticmethod
    def search_mixed_precision(params, progress: Optional[Callable[[str], None]] = None):
        """A small set of per-group changes (16 bits, float) meeting params.target; writes the encodings file and
        the exclude list when asked (a MixedPrecisionResult: .changes, .achieved, .fractions, .write())."""
        from .mixed_precision import run_search  # noqa: PLC0415
        from .schema.base import MixedPrecisionParameters  # noqa: PLC0415

        _check_params(params, MixedPrecisionParameters)
        return run_search(params, progress)

    @staticmethod
    def bisect_dumps(params: FeaturemapVerifierParameters, progress: Optional[Callable[[str], None]] = None):
        """The first dumped layer whose isolated error (from the nearest dumped values) fails on any sample, by
        bisection over the dumped layers (a BisectResult: .first_failure, .sample, .value, .probes)."""
        from .bisect import bisect_dumps  # noqa: PLC0415

        _check_params(params, FeaturemapVerifierParameters)
        return bisect_dumps(params, progress)

    @staticmethod
    def load_pipeline(spec, **options):
        """A model split into parts, run as one (simulator.pipeline.Pipeline): a folder of layer_NN.onnx or
        NAME_i_of_n.onnx parts with their .encodings, a pipeline .json, or one .onnx. Options: quantized, use_cuda,
        rounding, apply_int32_bias, deterministic."""
        from .pipeline import Pipeline  # noqa: PLC0415

        return Pipeline.load(spec, **options)

    @staticmethod
    def generate(prompt_model, token_model, prompt, max_new_tokens, stop_token=None, progress=None, **options):
        """Greedy generation (simulator.generation): models are specs as load_pipeline takes, or sessions."""
        from .generation import Generator  # noqa: PLC0415

        prompt_model, token_model = (_as_model(m, options) for m in (prompt_model, token_model or prompt_model))
        return Generator(prompt_model, token_model).generate(prompt, max_new_tokens, stop_token, progress=progress)

    @staticmethod
    def compare_generation(prompt_model, token_model, prompt, max_new_tokens, stop_token=None, progress=None,
                           **options):
        """Float (model 0) against quantized (model 1) token by token: per step logits SNR, top-1 agreement, KL and
        the first step where the tokens differ (a simulator.generation.GenerationComparison)."""
        from .generation import Generator, compare_generation  # noqa: PLC0415

        token_model = token_model or prompt_model
        gens = [Generator(*(_as_model(m, dict(options, quantized=q)) for m in (prompt_model, token_model)))
                for q in (False, True)]
        return compare_generation(gens[0], gens[1], prompt, max_new_tokens, stop_token, progress)


def _as_model(model, options):
    if hasattr(model, "run") and hasattr(model, "get_inputs"):
        return model
    from .pipeline import Pipeline  # noqa: PLC0415

    return Pipeline.load(model, **options)


def _model_inputs(model_path):
    from .plan import tensor_info  # noqa: PLC0415
    from .model import load_model  # noqa: PLC0415

    model = load_model(model_path, external_data=False)  # only the inputs' declared types are needed
    initializers = {t.name for t in model.graph.initializer}
    return [tensor_info(vi) for vi in model.graph.input if vi.name not in initializers]


# The newer overview page's module functions: the same entry points as Simulator's static methods.
run_inference = Simulator.run_inference
get_inference_session = Simulator.get_inference_session
get_quantization_sim = Simulator.get_quantization_sim
load_input_data = Simulator.load_input_data
compare_model_by_inference = Simulator.compare_model_by_inference
compare_model_by_layer = Simulator.compare_model_by_layer
verify_featuremaps = Simulator.verify_featuremaps
inspect_encodings = Simulator.inspect_encodings
convert_encodings = Simulator.convert_encodings
calibrate = Simulator.calibrate
export_qdq = Simulator.export_qdq
