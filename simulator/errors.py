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


# A session's caller passed a feed or name that onnxruntime.InferenceSession refuses too: each class is also the
# built-in exception ONNX Runtime raises there, so that code written for ONNX Runtime catches it unchanged.

class InvalidFeedError(DataError, RuntimeError):
    """A feed value ONNX Runtime refuses (wrong type, rank or shape; an unknown input name; no tensor)."""


class MissingInputError(DataError, ValueError):
    """A required input is absent from the feed (ONNX Runtime raises ValueError)."""


class UnknownNameError(ParameterError, RuntimeError):
    """A requested output name the model does not have (ONNX Runtime: INVALID_ARGUMENT)."""


class ArgumentTypeError(ParameterError, TypeError):
    """An argument of the wrong Python type (ONNX Runtime raises TypeError)."""


class UnsupportedOpError(ModelError):
    """The model uses an operator (or operator version) that has no kernel."""


class KernelError(SimulatorError, RuntimeError):
    """A kernel failed on the values it was given (shapes, dtypes); a RuntimeError, as ONNX Runtime's run fails."""


class LimitError(KernelError):
    """A run would pass one of the documented limits (a Loop's iterations); docs/errors.md says how to raise it."""


class DeviceError(SimulatorError):
    """The requested device (GPU) cannot be used."""


class NotImplementedYetError(SimulatorError, NotImplementedError):
    """An entry point of the vendor API that this release does not provide yet."""


class WorkerError(SimulatorError):
    """Worker processes of a parallel run died again and again on the same shard of samples."""
