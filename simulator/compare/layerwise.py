"""compare_by_layer: intermediate tensors of two models, paired by name (or layer_match_info), per layer the
cumulative error (model 1 as it runs vs model 0) and, in the same pass, the isolated error (compare/isolated.py),
with both in quantization steps when the tensor has an encoding. One sample's featuremaps of model 0 are held
(compare/store.py) only while that sample is compared."""
from __future__ import annotations

import os

import numpy as np

from .. import data as _data
from ..accumulators import RecordJournal
from ..backend import to_host
from ..metrics import get_metric
from ..names import PRE_QUANT_SUFFIX
from ..tensor_stats import weight_ranges
from .export import FeaturemapExporter
from .isolated import isolated_inputs, rerun_on_reference
from .layer_record import LayerRecord
from .pairing import feed_for, layer_pairs, op_of
from .quantizers import scale_of, tensor_grid
from .reducer import LayerwiseReducer
from .results import LayerwiseCheckResult
from .store import DEFAULT_MEMORY_LIMIT, FeatureStore
from .tasks import Progress, model_desc, open_session, run_samples


class LayerwiseState:
    """One process's part of compare_by_layer: both sessions, the layer pairs, what the isolated re-runs
    read, the featuremap store and exporter, the data folder."""

    def __init__(self, params, memory_limit: int = DEFAULT_MEMORY_LIMIT):
        self.params = params
        s0 = self.s0 = open_session(params.input_model_path_0, params.input_encodings_path_0, params)
        s1 = self.s1 = open_session(params.input_model_path_1, params.input_encodings_path_1, params)
        i0, i1 = s0.interpreter, s1.interpreter
        self.pairs = pairs = layer_pairs(s0, s1, params.layer_match_info)
        self.layers = []  # (key, name0, name1, op_type, node) in model 1's graph order
        self.by_name1: dict[tuple, list] = {}
        for key, r0, r1 in pairs:
            op, node = op_of(i1, r1[0])
            self.layers.append((key, r0[0] + (PRE_QUANT_SUFFIX if r0[1] else ""),
                                r1[0] + (PRE_QUANT_SUFFIX if r1[1] else ""), op, node))
            self.by_name1.setdefault(r1, []).append((key, r0))

        self.isolated_inputs = isolated_inputs(pairs, i0, i1) if params.isolated else {}
        self.need0 = {r0 for _, r0, _ in pairs}
        for names in self.isolated_inputs.values():
            self.need0.update(n for n in names if n is not None and n[0])
        self.exporter = None
        if getattr(params, "export_featuremap", False):
            self.exporter = FeaturemapExporter(params.export_featuremap_path,
                                               [(key, n0, n1) for key, n0, n1, _, _ in self.layers])
        self.store = FeatureStore(memory_limit)
        self.k = get_metric(params.metric).k_of(params.top_k)
        self.reader = _data.SampleReader(params.input_data_path, i0.inputs)
        self.index = {s: i for i, s in enumerate(self.reader.names)}


def layer_shard(state: LayerwiseState, names: list) -> dict:
    """{layer key: RecordJournal result} of one shard (runner work function)."""
    s0, s1, params, store, need0, by_name1 = state.s0, state.s1, state.params, state.store, state.need0, state.by_name1
    i0, i1 = s0.interpreter, s1.interpreter
    start = state.index[names[0]] if names else 0
    records = {key: RecordJournal(state.k, start) for key, *_ in state.layers}
    names_of = {key: (n0, n1) for key, n0, n1, _, _ in state.layers}
    for key, rec in records.items():
        rec.name0, rec.name1 = names_of[key]

    def capture0(name, value, raw):
        if (name, False) in need0:
            store.put((name, False), value)
        if (name, True) in need0:
            store.put((name, True), raw)

    try:
        for sample in names:
            feed = state.reader.read(sample)
            store.clear()
            for n0 in {r0 for r0 in need0 if r0[0] in i0.constants}:
                store.put(n0, i0.raw_params.get(n0[0], i0.constants[n0[0]]) if n0[1] else i0.constants[n0[0]])
            i0.run(s0.prepare_feed(feed), set(), observer=capture0)

            def compare1(name, value, raw, sample=sample):
                for pre in (False, True):
                    for key, r0 in by_name1.get((name, pre), ()):
                        _compare_layer(records[key], sample, r0, name, raw if pre else value, pre, store,
                                       i1, state.isolated_inputs, state.exporter, params, raw)

            for n1 in [r1 for r1 in by_name1 if r1[0] in i1.constants]:
                value = i1.constants[n1[0]]
                compare1(n1[0], value, i1.raw_params.get(n1[0], value))
            i1.run(s1.prepare_feed(feed_for(s1, feed, params.input_model_path_1)), set(), observer=compare1)
    finally:
        store.clear()
    return {key: rec.result() for key, rec in records.items()}


def compare_by_layer(params, progress: Progress = None, memory_limit: int = DEFAULT_MEMORY_LIMIT, executor=None
                     ) -> LayerwiseCheckResult:
    metric = get_metric(params.metric)
    state = LayerwiseState(params, memory_limit)
    models = [model_desc(params.input_model_path_0, params.input_encodings_path_0, state.s0),
              model_desc(params.input_model_path_1, params.input_encodings_path_1, state.s1)]
    i1 = state.s1.interpreter
    reducer = LayerwiseReducer(metric, params)
    for (key, name0, name1, op, node), (_, _, r1) in zip(state.layers, state.pairs):
        reducer.add_layer(key, name0, name1, op, node, r1[0] in i1.constants, weight_ranges(i1, r1[0]))
    exporter = state.exporter

    def merge(index, names, journals):
        reducer.merge(names, journals)
        if exporter is not None:
            exporter.samples += names

    try:
        run_samples(reducer, "layerwise", f"{__name__}:LayerwiseState", (params, memory_limit),
                    f"{__name__}:layer_shard", state, state.reader.names, merge, params, progress, executor)
    finally:
        if exporter is not None:
            exporter.close()
    return reducer.result(models, "model 0", "model 1",
                          "not produced (inside a control-flow body, or an optional output)",
                          export_path=os.path.abspath(params.export_featuremap_path) if exporter is not None else None)


def _compare_layer(rec: LayerRecord, sample, r0, name1, value1, pre1, store, i1, isolated_inputs, exporter,
                   params, raw1=None):
    """One sample of one layer: the cumulative comparison, the export, the isolated re-run."""
    ref = store.get(r0)
    if ref is None:
        rec.note = f"tensor {rec.name0!r} was not produced by model 0"
        return
    out = np.asarray(to_host(value1))
    if np.size(ref) != np.size(out):
        rec.note = f"shapes differ: {tuple(np.shape(ref))} (model 0) vs {tuple(out.shape)} (model 1)"
        return
    scale = None if pre1 or np.shape(ref) != out.shape else scale_of(i1, name1, out)
    rec.add(sample, ref, out, scale)
    rec.tensor.update(ref, out, raw1, None if pre1 else tensor_grid(i1, name1, out))
    if exporter is not None:
        exporter.write(sample, 0, rec.name0, ref)
        exporter.write(sample, 1, rec.name1, out)
    if pre1 or not params.isolated:
        if pre1:
            rec.isolated_note = "no isolated check for a value before its encoding"
        return
    rerun_on_reference(rec, sample, ref, name1, isolated_inputs.get(name1), store, i1, scale)
