"""Sensitivity analysis: which quantizer group costs the most accuracy.

For each quantizer group (simulator.precision) the end metric over the data set is measured with only that
group changed (moved to float32, or raised to 16 bits) and, the reverse, with only that group quantized. The
reference is the float model (the same ONNX file without encodings); the end metric is the SNR of each graph
output pooled over all samples (or the top-1 agreement share), and the lowest over the outputs.

The model is read once and the samples once; each variant is an Interpreter planned from the in-memory model
and an in-memory encodings object (no file is re-read), so a variant costs one planning (weights
fake-quantized again) plus one run per sample.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from . import debug_report as _report
from . import runner as _runner
from .backend import array_module, to_device, to_host
from .encodings import EncodingsFile, load_encodings
from .errors import DataError, EncodingsError, ParameterError
from .interpreter import Interpreter
from .metrics import END_METRICS, Stats, get_metric
from .model import load_model
from .precision import FLOAT, INT16, QuantizerGroup, apply_moves, check_moves, find_groups, group_move_applies, only

Progress = Optional[Callable[[str], None]]


def check_end_metric(name: str) -> str:
    name = str(name).lower()
    if name not in END_METRICS:
        raise ParameterError(f"unknown end metric {name!r}; use one of {', '.join(END_METRICS)}")
    return name


@dataclass
class Score:
    """The end metric of one variant: per graph output (pooled over the samples, or its worst sample) and the
    lowest of them."""
    per_output: dict[str, float]

    @property
    def value(self) -> float:
        vals = list(self.per_output.values())
        return min(vals) if vals and not any(math.isnan(v) for v in vals) else math.nan


class Evaluator:
    """A quantized model, its float reference outputs and the samples, ready to score encodings variants."""

    def __init__(self, model_path, encodings_path, data_path, metric: str = "snr", max_samples=None,
                 use_cuda=False, rounding="half_away_from_zero", apply_int32_bias=False, deterministic=False,
                 worst_sample: bool = False, kernels: str = "numpy", ort_threads: int = 0):
        self.metric = check_end_metric(metric)
        self.worst_sample = bool(worst_sample)  # each output's worst sample instead of its pooled value
        self._formula = get_metric(END_METRICS[self.metric])
        self.model_path = str(model_path)
        self.model = load_model(model_path)
        self.encodings_file: EncodingsFile = load_encodings(encodings_path)
        if not self.encodings_file.encodings:
            raise EncodingsError(f"encodings file {encodings_path!r} holds no encodings: nothing to analyse")
        self.encodings = dict(self.encodings_file.encodings)
        self.xp = array_module(use_cuda, deterministic)
        self._options = dict(rounding=rounding, apply_int32_bias=apply_int32_bias, kernels=kernels,
                             ort_threads=ort_threads)
        self.groups: list[QuantizerGroup] = find_groups(self.model, self.encodings_file)
        reference = self.interpreter(None)
        self.output_names = [o.name for o in reference.outputs]
        self.samples: list[tuple[str, dict]] = []
        self.reference: list[list[np.ndarray]] = []
        for name, feed in _runner.iter_samples(data_path, reference.inputs, max_samples):
            feed = {k: to_device(self.xp, v) for k, v in feed.items()}
            self.samples.append((name, feed))
            self.reference.append(self._outputs(reference, feed))
        if not self.samples:
            raise DataError(f"data folder {data_path!r} holds no samples for model {self.model_path!r}")
        self.variants = 0
        self.seconds = 0.0

    @classmethod
    def from_params(cls, params) -> "Evaluator":
        """An evaluator from a SensitivityParameters/MixedPrecisionParameters schema."""
        return cls(params.input_model_path, params.input_encodings_path, params.input_data_path, params.metric,
                   params.max_samples, params.use_cuda, params.rounding, params.apply_int32_bias, params.deterministic,
                   params.worst_sample, params.kernels, params.ort_threads)

    def interpreter(self, encodings: Optional[dict]) -> Interpreter:
        enc = None
        if encodings is not None:
            f = self.encodings_file
            enc = EncodingsFile(f.version, encodings, f.int32_bias, f.path)
        return Interpreter(self.model, enc, self.xp, source=self.model_path, **self._options)

    def _outputs(self, interp: Interpreter, feed: dict) -> list[np.ndarray]:
        values, _ = interp.run(feed, set(self.output_names))
        return [np.asarray(to_host(values[n])) for n in self.output_names]

    def score(self, encodings: dict) -> Score:
        """The end metric with `encodings` (a {file name: Encoding} dict) over every sample."""
        start = time.perf_counter()
        interp = self.interpreter(encodings)
        k = get_metric(END_METRICS[self.metric]).k_of(1)  # top1: the reference's top class among out's top 1
        stats = {n: Stats(k) for n in self.output_names}
        worst: dict[str, list[float]] = {n: [] for n in self.output_names}
        for (_, feed), ref in zip(self.samples, self.reference):
            for name, r, o in zip(self.output_names, ref, self._outputs(interp, feed)):
                one = Stats.of(r, o, k)
                stats[name].merge(one)
                worst[name].append(self._formula.value(one))
        self.variants += 1
        self.seconds += time.perf_counter() - start
        if self.worst_sample:
            return Score({n: self._formula.worst(v) for n, v in worst.items()})
        return Score({n: self._formula.value(s) for n, s in stats.items()})

    @property
    def seconds_per_variant(self) -> float:
        return self.seconds / self.variants if self.variants else math.nan


@dataclass
class GroupSensitivity:
    group: QuantizerGroup
    changed: dict[str, Optional[float]]  # move -> end metric with only this group changed (None: n/a)
    only_quantized: Optional[float] = None  # end metric with only this group quantized
    rank: int = 0

    def gain(self, baseline: float) -> float:
        vals = [v for v in self.changed.values() if v is not None and not math.isnan(v)]
        return (max(vals) - baseline) if vals else -math.inf

    def best_move(self, moves, tolerance: float) -> Optional[str]:
        """The allowed move that helps most; 16 bits when it comes within `tolerance` of float."""
        f, i16 = self.changed.get(FLOAT), self.changed.get(INT16)
        if INT16 in moves and i16 is not None and (FLOAT not in moves or f is None or i16 >= f - tolerance):
            return INT16
        return FLOAT if FLOAT in moves and f is not None else None


@dataclass
class SensitivityResult(_report.Reportable):
    """Groups ranked by how much changing them alone helps the end metric (.ranking), with the baseline."""
    model: str
    encodings: str
    metric: str
    moves: tuple[str, ...]
    num_samples: int
    baseline: float
    baseline_per_output: dict[str, float]
    ranking: list[GroupSensitivity] = field(default_factory=list)
    seconds_per_variant: float = math.nan
    variants: int = 0
    worst_sample: bool = False
    title = "Sensitivity analysis"

    def to_dict(self) -> dict:
        return {"kind": "sensitivity", "model": self.model, "encodings": self.encodings, "metric": self.metric,
                "reference": "float model (no encodings)", "moves": list(self.moves), "num_samples": self.num_samples,
                "scoring": "worst sample" if self.worst_sample else "pooled over the samples",
                "baseline": self.baseline, "baseline_per_output": dict(self.baseline_per_output),
                "num_groups": len(self.ranking), "variants": self.variants,
                "seconds_per_variant": self.seconds_per_variant,
                "groups": [{"rank": g.rank, **g.group.to_dict(),
                            **{f"metric_{m}": g.changed.get(m) for m in self.moves},
                            "metric_only_quantized": g.only_quantized, "gain": g.gain(self.baseline)}
                           for g in self.ranking]}

    def csv_rows(self):
        d = self.to_dict()
        cols = ["rank", "group", "kind", "node", "op_type", *[f"metric_{m}" for m in self.moves],
                "metric_only_quantized", "gain", "tensors"]
        return cols, [[g[c] if c != "tensors" else " ".join(g["tensors"]) for c in cols] for g in d["groups"]]

    def html_section(self) -> str:
        head = (f"Baseline (every group quantized) {self.metric} {_report.fmt(self.baseline, self.unit)} against "
                f"the float model, {self.num_samples} sample(s), {len(self.ranking)} quantizer groups.")
        cols = ["rank", "group", "op", *[f"only {m}" for m in self.moves], "only this quantized"]
        rows = [[str(g.rank), g.group.key, g.group.op_type,
                 *[_report.fmt(g.changed.get(m), self.unit) for m in self.moves],
                 _report.fmt(g.only_quantized, self.unit)] for g in self.ranking]
        return _report.html_section("Sensitivity per quantizer group", head, cols, rows)

    def __str__(self):
        lines = [f"sensitivity of {self.model} ({self.encodings}): {self.metric} against the float model, "
                 f"{self.num_samples} sample(s)",
                 f"baseline (every group quantized): {_report.fmt(self.baseline, self.unit)}; {len(self.ranking)} "
                 f"quantizer groups, {self.variants} variants, {self.seconds_per_variant:.3f} s per variant", ""]
        header = ["rank", "group", "op", *[f"only {m}" for m in self.moves], "only quantized"]
        rows = [[str(g.rank), g.group.key, g.group.op_type, *[_report.fmt(g.changed.get(m), self.unit)
                                                               for m in self.moves],
                 _report.fmt(g.only_quantized, self.unit)] for g in self.ranking]
        return "\n".join(lines + _report.text_table(header, rows))


def analyze(evaluator: Evaluator, moves=(FLOAT, INT16), reverse: bool = True, progress: Progress = None
            ) -> SensitivityResult:
    """Rank the evaluator's quantizer groups (see the module docstring)."""
    moves = check_moves(moves)
    encs = evaluator.encodings
    base = evaluator.score(encs)
    if progress is not None:
        progress("baseline")
    out = SensitivityResult(evaluator.model_path, evaluator.encodings_file.path, evaluator.metric, moves,
                            len(evaluator.samples), base.value, base.per_output)
    for group in evaluator.groups:
        changed = {}
        for move in moves:
            applies = group_move_applies(group, encs, move)
            changed[move] = evaluator.score(apply_moves(encs, {group: move})).value if applies else None
        iso = evaluator.score(only(encs, group)).value if reverse else None
        out.ranking.append(GroupSensitivity(group, changed, iso))
        if progress is not None:
            progress(group.key)
    def key(g: GroupSensitivity):  # both end metrics: higher is better
        iso = g.only_quantized if g.only_quantized is not None and not math.isnan(g.only_quantized) else math.inf
        return (-g.gain(base.value), iso, g.group.index)

    out.ranking.sort(key=key)
    for i, g in enumerate(out.ranking, 1):
        g.rank = i
    out.variants, out.seconds_per_variant = evaluator.variants, evaluator.seconds_per_variant
    out.worst_sample = evaluator.worst_sample
    return out


def run_sensitivity(params, progress: Progress = None) -> SensitivityResult:
    """Simulator.analyze_sensitivity: the ranking for a SensitivityParameters schema."""
    return analyze(Evaluator.from_params(params), params.moves, params.reverse, progress)


__all__ = ["Evaluator", "Score", "SensitivityResult", "GroupSensitivity", "analyze",
           "END_METRICS", "run_sensitivity"]
