"""The results of a comparison, built once from the merged accumulators (compare/reducer.py) and read-only
afterwards: InferenceCheckResult (compare_by_inference) and LayerwiseCheckResult (compare_by_layer,
verify_dumps). Each is {sample: (passed, {name: value})} plus what the toolchain's users read over the data set;
its JSON/CSV/HTML/text forms come from simulator.report."""
from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Iterable, Optional

import numpy as np

from .. import dumps as _dumps
from .. import report as _report
from .. import runner as _runner
from ..accumulators import TensorSummary, passes
from ..metrics import Metric, Stats
from .diagnosis import diagnose
from .layer_record import LayerRecord


@dataclass(frozen=True)
class Rows:
    """The per-sample rows a reducer merged: kept ({sample: (passed, values)}) or only counted (streamed)."""
    samples: "OrderedDict[str, tuple[bool, dict]]" = field(default_factory=OrderedDict)
    count: int = 0
    failed: tuple = ()
    threshold_scope: str = "sample"
    keep_samples: bool = True


class _CheckResult(Mapping):
    """{sample name: (passed, {name: metric value})}, ordered by sample name, as the toolchain's users
    read it; also .passed, .to_dict(), .to_json(), .to_csv(), .to_html(), .save(path), str() (a table)."""

    kind = "check"

    def __init__(self, metric: Metric, threshold: float, top_k: int, rows: Optional[Rows] = None,
                 run_report: Optional[_runner.Report] = None):
        rows = rows or Rows()
        self.metric = metric.name
        self.metric_info = metric
        self.threshold = float(threshold)
        self.top_k = int(top_k)
        self._samples: "OrderedDict[str, tuple[bool, dict]]" = OrderedDict(rows.samples)
        self.threshold_scope = rows.threshold_scope  # or "pooled" / "mean": the data-set check (accumulators.py)
        self.keep_samples = rows.keep_samples  # False: per-sample rows only streamed (samples_path), O(1) memory
        self._count, self._failed = rows.count, list(rows.failed)
        self.run_report = run_report

    def __setattr__(self, name, value):
        if getattr(self, "_built", False):
            raise AttributeError(f"a {type(self).__name__} is read-only once built (attribute {name!r})")
        object.__setattr__(self, name, value)

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
                **({"k": self.top_k} if m.uses_k else {})}

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

    def __init__(self, metric, threshold, top_k, models, outputs, matched_by, rows: Optional[Rows] = None,
                 stats: Optional[dict] = None, summary: Optional[dict] = None, run_report=None):
        super().__init__(metric, threshold, top_k, rows, run_report)
        self.models = models
        self.outputs = outputs
        self.matched_by = matched_by
        k = metric.k_of(top_k)
        stats = stats or {n0: Stats(k) for n0, _ in outputs}
        self.summary = summary or {n0: TensorSummary(metric) for n0, _ in outputs}  # worst samples, mean of samples
        self.worst: dict[str, float] = {}
        self.mean: dict[str, float] = {}
        self.overall: dict[str, float] = {}
        for n0, _ in outputs:
            if self.keep_samples:
                vals = [d[n0] for _, d in self._samples.values()]
                self.worst[n0] = metric.worst(vals)
                self.mean[n0] = float(np.mean(vals)) if vals else math.nan
            else:
                worst = self.summary[n0].worst
                self.worst[n0] = worst[0][0] if worst else math.nan
                self.mean[n0] = self.summary[n0].mean
            self.overall[n0] = metric.value(stats[n0])
        self._built = True

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


class LayerwiseCheckResult(_CheckResult):
    """compare_model_by_layer's (and verify_featuremaps') result: {sample: (passed, {layer: value})} of the
    cumulative comparison; .layers (LayerRecord, graph order) with the isolated error beside it,
    .first_failure / .first_isolated_failure (layer keys or None), .verdict and .diagnosis."""

    kind = "layerwise"

    def __init__(self, metric, threshold, top_k, isolated_threshold, models, reference, compared,
                 layers: Iterable[LayerRecord] = (), rows: Optional[Rows] = None, unmatched: Iterable[str] = (),
                 export_path: Optional[str] = None, dump_diagnosis=None, run_report=None):
        super().__init__(metric, threshold, top_k, rows, run_report)
        self.isolated_threshold = float(threshold if isolated_threshold is None else isolated_threshold)
        self.models = models
        self.reference, self.compared = reference, compared  # what the two sides are, in words
        self.layers: list[LayerRecord] = [r for r in layers if r.compared or r.note]
        self.unmatched: list[str] = list(unmatched)  # dumped files that name no tensor of the model (verify)
        self.export_path = export_path
        self.dump_diagnosis = dump_diagnosis  # verify: the dumps' layouts and grid differences (simulator.dumps)
        if self.keep_samples:  # the rows as the records hold them, every sample the run saw
            by_sample = OrderedDict()
            for rec in self.layers:
                for sample, v in rec.values.items():
                    by_sample.setdefault(sample, {})[rec.key] = v
            rows_of = {s: by_sample.get(s, {}) for s in sorted(set(self._samples) | set(by_sample))}
            self._samples = OrderedDict((s, (all(metric.passes(v, self.threshold) for v in values.values()), values))
                                        for s, values in rows_of.items())
        self.verdict, self.diagnosis = diagnose(self)
        self._built = True

    def layer(self, key) -> LayerRecord:
        for rec in self.layers:
            if rec.key == key or rec.name0 == key or rec.name1 == key:
                return rec
        raise KeyError(key)

    @property
    def failed_layers(self) -> list[str]:
        return [r.key for r in self.layers if r.passed is False]

    @property
    def first_failure(self) -> Optional[str]:
        return next((r.key for r in self.layers if r.passed is False), None)

    @property
    def first_isolated_failure(self) -> Optional[str]:
        return next((r.key for r in self.layers if r.isolated_passed is False), None)

    @property
    def passed(self) -> bool:
        # A check that compared nothing (every matched dump file refused) is not a pass.
        return (super().passed and self.first_isolated_failure is None
                and getattr(self, "verdict", None) != "unchecked")

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
