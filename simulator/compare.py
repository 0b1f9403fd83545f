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

    # Mapping
    def __getitem__(self, sample):
        return self._samples[sample]

    def __iter__(self):
        return iter(self._samples)

    def __len__(self):
        return len(self._samples)

    def __repr__(self):
        return f"<{type(self).__name__} {self.metric} threshold {self.threshold:g}: " \
               f"{'PASS' if self.passed else 'FAIL'}, {len(self)} sample(s)>"

    @property
    def passed(self) -> bool:
        return all(p for p, _ in self._samples.values())

    @property
    def warnings(self) -> list[str]:
        """What the user should know about the run (an encodings file that quantizes nothing)."""
        return [w for m in getattr(self, "models", []) for w in m.get("warnings", [])]

    @property
    def failed_samples(self) -> list[str]:
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
        self.worst: dict[str, float] = {}
        self.mean: dict[str, float] = {}
        self.overall: dict[str, float] = {}

    def _add(self, sample, per_output: dict[str, Stats]):
        values = {}
        for name, stats in per_output.items():
            values[name] = self.metric_info.value(stats)
            self._stats[name].merge(stats)
        passed = all(self.metric_info.passes(v, self.threshold) for v in values.values())
        self._samples[sample] = (passed, values)

    def _finish(self):
        for n0, _ in self.outputs:
            vals = [d[n0] for _, d in self._samples.values()]
            self.worst[n0] = self.metric_info.worst(vals)
            self.mean[n0] = float(np.mean(vals)) if vals else math.nan
            self.overall[n0] = self.metric_info.value(self._stats[n0])

    def to_dict(self) -> dict:
        return {
            "kind": self.kind, "metric": self._metric_dict(), "models": self.models,
            "outputs": [{"name": n0, "name_model_1": n1} for n0, n1 in self.outputs], "matched_by": self.matched_by,
            "passed": self.passed, "num_samples": len(self), "failed_samples": self.failed_samples,
            "samples": {s: {"passed": p, "values": dict(v)} for s, (p, v) in self._samples.items()},
            "worst": dict(self.worst), "mean": dict(self.mean), "overall": dict(self.overall),
            "warnings": self.warnings,
        }


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
        self.constant = False  # a weight or a value computed from weights only: the same on every sample
        self.tensor = TensorStats()  # ranges, clipping and histograms (tensor_stats.py)
        self.weights: list[dict] = []  # per-channel ranges of the weights its op reads

    def add(self, sample, ref, out, scale=None) -> float:
        """One sample of the cumulative comparison."""
        if scale is not None:
            self.has_steps = True
        if self.shape is None:
            self.shape = tuple(np.shape(ref))
        return self._accumulate(sample, ref, out, scale, self.stats, self.values, self.steps, self.same)

    def add_isolated(self, sample, ref, out, scale=None) -> float:
        """One sample of the isolated comparison (the op re-run on the reference's inputs)."""
        return self._accumulate(sample, ref, out, scale, self.isolated_stats, self.isolated_values,
                                self.isolated_steps, self.isolated_same)

    def _accumulate(self, sample, ref, out, scale, stats, values, steps, same) -> float:
        s = Stats.of(ref, out, self._k)
        same[0] += int(np.count_nonzero(np.asarray(ref).reshape(-1) == np.asarray(out).reshape(-1)))
        same[1] += int(np.size(ref))
        stats.merge(s)
        values[sample] = v = self._metric.value(s)
        if scale is not None:
            steps.update(ref, out, scale)
        return v

    # over all samples
    @property
    def overall(self) -> float:
        return self._metric.value(self.stats) if self.values else math.nan

    @property
    def worst(self) -> float:
        return self._metric.worst(self.values.values())

    @property
    def mean(self) -> float:
        return float(np.mean(list(self.values.values()))) if self.values else math.nan

    @property
    def isolated_overall(self) -> Optional[float]:
        return self._metric.value(self.isolated_stats) if self.isolated_values else None

    @property
    def isolated_worst(self) -> Optional[float]:
        return self._metric.worst(self.isolated_values.values()) if self.isolated_values else None

    @property
    def passed(self) -> Optional[bool]:
        """The cumulative check over all samples (the worst sample against the threshold); None: not compared."""
        return self._metric.passes(self.worst, self.threshold) if self.values else None

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

    def _finish(self):
        self.layers = [r for r in self.layers if r.values or r.note]
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
                            f"isolated" if any(r.isolated_values for r in self.layers) else
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
        unchecked = [r.key for r in failing if not r.isolated_values]
        checked = [r for r in self.layers if r.isolated_values]
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
            "num_samples": len(self), "failed_samples": self.failed_samples,
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

def compare_by_inference(params, progress: Progress = None) -> InferenceCheckResult:
    metric = get_metric(params.metric)
    s0 = _session(params.input_model_path_0, params.input_encodings_path_0, params)
    s1 = _session(params.input_model_path_1, params.input_encodings_path_1, params)
    names0 = [o.name for o in s0.get_outputs()]
    names1 = [o.name for o in s1.get_outputs()]
    pairs, how = match_outputs(names0, names1, params.input_model_path_0, params.input_model_path_1)
    models = [_model_desc(params.input_model_path_0, params.input_encodings_path_0, s0),
              _model_desc(params.input_model_path_1, params.input_encodings_path_1, s1)]
    result = InferenceCheckResult(metric, params.threshold, params.top_k, models, pairs, how)
    for sample, feed in _data.iter_samples(params.input_data_path, s0.interpreter.inputs):
        out0 = s0.run([p[0] for p in pairs], feed)
        out1 = s1.run([p[1] for p in pairs], _feed_for(s1, feed, params.input_model_path_1))
        per_output = {}
        for (n0, n1), a, b in zip(pairs, out0, out1):
            a, b = _comparable(a), _comparable(b)
            _check_sizes(a, b, f"sample {sample!r}, output {n0!r} of model 0 vs {n1!r} of model 1")
            per_output[n0] = Stats.of(a, b, result._k)
        result._add(sample, per_output)
        if progress is not None:
            progress(sample)
    result._finish()
    return result


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


def compare_by_layer(params, progress: Progress = None, memory_limit: int = DEFAULT_MEMORY_LIMIT
                     ) -> LayerwiseCheckResult:
    metric = get_metric(params.metric)
    s0 = _session(params.input_model_path_0, params.input_encodings_path_0, params)
    s1 = _session(params.input_model_path_1, params.input_encodings_path_1, params)
    i0, i1 = s0.interpreter, s1.interpreter
    pairs = _layer_pairs(s0, s1, params.layer_match_info)
    models = [_model_desc(params.input_model_path_0, params.input_encodings_path_0, s0),
              _model_desc(params.input_model_path_1, params.input_encodings_path_1, s1)]
    result = LayerwiseCheckResult(metric, params.threshold, params.top_k, params.isolated_threshold, models,
                                  "model 0", "model 1")
    records = {}
    by_name1: dict[tuple, list] = {}
    for key, r0, r1 in pairs:
        op, node = _op_of(i1, r1[0])
        rec = LayerRecord(key, r0[0] + (PRE_QUANT_SUFFIX if r0[1] else ""),
                          r1[0] + (PRE_QUANT_SUFFIX if r1[1] else ""), op, node, metric, params.top_k,
                          params.threshold, params.isolated_threshold)
        rec.constant, rec.weights = r1[0] in i1.constants, weight_ranges(i1, r1[0])
        records[key] = rec
        result.layers.append(rec)
        by_name1.setdefault(r1, []).append((key, r0))

    # model 1 name -> model 0 (name, pre) whose value feeds the isolated re-run of model 1's ops
    feed_map = {r1[0]: r0 for _, r0, r1 in pairs if not r1[1] and not r0[1]}
    known0 = set(i0.value_names)
    isolated_inputs: dict[str, list] = {}
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
            isolated_inputs[r1[0]] = names
    need0 = {r0 for _, r0, _ in pairs}
    for names in isolated_inputs.values():
        need0.update(n for n in names if n is not None and n[0])

    exporter = None
    if getattr(params, "export_featuremap", False):
        exporter = _Exporter(params.export_featuremap_path,
                             [(key, records[key].name0, records[key].name1) for key, _, _ in pairs])
        result.export_path = os.path.abspath(params.export_featuremap_path)
    store = _FeatureStore(memory_limit)

    def capture0(name, value, raw):
        if (name, False) in need0:
            store.put((name, False), value)
        if (name, True) in need0:
            store.put((name, True), raw)

    try:
        for sample, feed in _data.iter_samples(params.input_data_path, i0.inputs):
            store.clear()
            for n0 in {r0 for r0 in need0 if r0[0] in i0.constants}:
                store.put(n0, i0.raw_params.get(n0[0], i0.constants[n0[0]]) if n0[1] else i0.constants[n0[0]])
            i0.run(s0.prepare_feed(feed), set(), observer=capture0)

            def compare1(name, value, raw, sample=sample):
                for pre in (False, True):
                    for key, r0 in by_name1.get((name, pre), ()):
                        _compare_layer(result, records[key], sample, r0, name, raw if pre else value, pre, store,
                                       i1, isolated_inputs, exporter, params, raw)

            for n1 in [r1 for r1 in by_name1 if r1[0] in i1.constants]:
                value = i1.constants[n1[0]]
                compare1(n1[0], value, i1.raw_params.get(n1[0], value))
            i1.run(s1.prepare_feed(_feed_for(s1, feed, params.input_model_path_1)), set(), observer=compare1)
            result._samples[sample] = (True, {})
            if exporter is not None:
                exporter.samples.append(sample)
            if progress is not None:
                progress(sample)
    finally:
        store.clear()
        if exporter is not None:
            exporter.close()
    for rec in result.layers:
        if not rec.values and rec.note is None:
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


def verify_dumps(params, progress: Progress = None) -> LayerwiseCheckResult:
    metric = get_metric(params.metric)
    session = InferenceSession.from_options(params.input_model_path, params.input_encodings_path, params)
    interp = session.interpreter
    dump = _Dump(params.featuremap_path)
    input_specs = {i.name: i for i in interp.inputs}
    quantized_constants = [n for n in interp.constants if n in interp.param_quantizers]  # dumped by AIMET too
    candidates = [i.name for i in interp.inputs] + quantized_constants + list(interp.producer)
    all_keys = {k for files in dump.samples.values() for k in files}
    mapping, unmatched = _match_dump_names(sorted(all_keys), candidates)
    mapping, unmatched = _dumps.extend_mapping(mapping, unmatched, candidates, getattr(params, "name_map_path", None))
    if not mapping:
        raise DataError(f"none of the {len(all_keys)} dumped featuremaps in {dump.path!r} names a tensor of model "
                        f"{params.input_model_path!r} (e.g. {describe_names(sorted(all_keys), 5)}; model tensors "
                        f"e.g. {describe_names(candidates[:5])})")
    models = [_model_desc(params.input_model_path, params.input_encodings_path, session),
              {"dump": dump.path, "format": dump.kind}]
    result = LayerwiseCheckResult(metric, params.threshold, params.top_k, params.isolated_threshold, models,
                                  "simulator", "dump")
    result.unmatched = unmatched
    order = {n: k for k, n in enumerate(candidates)}
    dumped_names = sorted(set(mapping.values()), key=lambda n: order[n])
    records = {}
    for n in dumped_names:
        op, node = _op_of(interp, n)
        records[n] = LayerRecord(n, n, n, op, node, metric, params.top_k, params.threshold,
                                 params.isolated_threshold)
        records[n].constant, records[n].weights = n in interp.constants, weight_ranges(interp, n)
        result.layers.append(records[n])

    # the samples and their inputs
    dump_samples = list(dump.samples)
    if params.input_data_path is not None:
        names = _data.sample_names(params.input_data_path, interp.inputs)
        if all(s in names for s in dump_samples):
            pairing = {s: s for s in dump_samples}
        elif len(names) == len(dump_samples):
            pairing = dict(zip(dump_samples, names))
        else:
            raise DataError(f"the dump's samples ({describe_names(dump_samples, 5)}) match the data folder's "
                            f"({describe_names(names, 5)}) neither by name nor by count")

        def feeds():
            wanted = {v: k for k, v in pairing.items()}
            for s, feed in _data.iter_samples(params.input_data_path, interp.inputs):
                if s in wanted:
                    yield wanted[s], feed
    else:
        def feeds():
            for s in dump_samples:
                yield s, _dump_inputs(dump, s, mapping, input_specs, params.input_model_path)

    for sample, feed in feeds():
        files = {mapping[k]: loc for k, loc in dump.samples[sample].items() if k in mapping}
        shapes: dict[str, tuple] = {}
        dtypes: dict[str, np.dtype] = {}
        fed = {k: np.asarray(v) for k, v in feed.items()}

        replayed: dict = {}  # undumped tensors re-computed from the dumped ones, this sample

        def dumped_value(n, files=files, shapes=shapes, dtypes=dtypes, fed=fed):
            """A tensor as the dump (or its inputs) gives it, in the model's shape and dtype; None: not dumped."""
            if n in files and n in shapes:
                return interp.xp.asarray(_dumps.read_input(result, files[n], n, shapes[n], dtypes[n]))  # its layout
            return None if n not in fed else interp.xp.asarray(fed[n])

        def check(name, value, raw, sample=sample, files=files, shapes=shapes, dtypes=dtypes, replayed=replayed):
            host = np.asarray(to_host(value))
            shapes[name], dtypes[name] = host.shape, host.dtype
            loc = files.get(name)
            if loc is None:
                return
            rec = records[name]
            dumped = _dumps.read_aligned(result, rec, loc, name, host, raw, interp, params)  # layout, grid, ties
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

        for n in quantized_constants:
            if n in files:
                check(n, interp.constants[n], None)
        interp.run(session.prepare_feed(feed), set(), observer=check)
        result._samples[sample] = (True, {})
        if progress is not None:
            progress(sample)
    for rec in result.layers:
        if not rec.values and rec.note is None:
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
