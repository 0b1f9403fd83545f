"""An onnxruntime.InferenceSession look-alike over the interpreter: load once, run many times.

    sess.run(None, {"input": x})                       # graph outputs, as ONNX Runtime returns them
    sess.run(["/conv1/Conv_output_0"], feed)           # any intermediate, after its encoding
    sess.run(["output_updated"], feed)                 # AIMET's quantized-name alias of "output"
    sess.run(["/conv1/Conv_output_0::pre_quant"], feed)  # the value before its encoding
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx

from .backend import array_module, is_numpy, to_device, to_host
from .encodings import EncodingsFile, describe_names, load_encodings, no_encodings_warning
from .errors import DataError, ParameterError
from .interpreter import Interpreter, TensorInfo
from .model import check_file, load_model, tensor_names
from .quantization import HALF_AWAY_FROM_ZERO

PRE_QUANT_SUFFIX = "::pre_quant"
UPDATED_SUFFIX = "_updated"


@dataclass(frozen=True)
class NodeArg:
    """What ONNX Runtime's get_inputs()/get_outputs() return: .name, .shape, .type."""
    name: str
    shape: list
    type: str


def _node_arg(info: TensorInfo) -> NodeArg:
    shape = list(info.shape) if info.shape is not None else []
    return NodeArg(info.name, shape, info.type_string)


class InferenceSession:
    """Runs a model with its encodings applied, with onnxruntime.InferenceSession's interface."""

    def __init__(self, model_path, encodings_path=None, use_cuda: bool = False,
                 rounding: str = HALF_AWAY_FROM_ZERO, apply_int32_bias: bool = False, deterministic: bool = False):
        self.model_path = check_file(model_path, "model file")
        self.xp = array_module(use_cuda, deterministic)
        model = load_model(self.model_path)
        self.encodings: EncodingsFile | None = (load_encodings(encodings_path, tensor_names(model.graph), self.model_path)
                                                if encodings_path else None)
        self.warnings: list[str] = []  # what a user should know about this session (printed by the CLI)
        if self.encodings is not None and self.encodings.is_empty:
            self.warnings.append(no_encodings_warning(self.encodings))
        self._interp = Interpreter(model, self.encodings, self.xp, rounding, apply_int32_bias, source=self.model_path)
        self._known = set(self._interp.value_names)

    @classmethod
    def from_options(cls, model_path, encodings_path, options) -> "InferenceSession":
        """A session with the simulation options (use_cuda, rounding, ...) of a parameter schema."""
        return cls(model_path, encodings_path, use_cuda=options.use_cuda, rounding=options.rounding,
                   apply_int32_bias=options.apply_int32_bias, deterministic=options.deterministic)

    # -- ONNX Runtime's interface ---------------------------------------------------------------

    def get_inputs(self) -> list[NodeArg]:
        return [_node_arg(i) for i in self._interp.inputs]

    def get_outputs(self) -> list[NodeArg]:
        return [_node_arg(o) for o in self._interp.outputs]

    def get_overridable_initializers(self) -> list[NodeArg]:
        return [_node_arg(i) for i in self._interp.overridable]

    def get_providers(self) -> list[str]:
        return ["CPUExecutionProvider" if is_numpy(self.xp) else "CUDAExecutionProvider"]

    def run(self, output_names, input_feed: dict, run_options=None) -> list:
        """Run on `input_feed`; return NumPy arrays for `output_names` (None: the graph outputs)."""
        if output_names is None:
            output_names = [o.name for o in self._interp.outputs]
        elif isinstance(output_names, str):
            output_names = [output_names]
        targets = [self.resolve_name(n) for n in output_names]
        keep = {name for name, pre in targets if not pre}
        pre_quant = {name for name, pre in targets if pre}
        feeds = self._check_feed(input_feed)
        values, raw = self._interp.run(feeds, keep, pre_quant)
        return [np.asarray(to_host(raw[name] if pre else values[name])) for name, pre in targets]

    # -- beyond ONNX Runtime --------------------------------------------------------------------

    @property
    def interpreter(self) -> Interpreter:
        """The planned graph this session runs (for tools that walk it: inputs, steps, encodings)."""
        return self._interp

    def prepare_feed(self, input_feed: dict) -> dict:
        """`input_feed` checked against the model's inputs and moved to this session's device."""
        return self._check_feed(input_feed)

    @property
    def tensor_names(self) -> list[str]:
        """Every tensor name of the graph that run() accepts: inputs, initializers, node outputs."""
        return list(self._interp.value_names)

    def resolve_name(self, name: str) -> tuple[str, bool]:
        """(graph tensor name, whether the pre-quantization value is asked for) for a requested name."""
        if not isinstance(name, str):
            raise ParameterError(f"output names must be strings, got {name!r}")
        pre = False
        base = name
        if base not in self._known and base.endswith(PRE_QUANT_SUFFIX):
            base, pre = base[: -len(PRE_QUANT_SUFFIX)], True
        if base not in self._known and base.endswith(UPDATED_SUFFIX):
            base = base[: -len(UPDATED_SUFFIX)]
        if base not in self._known and base in self._interp.body_names:
            raise ParameterError(f"tensor {name!r} is inside the body of {self._interp.body_names[base]}; tensors "
                                 f"inside If/Loop/Scan bodies cannot be requested by name (they may hold one value "
                                 f"per iteration, or none when a branch is not taken): request the node's outputs")
        if base not in self._known:
            close = [n for n in self._known if name.lower() in n.lower() or n.lower() in name.lower()][:10]
            hint = f"; similar names: {describe_names(close)}" if close else ""
            raise ParameterError(f"tensor {name!r} does not exist in model {self.model_path!r}{hint}")
        return base, pre

    def _check_feed(self, input_feed: dict) -> dict:
        if not isinstance(input_feed, dict):
            raise DataError(f"input feed must be a dict of input name -> array, got {type(input_feed).__name__}")
        specs = {i.name: i for i in self._interp.inputs}
        overridable = {i.name: i for i in self._interp.overridable}
        unknown = [n for n in input_feed if n not in specs and n not in overridable]
        if unknown:
            raise DataError(f"unknown input name(s) {describe_names(unknown)}; model inputs: "
                            f"{describe_names(specs)}")
        missing = [n for n in specs if n not in input_feed]
        if missing:
            raise DataError(f"missing input(s) {describe_names(missing)} for model {self.model_path!r}")
        feeds = {}
        for name, value in input_feed.items():
            spec = specs.get(name) or overridable[name]
            value = check_input(spec, value, f"input {name!r}")
            feeds[name] = to_device(self.xp, value)
        return feeds


def check_input(spec: TensorInfo, value, what: str):
    """`value` as an array of the input's declared type and shape, or DataError naming `what`."""
    if not hasattr(value, "dtype") or not hasattr(value, "shape"):
        try:
            value = np.asarray(value)
        except (ValueError, TypeError) as exc:  # ragged nested lists, objects NumPy cannot convert
            raise DataError(f"{what} cannot be read as an array ({type(value).__name__}): {exc}") from None
    expected = spec.dtype
    if expected is not None and value.dtype != expected:
        raise DataError(f"{what} has dtype {value.dtype}, the model expects {np.dtype(expected)} "
                        f"({spec.type_string}); convert it (e.g. .astype(np.{np.dtype(expected).name}))")
    if spec.shape is not None:
        if len(spec.shape) != value.ndim or any(
                isinstance(d, int) and d > 0 and d != s for d, s in zip(spec.shape, value.shape)):
            raise DataError(f"{what} has shape {tuple(value.shape)}, the model expects "
                            f"{tuple(d if isinstance(d, int) and d > 0 else '?' for d in spec.shape)}")
    return value


__all__ = ["InferenceSession", "NodeArg", "PRE_QUANT_SUFFIX", "check_input", "onnx"]
