"""One compared tensor pair of a layer-wise comparison or a dump verification: the cumulative and isolated
error, per sample and over all samples, accumulated sample by sample (or replayed from a worker's journal)."""
from __future__ import annotations

import math
from collections import OrderedDict
from typing import Optional

import numpy as np

from ..accumulators import TensorSample, TensorSummary, passes
from ..metrics import Metric, Stats, StepStats
from ..tensor_stats import TensorStats


class LayerRecord:
    """One compared tensor pair: the cumulative and isolated error, per sample and over all samples."""

    def __init__(self, key, name0, name1, op_type, node, metric: Metric, top_k: int, threshold: float,
                 isolated_threshold: Optional[float] = None, *, constant: bool = False,
                 weights: Optional[list] = None, keep_samples: bool = True, threshold_scope: str = "sample"):
        self.key, self.name0, self.name1, self.op_type, self.node = key, name0, name1, op_type, node
        self._metric, self._k = metric, metric.k_of(top_k)
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
        self.keep_samples = keep_samples  # False: per-sample values are not kept (the summaries are)
        self.threshold_scope = threshold_scope
        self.constant = constant  # a weight or a value computed from weights only: the same on every sample
        self.tensor = TensorStats()  # ranges, clipping and histograms (tensor_stats.py)
        self.weights: list[dict] = list(weights or [])  # per-channel ranges of the weights its op reads

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
            stats, values, steps = self.isolated_stats, self.isolated_values, self.isolated_steps
            same, summary = self.isolated_same, self.isolated_summary
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
