"""Comparison metrics: one formula each, its unit and which side of the threshold passes.

`ref` is the reference (model 0, or the simulator when verifying dumps), `out` the value compared
with it, d = out - ref, n the number of elements. Sums run in float64 (metrics are not simulation
numerics), over one sample for a per-sample value and over every sample for the pooled value.

| metric      | formula                                         | passes when        |
|-------------|-------------------------------------------------|--------------------|
| snr         | 10·log10(Σref² / Σd²) dB  (inf when d = 0)       | value >= threshold |
| psnr        | 10·log10(max|ref|² / (Σd²/n)) dB                 | value >= threshold |
| mse         | Σd² / n                                         | value <= threshold |
| rmse        | sqrt(Σd² / n)                                   | value <= threshold |
| mae         | Σ|d| / n                                        | value <= threshold |
| max_abs     | max |d|                                         | value <= threshold |
| cosine      | Σref·out / sqrt(Σref² · Σout²)                  | value >= threshold |
| relative_l2 | sqrt(Σd² / Σref²)                               | value <= threshold |
| topk        | share of rows (last axis = classes) whose       | value >= threshold |
|             | reference top-1 class is among out's top k      |                    |

NaN never passes. Statistics accumulate with `Stats.update`, so that no featuremap is kept to
compute a value over all samples.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .errors import ParameterError


@dataclass(frozen=True)
class Metric:
    """One comparison metric: its formula (`compute`, over running Stats), unit and pass rule. METRIC_INFO lists
    them; the schemas' allowed values, the CLI's --metric choices and every pass/fail come from that list."""
    name: str
    unit: str
    higher_is_better: bool
    formula: str
    compute: Callable[["Stats"], float]
    uses_k: bool = False  # takes the --top-k / top_k option

    def k_of(self, top_k: int) -> int:
        """The k the Stats of this metric need: top_k for a metric that takes it, else 0 (no top-k bookkeeping)."""
        return top_k if self.uses_k else 0

    @property
    def direction(self) -> str:
        return "higher is better (passes when value >= threshold)" if self.higher_is_better else \
            "lower is better (passes when value <= threshold)"

    def passes(self, value: float, threshold: float) -> bool:
        if value is None or math.isnan(value):
            return False
        return value >= threshold if self.higher_is_better else value <= threshold

    def badness(self, value) -> float:
        """Sort key over values of this metric: larger is worse; None and NaN are the worst of all."""
        if value is None or math.isnan(value):
            return math.inf
        return -value if self.higher_is_better else value

    def worst(self, values) -> float:
        values = [v for v in values if v is not None]
        if not values:
            return math.nan
        if any(math.isnan(v) for v in values):
            return math.nan
        return min(values) if self.higher_is_better else max(values)

    def value(self, stats: "Stats") -> float:
        return self.compute(stats)



def _dot(a, b) -> float:
    """sum(a * b) in float64 by NumPy's own loop, not BLAS: BLAS splits a long dot product over its threads,
    so its bits would depend on how many threads a process has (a parallel run's workers have fewer)."""
    return float(np.einsum("i,i->", a, b))


class Stats:
    """Running sums of one compared pair of tensors: enough for every metric, O(1) memory.

    k is the topk metric's k; k = 0 skips the top-k bookkeeping (an argmax per row) when topk is not asked for.
    """

    __slots__ = ("n", "sum_ref2", "sum_out2", "sum_d2", "sum_abs_d", "sum_ref_out", "max_abs_d", "max_abs_ref",
                 "rows", "rows_agree", "k", "has_nan")

    def __init__(self, k: int = 1):
        self.k = int(k)
        self.n = 0
        self.sum_ref2 = self.sum_out2 = self.sum_d2 = self.sum_abs_d = self.sum_ref_out = 0.0
        self.max_abs_d = self.max_abs_ref = 0.0
        self.rows = self.rows_agree = 0
        self.has_nan = False

    @classmethod
    def of(cls, ref, out, k: int = 1) -> "Stats":
        s = cls(k)
        s.update(ref, out)
        return s

    def update(self, ref, out) -> "Stats":
        ref = np.asarray(ref)
        out = np.asarray(out)
        if ref.size != out.size:
            raise ValueError(f"shapes {tuple(ref.shape)} and {tuple(out.shape)} have different sizes")
        r = ref.astype(np.float64, copy=False).reshape(-1)
        o = out.astype(np.float64, copy=False).reshape(-1)
        if r.size:
            d = o - r
            with np.errstate(all="ignore"):
                self.sum_ref2 += _dot(r, r)
                self.sum_out2 += _dot(o, o)
                self.sum_d2 += _dot(d, d)
                self.sum_abs_d += float(np.sum(np.abs(d)))
                self.sum_ref_out += _dot(r, o)
                self.max_abs_d = max(self.max_abs_d, float(np.max(np.abs(d))))
                self.max_abs_ref = max(self.max_abs_ref, float(np.max(np.abs(r))))
            if np.isnan(d).any():
                self.has_nan = True
        self.n += r.size
        if self.k > 0 and ref.ndim >= 1 and ref.shape == out.shape and ref.shape[-1] > 0 and ref.size:
            classes = ref.shape[-1]
            r2 = ref.reshape(-1, classes)
            o2 = out.reshape(-1, classes)
            top1 = np.argmax(r2, axis=1)
            picked = np.take_along_axis(o2, top1[:, None], axis=1)
            rank = np.sum(o2 > picked, axis=1)  # classes strictly above the reference's top-1 in out
            self.rows += r2.shape[0]
            self.rows_agree += int(np.sum(rank < self.k))
        return self

    def merge(self, other: "Stats") -> "Stats":
        self.n += other.n
        self.sum_ref2 += other.sum_ref2
        self.sum_out2 += other.sum_out2
        self.sum_d2 += other.sum_d2
        self.sum_abs_d += other.sum_abs_d
        self.sum_ref_out += other.sum_ref_out
        self.max_abs_d = max(self.max_abs_d, other.max_abs_d)
        self.max_abs_ref = max(self.max_abs_ref, other.max_abs_ref)
        self.rows += other.rows
        self.rows_agree += other.rows_agree
        self.has_nan = self.has_nan or other.has_nan
        return self


def _db(num: float, den: float) -> float:
    if den == 0:
        return math.inf
    if num == 0:
        return -math.inf
    return 10.0 * math.log10(num / den)


def _snr(s: Stats) -> float:
    if s.has_nan:
        return math.nan
    return _db(s.sum_ref2, s.sum_d2)


def _psnr(s: Stats) -> float:
    if s.has_nan:
        return math.nan
    if s.sum_d2 == 0:
        return math.inf
    return _db(s.max_abs_ref ** 2, s.sum_d2 / s.n)


def _mse(s: Stats) -> float:
    return math.nan if s.has_nan else (s.sum_d2 / s.n if s.n else 0.0)


def _rmse(s: Stats) -> float:
    return math.sqrt(_mse(s)) if not s.has_nan else math.nan


def _mae(s: Stats) -> float:
    return math.nan if s.has_nan else (s.sum_abs_d / s.n if s.n else 0.0)


def _max_abs(s: Stats) -> float:
    return math.nan if s.has_nan else s.max_abs_d


def _cosine(s: Stats) -> float:
    if s.has_nan:
        return math.nan
    if s.sum_ref2 == 0 and s.sum_out2 == 0:
        return 1.0
    if s.sum_ref2 == 0 or s.sum_out2 == 0:
        return 0.0
    return max(-1.0, min(1.0, s.sum_ref_out / math.sqrt(s.sum_ref2 * s.sum_out2)))


def _relative_l2(s: Stats) -> float:
    if s.has_nan:
        return math.nan
    if s.sum_d2 == 0:
        return 0.0
    if s.sum_ref2 == 0:
        return math.inf
    return math.sqrt(s.sum_d2 / s.sum_ref2)


def _topk(s: Stats) -> float:
    if s.has_nan:  # a NaN in either output never passes (a NaN compares false, so it would look like agreement)
        return math.nan
    return s.rows_agree / s.rows if s.rows else math.nan


# The registry: a new metric is one entry here (with its formula above and a line in the docstring's table).
METRIC_INFO: dict[str, Metric] = {m.name: m for m in (
    Metric("snr", "dB", True, "10*log10(sum(ref^2) / sum((out-ref)^2)); inf when out == ref", _snr),
    Metric("psnr", "dB", True, "10*log10(max|ref|^2 / mean((out-ref)^2)); inf when out == ref", _psnr),
    Metric("rmse", "", False, "sqrt(mean((out-ref)^2))", _rmse),
    Metric("mse", "", False, "mean((out-ref)^2)", _mse),
    Metric("mae", "", False, "mean(|out-ref|)", _mae),
    Metric("max_abs", "", False, "max(|out-ref|)", _max_abs),
    Metric("cosine", "", True, "sum(ref*out) / sqrt(sum(ref^2) * sum(out^2)); 1 when both are all zero", _cosine),
    Metric("relative_l2", "", False, "sqrt(sum((out-ref)^2) / sum(ref^2)); 0 when out == ref", _relative_l2),
    Metric("topk", "", True, "share of rows (classes on the last axis) whose reference top-1 class is among "
                             "out's top-k classes", _topk, uses_k=True),
)}
METRIC_NAMES = tuple(METRIC_INFO)
# The end metrics of sensitivity and mixed precision (docs/debugging.md): the name users give -> the registry's metric.
END_METRICS = {"snr": "snr", "top1": "topk"}


def unknown_metric(name) -> str:
    """The message for a metric name that is not in the registry."""
    return f"unknown metric {name!r}; valid metrics: {', '.join(METRIC_NAMES)}"


def get_metric(name: str) -> Metric:
    metric = METRIC_INFO.get(str(name).lower())
    if metric is None:
        raise ParameterError(unknown_metric(name))
    return metric


def passes(name: str, value, threshold: float) -> bool:
    """Whether `value` of the metric called `name` passes `threshold` (NaN and None never pass)."""
    return get_metric(name).passes(value, threshold)


def names_text(names, last: str = "or") -> str:
    """'a, b or c': metric names for help texts."""
    names = list(names)
    return ", ".join(names[:-1]) + f" {last} {names[-1]}" if len(names) > 1 else "".join(names)


def higher_is_better_names() -> list[str]:
    """The metrics that pass at value >= threshold (the others pass at <=)."""
    return [m.name for m in METRIC_INFO.values() if m.higher_is_better]


def compute(name: str, ref, out, k: int = 1) -> float:
    """One metric of `out` against `ref` (arrays of the same size)."""
    return get_metric(name).value(Stats.of(ref, out, k))


def snr(ref, out) -> float:
    return compute("snr", ref, out)


def psnr(ref, out) -> float:
    return compute("psnr", ref, out)


def rmse(ref, out) -> float:
    return compute("rmse", ref, out)


def mse(ref, out) -> float:
    return compute("mse", ref, out)


def mae(ref, out) -> float:
    return compute("mae", ref, out)


def max_abs(ref, out) -> float:
    return compute("max_abs", ref, out)


def cosine(ref, out) -> float:
    return compute("cosine", ref, out)


def relative_l2(ref, out) -> float:
    return compute("relative_l2", ref, out)


def topk(ref, out, k: int = 1) -> float:
    return compute("topk", ref, out, k)


class StepStats:
    """The error in quantization steps, (out - ref) / scale, accumulated: rms (= rmse / scale for a
    per-tensor encoding), max, and how many elements differ by at least one step."""

    __slots__ = ("n", "sum_sq", "max", "off")

    def __init__(self):
        self.n, self.sum_sq, self.max, self.off = 0, 0.0, 0.0, 0

    def update(self, ref, out, scale) -> "StepStats":
        ref = np.asarray(ref, np.float64)
        d = np.asarray(out, np.float64).reshape(ref.shape) - ref
        with np.errstate(all="ignore"):
            d = d / np.asarray(scale, np.float64)
            if d.size:
                a = np.abs(d)
                self.sum_sq += _dot(d.reshape(-1), d.reshape(-1))
                self.max = max(self.max, float(np.max(a)))
                self.off += int(np.count_nonzero(a >= 0.5))
        self.n += d.size
        return self

    def merge(self, other: "StepStats") -> "StepStats":
        self.n += other.n
        self.sum_sq += other.sum_sq
        self.max = max(self.max, other.max)
        self.off += other.off
        return self

    @property
    def rms(self) -> float:
        return math.sqrt(self.sum_sq / self.n) if self.n else 0.0


def steps(ref, out, scale) -> tuple[float, float]:
    """(rms, max) of (out - ref) / scale: the error in quantization steps (scale broadcasts against ref)."""
    s = StepStats().update(ref, out, scale)
    return s.rms, s.max


__all__ = ["Metric", "METRIC_INFO", "METRIC_NAMES", "END_METRICS", "passes", "unknown_metric", "Stats", "StepStats", "get_metric", "compute", "steps", "snr", "psnr", "rmse", "mse", "mae",
           "max_abs", "cosine", "relative_l2", "topk"]
