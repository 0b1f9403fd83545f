"""reuse_freed_memory(): large arrays reuse freed memory instead of faulting in fresh pages.

Checked in a child process (the setting is process-wide) by counting page faults, not time."""
import subprocess
import sys

import pytest

CHILD = """
import resource, sys
import numpy as np
from simulator.backend import reuse_freed_memory
applied = reuse_freed_memory() if sys.argv[1] == "tuned" else None
a = np.ones(64 << 20, dtype=np.uint8)  # 64 MiB: above glibc's largest mmap threshold
del a
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
b = np.ones(64 << 20, dtype=np.uint8)
print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode):
    out = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True, check=True).stdout
    applied, faults = out.split()
    return applied, int(faults)


def test_freed_memory_is_reused_without_page_faults():
    applied, tuned = _faults("tuned")
    if applied != "True":
        pytest.skip("not glibc: reuse_freed_memory has nothing to tune here")
    _, default = _faults("default")
    # glibc's default maps a fresh region: at least a fault per 2 MiB (huge pages), up to one per 4 KiB
    # page, each handing over kernel-zeroed memory; tuned, the freed heap memory is reused.
    assert default >= (64 << 20) // (2 << 20)
    assert tuned * 10 < default


def test_the_cli_applies_it(monkeypatch, capsys):
    from simulator import cli

    calls = []
    monkeypatch.setattr(cli, "reuse_freed_memory", lambda: calls.append(1) or True)
    assert cli.main(["inspect", "no-such-model.onnx"]) == 2
    assert calls == [1]
