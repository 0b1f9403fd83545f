"""Time spent per op type in one run of a light-zoo model (float and quantized), to find hot spots.

    python benchmarks/profile_ops.py resnet50 [--quant]
"""
from __future__ import annotations

import collections
import os
import sys
import tempfile
import time
from dataclasses import replace

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import calibrate, feeds_for, model_path  # noqa: E402

from simulator.session import InferenceSession  # noqa: E402


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    name, quant = args[0], "--quant" in args
    path = model_path(name)
    feeds = feeds_for(path, name, 1)
    with tempfile.TemporaryDirectory() as tmp:
        session = InferenceSession(path, calibrate(path, feeds, tmp) if quant else None)
    spent, calls = collections.Counter(), collections.Counter()
    for step in session.interpreter.steps:
        def timed(xp, *a, _fn=step.kernel.fn, _op=step.node.op_type, **kw):
            t = time.perf_counter()
            r = _fn(xp, *a, **kw)
            spent[_op] += time.perf_counter() - t
            calls[_op] += 1
            return r
        step.kernel = replace(step.kernel, fn=timed)
    session.run(None, feeds)
    spent.clear()
    calls.clear()
    runs = 5
    t = time.perf_counter()
    for _ in range(runs):
        session.run(None, feeds)
    total = (time.perf_counter() - t) / runs
    kernels = sum(spent.values()) / runs
    print(f"{name} {'quant' if quant else 'float'}: {total * 1e3:.1f} ms per run, kernels {kernels * 1e3:.1f} ms, "
          f"quantizers and interpreter {(total - kernels) * 1e3:.1f} ms")
    for op, s in spent.most_common(10):
        print(f"  {op:22} {s / runs * 1e3:7.2f} ms  {calls[op] // runs:4d} calls")
    return 0


if __name__ == "__main__":
    sys.exit(main())
