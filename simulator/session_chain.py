"""A session's run as one part of a Pipeline's, bound once per list of names the pipeline asks of it.

A token step of a split decoder runs a handful of parts, each a few dozen nodes on tiny tensors; going through
InferenceSession.run for each (resolving names, preparing the feed, the executor's per-run work, the copies of
results) cost more than half as much again as the parts' steps (the example decoder's token pipeline,
GroupQueryAttention layout: 131-137 us through run_chained, against 77-85 for the parts' steps alone). A ChainLink does what those layers do for a pipeline, decided once: it reads
the part's inputs from the pipeline's values, checks each as run() does (InferenceSession's FeedSpec), stores
them as the executor does, runs the bound steps (Executor.run_steps) and returns the values asked, copied (as
ONNX Runtime returns them) only where the pipeline hands them to its caller.
"""
from __future__ import annotations

import numpy as np

from .encodings import describe_names
from .errors import ModelError, ParameterError
from .session_io import host_result


class ChainLink:
    """InferenceSession.chain_link's answer: `run(env, to_caller)` is run_chained on {input: env[source]}."""

    __slots__ = ("session", "output_names", "where", "inputs", "encoded", "input_free", "steps", "names",
                 "constants", "executor", "threads")

    def __init__(self, session, output_names, sources: dict, where: str):
        """sources: each input's name in the pipeline's values; where: the part, for messages."""
        targets, keep, _ = session._targets(output_names)
        executor = session._interp.executor
        plan = executor.plan
        self.session, self.where, self.executor, self.constants = session, where, executor, plan.constants
        self.output_names = list(output_names)
        self.inputs = tuple((name, sources[name], spec) for name, spec in session._input_types.items())
        self.encoded = tuple(name for name, _ in session._input_types.items() if name in plan.activation_encodings)
        self.input_free = tuple(name for name in plan.graph_input_free if name not in keep)
        self.steps = executor.steps_keeping(keep)
        self.names = tuple(name for name, _ in targets)  # resolved ("_updated" aliases): as the values hold them
        # a thread limit (SessionOptions.intra_op_num_threads) as the session had it: ONNX Runtime reads its
        # options when a session is made
        self.threads = bool(session._thread_limit())

    def run(self, env: dict, to_caller: tuple) -> list:
        """Inside the pipeline's floating-point error state (inf and NaN are values, not warnings)."""
        session = self.session
        if session._profiler is not None or self.threads or session._interp.executor is not self.executor:
            # run()'s own path for a profile, a thread limit, or a session planned again (set_providers)
            return session.run_chained(self.output_names, self._feed(env), to_caller)
        values = dict(self.constants)
        values[""] = None  # an omitted input, read through the steps' getters like any value
        ndarray, fed = np.ndarray, []
        try:
            for name, source, spec in self.inputs:
                value = env[source]
                fed.append(value)
                if type(value) is not ndarray or value.shape != spec.shape or value.dtype != spec.dtype:
                    value = spec.convert(name, value)  # (convert's own first test, inlined); refused as run() refuses
                values[name] = value
        except KeyError:
            raise ParameterError(f"missing input {self._missing(env)!r} of pipeline part {self.where}") from None
        executor = self.executor
        for name in self.encoded:
            values[name] = executor.quantize(name, values[name])
        for name in self.input_free:
            values.pop(name, None)
        executor.run_steps(values, self.steps)
        try:
            results = [values[name] for name in self.names]
        except KeyError:
            missing = [n for n in self.names if n not in values]
            raise ModelError(f"tensor(s) {describe_names(missing)} were not produced (an optional output the node "
                             f"did not compute?)") from None
        if to_caller:  # (a value converted or quantized from a feed is a new array: only the fed ones are held)
            fed, returned = set(map(id, fed)), set()
            for k in to_caller:
                results[k] = host_result(results[k], session._constant_ids, fed, returned)
        return results

    def _missing(self, env: dict) -> str:
        return next(name for name, source, _ in self.inputs if source not in env)

    def _feed(self, env: dict) -> dict:
        try:
            return {name: env[source] for name, source, _ in self.inputs}
        except KeyError:
            raise ParameterError(f"missing input {self._missing(env)!r} of pipeline part {self.where}") from None
