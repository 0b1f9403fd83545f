"""onnx's Backend over the simulator's public session, driven exactly as ONNX Runtime's own backend drives
onnxruntime.InferenceSession (onnxruntime/backend/backend_rep.py): the suite's positional inputs zipped with
get_inputs() names (NumPy scalars as 0-d arrays), sequences as lists, absent optionals as None, then
session.run(None, feed). This measures the session API a user calls, where conformance/backend.py measures
the interpreter.

    python conformance/node_suite.py --api session
"""
from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np
import onnx
from onnx.backend.base import Backend, BackendRep

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from conformance.backend import SimulatorBackend  # noqa: E402
from simulator.errors import DeviceError  # noqa: E402
from simulator.session import InferenceSession  # noqa: E402

PROVIDERS = {"CPU": "CPUExecutionProvider", "CUDA": "CUDAExecutionProvider"}


class SessionRep(BackendRep):
    def __init__(self, session: InferenceSession):
        self.session = session

    def run(self, inputs: Any, **kwargs: Any) -> list:
        if not isinstance(inputs, list):
            inputs = [inputs]
        feed = {i.name: (np.asarray(v) if isinstance(v, np.generic) else v)
                for i, v in zip(self.session.get_inputs(), inputs)}
        return self.session.run(None, feed)


class SessionBackend(Backend):
    supports_device = SimulatorBackend.supports_device

    @classmethod
    def prepare(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> SessionRep:
        kind = str(device).split(":")[0].upper()
        if kind not in PROVIDERS:
            raise DeviceError(f"unknown device {device!r}: CPU or CUDA")
        return SessionRep(InferenceSession(model.SerializeToString(), providers=[PROVIDERS[kind]]))


__all__ = ["SessionBackend", "SessionRep"]
