"""The switch between compiled loops and their NumPy twins (ops/_compiled.py)."""
import os
import subprocess
import sys

import numpy as np
import pytest

from ops import _compiled

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_disabled_switches_to_the_numpy_twins_in_this_thread_only():
    pytest.importorskip("numba")
    if os.environ.get("SIMULATOR_JIT") == "0":
        pytest.skip("compiled loops are switched off by SIMULATOR_JIT=0")
    assert _compiled.enabled(np)
    with _compiled.disabled():
        assert not _compiled.enabled(np)
    assert _compiled.enabled(np)


def test_environment_variable_switches_compiled_loops_off():
    code = "import numpy, ops._compiled as c; print(c.enabled(numpy))"
    env = dict(os.environ, SIMULATOR_JIT="0")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_device_module_never_gets_compiled_loops():
    class Device:
        __name__ = "cupy"
    assert not _compiled.enabled(Device())
