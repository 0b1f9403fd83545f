"""The project's exceptions: every error a user can cause is one of these.

Each message names the file, tensor, op or field involved and what was expected, so that the CLI
can print it as it is, without a traceback.
"""
from __future__ import annotations


class SimulatorError(Exception):
    """Base class of every error the simulator raises on purpose."""


class ParameterError(SimulatorError, ValueError):
    """A parameter given to the API or the CLI is invalid."""


class ModelError(SimulatorError):
    """The ONNX model cannot be read, or its graph is malformed."""


class EncodingsError(SimulatorError):
    """The encodings file cannot be read, or does not fit the model."""


class DataError(SimulatorError):
    """An input data folder or file is missing, malformed or does not fit the model."""


class UnsupportedOpError(ModelError):
    """The model uses an operator (or operator version) that has no kernel."""


class KernelError(SimulatorError):
    """A kernel failed on the values it was given (shapes, dtypes)."""


class LimitError(KernelError):
    """A run would pass one of the documented limits (a Loop's iterations); docs/errors.md says how to raise it."""


class DeviceError(SimulatorError):
    """The requested device (GPU) cannot be used."""


class NotImplementedYetError(SimulatorError, NotImplementedError):
    """An entry point of the vendor API that this release does not provide yet."""
