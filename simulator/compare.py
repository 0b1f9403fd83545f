"""Comparison: two models on a data folder (outputs, or layer by layer), and dumps of another tool.

* `compare_by_inference`: model 0 (the reference) and model 1 on every sample; one metric value per
  sample and output, plus the worst, mean and pooled value per output.
* `compare_by_layer`: intermediate tensors, paired by name (or layer_match_info). Per layer: the
  cumulative error (model 1 as it runs vs model 0) and, in the same pass, the isolated error (the op of
  model 1 that produces the tensor, re-run on model 0's values of its inputs, re-quantized by model
  1's encodings), with both in quantization steps when the tensor has an encoding.
* `verify_dumps`: featuremaps dumped by another tool or a device (.npy, .npz, AIMET layer-output
  .raw) against the simulator: cumulative (simulator run vs dump) and isolated (the simulator's op
  on the dumped inputs vs the dumped output).

Memory stays flat in the number of samples: metrics accumulate sample by sample (simulator.metrics),
and one sample's featuremaps are held (or spilled to a temporary folder past `memory_limit`) only
while that sample is compared.
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
from collections import OrderedDict
from collections.abc import Mapping
from typing import Callable, Iterable, Optional

import numpy as np

from . import data as _data
from . import dumps as _dumps
from . import safe_io
from . import report as _report
from . import runner as _runner
from .accumulators import RecordJournal, SampleRows, TensorSample, TensorSummary, passes, replay_journal
from .backend import to_host
from .encodings import describe_names
from .errors import DataError, ModelError, ParameterError, SimulatorError
from .metrics import Metric, Stats, StepStats, get_metric
from .names import PRE_QUANT_SUFFIX, updated_spellings, without_updated
from .session import InferenceSession
from .tensor_stats import TensorStats, grid_of, weight_ranges

Progress = Optional[Callable[[str], None]]
DEFAULT_MEMORY_LIMIT = 1 << 30  # bytes of one sample's reference featuremaps kept in memory


# ---------------------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------------------

class _CheckResult(Mapping):
    """{sample name: (passed, {name: metric value})}, ordered by sample name, as the toolchain's users
    read it; also .passed, .to_dict(), .to_json(), .to_csv(), .to_html(), .save(path), str() (a table)."""

    kind = "check"

    def __init__(self, metric: Metric, threshold: float, top_k: int):
        self.metric = metric.name
        self.metric_info = metric
        self.threshold = float(threshold)
        self.top_k = int(top_k)
        self._samples: "OrderedDict[str, tuple[bool, dict]]" = OrderedDict()
        self.threshold_scope = "sample"  # or "pooled" / "mean": the check over the data set (accumulators.py)
        self.keep_samples = True  # False: per-sample rows only streamed (samples_path), O(1) memory
        self._rows = SampleRows(None)
        self._count, self._failed = 0, []
        self.run_report: Optional[_runner.Report] = None

    def _configure(self, params):
        """The data-set options of the parameters (threshold scope, per-sample rows kept or streamed)."""
        self.threshold_scope = getattr(params, "threshold_scope", "sample")
        self.keep_samples = getattr(params, "keep_samples", True)
        self._rows = SampleRows(getattr(params, "samples_path", None))

    def _row(self, sample, passed: bool, values: dict):
        """One sample's row, as it is merged: streamed, counted, kept when keep_samples."""
        self._rows.write(sample, passed, values)
        self._count += 1
        if not passed:
            self._failed.append(sample)
        if self.keep_samples:
            self._samples[sample] = (passed, values)

    @property
    def num_samples(self) -> int:
        return len(self._samples) if self.keep_samples else self._count

    # Mapping
    def __getitem__(self, sample):
        return self._samples[sample]

    def __iter__(self):
        return iter(self._samples)

    def __len__(self):
        return len(self._samples)

    def __repr__(self):
        return f"<{type(self).__name__} {self.metric} threshold {self.threshold:g}: " \
               f"{'PASS' if self.passed else 'FAIL'}, {self.num_samples} sample(s)>"

    @property
    def passed(self) -> bool:
        if self.threshold_scope != "sample":
            return all(c is not False for c in self._scope_checks().values())
        if not self.keep_samples:
            return not self._failed
        return all(p for p, _ in self._samples.values())

    def _scope_checks(self) -> dict:
        return {}

    @property
    def warnings(self) -> list[str]:
        """What the user should know about the run (an encodings file that quantizes nothing)."""
        return [w for m in getattr(self, "models", []) for w in m.get("warnings", [])]

    @property
    def failed_samples(self) -> list[str]:
        if not self.keep_samples:
            return list(self._failed)
        return [s for s, (p, _) in self._samples.items() if not p]

    def _metric_dict(self) -> dict:
        m = self.metric_info
        return {"name": m.name, "unit": m.unit, "formula": m.formula, "higher_is_better": m.higher_is_better,
                "direction": m.direction, "threshold": self.threshold,
                **({"k": self.top_k} if m.name == "topk" else {})}

    def to_json(self, path=None, indent: int = 2) -> str:
        text = _report.to_json(self.to_dict(), indent)
        if path is not None:
            _report.write_text(path, text)
        return text

    def to_csv(self, path=None) -> str:
        text = _report.to_csv(self.to_dict())
        if path is not None:
            _report.write_text(path, text)
        return text

    def to_html(self, path=None, interactive: Optional[bool] = None) -> str:
        """The page: interactive with Plotly installed (interactive=None), or always plain (False)."""
        text = _report.to_html(self.to_dict(), interactive)
        if path is not None:
            _report.write_text(path, text)
        return text

    def save(self, path) -> str:
        """Write the report in the format of the file's extension (.json, .csv, .html)."""
        return _report.save(self.to_dict(), path)

    def __str__(self):
        return _report.to_text(self.to_dict())


class InferenceCheckResult(_CheckResult):
    """compare_model_by_inference's result: {sample: (passed, {output name: value})}.

    Per output over all samples: .worst, .mean (of the per-sample values) and .overall (pooled: the
    metric of all samples' elements together). Outputs are keyed by model 0's names; .outputs holds
    the (model 0 name, model 1 name) pairs and .matched_by how they were paired ("name" or "position").
    """

    kind = "inference"

    def __init__(self, metric, threshold, top_k, models, outputs, matched_by):
        super().__init__(metric, threshold, top_k)
        self.models = models
        self.outputs = outputs
        self.matched_by = matched_by
        self._k = top_k if metric.name == "topk" else 0
        self._stats = {n0: Stats(self._k) for n0, _ in outputs}
        self.summary = {n0: TensorSummary(metric) for n0, _ in outputs}  # worst samples, mean of samples
        self.worst: dict[str, float] = {}
        self.mean: dict[str, float] = {}
        self.overall: dict[str, float] = {}

    def _add(self, sample, per_output: dict[str, Stats]):
        values = {}
        for name, stats in per_output.items():
            values[name] = self.metric_info.value(stats)
            self._stats[name].merge(stats)
            self.summary[name].add(sample, values[name])
        passed = all(self.metric_info.passes(v, self.threshold) for v in values.values())
        self._row(sample, passed, values)

    def _finish(self):
        self._rows.close()
        for n0, _ in self.outputs:
            if self.keep_samples:
                vals = [d[n0] for _, d in self._samples.values()]
                self.worst[n0] = self.metric_info.worst(vals)
                self.mean[n0] = float(np.mean(vals)) if vals else math.nan
            else:
                worst = self.summary[n0].worst
                self.worst[n0] = worst[0][0] if worst else math.nan
                self.mean[n0] = self.summary[n0].mean
            self.overall[n0] = self.metric_info.value(self._stats[n0])

    def _scope_checks(self) -> dict:
        return {n0: passes(self.metric_info, self.threshold_scope, self.threshold, self.worst.get(n0),
                           self.mean.get(n0), self.overall.get(n0)) for n0, _ in self.outputs}

    def to_dict(self) -> dict:
        return {
            "kind": self.kind, "metric": self._metric_dict(), "models": self.models,
            "outputs": [{"name": n0, "name_model_1": n1} for n0, n1 in self.outputs], "matched_by": self.matched_by,
            "passed": self.passed, "num_samples": self.num_samples, "failed_samples": self.failed_samples,
            "samples": {s: {"passed": p, "values": dict(v)} for s, (p, v) in self._samples.items()},
            "worst": dict(self.worst), "mean": dict(self.mean), "overall": dict(self.overall),
            **self._dataset_dict(),
            "warnings": self.warnings,
        }

    def _dataset_dict(self) -> dict:
        """With a data-set scope or streamed rows: the scope, and per output the worst samples."""
        if self.threshold_scope == "sample" and self.keep_samples:
            return {}
        return {"threshold_scope": self.threshold_scope,
                "dataset": {n0: self.summary[n0].to_dict() for n0, _ in self.outputs}}


class LayerRecord:
    """One compared tensor pair: the cumulative and isolated error, per sample and over all samples."""

    def __init__(self, key, name0, name1, op_type, node, metric: Metric, top_k: int, threshold: float,
                 isolated_threshold: Optional[float] = None):
        self.key, self.name0, self.name1, self.op_type, self.node = key, name0, name1, op_type, node
        self._metric, self._k = metric, (top_k if metric.name == "topk" else 0)
        self.threshold = float(threshold)
        self.isolated_threshold = float(threshold if isolated_threshold is None else isolated_threshold)
        self.values: "OrderedDict[str, float]" = OrderedDict()
        self.isolated_values: "OrderedDict[str, float]" = OrderedDict()
        self.stats, self.isolated_stats = Stats(self._k), Stats(self._k)
        self.steps, self.isolated_steps = StepStats(), StepStats()
        self.has_steps = False
        self.isolated_note: Optional[str] = None
        self.isolated_rerun: list[str] = []  # undumped producers re-run before the op (verify)
        self.note: Optional[str] = None
        self.shape = None
        self.same, self.isolated_same = [0, 0], [0, 0]  # [identical elements, elements]
        self.summary, self.isolated_summary = TensorSummary(metric), TensorSummary(metric)
        self.keep_samples = True  # False: per-sample values are not kept (the summaries are)
        self.threshold_scope = "sample"
        self.constant = False  # a weight or a value computed from weights only: the same on every sample
        self.tensor = TensorStats()  # ranges, clipping and histograms (tensor_stats.py)
        self.weights: list[dict] = []  # per-channel ranges of the weights its op reads

    def add(self, sample, ref, out, scale=None) -> float:
        """One sample of the cumulative comparison."""
        if self.shape is None:
            self.shape = tuple(np.shape(ref))
        return self.merge_sample(sample, TensorSample.of(ref, out, self._k, scale), isolated=False)

    def add_isolated(self, sample, ref, out, scale=None) -> float:
        """One sample of the isolated comparison (the op re-run on the reference's inputs)."""
        return self.merge_sample(sample, TensorSample.of(ref, out, self._k, scale), isolated=True)

    def merge_sample(self, sample, ts: TensorSample, isolated: bool) -> float:
        """One sample's sums (computed here or by a worker) added to the running ones, in sample order."""
        if isolated:
            stats, values, steps, same = self.isolated_stats, self.isolated_values, self.isolated_steps, self.isolated_same
            summary = self.isolated_summary
        else:
            stats, values, steps, same, summary = self.stats, self.values, self.steps, self.same, self.summary
            if ts.steps is not None:
                self.has_steps = True
        same[0] += ts.same
        same[1] += ts.size
        stats.merge(ts.stats)
        v = self._metric.value(ts.stats)
        if self.keep_samples:
            values[sample] = v
        summary.add(sample, v, ts.hist)
        if ts.steps is not None:
            steps.merge(ts.steps)
        return v

    # over all samples
    @property
    def compared(self) -> bool:
        """Whether any sample was compared (cumulative)."""
        return bool(self.values) if self.keep_samples else self.summary.n > 0

    @property
    def isolated_compared(self) -> bool:
        return bool(self.isolated_values) if self.keep_samples else self.isolated_summary.n > 0

    @property
    def overall(self) -> float:
        return self._metric.value(self.stats) if self.compared else math.nan

    @property
    def worst(self) -> float:
        if not self.keep_samples:
            return self.summary.worst[0][0] if self.summary.n else math.nan
        return self._metric.worst(self.values.values())

    @property
    def mean(self) -> float:
        if not self.keep_samples:
            return self.summary.mean
        return float(np.mean(list(self.values.values()))) if self.values else math.nan

    @property
    def isolated_overall(self) -> Optional[float]:
        return self._metric.value(self.isolated_stats) if self.isolated_compared else None

    @property
    def isolated_worst(self) -> Optional[float]:
        if not self.isolated_compared:
            return None
        if not self.keep_samples:
            return self.isolated_summary.worst[0][0]
        return self._metric.worst(self.isolated_values.values())

    @property
    def passed(self) -> Optional[bool]:
        """The cumulative check over all samples (by default the worst sample against the threshold; with
        threshold_scope "pooled" or "mean" the pooled value or the mean of samples); None: not compared."""
        if not self.compared:
            return None
        return passes(self._metric, self.threshold_scope, self.threshold, self.worst, self.mean, self.overall)

    @property
    def isolated_passed(self) -> Optional[bool]:
        w = self.isolated_worst
        return None if w is None else self._metric.passes(w, self.isolated_threshold)

    def to_dict(self) -> dict:
        iso_worst = self.isolated_worst
        d = {"layer": self.key, "name0": self.name0, "name1": self.name1, "op_type": self.op_type, "node": self.node,
             "shape": list(self.shape) if self.shape is not None else None,
             "overall": self.overall, "worst": self.worst, "mean": self.mean,
             "passed": self.passed,
             "values": dict(self.values),
             "isolated_overall": self.isolated_overall, "isolated_worst": iso_worst,
             "isolated_passed": self.isolated_passed,
             "isolated_values": dict(self.isolated_values), "isolated_note": self.isolated_note, "note": self.note,
             "identical": self.same[0] / self.same[1] if self.same[1] else None,
             "isolated_identical": self.isolated_same[0] / self.isolated_same[1] if self.isolated_same[1] else None,
             "constant": self.constant, "tensor": self.tensor.to_dict(), "weights": self.weights}
        if self.isolated_rerun:
            d["isolated_rerun"] = list(self.isolated_rerun)
        if not self.keep_samples or self.threshold_scope != "sample":
            d["dataset"] = self.summary.to_dict()
            if self.isolated_summary.n:
                d["isolated_dataset"] = self.isolated_summary.to_dict()
        if self.has_steps:
            d["steps_rms"], d["steps_max"] = self.steps.rms, self.steps.max
            d["steps_off_fraction"] = self.steps.off / self.steps.n if self.steps.n else 0.0
            if self.isolated_steps.n:
                d["isolated_steps_rms"], d["isolated_steps_max"] = self.isolated_steps.rms, self.isolated_steps.max
                d["isolated_steps_off_fraction"] = self.isolated_steps.off / self.isolated_steps.n
        return d


class LayerwiseCheckResult(_CheckResult):
    """compare_model_by_layer's (and verify_featuremaps') result: {sample: (passed, {layer: value})} of the
    cumulative comparison; .layers (LayerRecord, graph order) with the isolated error beside it,
    .first_failure / .first_isolated_failure (layer keys or None), .verdict and .diagnosis."""

    kind = "layerwise"

    def __init__(self, metric, threshold, top_k, isolated_threshold, models, reference, compared):
        super().__init__(metric, threshold, top_k)
        self.isolated_threshold = float(threshold if isolated_threshold is None else isolated_threshold)
        self.models = models
        self.reference, self.compared = reference, compared  # what the two sides are, in words
        self.layers: list[LayerRecord] = []
        self.unmatched: list[str] = []  # dumped files that name no tensor of the model (verify)
        self.export_path: Optional[str] = None
        self.verdict = "pass"
        self.diagnosis = ""

    def layer(self, key) -> LayerRecord:
        for rec in self.layers:
            if rec.key == key or rec.name0 == key or rec.name1 == key:
                return rec
        raise KeyError(key)

    @staticmethod
    def _layer_passed(rec: LayerRecord) -> Optional[bool]:
        return rec.passed

    @staticmethod
    def _iso_passed(rec: LayerRecord) -> Optional[bool]:
        return rec.isolated_passed

    @property
    def failed_layers(self) -> list[str]:
        return [r.key for r in self.layers if self._layer_passed(r) is False]

    @property
    def first_failure(self) -> Optional[str]:
        return next((r.key for r in self.layers if self._layer_passed(r) is False), None)

    @property
    def first_isolated_failure(self) -> Optional[str]:
        return next((r.key for r in self.layers if self._iso_passed(r) is False), None)

    @property
    def passed(self) -> bool:
        return super().passed and self.first_isolated_failure is None

    def _configure(self, params):
        super()._configure(params)
        for rec in self.layers:
            rec.keep_samples, rec.threshold_scope = self.keep_samples, self.threshold_scope

    def _merge(self, names: list, journals: dict):
        """One shard of a worker: each layer's journal replayed in layer order, then each sample's row."""
        rows = {s: {} for s in names}
        for rec in self.layers:
            journal = journals.get(rec.key)
            if journal is not None:
                for sample, v in replay_journal(journal, rec):
                    rows.setdefault(sample, {})[rec.key] = v
        for sample, values in rows.items():
            self._row(sample, all(self.metric_info.passes(v, self.threshold) for v in values.values()), values)

    def _finish(self):
        self._rows.close()
        self.layers = [r for r in self.layers if r.compared or r.note]
        if not self.keep_samples:
            self.verdict, self.diagnosis = self._diagnose()
            return
        by_sample = OrderedDict()
        for rec in self.layers:
            for sample, v in rec.values.items():
                by_sample.setdefault(sample, {})[rec.key] = v
        samples = sorted(set(self._samples) | set(by_sample))
        self._samples = OrderedDict()
        for s in samples:
            values = by_sample.get(s, {})
            self._samples[s] = (all(self.metric_info.passes(v, self.threshold) for v in values.values()), values)
        self.verdict, self.diagnosis = self._diagnose()

    def _fmt(self, v) -> str:
        return _report.fmt(v, self.metric_info.unit)

    def _diagnose(self) -> tuple[str, str]:
        m = self.metric
        first = self.first_failure
        first_iso = self.first_isolated_failure
        if first is None and first_iso is None:
            return "pass", (f"every compared layer passes ({m} threshold {self.threshold:g}), cumulative and "
                            f"isolated" if any(r.isolated_compared for r in self.layers) else
                            f"every compared layer passes ({m} threshold {self.threshold:g})")
        if first_iso is not None:
            rec = self.layer(first_iso)
            more = [r.key for r in self.layers if self._iso_passed(r) is False][1:]
            text = (f"isolated failure at layer {rec.key!r} ({rec.op_type}): given identical inputs, this op's "
                    f"output disagrees ({m} {self._fmt(rec.isolated_worst)}, threshold {self.isolated_threshold:g})"
                    f" - the error arises at this layer (its kernel, its encoding or its own quantization), it is "
                    f"not error accumulated upstream")
            steps = rec.isolated_steps
            if steps.n:
                text += f" (isolated error {steps.rms:.3g} steps rms, {steps.max:.3g} max)"
            if first is not None and first != first_iso:
                text += f"; first cumulative failure: {first!r}"
            if more:
                text += f"; other isolated failures: {describe_names(more, 5)}"
            if rec.note and "before its encoding" in rec.note:
                text += f"; at this layer {rec.note}"
            return "isolated", text + "."
        failing = [r for r in self.layers if self._layer_passed(r) is False]
        unchecked = [r.key for r in failing if not r.isolated_compared]
        checked = [r for r in self.layers if r.isolated_compared]
        rec = self.layer(first)
        head = (f"first cumulative failure at layer {rec.key!r} ({rec.op_type}): {m} "
                f"{self._fmt(rec.worst)} against threshold {self.threshold:g}")
        if not checked:
            return "cumulative", head + "; no isolated check was run, so a kernel or encoding bug cannot be told " \
                                        "from accumulated drift."
        worst_iso = max(checked, key=lambda r: _badness(self.metric_info, r.isolated_worst))
        text = (f"{head}; but every layer agrees in isolation (worst isolated {m} "
                f"{self._fmt(worst_iso.isolated_worst)} at {worst_iso.key!r}")
        if worst_iso.isolated_steps.n:
            text += f", {worst_iso.isolated_steps.max:.3g} steps max"
        text += ("): the cumulative disagreement is rounding flips propagating through the network (a chaotic "
                 "cascade), not a kernel or encoding bug")
        if unchecked:
            return "inconclusive", text + (f"; failing layers without an isolated check: "
                                           f"{describe_names(unchecked, 5)}.")
        return "cascade", text + "."

    def to_dict(self) -> dict:
        layers = [r.to_dict() for r in self.layers]
        d = {
            "kind": self.kind, "metric": self._metric_dict(), "isolated_threshold": self.isolated_threshold,
            "models": self.models, "reference": self.reference, "compared": self.compared,
            "passed": self.passed, "verdict": self.verdict, "diagnosis": self.diagnosis,
            "first_failure": self.first_failure, "first_isolated_failure": self.first_isolated_failure,
            "num_samples": self.num_samples, "failed_samples": self.failed_samples,
            "samples": {s: {"passed": p, "values": dict(v)} for s, (p, v) in self._samples.items()},
            "layers": layers, "warnings": self.warnings,
        }
        if self.unmatched:
            d["unmatched_files"] = list(self.unmatched)
        if self.export_path:
            d["export_featuremap_path"] = self.export_path
        _dumps.annotate(self, d)
        return d


def _badness(metric: Metric, v) -> float:
    """Sort key: larger is worse."""
    if v is None or math.isnan(v):
        return math.inf
    return -v if metric.higher_is_better else v


# ---------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------

def _session(path, encodings, params) -> InferenceSession:
    return InferenceSession.from_options(path, encodings, params)


def _model_desc(path, encodings, session=None) -> dict:
    d = {"model": os.fspath(path), "encodings": os.fspath(encodings) if encodings else None}
    if session is not None and session.warnings:
        d["warnings"] = list(session.warnings)
    return d


def match_outputs(names0: list[str], names1: list[str], model0="model 0", model1="model 1"):
    """[(output of model 0, output of model 1)] and how: by name (with the "_updated" alias), else by
    position when both have as many outputs; ParameterError otherwise."""
    set1 = set(names1)
    pairs = []
    for n in names0:
        m = next((c for c in updated_spellings(n) if c in set1), None)
        if m is None:
            break
        pairs.append((n, m))
    else:
        return pairs, "name"
    if len(names0) == len(names1):
        return list(zip(names0, names1)), "position"
    raise ParameterError(f"the outputs of {model0!r} ({describe_names(names0)}) and of {model1!r} "
                         f"({describe_names(names1)}) match neither by name (nor '<name>_updated') nor by position "
                         f"({len(names0)} vs {len(names1)} outputs)")


def _feed_for(session: InferenceSession, feed: dict, source: str) -> dict:
    """The sample's feed for a model whose input names may differ (then matched by position)."""
    names = [i.name for i in session.interpreter.inputs]
    if set(names) == set(feed):
        return feed
    if len(names) == len(feed):
        return dict(zip(names, feed.values()))
    raise DataError(f"the data folder's samples have inputs {describe_names(feed)}; model {source!r} has inputs "
                    f"{describe_names(names)}")


def _comparable(value):
    """A sequence output (a list, as the session returns it) as its elements flattened end to end, compared
    element by element; an empty optional as an empty array."""
    if isinstance(value, list):
        return np.concatenate([np.ravel(v) for v in value]) if value else np.zeros(0, np.float32)
    return np.zeros(0, np.float32) if value is None else value


def _check_sizes(a, b, what: str):
    if np.size(a) != np.size(b):
        raise ModelError(f"{what}: shapes {tuple(np.shape(a))} and {tuple(np.shape(b))} differ in size; they cannot "
                         f"be compared")


def _scale(interp, name: str, value):
    """The quantization scale of tensor `name` in `interp` (broadcasting against value), or None."""
    q = quantizer_of(interp, name, value)
    if q is None:
        return None
    scale = np.asarray(to_host(q.scale), np.float64)
    try:
        np.broadcast_shapes(scale.shape, np.shape(value))
    except ValueError:
        return None
    return scale


def _grid(interp, name: str, value):
    """The (lowest, highest) value of tensor `name`'s grid in `interp`, broadcasting against value, or None."""
    return grid_of(_quantizer(interp, name, value), value)


def quantizer_of(interp, name: str, value):
    """The integer-grid quantizer of tensor `name` in `interp` for a value of this shape, or None."""
    q = _quantizer(interp, name, value)
    return None if q is None or q.scale is None else q


def _quantizer(interp, name: str, value):
    if name in getattr(interp, "param_quantizers", {}):
        q = interp.param_quantizers[name]
    elif name in interp.activation_encodings:
        if interp.activation_encodings[name].is_float:
            return None
        try:
            q = interp.quantizer_for(name, value)
        except SimulatorError:
            return None
    else:
        return None
    return q


def _safe_file(name: str) -> str:
    return re.sub(r"[^\w.\-]+", "_", name).strip("_.") or "tensor"


def sanitize(name: str) -> str:
    """A tensor name as dump tools write it into file names (non-word characters to '_')."""
    return re.sub(r"\W+", "_", name).strip("_")


class _FeatureStore:
    """One sample's reference featuremaps: in memory up to `limit` bytes, then spilled to .npy files."""

    def __init__(self, limit: int = DEFAULT_MEMORY_LIMIT):
        self.limit = limit
        self.mem: dict[str, np.ndarray] = {}
        self.files: dict[str, str] = {}
        self.nbytes = 0
        self.tmp: Optional[str] = None

    def put(self, key, value):
        value = np.asarray(to_host(value))
        if self.nbytes + value.nbytes > self.limit and value.nbytes > 0:
            if self.tmp is None:
                self.tmp = tempfile.mkdtemp(prefix="simulator-compare-")
            path = os.path.join(self.tmp, f"{len(self.files)}.npy")
            np.save(path, value)
            self.files[key] = path
        else:
            self.mem[key] = value
            self.nbytes += value.nbytes

    def get(self, key):
        if key in self.mem:
            return self.mem[key]
        if key in self.files:
            return np.load(self.files[key], mmap_mode="r")
        return None

    def __contains__(self, key):
        return key in self.mem or key in self.files

    def clear(self):
        self.mem.clear()
        self.files.clear()
        self.nbytes = 0
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None


class _Exporter:
    """export_featuremap: model_0/<sample>/<tensor>.npy and model_1/<sample>/<tensor>.npy, plus index.json."""

    def __init__(self, root: str, pairs):
        self.root = os.fspath(root)
        try:
            os.makedirs(self.root, exist_ok=True)
        except OSError as exc:
            raise ParameterError(f"export_featuremap_path {self.root!r} cannot be created: {exc}") from None
        self.files: dict[tuple[str, int], str] = {}
        used: set[str] = set()
        for key, n0, n1 in pairs:
            for side, name in ((0, n0), (1, n1)):
                if (name, side) in self.files:
                    continue
                base = _safe_file(name)
                f, i = base, 1
                while (side, f.lower()) in used:
                    i += 1
                    f = f"{base}_{i}"
                used.add((side, f.lower()))
                self.files[(name, side)] = f + ".npy"
        self.pairs = pairs
        self.samples: list[str] = []

    def write(self, sample, side: int, name: str, value):
        folder = os.path.join(self.root, f"model_{side}", sample)
        os.makedirs(folder, exist_ok=True)
        safe_io.write_npy(os.path.join(folder, self.files[(name, side)]), value, "featuremap file")

    def close(self):
        index = {"layout": "model_<0|1>/<sample>/<file>", "samples": self.samples,
                 "featuremaps": [{"layer": key, "name0": n0, "name1": n1, "file0": self.files[(n0, 0)],
                                  "file1": self.files[(n1, 1)]} for key, n0, n1 in self.pairs]}
        safe_io.write_text(os.path.join(self.root, "index.json"), json.dumps(index, indent=2), "featuremap index")


# ---------------------------------------------------------------------------------------------------
# compare_model_by_inference
# ---------------------------------------------------------------------------------------------------

class _InferenceState:
    """One process's part of compare_by_inference: both sessions, the output pairs, the data folder."""

    def __init__(self, params):
        self.params = params
        self.s0 = _session(params.input_model_path_0, params.input_encodings_path_0, params)
        self.s1 = _session(params.input_model_path_1, params.input_encodings_path_1, params)
        names0 = [o.name for o in self.s0.get_outputs()]
        names1 = [o.name for o in self.s1.get_outputs()]
        self.pairs, self.how = match_outputs(names0, names1, params.input_model_path_0, params.input_model_path_1)
        self.k = params.top_k if params.metric == "topk" else 0
        self.reader = _data.SampleReader(params.input_data_path, self.s0.interpreter.inputs)


def _inference_shard(state: _InferenceState, names: list) -> list:
    """[(sample, {output of model 0: Stats})] of one shard (runner work function)."""
    params, pairs, rows = state.params, state.pairs, []
    for sample in names:
        feed = state.reader.read(sample)
        out0 = state.s0.run([p[0] for p in pairs], feed)
        out1 = state.s1.run([p[1] for p in pairs], _feed_for(state.s1, feed, params.input_model_path_1))
        per_output = {}
        for (n0, n1), a, b in zip(pairs, out0, out1):
            a, b = _comparable(a), _comparable(b)
            _check_sizes(a, b, f"sample {sample!r}, output {n0!r} of model 0 vs {n1!r} of model 1")
            per_output[n0] = Stats.of(a, b, state.k)
        rows.append((sample, per_output))
    return rows


def compare_by_inference(params, progress: Progress = None, executor=None) -> InferenceCheckResult:
    metric = get_metric(params.metric)
    state = _InferenceState(params)
    models = [_model_desc(params.input_model_path_0, params.input_encodings_path_0, state.s0),
              _model_desc(params.input_model_path_1, params.input_encodings_path_1, state.s1)]
    result = InferenceCheckResult(metric, params.threshold, params.top_k, models, state.pairs, state.how)
    result._configure(params)

    def merge(index, names, rows):
        for sample, per_output in rows:
            result._add(sample, per_output)

    _run_samples(result, "inference", "_InferenceState", (params,), "_inference_shard", state, state.reader.names,
                 merge, params, progress, executor)
    result._finish()
    return result


def _run_samples(result, kind, setup, args, work, state, names, merge, params, progress, executor):
    """The samples through simulator.runner: `setup(*args)` builds a worker's state (`state`: this process's),
    `work(state, shard)` compares a shard, `merge` adds it to `result` in shard order."""
    task = _runner.Task(f"simulator.compare:{setup}", args, f"simulator.compare:{work}", _runner.task_key(kind, params),
                        use_cuda=params.use_cuda)
    try:
        result.run_report = _runner.run(task, names, merge, _runner.options_from(params, executor), progress,
                                        local_state=state)
    finally:
        result._rows.close()


# ---------------------------------------------------------------------------------------------------
# compare_model_by_layer
# ---------------------------------------------------------------------------------------------------

def _layer_pairs(s0: InferenceSession, s1: InferenceSession, match_info) -> list[tuple[str, tuple, tuple]]:
    """[(key, (name0, pre0), (name1, pre1))] in model 1's graph order."""
    i0, i1 = s0.interpreter, s1.interpreter
    if match_info:
        pairs = []
        for item in match_info:
            n0, n1 = item
            r0 = s0.resolve_name(n0)
            r1 = s1.resolve_name(n1)
            pairs.append((r0, r1, n0, n1))
    else:
        in0 = {i.name for i in i0.inputs} | set(i0.producer)
        pairs = [((n, False), (n, False), n, n) for n in [i.name for i in i1.inputs] + list(i1.producer) if n in in0]
        if not pairs:
            raise ParameterError(f"models {s0.model_path!r} and {s1.model_path!r} share no tensor name; give "
                                 f"layer_match_info=[(name in model 0, name in model 1), ...]")
    order = {n: k for k, n in enumerate([i.name for i in i1.inputs] + list(i1.constants) + list(i1.producer))}
    pairs.sort(key=lambda p: order.get(p[1][0], len(order)))
    out, seen = [], set()
    for r0, r1, n0, n1 in pairs:
        key = n0 if n0 == n1 else f"{n0} -> {n1}"
        if key in seen:
            continue
        seen.add(key)
        out.append((key, r0, r1))
    return out


def _op_of(interp, name):
    step = interp.producer.get(name) or getattr(interp, "folded", {}).get(name)  # folded: computed at load
    if step is None:
        return ("Input" if name in {i.name for i in interp.inputs} else "Initializer"), ""
    return step.node.op_type, step.node.name


class _LayerwiseState:
    """One process's part of compare_by_layer: both sessions, the layer pairs, what the isolated re-runs
    read, the featuremap store and exporter, the data folder."""

    def __init__(self, params, memory_limit: int = DEFAULT_MEMORY_LIMIT):
        self.params = params
        s0 = self.s0 = _session(params.input_model_path_0, params.input_encodings_path_0, params)
        s1 = self.s1 = _session(params.input_model_path_1, params.input_encodings_path_1, params)
        i0, i1 = s0.interpreter, s1.interpreter
        self.pairs = pairs = _layer_pairs(s0, s1, params.layer_match_info)
        self.layers = []  # (key, name0, name1, op_type, node) in model 1's graph order
        self.by_name1: dict[tuple, list] = {}
        for key, r0, r1 in pairs:
            op, node = _op_of(i1, r1[0])
            self.layers.append((key, r0[0] + (PRE_QUANT_SUFFIX if r0[1] else ""),
                                r1[0] + (PRE_QUANT_SUFFIX if r1[1] else ""), op, node))
            self.by_name1.setdefault(r1, []).append((key, r0))

        # model 1 name -> model 0 (name, pre) whose value feeds the isolated re-run of model 1's ops
        feed_map = {r1[0]: r0 for _, r0, r1 in pairs if not r1[1] and not r0[1]}
        known0 = set(i0.value_names)
        self.isolated_inputs: dict[str, list] = {}
        if params.isolated:
            for _, r0, r1 in pairs:
                step = i1.producer.get(r1[0])
                if step is None or r1[1]:
                    continue
                names = []
                for n in step.inputs:
                    if not n or n in i1.constants:
                        names.append(None)
                    elif n in feed_map:
                        names.append(feed_map[n])
                    elif n in known0 and n not in i0.constants:
                        names.append((n, False))
                    else:
                        names.append(("", n))  # missing: not produced by model 0
                self.isolated_inputs[r1[0]] = names
        self.need0 = {r0 for _, r0, _ in pairs}
        for names in self.isolated_inputs.values():
            self.need0.update(n for n in names if n is not None and n[0])
        self.exporter = None
        if getattr(params, "export_featuremap", False):
            self.exporter = _Exporter(params.export_featuremap_path, [(key, n0, n1) for key, n0, n1, _, _ in self.layers])
        self.store = _FeatureStore(memory_limit)
        self.k = params.top_k if params.metric == "topk" else 0
        self.reader = _data.SampleReader(params.input_data_path, i0.inputs)
        self.index = {s: i for i, s in enumerate(self.reader.names)}


def _layer_shard(state: _LayerwiseState, names: list) -> dict:
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
                        _compare_layer(None, records[key], sample, r0, name, raw if pre else value, pre, store,
                                       i1, state.isolated_inputs, state.exporter, params, raw)

            for n1 in [r1 for r1 in by_name1 if r1[0] in i1.constants]:
                value = i1.constants[n1[0]]
                compare1(n1[0], value, i1.raw_params.get(n1[0], value))
            i1.run(s1.prepare_feed(_feed_for(s1, feed, params.input_model_path_1)), set(), observer=compare1)
    finally:
        store.clear()
    return {key: rec.result() for key, rec in records.items()}


def compare_by_layer(params, progress: Progress = None, memory_limit: int = DEFAULT_MEMORY_LIMIT, executor=None
                     ) -> LayerwiseCheckResult:
    metric = get_metric(params.metric)
    state = _LayerwiseState(params, memory_limit)
    models = [_model_desc(params.input_model_path_0, params.input_encodings_path_0, state.s0),
              _model_desc(params.input_model_path_1, params.input_encodings_path_1, state.s1)]
    result = LayerwiseCheckResult(metric, params.threshold, params.top_k, params.isolated_threshold, models,
                                  "model 0", "model 1")
    i1 = state.s1.interpreter
    for (key, name0, name1, op, node), (_, _, r1) in zip(state.layers, state.pairs):
        rec = LayerRecord(key, name0, name1, op, node, metric, params.top_k, params.threshold, params.isolated_threshold)
        rec.constant, rec.weights = r1[0] in i1.constants, weight_ranges(i1, r1[0])
        result.layers.append(rec)
    result._configure(params)
    exporter = state.exporter
    if exporter is not None:
        result.export_path = os.path.abspath(params.export_featuremap_path)

    def merge(index, names, journals):
        result._merge(names, journals)
        if exporter is not None:
            exporter.samples += names

    try:
        _run_samples(result, "layerwise", "_LayerwiseState", (params, memory_limit), "_layer_shard", state,
                     state.reader.names, merge, params, progress, executor)
    finally:
        if exporter is not None:
            exporter.close()
    for rec in result.layers:
        if not rec.compared and rec.note is None:
            rec.note = "not produced (inside a control-flow body, or an optional output)"
    result._finish()
    return result


def _compare_layer(result, rec: LayerRecord, sample, r0, name1, value1, pre1, store, i1, isolated_inputs, exporter,
                   params, raw1=None):
    ref = store.get(r0)
    if ref is None:
        rec.note = f"tensor {rec.name0!r} was not produced by model 0"
        return
    out = np.asarray(to_host(value1))
    if np.size(ref) != np.size(out):
        rec.note = f"shapes differ: {tuple(np.shape(ref))} (model 0) vs {tuple(out.shape)} (model 1)"
        return
    scale = None if pre1 or np.shape(ref) != out.shape else _scale(i1, name1, out)
    rec.add(sample, ref, out, scale)
    rec.tensor.update(ref, out, raw1, None if pre1 else _grid(i1, name1, out))
    if exporter is not None:
        exporter.write(sample, 0, rec.name0, ref)
        exporter.write(sample, 1, rec.name1, out)
    if pre1 or not params.isolated:
        if pre1:
            rec.isolated_note = "no isolated check for a value before its encoding"
        return
    names = isolated_inputs.get(name1)
    if names is None:
        rec.isolated_note = "graph input or initializer: no op to re-run"
        return
    missing = [n[1] for n in names if n is not None and not n[0]]
    if missing:
        rec.isolated_note = f"input(s) {describe_names(missing)} of its op have no counterpart in model 0"
        return
    args = []
    for n in names:
        if n is None:
            args.append(None)
            continue
        v = store.get(n)
        args.append(None if v is None else i1.xp.asarray(v))
    try:
        iso = np.asarray(to_host(i1.run_step(name1, args)))
    except SimulatorError as exc:
        rec.isolated_note = f"re-running {i1.producer[name1].label} failed: {exc}"
        return
    if iso.size != ref.size:
        rec.isolated_note = f"the re-run op gives shape {iso.shape}, model 0 has {tuple(np.shape(ref))}"
        return
    rec.add_isolated(sample, ref, iso, scale)


# ---------------------------------------------------------------------------------------------------
# verification against dumped featuremaps
# ---------------------------------------------------------------------------------------------------

class _Dump:
    """A folder of dumped featuremaps: samples -> {file key: locator}."""

    def __init__(self, path: str):
        self.path = os.fspath(path)
        self.kind = ""
        self.samples: "OrderedDict[str, dict[str, tuple]]" = OrderedDict()
        self.inputs: "OrderedDict[str, list]" = OrderedDict()  # AIMET: sample -> raw input files by position
        self._scan()
        self._check_files()

    def _scan(self):
        p = self.path
        outputs = os.path.join(p, "outputs")
        aimet_root = outputs if os.path.isdir(outputs) else p
        aimet = sorted((d for d in os.listdir(aimet_root) if re.fullmatch(r"layer_outputs_\d+", d)
                        and os.path.isdir(os.path.join(aimet_root, d))), key=lambda d: int(d.rsplit("_", 1)[1]))
        if aimet:
            self.kind = "aimet"
            for d in aimet:
                folder = os.path.join(aimet_root, d)
                self.samples[d] = {os.path.splitext(f)[0]: ("raw", os.path.join(folder, f))
                                   for f in sorted(os.listdir(folder)) if f.endswith(".raw")}
                n = d.rsplit("_", 1)[1]
                single = os.path.join(p, "inputs", f"input_{n}.raw")
                multi = os.path.join(p, "inputs", f"input_{n}")
                if os.path.isfile(single):
                    self.inputs[d] = [single]
                elif os.path.isdir(multi):
                    files = sorted((f for f in os.listdir(multi) if f.endswith(".raw")),
                                   key=lambda f: int(f[:-4]) if f[:-4].isdigit() else 1 << 30)
                    self.inputs[d] = [os.path.join(multi, f) for f in files]
            return
        entries = sorted(os.listdir(p))
        npz = [e for e in entries if e.endswith(".npz") and os.path.isfile(os.path.join(p, e))]
        if npz:
            self.kind = "npz"
            for e in npz:
                full = os.path.join(p, e)
                keys = safe_io.npz_keys(full, "dump file", DataError, inside=p)
                self.samples[e[:-4]] = {k: ("npz", full, k) for k in keys}
            return
        subdirs = [e for e in entries if os.path.isdir(os.path.join(p, e))]
        loose = self._tensor_files(p, recursive=False)
        if subdirs and not loose:
            self.kind = "npy"
            for d in subdirs:
                files = self._tensor_files(os.path.join(p, d), recursive=True)
                if files:
                    self.samples[d] = files
        elif loose:
            self.kind = "npy"
            self.samples[os.path.basename(os.path.normpath(p))] = self._tensor_files(p, recursive=True)
        if not self.samples:
            raise DataError(f"dump folder {p!r} holds no featuremaps: expected .npy files (one sub-folder per sample, "
                            f"or directly in the folder for one sample), .npz files (one per sample), or AIMET's "
                            f"layer-output dump (outputs/layer_outputs_N/*.raw)")

    def _check_files(self):
        """Every dump file is a regular file inside the dump folder (no symbolic link out of it, no FIFO)."""
        for files in self.samples.values():
            for loc in files.values():
                safe_io.check_regular(loc[1], "dump file", DataError, inside=self.path)
        for files in self.inputs.values():
            for f in files:
                safe_io.check_regular(f, "dump file", DataError, inside=self.path)

    @staticmethod
    def _tensor_files(folder, recursive) -> dict:
        out = {}
        for root, dirs, files in os.walk(folder):
            dirs.sort()
            for f in sorted(files):
                stem, ext = os.path.splitext(f)
                if ext.lower() in (".npy", ".pb", _dumps.BIN_EXTENSION):
                    rel = os.path.relpath(os.path.join(root, stem), folder).replace(os.sep, "/")
                    out[rel] = (ext.lower()[1:], os.path.join(root, f))
            if not recursive:
                break
        return out

    @staticmethod
    def load(loc, shape=None, dtype=np.float32):
        kind = loc[0]
        if kind == "npz":
            return safe_io.read_npz_member(loc[1], loc[2], "dump file", DataError)
        if kind in ("npy", "pb"):
            return _data.read_array(loc[1])
        # AIMET writes the bare buffer in the tensor's own dtype (bool: one byte each), C order. Its size is
        # checked first: a file far larger than the tensor is never read.
        size = safe_io.check_regular(loc[1], "dump file", DataError).st_size
        itemsize = np.dtype(dtype).itemsize
        if shape is not None and size != int(np.prod(shape)) * itemsize:
            raise DataError(f"dump file {loc[1]!r} holds {size} bytes; the tensor has shape {tuple(shape)} "
                            f"({int(np.prod(shape))} values of {np.dtype(dtype).name}, {int(np.prod(shape)) * itemsize} "
                            f"bytes)")
        raw = np.fromfile(loc[1], dtype=np.uint8 if dtype == np.bool_ else dtype)
        raw = raw != 0 if dtype == np.bool_ else raw
        if shape is not None:
            if raw.size != int(np.prod(shape)):
                raise DataError(f"dump file {loc[1]!r} holds {raw.size} values of {np.dtype(dtype).name}; the tensor "
                                f"has shape {tuple(shape)} ({int(np.prod(shape))} values)")
            raw = raw.reshape(shape)
        return raw


def _match_dump_names(keys: Iterable[str], names: list[str]) -> tuple[dict, list]:
    """{file key: tensor name} and the keys that name no tensor."""
    exact = set(names)
    by_sanitized: dict[str, list] = {}
    for n in names:
        by_sanitized.setdefault(sanitize(n), []).append(n)
    out, unmatched = {}, []
    for key in keys:
        cands = [key, key.replace("\\", "/")]
        if without_updated(key) is not None:
            cands.append(without_updated(key))
        hit = next((c for c in cands if c in exact), None)
        if hit is None:
            for c in cands:
                found = by_sanitized.get(sanitize(c), [])
                if len(found) == 1:
                    hit = found[0]
                    break
        if hit is None:
            unmatched.append(key)
        else:
            out[key] = hit
    return out, unmatched


class _VerifyState:
    """One process's part of verify_dumps: the session, the dump's index, which file is which tensor, where
    each sample's inputs come from."""

    def __init__(self, params):
        self.params = params
        self.session = InferenceSession.from_options(params.input_model_path, params.input_encodings_path, params)
        interp = self.interp = self.session.interpreter
        dump = self.dump = _Dump(params.featuremap_path)
        self.input_specs = {i.name: i for i in interp.inputs}
        self.quantized_constants = [n for n in interp.constants if n in interp.param_quantizers]  # dumped by AIMET
        self.candidates = [i.name for i in interp.inputs] + self.quantized_constants + list(interp.producer)
        all_keys = {k for files in dump.samples.values() for k in files}
        self.mapping, self.unmatched = _match_dump_names(sorted(all_keys), self.candidates)
        self.mapping, self.unmatched = _dumps.extend_mapping(self.mapping, self.unmatched, self.candidates,
                                                             getattr(params, "name_map_path", None))
        if not self.mapping:
            raise DataError(f"none of the {len(all_keys)} dumped featuremaps in {dump.path!r} names a tensor of model "
                            f"{params.input_model_path!r} (e.g. {describe_names(sorted(all_keys), 5)}; model tensors "
                            f"e.g. {describe_names(self.candidates[:5])})")
        order = {n: k for k, n in enumerate(self.candidates)}
        self.dumped_names = sorted(set(self.mapping.values()), key=lambda n: order[n])
        self.k = params.top_k if params.metric == "topk" else 0
        # the samples in the order they run, and where their inputs come from
        dump_samples = list(dump.samples)
        self.reader, self.pairing = None, None
        if params.input_data_path is not None:
            self.reader = _data.SampleReader(params.input_data_path, interp.inputs)
            names = self.reader.names
            if all(s in names for s in dump_samples):
                self.pairing = {s: s for s in dump_samples}
            elif len(names) == len(dump_samples):
                self.pairing = dict(zip(dump_samples, names))
            else:
                raise DataError(f"the dump's samples ({describe_names(dump_samples, 5)}) match the data folder's "
                                f"({describe_names(names, 5)}) neither by name nor by count")
            wanted = {v: k for k, v in self.pairing.items()}
            self.samples = [wanted[s] for s in names if s in wanted]
        else:
            self.samples = dump_samples
        self.index = {s: i for i, s in enumerate(self.samples)}

    def hist_start(self, names: list) -> int:
        return self.index[names[0]] if names else 0

    def feed(self, sample: str) -> dict:
        if self.reader is not None:
            return self.reader.read(self.pairing[sample])
        return _dump_inputs(self.dump, sample, self.mapping, self.input_specs, self.params.input_model_path)


class _ShardDiagnosis:
    """A worker's stand-in for the result that simulator.dumps records its diagnosis on."""
    dump_diagnosis = None


def _verify_shard(state: _VerifyState, names: list) -> dict:
    """{tensor name: RecordJournal result} of one shard of dump samples (runner work function)."""
    interp, dump, mapping, params = state.interp, state.dump, state.mapping, state.params
    records = {n: RecordJournal(state.k, state.hist_start(names)) for n in state.dumped_names}
    local = _ShardDiagnosis()  # the dumps' layouts and grid differences seen in this shard (simulator.dumps)
    for sample in names:
        feed = state.feed(sample)
        files = {mapping[k]: loc for k, loc in dump.samples[sample].items() if k in mapping}
        shapes: dict[str, tuple] = {}
        dtypes: dict[str, np.dtype] = {}
        fed = {k: np.asarray(v) for k, v in feed.items()}

        replayed: dict = {}  # undumped tensors re-computed from the dumped ones, this sample

        def dumped_value(n, files=files, shapes=shapes, dtypes=dtypes, fed=fed):
            """A tensor as the dump (or its inputs) gives it, in the model's shape and dtype; None: not dumped."""
            if n in files and n in shapes:
                return interp.xp.asarray(_dumps.read_input(local, files[n], n, shapes[n], dtypes[n]))  # its layout
            return None if n not in fed else interp.xp.asarray(fed[n])

        def check(name, value, raw, sample=sample, files=files, shapes=shapes, dtypes=dtypes, replayed=replayed):
            host = np.asarray(to_host(value))
            shapes[name], dtypes[name] = host.shape, host.dtype
            loc = files.get(name)
            if loc is None:
                return
            rec = records[name]
            dumped = _dumps.read_aligned(local, rec, loc, name, host, raw, interp, params)  # layout, grid, ties
            if dumped is None:
                return
            _note_unapplied_encoding(rec, interp, name, host, raw, dumped)
            scale = _scale(interp, name, host)
            rec.add(sample, host, dumped, scale)
            rec.tensor.update(host, dumped, raw, _grid(interp, name, host))
            step = interp.producer.get(name)
            if step is None:
                rec.isolated_note = ("a quantized weight: no op to re-run" if name in interp.constants
                                     else "graph input: no op to re-run")
                return
            try:
                args, chain = [], []
                for n in step.inputs:
                    args.append(None if not n or n in interp.constants else
                                replay(interp, n, dumped_value, replayed, chain))
                iso = np.asarray(to_host(interp.run_step(name, args)))
            except DataError as exc:
                rec.isolated_note = str(exc)
                return
            except SimulatorError as exc:
                rec.isolated_note = f"re-running {step.label} on the dumped inputs failed: {exc}"
                return
            if chain:  # e.g. AIMET dumps a Linear layer only at its Add: its MatMul is re-run first
                rec.isolated_rerun += [c for c in chain if c not in rec.isolated_rerun]
            rec.add_isolated(sample, iso, dumped, _scale(interp, name, iso))

        for n in state.quantized_constants:
            if n in files:
                check(n, interp.constants[n], None)
        interp.run(state.session.prepare_feed(feed), set(), observer=check)
    diag = getattr(local, "dump_diagnosis", None)
    return {"layers": {n: rec.result() for n, rec in records.items()},
            "dump": dict(diag.tensors) if diag is not None else {}}


def verify_dumps(params, progress: Progress = None, executor=None) -> LayerwiseCheckResult:
    metric = get_metric(params.metric)
    state = _VerifyState(params)
    models = [_model_desc(params.input_model_path, params.input_encodings_path, state.session),
              {"dump": state.dump.path, "format": state.dump.kind}]
    result = LayerwiseCheckResult(metric, params.threshold, params.top_k, params.isolated_threshold, models,
                                  "simulator", "dump")
    result.unmatched = state.unmatched
    for n in state.dumped_names:
        op, node = _op_of(state.interp, n)
        rec = LayerRecord(n, n, n, op, node, metric, params.top_k, params.threshold, params.isolated_threshold)
        rec.constant, rec.weights = n in state.interp.constants, weight_ranges(state.interp, n)
        result.layers.append(rec)
    result._configure(params)

    def merge(index, names, shard):
        result._merge(names, shard["layers"])
        if shard["dump"]:
            _dumps.merge_diagnosis(_dumps.diagnosis_of(result, params), shard["dump"])
    _run_samples(result, "verify", "_VerifyState", (params,), "_verify_shard", state, state.samples, merge, params,
                 progress, executor)
    for rec in result.layers:
        if not rec.compared and rec.note is None:
            rec.note = "not produced by the simulator on these inputs"
    result._finish()
    return result


def replay(interp, name: str, known: Callable, replayed: dict, chain: list):
    """The value of tensor `name` from the nearest known tensors: `known(n)` (a dumped tensor, or None), else
    its producer re-run on its inputs, recursively (iterative: a chain may be long). `replayed` caches what
    was re-computed; the labels of the re-run nodes are appended to `chain`. DataError when a tensor on the
    way is neither known nor produced by a node."""
    values = dict(replayed)  # + the known tensors read on the way, for this call only
    stack, opened = [name], set()
    while stack:
        n = stack[-1]
        if n in values:
            stack.pop()
            continue
        v = known(n)
        if v is not None:
            values[n] = v
            stack.pop()
            continue
        step = interp.producer.get(n)
        if step is None:
            raise DataError(f"tensor {n!r} (an input of the chain that produces {name!r}) was not dumped and no "
                            f"node produces it")
        pending = [i for i in step.inputs if i and i not in interp.constants and i not in values]
        if pending and n not in opened:
            opened.add(n)
            stack += pending
            continue
        values[n] = replayed[n] = interp.run_step(n, [None if not i or i in interp.constants else values[i]
                                                      for i in step.inputs])
        chain.append(step.label)
        stack.pop()
    return values[name]


def _note_unapplied_encoding(rec, interp, name: str, host, raw, dumped) -> None:
    """Say so where a dump is far closer to the tensor before its encoding than after it: the dumping tool applied
    no encoding there, or a finer one (AIMET's 2.0.0 export writes encodings, such as a Conv output in front of a
    ReLU6, that its own sim never enabled). The comparison itself stays as it is: a wrong encoding in the file
    looks the same from the dump, and only the user can tell which it is."""
    if raw is None or quantizer_of(interp, name, host) is None or dumped.dtype.kind != "f":
        return
    pre = np.asarray(to_host(raw), np.float64)
    if pre.shape != dumped.shape:
        return
    off_pre = float(np.sqrt(np.mean(np.square(dumped - pre))))
    off_host = float(np.sqrt(np.mean(np.square(dumped - host.astype(np.float64)))))
    if off_host > 0 and 10 * off_pre <= off_host:
        rec.note = (f"the dump is {off_host / max(off_pre, 1e-300):.3g}x closer to this tensor before its encoding "
                    f"than after it: the dumping tool applied no encoding here, or a finer one than the file's")


def _dump_inputs(dump: _Dump, sample: str, mapping: dict, specs: dict, model_path) -> dict:
    """The graph inputs of one dumped sample: dumped as tensors, or AIMET's inputs/ folder."""
    files = {mapping[k]: loc for k, loc in dump.samples[sample].items() if k in mapping}
    feed = {}
    raw_inputs = dump.inputs.get(sample, [])
    for pos, (name, spec) in enumerate(specs.items()):
        shape = spec.shape if spec.shape and all(isinstance(d, int) and d > 0 for d in spec.shape) else None
        dtype = spec.dtype or np.float32
        if name in files:
            value = _Dump.load(files[name], shape, dtype)
        elif pos < len(raw_inputs):
            value = _Dump.load(("raw", raw_inputs[pos]), shape, dtype)
        else:
            raise DataError(f"dump sample {sample!r} in {dump.path!r} holds no value of model input {name!r}; give "
                            f"input_data_path (the data folder the dump was made from)")
        feed[name] = value.reshape(shape) if shape is not None and value.size == int(np.prod(shape)) else value
    return feed


__all__ = ["InferenceCheckResult", "LayerwiseCheckResult", "LayerRecord", "compare_by_inference", "compare_by_layer",
           "verify_dumps", "match_outputs", "sanitize"]
