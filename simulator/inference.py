"""run_inference and `simulator run` as tasks of simulator.runner: each worker builds the session once,
reads its shard's samples from the data folder and runs them; `simulator run`'s workers write each
sample's outputs themselves and return only a summary."""
from __future__ import annotations

import os
from collections import OrderedDict
from typing import Callable, Optional

import numpy as np

from . import data as _data
from . import runner as _runner
from . import safe_io
from .errors import DataError
from .session import InferenceSession



def npz_entries(names, values) -> dict:
    """{key: array}: a tensor under its name, a sequence's elements as NAME[i], an empty optional left out."""
    out = {}
    for name, value in zip(names, values):
        if isinstance(value, list):
            out.update({f"{name}[{i}]": v for i, v in enumerate(value)})
        elif value is not None:
            out[name] = value
    return out


def save_outputs(folder: str, sample: str, names: list, arrays: list) -> dict:
    """One sample's outputs: <folder>/<sample>.npz keyed by tensor name; returns the entries written."""
    entries = npz_entries(names, arrays)
    safe_io.write_npz(os.path.join(folder, f"{sample}.npz"), entries, "output file")
    return entries


def summarize(summary: dict, name: str, value) -> None:
    """name -> [dtype, shapes seen (3 at most), min, max] over the samples."""
    value = np.asarray(value)
    entry = summary.setdefault(name, [value.dtype.name, [], None, None])
    if tuple(value.shape) not in entry[1] and len(entry[1]) < 3:
        entry[1].append(tuple(value.shape))
    if value.size and value.dtype.kind in "fiub":
        _extend(entry, np.min(value), np.max(value))


def _extend(entry, lo, hi):
    entry[2] = lo if entry[2] is None else min(entry[2], lo)
    entry[3] = hi if entry[3] is None else max(entry[3], hi)


def merge_summary(summary: dict, later: dict) -> None:
    """A later shard's summary into the run's (shapes in the order seen, exact min and max)."""
    for name, (dtype, shapes, lo, hi) in later.items():
        entry = summary.setdefault(name, [dtype, [], None, None])
        for shape in shapes:
            if tuple(shape) not in entry[1] and len(entry[1]) < 3:
                entry[1].append(tuple(shape))
        if lo is not None:
            _extend(entry, lo, hi)


class _State:
    def __init__(self, params, output_dir: Optional[str] = None, session: Optional[InferenceSession] = None):
        self.session = session or InferenceSession.from_options(params.input_model_path, params.input_encodings_path,
                                                                params)
        self.names = [o.name for o in self.session.get_outputs()] + list(params.layerwise_check_name)
        for name in params.layerwise_check_name:
            self.session.resolve_name(name)  # an unknown name fails before any sample runs
        self.reader = _data.SampleReader(params.input_data_path, self.session.interpreter.inputs)
        self.output_dir = output_dir


def _arrays_shard(state: _State, names: list) -> list:
    """[(sample, [outputs..., featuremaps...])] (run_inference returns the arrays)."""
    return [(s, state.session.run(state.names, state.reader.read(s))) for s in names]


def _files_shard(state: _State, names: list) -> dict:
    """Each sample's outputs written to the output folder; returns the count and the shard's summary."""
    summary: dict = {}
    for s in names:
        entries = save_outputs(state.output_dir, s, state.names, state.session.run(state.names, state.reader.read(s)))
        for name, value in entries.items():
            summarize(summary, name, value)
    return {"count": len(names), "summary": {n: [d, sh, _py(lo), _py(hi)] for n, (d, sh, lo, hi) in summary.items()}}


def _py(v):
    return None if v is None else v.item() if hasattr(v, "item") else v


def run_inference(params, progress: Optional[Callable[[str], None]] = None, executor=None
                  ) -> "OrderedDict[str, list[np.ndarray]]":
    """{sample: [outputs..., featuremaps...]} over the data folder, on the runner's workers."""
    state = _State(params)
    results = OrderedDict()

    def merge(index, names, rows):
        results.update(rows)

    task = _runner.Task("simulator.inference:_State", (params,), "simulator.inference:_arrays_shard",
                        _runner.task_key("run-arrays", params), use_cuda=params.use_cuda)
    _runner.run(task, state.reader.names, merge, _runner.options_from(params, executor), progress, local_state=state)
    return results


def run_to_files(params, output_dir: str, progress: Optional[Callable[[str], None]] = None, executor=None,
                 session: Optional[InferenceSession] = None, resume: bool = False) -> dict:
    """Every sample's outputs written to `output_dir` (one .npz per sample, each written atomically); returns
    {"count", "names", "summary"} (summary: name -> [dtype, shapes seen, min, max] over every sample).
    `resume`: the samples whose .npz is already there (a complete file: the writes are atomic) are not run
    again; their files are read for the summary."""
    os.makedirs(output_dir, exist_ok=True)
    state = _State(params, output_dir, session)
    summary = {"count": 0, "names": state.names, "summary": {}}
    names = state.reader.names
    if resume or getattr(params, "resume", False):
        done = [s for s in names if os.path.isfile(os.path.join(output_dir, f"{s}.npz"))]
        for s in done:
            path = os.path.join(output_dir, f"{s}.npz")
            for key in safe_io.npz_keys(path, "output file", DataError, inside=output_dir):
                summarize(summary["summary"], key, safe_io.read_npz_member(path, key, "output file", DataError,
                                                                            inside=output_dir))
            if progress is not None:
                progress(s)
        summary["count"] = len(done)
        names = [s for s in names if s not in set(done)]

    def merge(index, shard_names, shard):
        summary["count"] += shard["count"]
        merge_summary(summary["summary"], shard["summary"])

    task = _runner.Task("simulator.inference:_State", (params, os.path.abspath(output_dir)),
                        "simulator.inference:_files_shard", _runner.task_key("run-files", params),
                        use_cuda=params.use_cuda)
    options = _runner.options_from(params, executor)
    options.checkpoint_path, options.resume = None, False  # the .npz files are the checkpoints
    _runner.run(task, names, merge, options, progress, local_state=state)
    return summary


__all__ = ["run_inference", "run_to_files", "save_outputs", "npz_entries"]
