"""What a worker of simulator.runner returns instead of tensors, and how it merges into a result.

A worker compares one shard of samples and returns, per sample and tensor pair, a `TensorSample`: the
running sums of simulator.metrics (`Stats`: signal and noise power, the dot product for cosine, counts,
max error; `StepStats`: the error in quantization steps), identical-element counts and a fixed-edge
histogram of the error in steps. Nothing of a shard's result grows with the data set but the shard
(a fixed number of samples), and the main process merges shards in shard order, sample by sample, in
float64: exactly the additions of a one-process run, so the bits do not depend on the number of workers
or on the order shards finish in.

Over the whole data set each tensor also keeps `TensorSummary`: the worst samples (bounded), the
sequential sum of per-sample values (the mean of samples, when per-sample rows are not kept) and the
histogram. Thresholds apply per sample (every sample must pass: the default), to the pooled value (the
metric of all samples' elements together) or to the mean of the per-sample values; `rethreshold`
re-applies a threshold to a saved report without running anything.

`encode` / `decode` turn these objects into JSON and back (checkpoints of `--resume`: never pickles).
"""
from __future__ import annotations

import json
import math
import os
from typing import Optional

import numpy as np

from .errors import DataError, ParameterError
from .metrics import Metric, Stats, StepStats, get_metric

# |out - ref| / scale, in quantization steps: [0, .5) agrees, [.5, 1.5) one step off, ...
STEP_EDGES = (0.0, 0.5, 1.5, 2.5, 4.5, 8.5, 16.5, math.inf)
SCOPES = ("sample", "pooled", "mean")
WORST_SAMPLES = 5


def step_histogram(ref, out, scale) -> list[int]:
    """Counts of |out - ref| / scale in the bins of STEP_EDGES (NaN in the last bin)."""
    d = np.abs(np.asarray(out, np.float64).reshape(np.shape(ref)) - np.asarray(ref, np.float64))
    with np.errstate(all="ignore"):
        a = (d / np.asarray(scale, np.float64)).reshape(-1)
    a = np.where(np.isnan(a), math.inf, a)
    bins = np.searchsorted(np.asarray(STEP_EDGES[1:-1]), a, side="right")
    return [int(c) for c in np.bincount(bins, minlength=len(STEP_EDGES) - 1)]


class TensorSample:
    """One tensor pair on one sample: Stats, identical elements, and (with a scale) the error in steps."""

    __slots__ = ("stats", "same", "size", "steps", "hist")

    def __init__(self, stats: Stats, same: int, size: int, steps: Optional[StepStats] = None, hist=None):
        self.stats, self.same, self.size, self.steps, self.hist = stats, same, size, steps, hist

    @classmethod
    def of(cls, ref, out, k: int, scale=None) -> "TensorSample":
        stats = Stats.of(ref, out, k)
        same = int(np.count_nonzero(np.asarray(ref).reshape(-1) == np.asarray(out).reshape(-1)))
        steps = hist = None
        if scale is not None:
            steps = StepStats().update(ref, out, scale)
            hist = step_histogram(ref, out, scale)
        return cls(stats, same, int(np.size(ref)), steps, hist)


class TensorSummary:
    """A tensor's per-sample values over the data set, in O(1) memory: count, sequential sum (for the mean
    of samples), the WORST_SAMPLES worst (ties: the earlier sample), the histogram of the error in steps."""

    __slots__ = ("metric", "n", "sum", "worst", "hist")

    def __init__(self, metric: Metric):
        self.metric = metric
        self.n, self.sum = 0, 0.0
        self.worst: list[tuple[float, str]] = []
        self.hist: Optional[list[int]] = None

    def add(self, sample: str, value: float, hist=None):
        self.n += 1
        self.sum += float(value)
        w = self.worst + [(float(value), sample)]
        w.sort(key=lambda t: -self.metric.badness(t[0]))  # stable: the earlier of equal values first
        self.worst = w[:WORST_SAMPLES]
        if hist is not None:
            self.hist = list(hist) if self.hist is None else [a + b for a, b in zip(self.hist, hist)]

    @property
    def mean(self) -> float:
        return self.sum / self.n if self.n else math.nan

    def to_dict(self) -> dict:
        d = {"samples": self.n, "mean_of_samples": self.mean,
             "worst_samples": [{"sample": s, "value": v} for v, s in self.worst]}
        if self.hist is not None:
            d["steps_histogram"] = {"edges": list(STEP_EDGES), "counts": list(self.hist)}
        return d


def passes(metric: Metric, scope: str, threshold: float, worst, mean, pooled) -> Optional[bool]:
    """The check over the data set: every sample (the worst one), the pooled value or the mean of samples."""
    value = {"sample": worst, "pooled": pooled, "mean": mean}[scope]
    if value is None:
        return None
    return metric.passes(value, threshold)


class RecordJournal:
    """A worker's stand-in for compare.LayerRecord (compare/layer_record.py): the same add/add_isolated/note interface, but it keeps
    what happened (in order) for the main process to replay onto the real record."""

    def __init__(self, k: int, start: int = 0):
        from .tensor_stats import HIST_SAMPLES, TensorStats  # noqa: PLC0415

        self._k = k
        self.events: list = []
        self.shape = None
        self.isolated_rerun: list[str] = []
        # rec.tensor: the histograms cover a run's first samples. The first shard keeps them as one process
        # would; a shard that starts later keeps only ranges and clipping; one that starts within the first
        # samples (tiny shards) keeps each sample's contribution for the main process to apply in order.
        if 0 < start < HIST_SAMPLES:
            self.tensor = _Contributions(HIST_SAMPLES - start)
        else:
            self.tensor = TensorStats()
            if start >= HIST_SAMPLES:
                self.tensor.hist_samples = HIST_SAMPLES

    def __setattr__(self, name, value):
        if name in ("note", "isolated_note"):
            self.events.append((name, value))
        else:
            object.__setattr__(self, name, value)

    def add(self, sample, ref, out, scale=None):
        if self.shape is None:
            self.shape = tuple(np.shape(ref))
        self.events.append(("add", sample, TensorSample.of(ref, out, self._k, scale)))

    def add_isolated(self, sample, ref, out, scale=None):
        self.events.append(("isolated", sample, TensorSample.of(ref, out, self._k, scale)))

    def result(self):
        return {"events": self.events, "shape": self.shape, "isolated_rerun": self.isolated_rerun,
                "tensor": self.tensor.items if isinstance(self.tensor, _Contributions) else self.tensor}


class _Contributions:
    """rec.tensor of a shard that starts within the histogram's first samples: each sample's contribution."""

    def __init__(self, with_values: int):
        self.items: list = []
        self._values = with_values

    def update(self, ref, out, observed=None, grid=None):
        from .tensor_stats import TensorStats  # noqa: PLC0415

        self.items.append(TensorStats.contribution(ref, out, observed, grid, values=len(self.items) < self._values))


def replay_journal(journal: dict, record) -> list[tuple[str, float]]:
    """Apply a RecordJournal's result to a LayerRecord, as if the record had seen the samples itself;
    returns the (sample, value) of each cumulative comparison."""
    values = []
    for event in journal["events"]:
        if event[0] in ("note", "isolated_note"):
            setattr(record, event[0], event[1])
        elif event[0] == "add":
            values.append((event[1], record.merge_sample(event[1], event[2], isolated=False)))
        else:
            record.merge_sample(event[1], event[2], isolated=True)
    if record.shape is None and journal["shape"] is not None:
        record.shape = tuple(journal["shape"])
    record.isolated_rerun += [c for c in journal["isolated_rerun"] if c not in record.isolated_rerun]
    tensor = journal.get("tensor")
    if isinstance(tensor, list):
        for c in tensor:
            record.tensor.apply(c)
    elif tensor is not None:
        record.tensor.merge(tensor)
    return values


# ---------------------------------------------------------------------------------------------------
# JSON codec (checkpoints): only these types come back
# ---------------------------------------------------------------------------------------------------

_BY_DICT = ("TensorStats",)  # plain classes whose attributes are their state


def _by_dict_types() -> dict:
    from .dumps import TensorDiagnosis  # noqa: PLC0415
    from .tensor_stats import TensorStats  # noqa: PLC0415

    return {"TensorStats": TensorStats, "TensorDiagnosis": TensorDiagnosis}


def _slots(cls):
    return [s for s in cls.__slots__]


def encode(obj):
    """A JSON-ready form of shard results (floats round-trip exactly; NaN and inf as JSON allows)."""
    if isinstance(obj, (Stats, StepStats, TensorSample)):
        return {"__type": type(obj).__name__, **{s: encode(getattr(obj, s)) for s in _slots(type(obj))}}
    if isinstance(obj, tuple):
        return {"__type": "tuple", "items": [encode(x) for x in obj]}
    if isinstance(obj, list):
        return [encode(x) for x in obj]
    if isinstance(obj, dict):
        if not all(isinstance(k, str) for k in obj):
            return {"__type": "pairs", "items": [[encode(k), encode(v)] for k, v in obj.items()]}
        return {k: encode(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return {"__type": "ndarray", "dtype": obj.dtype.str, "shape": list(obj.shape), "data": obj.reshape(-1).tolist()}
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if hasattr(obj, "__dataclass_fields__"):
        return {"__type": type(obj).__name__, **{f: encode(getattr(obj, f)) for f in obj.__dataclass_fields__}}
    if type(obj).__name__ in _BY_DICT:
        return {"__type": type(obj).__name__, **{k: encode(v) for k, v in vars(obj).items()}}
    raise TypeError(f"cannot encode {type(obj).__name__}")


def decode(obj, types: dict | None = None):
    """encode's inverse; `types` adds dataclasses by name (e.g. tools.Observed)."""
    known = {"Stats": Stats, "StepStats": StepStats, "TensorSample": TensorSample, **_by_dict_types(), **(types or {})}
    if isinstance(obj, list):
        return [decode(x, types) for x in obj]
    if not isinstance(obj, dict):
        return obj
    kind = obj.get("__type")
    if kind is None:
        return {k: decode(v, types) for k, v in obj.items()}
    if kind == "tuple":
        return tuple(decode(x, types) for x in obj["items"])
    if kind == "pairs":
        return {decode(k, types): decode(v, types) for k, v in obj["items"]}
    if kind == "ndarray":
        dtype = np.dtype(obj["dtype"])
        if dtype.kind not in "biuf" or dtype.hasobject:
            raise DataError(f"checkpoint holds an array of dtype {dtype}")
        return np.array(obj["data"], dtype=dtype).reshape(obj["shape"])
    cls = known.get(kind)
    if cls is None:
        raise DataError(f"checkpoint holds an object of unknown type {kind!r}")
    fields = {k: decode(v, types) for k, v in obj.items() if k != "__type"}
    if hasattr(cls, "__dataclass_fields__"):
        return cls(**fields)
    if kind in _BY_DICT:
        new = cls.__new__(cls)
        vars(new).update(fields)
        return new
    new = cls.__new__(cls)
    for s in _slots(cls):
        setattr(new, s, fields[s])
    return new


# ---------------------------------------------------------------------------------------------------
# per-sample rows streamed to a file; re-thresholding a saved report
# ---------------------------------------------------------------------------------------------------

class SampleRows:
    """Per-sample rows as JSON lines ({"sample", "passed", "values"}), written as samples are merged."""

    def __init__(self, path: Optional[str]):
        self.path = os.fspath(path) if path else None
        self._f = None
        if self.path:
            try:
                self._f = open(self.path, "w", encoding="utf-8")
            except OSError as exc:
                raise ParameterError(f"samples_path {self.path!r} cannot be written: {exc.strerror or exc}") from None

    def write(self, sample: str, passed: bool, values: dict):
        if self._f is not None:
            self._f.write(json.dumps({"sample": sample, "passed": passed, "values": values}) + "\n")

    def close(self):
        if self._f is not None:
            self._f.close()
            self._f = None


def _num(v):
    return {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}.get(v, v) if isinstance(v, str) else v


def rethreshold(report: dict, threshold: float, scope: str = "sample",
                isolated_threshold: Optional[float] = None) -> dict:
    """A saved report (a result's to_dict(), or its JSON file read back) judged against another threshold
    or scope, without running anything: the per-tensor worst/mean/overall values decide."""
    if scope not in SCOPES:
        raise ParameterError(f"threshold scope {scope!r} is not one of {', '.join(SCOPES)}")
    if not isinstance(report, dict) or "metric" not in report or "kind" not in report:
        raise DataError("the report is not a comparison result (no 'kind'/'metric'): give the JSON a comparison wrote")
    metric = get_metric(report["metric"]["name"])
    out = json.loads(json.dumps(report))
    out["metric"]["threshold"] = float(threshold)
    out["threshold_scope"] = scope
    iso = float(threshold if isolated_threshold is None else isolated_threshold)
    if report["kind"] == "inference":
        checks = {n: passes(metric, scope, threshold, _num(report["worst"][n]), _num(report["mean"][n]),
                            _num(report["overall"][n])) for n in report["worst"]}
        for s, row in out.get("samples", {}).items():
            row["passed"] = all(metric.passes(_num(v), threshold) for v in row["values"].values())
        out["tensors_passed"] = checks
        out["passed"] = all(c is not False for c in checks.values())
    else:
        out["isolated_threshold"] = iso
        passed = True
        for layer in out["layers"]:
            if layer["worst"] is not None and layer.get("values") is not None and layer["overall"] is not None:
                layer["passed"] = passes(metric, scope, threshold, _num(layer["worst"]), _num(layer["mean"]),
                                         _num(layer["overall"])) if not _isnan(layer["overall"]) else None
            if layer.get("isolated_worst") is not None:
                layer["isolated_passed"] = metric.passes(_num(layer["isolated_worst"]), iso)
            passed = passed and layer.get("passed") is not False and layer.get("isolated_passed") is not False
        for s, row in out.get("samples", {}).items():
            row["passed"] = all(metric.passes(_num(v), threshold) for v in row["values"].values())
        out["first_failure"] = next((x["layer"] for x in out["layers"] if x.get("passed") is False), None)
        out["first_isolated_failure"] = next((x["layer"] for x in out["layers"] if x.get("isolated_passed") is False),
                                             None)
        out["passed"] = passed
        old = report["metric"].get("threshold")
        out["verdict"] = "pass" if passed else "fail"
        out["diagnosis"] = (f"re-judged from the values saved with threshold {old} ({scope} scope, threshold "
                            f"{threshold:g}, isolated {iso:g}): first cumulative failure "
                            f"{out['first_failure'] or 'none'}, first isolated failure "
                            f"{out['first_isolated_failure'] or 'none'}")
    out["failed_samples"] = [s for s, row in out.get("samples", {}).items() if not row["passed"]]
    return out


def _isnan(v) -> bool:
    v = _num(v)
    return isinstance(v, float) and math.isnan(v)


__all__ = ["STEP_EDGES", "SCOPES", "TensorSample", "TensorSummary", "RecordJournal", "replay_journal", "passes", "encode",
           "decode", "SampleRows", "rethreshold", "step_histogram"]
