"""A session's run as one part of a Pipeline's, bound once per list of names the pipeline asks of it.

A token step of a split decoder runs a handful of parts, each a few dozen nodes on tiny tensors; going through
InferenceSession.run for each (resolving names, preparing the feed, the executor's per-run work, the copies of
results) cost more than half as much again as the parts' steps (the example decoder's token pipeline,
GroupQueryAttention layout: 131-137 us through run_chained, against 77-85 for the parts' steps alone). A
ChainLink does what those layers do for a pipeline, decided once: it checks each input of the feed the
pipeline built as run() does (InferenceSession's FeedSpec), stores them as the executor does, runs the bound
steps (Executor.run_steps) and returns the values asked, copied (as ONNX Runtime returns them) only where the
pipeline hands them to its caller.
"""
from __future__ import annotations

import numpy as np

from .executor import not_produced
from .session_io import host_result


class ChainLink:
    """InferenceSession.chain_link's answer: `run(feed, to_caller)` is run_chained(output_names, feed, to_caller)
    where `serves()`."""

    __slots__ = ("session", "inputs", "encoded", "input_free", "steps", "names", "constants", "executor", "threads")

    def __init__(self, session, output_names):
        targets, keep, _ = session._targets(output_names)
        executor = session._interp.executor
        plan = executor.plan
        self.session, self.executor, self.constants = session, executor, plan.constants
        self.inputs = tuple(session._input_types.items())
        self.encoded = tuple(name for name in session._input_types if name in plan.activation_encodings)
        self.input_free = tuple(name for name in plan.graph_input_free if name not in keep)
        self.steps = executor.steps_keeping(keep)
        self.names = tuple(name for name, _ in targets)  # resolved ("_updated" aliases): as the values hold them
        # a thread limit (SessionOptions.intra_op_num_threads) as the session had it: ONNX Runtime reads its
        # options when a session is made
        self.threads = bool(session._thread_limit())

    def serves(self) -> bool:
        """False where run_chained must run instead: a profile, a thread limit, a session planned again
        (set_providers)."""
        session = self.session
        return session._profiler is None and not self.threads and session._interp.executor is self.executor

    def run(self, feed: dict, to_caller: tuple) -> list:
        """Inside the pipeline's floating-point error state (inf and NaN are values, not warnings)."""
        values = dict(self.constants)
        values[""] = None  # an omitted input, read through the steps' getters like any value
        ndarray = np.ndarray
        for name, spec in self.inputs:
            value = feed[name]
            if type(value) is not ndarray or value.shape != spec.shape or value.dtype != spec.dtype:
                value = spec.convert(name, value)  # (convert's own first test, inlined); refused as run() refuses
            values[name] = value
        executor = self.executor
        for name in self.encoded:
            values[name] = executor.quantize(name, values[name])
        for name in self.input_free:
            values.pop(name, None)
        executor.run_steps(values, self.steps)
        try:
            results = [values[name] for name in self.names]
        except KeyError:
            raise not_produced(values, self.names) from None
        if to_caller:  # (a value converted or quantized from a feed is a new array: only the fed ones are held)
            fed, returned = set(map(id, feed.values())), set()
            for k in to_caller:
                results[k] = host_result(results[k], self.session._constant_ids, fed, returned)
        return results
