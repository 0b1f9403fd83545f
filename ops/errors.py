"""The errors ops raises on purpose, without importing the simulator (which imports ops).

simulator.interpreter raises each as the simulator.errors class of the same name, with the same
message, so users see the project's one hierarchy. Any other exception a kernel raises (ValueError,
IndexError...) reaches the user as a KernelError naming the node and its inputs.
"""
from __future__ import annotations


class OpError(Exception):
    """Base class of the errors ops raises on purpose."""


class UnsupportedOpError(OpError):
    """No kernel for this operator (or this operator version): the registry's lookup failed."""


class ParameterError(OpError):
    """A setting a kernel reads is invalid (an environment variable such as SIMULATOR_MAX_LOOP_ITERATIONS)."""


class LimitError(OpError):
    """A run would pass a documented limit (a Loop's iterations); the message says how to raise it."""
