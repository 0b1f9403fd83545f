"""The graph interpreter: plan an ONNX graph once (simulator.planner), then run it many times
(simulator.executor).

`Interpreter` is the two together: `interp.plan` is the immutable Plan, `interp.executor` runs it, and the
plan's public fields (inputs, outputs, steps, producer, constants, quantizers, ...) and the executor's
methods (run, run_step, run_prefix, quantize, quantizer_for, raw_constant) are readable on the interpreter
itself. `Interpreter.from_options` builds one with a parameter schema's simulation options (device,
deterministic mode, rounding, kernels), as a session does.
"""
from __future__ import annotations

from dataclasses import fields
from types import ModuleType

import numpy as np
import onnx

from .backend import array_module
from .encodings import EncodingsFile
from .errors import DataError
from .executor import Executor, project_error, step_needs_host
from .graph import topological_order
from .plan import Plan, Step, TensorInfo, tensor_info
from .planner import plan_model
from .quantization import HALF_AWAY_FROM_ZERO

_PLAN_FIELDS = frozenset(f.name for f in fields(Plan))


class Interpreter:
    """A planned model on one array module (NumPy or CuPy). `run` is safe to call from several threads."""

    def __init__(self, model: onnx.ModelProto, encodings: EncodingsFile | None = None, xp: ModuleType = np,
                 rounding: str = HALF_AWAY_FROM_ZERO, apply_int32_bias: bool = False, source: str = "<model>",
                 kernels: str = "numpy", ort_threads: int = 0):
        self.plan: Plan = plan_model(model, encodings, xp, rounding, apply_int32_bias, source, kernels, ort_threads)
        self.executor = executor = Executor(self.plan)
        # The executor's methods, bound once (no extra call per run).
        self.run, self.run_step, self.run_prefix = executor.run, executor.run_step, executor.run_prefix
        self.call, self.quantize, self.quantizer_for = executor.call, executor.quantize, executor.quantizer_for
        self.raw_constant, self.errstate = executor.raw_constant, executor.errstate

    @classmethod
    def from_options(cls, model: onnx.ModelProto, encodings: EncodingsFile | None = None, options=None,
                     source: str = "<model>", **overrides) -> "Interpreter":
        """An interpreter with the simulation options of a parameter schema (use_cuda, deterministic, rounding,
        apply_int32_bias, kernels, ort_threads; None: the defaults), each overridable by keyword."""
        chosen = {name: getattr(options, name, default) for name, default in _OPTION_DEFAULTS.items()}
        chosen.update(overrides)
        xp = array_module(chosen.pop("use_cuda"), chosen.pop("deterministic"))
        return cls(model, encodings, xp, source=source, **chosen)

    def __getattr__(self, name):
        if name in _PLAN_FIELDS:  # the plan's public fields: interp.inputs, interp.steps, ...
            return getattr(self.plan, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


_tensor_info = tensor_info  # the names tests and older callers import
_project_error = project_error

_OPTION_DEFAULTS = {"use_cuda": False, "deterministic": False, "rounding": HALF_AWAY_FROM_ZERO,
                    "apply_int32_bias": False, "kernels": "numpy", "ort_threads": 0}

__all__ = ["Interpreter", "Plan", "Step", "TensorInfo", "tensor_info", "topological_order", "step_needs_host",
           "DataError"]
