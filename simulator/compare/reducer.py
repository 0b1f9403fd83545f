"""The reducers: what the sample loops merge, shard by shard in sample order, and the one place a result is
built from (`result()`, once, after the last shard). A result's fields are derived here or in its constructor,
never written by a caller afterwards."""
from __future__ import annotations

from collections import OrderedDict
from typing import Optional

from ..accumulators import SampleRows, TensorSummary, replay_journal
from ..metrics import Metric, Stats
from .layer_record import LayerRecord
from .results import InferenceCheckResult, LayerwiseCheckResult, Rows


class RowReducer:
    """The per-sample rows as they are merged: streamed (samples_path), counted, kept when keep_samples."""

    def __init__(self, metric: Metric, threshold: float, params):
        self.metric, self.threshold = metric, float(threshold)
        self.threshold_scope = getattr(params, "threshold_scope", "sample")
        self.keep_samples = getattr(params, "keep_samples", True)
        self._stream = SampleRows(getattr(params, "samples_path", None))
        self._samples: "OrderedDict[str, tuple[bool, dict]]" = OrderedDict()
        self._count, self._failed = 0, []
        self.run_report = None

    def row(self, sample, values: dict):
        passed = all(self.metric.passes(v, self.threshold) for v in values.values())
        self._stream.write(sample, passed, values)
        self._count += 1
        if not passed:
            self._failed.append(sample)
        if self.keep_samples:
            self._samples[sample] = (passed, values)

    def close(self):
        """The streamed rows' file closed (also when the run fails)."""
        self._stream.close()

    def rows(self) -> Rows:
        self.close()
        return Rows(self._samples, self._count, tuple(self._failed), self.threshold_scope, self.keep_samples)


class InferenceReducer(RowReducer):
    """compare_by_inference: per output, the pooled Stats and the per-sample summary."""

    def __init__(self, metric: Metric, threshold: float, top_k: int, outputs, params):
        super().__init__(metric, threshold, params)
        self.top_k = top_k
        k = metric.k_of(top_k)
        self._stats = {n0: Stats(k) for n0, _ in outputs}
        self._summary = {n0: TensorSummary(metric) for n0, _ in outputs}

    def add(self, sample, per_output: dict[str, Stats]):
        values = {}
        for name, stats in per_output.items():
            values[name] = self.metric.value(stats)
            self._stats[name].merge(stats)
            self._summary[name].add(sample, values[name])
        self.row(sample, values)

    def result(self, models, outputs, matched_by) -> InferenceCheckResult:
        return InferenceCheckResult(self.metric, self.threshold, self.top_k, models, outputs, matched_by, self.rows(),
                                    self._stats, self._summary, self.run_report)


class LayerwiseReducer(RowReducer):
    """compare_by_layer and verify_dumps: one LayerRecord per compared tensor (add_layer, in graph order), each
    worker's journal replayed onto it in layer order."""

    def __init__(self, metric: Metric, params):
        super().__init__(metric, params.threshold, params)
        self.top_k, self.isolated_threshold = params.top_k, params.isolated_threshold
        self.layers: list[LayerRecord] = []

    def add_layer(self, key, name0, name1, op_type, node, constant: bool, weights: list) -> None:
        self.layers.append(LayerRecord(key, name0, name1, op_type, node, self.metric, self.top_k, self.threshold,
                                       self.isolated_threshold, constant=constant, weights=weights,
                                       keep_samples=self.keep_samples, threshold_scope=self.threshold_scope))

    def merge(self, names: list, journals: dict):
        """One shard of a worker: each layer's journal replayed in layer order, then each sample's row."""
        rows = {s: {} for s in names}
        for rec in self.layers:
            journal = journals.get(rec.key)
            if journal is not None:
                for sample, v in replay_journal(journal, rec):
                    rows.setdefault(sample, {})[rec.key] = v
        for sample, values in rows.items():
            self.row(sample, values)

    def result(self, models, reference, compared, missing_note: str, unmatched=(), export_path: Optional[str] = None,
               dump_diagnosis=None) -> LayerwiseCheckResult:
        """The result; a record no sample reached gets `missing_note` (why it was not compared)."""
        for rec in self.layers:
            if not rec.compared and rec.note is None:
                rec.note = missing_note
        return LayerwiseCheckResult(self.metric, self.threshold, self.top_k, self.isolated_threshold, models,
                                    reference, compared, self.layers, self.rows(), unmatched, export_path,
                                    dump_diagnosis, self.run_report)
