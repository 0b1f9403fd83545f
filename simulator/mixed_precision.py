"""Mixed-precision search: a small set of per-group precision changes that meets an accuracy target.

1. Rank the quantizer groups by sensitivity (simulator.sensitivity) and give each its best allowed move (16 bits
   where that comes within `tolerance` of float, else float; by default 1 dB for snr, 0 for top1).
2. Greedy from the ranking: the shortest prefix of the ranked changes that meets the target, found by bisection
   over the prefix length (the metric grows with the prefix; the found prefix is checked, and extended one
   change at a time should a longer prefix be needed).
3. Pruning: each chosen change, least sensitive first, is dropped (or a float move tried at 16 bits) when the
   target still holds without it.

The result is written as an encodings file of the source's version (the source JSON with the changed entries
rewritten, through simulator.tools.convert's entry writers) and as a plain list of the node names whose groups
go to float (the nodes to exclude from quantization).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Callable, Optional

from . import debug_report as _report
from . import safe_io
from .errors import EncodingsError, ParameterError
from .precision import (FLOAT, INT16, QuantizerGroup, apply_moves, check_moves, group_move_applies,
                        precision_fractions, rewrite_encodings_json)
from .sensitivity import Evaluator, SensitivityResult, analyze

Progress = Optional[Callable[[str], None]]
DEFAULT_TOLERANCE = {"snr": 1.0, "top1": 0.0}  # dB; share of rows


@dataclass
class MixedPrecisionResult(_report.Reportable):
    """The chosen changes (.changes: group -> move), the metric they reach, and the all-16-bit comparison."""
    model: str
    encodings: str
    metric: str
    target: float
    moves: tuple[str, ...]
    baseline: float
    achieved: float
    achieved_per_output: dict[str, float]
    reached: bool
    changes: dict[QuantizerGroup, str] = field(default_factory=dict)
    all_int16: float = math.nan
    all_int16_changes: int = 0
    fractions: dict[str, float] = field(default_factory=dict)
    evaluations: int = 0
    num_groups: int = 0
    num_samples: int = 0
    sensitivity: Optional[SensitivityResult] = None
    written: dict = field(default_factory=dict)
    _changed: dict = field(default_factory=dict, repr=False)
    _source: Optional[Evaluator] = field(default=None, repr=False)
    title = "Mixed-precision search"

    @property
    def exclude_nodes(self) -> list[str]:
        """Nodes whose output or weight group goes to float: the ones to exclude from quantization."""
        return list(dict.fromkeys(g.node for g, m in self.changes.items() if m == FLOAT))

    def to_dict(self) -> dict:
        return {"kind": "mixed_precision", "model": self.model, "encodings": self.encodings, "metric": self.metric,
                "target": self.target, "moves": list(self.moves), "reached": self.reached,
                "scoring": self.sensitivity.to_dict()["scoring"] if self.sensitivity else None,
                "baseline": self.baseline, "achieved": self.achieved, "achieved_per_output": self.achieved_per_output,
                "num_changes": len(self.changes), "num_groups": self.num_groups, "num_samples": self.num_samples,
                "changes": [{**g.to_dict(), "move": m} for g, m in self.changes.items()],
                "exclude_nodes": self.exclude_nodes, "precision_fractions": dict(self.fractions),
                "all_int16": {"metric": self.all_int16, "num_changes": self.all_int16_changes},
                "evaluations": self.evaluations, **({"written": self.written} if self.written else {})}

    def csv_rows(self):
        cols = ["group", "kind", "node", "op_type", "move", "tensors"]
        return cols, [[g.key, g.kind, g.node, g.op_type, m, " ".join(g.tensors)] for g, m in self.changes.items()]

    def html_section(self) -> str:
        rows = [[g.key, g.op_type, m, ", ".join(g.tensors)] for g, m in self.changes.items()]
        return _report.html_section("Mixed precision", self._summary(), ["group", "op", "move", "tensors"], rows)

    def _summary(self) -> str:
        f = lambda v: _report.fmt(v, self.unit)  # noqa: E731
        shares = ", ".join(f"{k} {v:.1%}" for k, v in self.fractions.items())
        state = "reaches" if self.reached else "does NOT reach"
        return (f"{len(self.changes)} change(s) of {self.num_groups} groups {state} the target {self.metric} "
                f"{self.target:g}: {f(self.achieved)} (baseline {f(self.baseline)}; everything at 16 bits: "
                f"{f(self.all_int16)} with {self.all_int16_changes} changes). Tensors: {shares}.")

    def write(self, encodings_path, exclude_path=None) -> dict:
        """Write the encodings file (the source's version) and the exclude list (one node name a line)."""
        ev = self._source
        data = safe_io.read_json(ev.encodings_file.path, "encodings file", EncodingsError)
        initializers = {t.name for t in ev.model.graph.initializer}
        changed = {n: self._changed.get(n) for n in ev.encodings if self._changed.get(n) is not ev.encodings[n]}
        out = rewrite_encodings_json(data, ev.encodings_file.version, changed, initializers, ev.model)
        from .tools.convert import dump  # noqa: PLC0415
        os.makedirs(os.path.dirname(os.path.abspath(encodings_path)), exist_ok=True)
        dump(out, encodings_path)
        self.written = {"encodings": str(encodings_path), "version": ev.encodings_file.version}
        if exclude_path is not None:
            _report.write_text(exclude_path, "".join(f"{n}\n" for n in self.exclude_nodes))
            self.written["exclude_list"] = str(exclude_path)
        return self.written

    def __str__(self):
        lines = [f"mixed-precision search on {self.model}: {self._summary()}",
                 f"{self.evaluations} variants scored", ""]
        rows = [[g.key, g.op_type, m, ", ".join(g.tensors)] for g, m in self.changes.items()]
        lines += _report.text_table(["group", "op", "move", "tensors"], rows)
        if self.exclude_nodes:
            lines += ["", f"nodes to exclude from quantization (float): {', '.join(self.exclude_nodes)}"]
        return "\n".join(lines)


def _meets(value: float, target: float) -> bool:
    return not math.isnan(value) and value >= target


def search(evaluator: Evaluator, target: float, moves=(INT16, FLOAT), tolerance: Optional[float] = None,
           sensitivity: Optional[SensitivityResult] = None, progress: Progress = None) -> MixedPrecisionResult:
    """Find a small set of changes whose end metric meets `target` (see the module docstring)."""
    moves = check_moves(moves)
    if not isinstance(target, (int, float)) or isinstance(target, bool) or not math.isfinite(target):
        raise ParameterError(f"target must be a finite number, got {target!r}")
    if evaluator.metric == "top1" and not 0 <= target <= 1:
        raise ParameterError(f"a top-1 agreement target is a share between 0 and 1, got {target!r}")
    if sensitivity is None:
        sensitivity = analyze(evaluator, moves, reverse=False, progress=progress)
    encs = evaluator.encodings
    start = evaluator.variants
    if tolerance is None:
        tolerance = DEFAULT_TOLERANCE[evaluator.metric]
    ranked = [(g.group, g.best_move(moves, tolerance)) for g in sensitivity.ranking]
    ranked = [(g, m) for g, m in ranked if m is not None]

    memo: dict[frozenset, float] = {}

    def score(changes: dict) -> float:
        key = frozenset(changes.items())
        if key not in memo:
            memo[key] = evaluator.score(apply_moves(encs, changes)).value
            if progress is not None:
                progress("search")
        return memo[key]

    all16 = {g: INT16 for g in evaluator.groups if group_move_applies(g, encs, INT16)}
    result = MixedPrecisionResult(evaluator.model_path, evaluator.encodings_file.path, evaluator.metric, float(target),
                                  moves, sensitivity.baseline, math.nan, {}, False, num_groups=len(evaluator.groups),
                                  num_samples=len(evaluator.samples), sensitivity=sensitivity, _source=evaluator)
    result.all_int16, result.all_int16_changes = (score(all16) if all16 else sensitivity.baseline), len(all16)

    chosen: dict = {}
    if not _meets(sensitivity.baseline, target):
        if not _meets(score(dict(ranked)), target):
            chosen = dict(ranked)  # even every allowed change falls short: report that
        else:
            lo, hi = 1, len(ranked)  # the shortest meeting prefix lies in [lo, hi]
            while lo < hi:
                mid = (lo + hi) // 2
                if _meets(score(dict(ranked[:mid])), target):
                    hi = mid
                else:
                    lo = mid + 1
            while lo < len(ranked) and not _meets(score(dict(ranked[:lo])), target):
                lo += 1  # the metric was not monotone in the prefix length here
            chosen = dict(ranked[:lo])
            chosen = _prune(chosen, ranked, target, moves, encs, score)
    final = evaluator.score(apply_moves(encs, chosen))
    result.changes = chosen
    result.achieved, result.achieved_per_output = final.value, final.per_output
    result.reached = _meets(final.value, target)
    result._changed = apply_moves(encs, chosen)
    result.fractions = precision_fractions(encs, result._changed)
    result.evaluations = evaluator.variants - start
    return result


def run_search(params, progress: Progress = None) -> MixedPrecisionResult:
    """Simulator.search_mixed_precision: the search for a MixedPrecisionParameters schema, written where asked."""
    result = search(Evaluator.from_params(params), params.target, params.moves, params.tolerance, progress=progress)
    if params.output_encodings_path or params.exclude_list_path:
        if params.output_encodings_path:
            result.write(params.output_encodings_path, params.exclude_list_path)
        else:
            _report.write_text(params.exclude_list_path, "".join(f"{n}\n" for n in result.exclude_nodes))
    return result


def _prune(chosen: dict, ranked: list, target: float, moves, encs, score) -> dict:
    """Drop each change (least sensitive first) the target holds without; try float moves at 16 bits."""
    for group, move in reversed([(g, m) for g, m in ranked if g in chosen]):
        trial = {g: m for g, m in chosen.items() if g is not group}
        if _meets(score(trial), target):
            chosen = trial
            continue
        if move == FLOAT and INT16 in moves and group_move_applies(group, encs, INT16):
            trial = {**chosen, group: INT16}
            if _meets(score(trial), target):
                chosen = trial
    return {g: chosen[g] for g, _ in ranked if g in chosen}


__all__ = ["MixedPrecisionResult", "search", "run_search"]
