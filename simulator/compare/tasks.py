"""The comparisons' sample loops as simulator.runner tasks: a setup function that builds one process's state
and a work function that compares one shard, named "module:function" so that any worker can import them;
the runner maps the work over the samples (in this process, a process pool, Dask) and the merge adds each
shard to a reducer in sample order. A new way of running samples is a new runner backend (simulator/runner.py);
nothing here changes."""
from __future__ import annotations

import os
from typing import Callable, Optional

from .. import runner as _runner
from ..session import InferenceSession

Progress = Optional[Callable[[str], None]]


def open_session(path, encodings, params) -> InferenceSession:
    return InferenceSession.from_options(path, encodings, params)


def model_desc(path, encodings, session=None) -> dict:
    d = {"model": os.fspath(path), "encodings": os.fspath(encodings) if encodings else None}
    if session is not None and session.warnings:
        d["warnings"] = list(session.warnings)
    return d


def run_samples(reducer, kind: str, setup: str, args: tuple, work: str, state, names: list, merge, params,
                progress: Progress, executor) -> None:
    """The samples through simulator.runner: `setup(*args)` builds a worker's state (`state`: this process's),
    `work(state, shard)` compares a shard, `merge(index, names, shard)` adds it to `reducer` in shard order;
    setup and work are "module:function" names."""
    task = _runner.Task(setup, args, work, _runner.task_key(kind, params), use_cuda=params.use_cuda)
    try:
        reducer.run_report = _runner.run(task, names, merge, _runner.options_from(params, executor), progress,
                                         local_state=state)
    finally:
        reducer.close()
