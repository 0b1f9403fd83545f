"""compare_by_inference: model 0 (the reference) and model 1 on every sample of a data folder; one metric value
per sample and output, plus the worst, mean and pooled value per output."""
from __future__ import annotations

from .. import data as _data
from ..metrics import Stats, get_metric
from .pairing import check_sizes, comparable, feed_for, match_outputs
from .reducer import InferenceReducer
from .results import InferenceCheckResult
from .tasks import Progress, model_desc, open_session, run_samples


class InferenceState:
    """One process's part of compare_by_inference: both sessions, the output pairs, the data folder."""

    def __init__(self, params):
        self.params = params
        self.s0 = open_session(params.input_model_path_0, params.input_encodings_path_0, params)
        self.s1 = open_session(params.input_model_path_1, params.input_encodings_path_1, params)
        names0 = [o.name for o in self.s0.get_outputs()]
        names1 = [o.name for o in self.s1.get_outputs()]
        self.pairs, self.how = match_outputs(names0, names1, params.input_model_path_0, params.input_model_path_1)
        self.k = get_metric(params.metric).k_of(params.top_k)
        self.reader = _data.SampleReader(params.input_data_path, self.s0.interpreter.inputs)


def inference_shard(state: InferenceState, names: list) -> list:
    """[(sample, {output of model 0: Stats})] of one shard (runner work function)."""
    params, pairs, rows = state.params, state.pairs, []
    for sample in names:
        feed = state.reader.read(sample)
        out0 = state.s0.run([p[0] for p in pairs], feed)
        out1 = state.s1.run([p[1] for p in pairs], feed_for(state.s1, feed, params.input_model_path_1))
        per_output = {}
        for (n0, n1), a, b in zip(pairs, out0, out1):
            a, b = comparable(a), comparable(b)
            check_sizes(a, b, f"sample {sample!r}, output {n0!r} of model 0 vs {n1!r} of model 1")
            per_output[n0] = Stats.of(a, b, state.k)
        rows.append((sample, per_output))
    return rows


def compare_by_inference(params, progress: Progress = None, executor=None) -> InferenceCheckResult:
    metric = get_metric(params.metric)
    state = InferenceState(params)
    models = [model_desc(params.input_model_path_0, params.input_encodings_path_0, state.s0),
              model_desc(params.input_model_path_1, params.input_encodings_path_1, state.s1)]
    reducer = InferenceReducer(metric, params.threshold, params.top_k, state.pairs, params)

    def merge(index, names, rows):
        for sample, per_output in rows:
            reducer.add(sample, per_output)

    run_samples(reducer, "inference", f"{__name__}:InferenceState", (params,), f"{__name__}:inference_shard", state,
                state.reader.names, merge, params, progress, executor)
    return reducer.result(models, state.pairs, state.how)
