"""A bit-exact quantization simulator for ONNX models with AIMET encodings.

`import simulator as ort` stands in for onnxruntime in code written for it: simulator.InferenceSession,
SessionOptions, RunOptions, GraphOptimizationLevel, ExecutionMode, get_available_providers(), get_device(), and
OrtValue (onnxruntime's, when it is installed). The vendor API: `from simulator import api`.
"""
__version__ = "0.1.0"

_SESSION_NAMES = ("InferenceSession", "NodeArg", "SessionOptions", "RunOptions", "ModelMetadata",
                  "GraphOptimizationLevel", "ExecutionMode", "ExecutionOrder")


def get_available_providers() -> list[str]:
    """The providers the simulator can be here, as onnxruntime.get_available_providers() lists them."""
    from .session import _cuda_available  # noqa: PLC0415

    return (["CUDAExecutionProvider"] if _cuda_available() else []) + ["CPUExecutionProvider"]


def get_device() -> str:
    """"GPU" when a CUDA session can be made here, else "CPU" (onnxruntime.get_device())."""
    return "GPU" if "CUDAExecutionProvider" in get_available_providers() else "CPU"


def __getattr__(name):  # loaded on first use: `import simulator` stays light for the CLI
    if name in _SESSION_NAMES:
        from . import session_meta  # noqa: PLC0415
        from .session import InferenceSession  # noqa: PLC0415

        return InferenceSession if name == "InferenceSession" else getattr(session_meta, name)
    if name == "IOBinding":
        from .iobinding import IOBinding  # noqa: PLC0415

        return IOBinding
    if name == "OrtValue":  # ONNX Runtime's own: the session's OrtValue feeds and results are onnxruntime's
        from .iobinding import _ort  # noqa: PLC0415

        return _ort().OrtValue
    raise AttributeError(f"module 'simulator' has no attribute {name!r}")


__all__ = ["IOBinding", "OrtValue", *_SESSION_NAMES, "get_available_providers", "get_device"]
