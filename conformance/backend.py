"""An onnx.backend Backend over the simulator's interpreter, for onnx's backend test suite.

    from conformance.backend import SimulatorBackend
    rep = SimulatorBackend.prepare(model, "CPU")      # or "CUDA": the CuPy path
    outputs = rep.run([x, y])                         # positional, in the graph's input order

Inputs are fed by the graph's input names (initializers excluded); outputs come back as NumPy
arrays (a sequence output as a list of arrays, an optional output as None or its value), in the
graph's output order. No encodings: this measures the float kernels.
"""
from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np
import onnx
from onnx.backend.base import Backend, BackendRep

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from simulator.backend import array_module, to_device, to_host  # noqa: E402
from simulator.errors import DeviceError  # noqa: E402
from simulator.interpreter import Interpreter  # noqa: E402


def _device_kind(device: str) -> str:
    return str(device).split(":")[0].upper()


def _to_host(value):
    """A value as the suite compares it: arrays on the host, sequences as lists, optionals as None/value."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return [_to_host(v) for v in value]
    return np.asarray(to_host(value))


def _to_device(xp, value):
    if isinstance(value, tuple):
        value = list(value)
    return to_device(xp, value)  # strings and ml_dtypes' types stay on the host


class SimulatorRep(BackendRep):
    def __init__(self, interpreter: Interpreter):
        self.interpreter = interpreter
        self.input_names = [i.name for i in interpreter.inputs]
        self.output_names = [o.name for o in interpreter.outputs]

    def run(self, inputs: Any, **kwargs: Any) -> tuple:
        xp = self.interpreter.xp
        if isinstance(inputs, dict):
            feeds = dict(inputs)
        else:
            if not isinstance(inputs, (list, tuple)):
                inputs = [inputs]
            # The suite may also feed initializer-backed (overridable) inputs positionally.
            names = self.input_names + [i.name for i in self.interpreter.overridable]
            feeds = dict(zip(names, inputs))
        feeds = {n: _to_device(xp, v) for n, v in feeds.items()}
        values, _ = self.interpreter.run(feeds, set(self.output_names))
        return tuple(_to_host(values[n]) for n in self.output_names)


class SimulatorBackend(Backend):
    @classmethod
    def supports_device(cls, device: str) -> bool:
        kind = _device_kind(device)
        if kind == "CPU":
            return True
        if kind == "CUDA":
            try:
                array_module(True)
            except DeviceError:
                return False
            return True
        return False

    @classmethod
    def prepare(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> SimulatorRep:
        kind = _device_kind(device)
        if kind not in ("CPU", "CUDA"):
            raise DeviceError(f"unknown device {device!r}: CPU or CUDA")
        xp = array_module(kind == "CUDA")
        return SimulatorRep(Interpreter(model, xp=xp, source=model.graph.name or "<model>"))

    @classmethod
    def run_node(cls, node, inputs, device: str = "CPU", outputs_info=None, **kwargs):
        raise NotImplementedError("run a one-node model through prepare() instead")


prepare = SimulatorBackend.prepare
supports_device = SimulatorBackend.supports_device

__all__ = ["SimulatorBackend", "SimulatorRep", "prepare", "supports_device"]
