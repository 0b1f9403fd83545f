"""SessionOptions.enable_profiling: per-node times of each run, written by end_profiling() as ONNX Runtime writes
them: a Chrome-trace JSON list ("ph": "X" events, microseconds since the session started profiling) with a
"Session" event per load and run and a "Node" event "<node name>_kernel_time" per node, its args holding
op_name, provider, node_index and input/output type shapes. Open it in chrome://tracing or Perfetto.
"""
from __future__ import annotations

import datetime
import json
import os
import threading
import time

import numpy as np
import onnx

from . import safe_io


def _type_shape(value) -> dict:
    """{"float": [1, 3]} as ONNX Runtime writes a value's type and shape; a sequence as its first element's."""
    if isinstance(value, list):
        return _type_shape(value[0]) if value else {}
    dtype, shape = getattr(value, "dtype", None), getattr(value, "shape", None)
    if dtype is None or shape is None:
        return {}
    try:
        name = onnx.TensorProto.DataType.Name(onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))).lower()
    except (KeyError, TypeError, ValueError):
        name = str(dtype)
    return {name: [int(d) for d in shape]}


class Profiler:
    """Collects events from the session's start until end_profiling(); thread-safe."""

    def __init__(self, prefix: str, provider: str):
        self.prefix, self.provider = prefix, provider
        self.start_ns = time.monotonic_ns()
        self._events: list[dict] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def _us(self, t_ns: int) -> int:
        return (t_ns - self.start_ns) // 1000

    def event(self, cat: str, name: str, t0_ns: int, t1_ns: int, args: dict | None = None) -> None:
        e = {"cat": cat, "pid": self._pid, "tid": threading.get_native_id(), "dur": max(0, (t1_ns - t0_ns) // 1000),
             "ts": self._us(t0_ns), "ph": "X", "name": name, "args": args or {}}
        with self._lock:
            self._events.append(e)

    def run_observer(self, interpreter, index_of: dict, sync=None):
        """An Interpreter.run observer timing each node: from the previous node's last output to its first one
        (`sync`, for a GPU run, waits for the device first). Output type shapes: the node's first output's."""
        seen: dict[str, dict] = {}  # type shapes of this run's values so far
        marks = {"last": time.monotonic_ns()}
        done: set[int] = set()

        def observer(name, value, raw):
            now = time.monotonic_ns()
            step = interpreter.producer.get(name)
            idx = index_of.get(id(step)) if step is not None else None
            if idx is None:  # a graph input or a folded constant: the run's start
                seen[name] = _type_shape(value)
                marks["last"] = now
                return
            if sync is not None:
                sync()
                now = time.monotonic_ns()
            if idx not in done:
                done.add(idx)
                node = step.node
                inputs = [seen.get(n) or _type_shape(interpreter.constants.get(n)) for n in step.inputs if n]
                self.event("Node", f"{node.name or f'{node.op_type}_{idx}'}_kernel_time", marks["last"], now,
                           {"op_name": node.op_type, "provider": self.provider, "node_index": str(idx),
                            "input_type_shape": inputs, "output_type_shape": [_type_shape(value)]})
            seen[name] = _type_shape(value)
            marks["last"] = time.monotonic_ns()

        return observer

    def end(self) -> str:
        """Write the trace as `<prefix>_<date>_<time>.json` (ONNX Runtime's naming); returns the file name."""
        stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
        path = f"{self.prefix}_{stamp}.json"
        with self._lock:
            events = list(self._events)
        safe_io.write_text(path, "[\n" + ",\n".join(json.dumps(e) for e in events) + "\n]\n", "profile file")
        return path


__all__ = ["Profiler"]
