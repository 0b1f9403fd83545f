import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
GOLDEN = os.path.join(SHARED, "conformance", "aimet")


def golden_cases() -> list[str]:
    if not os.path.isdir(GOLDEN):
        return []
    return sorted(d for d in os.listdir(GOLDEN) if os.path.isfile(os.path.join(GOLDEN, d, "model.onnx")))


def require_golden():
    if not os.path.isdir(GOLDEN):
        pytest.skip(f"golden cases not found: {GOLDEN} is absent (../shared/conformance beside the project root)")
