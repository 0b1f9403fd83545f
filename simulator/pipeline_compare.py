"""Layer-wise comparison of two pipelines (or sessions) over all their parts, on one input each.

    layers = compare_pipelines_by_layer(float_pipe, quant_pipe, feed)
    layers.first_cumulative(30.0), layers.first_isolated(30.0), layers.worst_isolated()

For every tensor both pipelines produce (matched by name, part by part): the cumulative SNR (model 1 on its own
upstream values against model 0) and the isolated SNR (model 1's node re-run on model 0's inputs against
model 0's output: the error that node adds by itself), in pipeline order. Each model is fed its own values
through the whole pipeline, so the cumulative error carries across part boundaries.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .backend import to_host
from .errors import ParameterError
from .metrics import snr
from .pipeline import Pipeline


@dataclass
class LayerDiff:
    part: int
    name: str
    op_type: str
    cumulative_snr: float
    isolated_snr: float | None  # None: a graph input of the part (nothing to re-run)

    def to_dict(self) -> dict:
        return {"part": self.part, "name": self.name, "op_type": self.op_type,
                "cumulative_snr_db": _finite(self.cumulative_snr), "isolated_snr_db": _finite(self.isolated_snr)}


def _finite(v):
    if v is None or math.isfinite(v):
        return v
    return "inf" if v > 0 else "-inf" if v < 0 else "nan"


@dataclass
class PipelineLayers:
    layers: list[LayerDiff] = field(default_factory=list)

    def first_cumulative(self, threshold: float) -> LayerDiff | None:
        """The first tensor whose cumulative SNR is below `threshold` dB."""
        return next((d for d in self.layers if d.cumulative_snr < threshold), None)

    def first_isolated(self, threshold: float) -> LayerDiff | None:
        """The first node whose own (isolated) SNR is below `threshold` dB."""
        return next((d for d in self.layers if d.isolated_snr is not None and d.isolated_snr < threshold), None)

    def worst_isolated(self) -> LayerDiff | None:
        """The node adding the most error by itself."""
        rated = [d for d in self.layers if d.isolated_snr is not None]
        return min(rated, key=lambda d: d.isolated_snr) if rated else None

    def to_dict(self, threshold: float | None = None) -> dict:
        out = {"layers": [d.to_dict() for d in self.layers]}
        worst = self.worst_isolated()
        out["worst_isolated"] = worst.to_dict() if worst else None
        if threshold is not None:
            for key, d in (("first_cumulative", self.first_cumulative(threshold)),
                           ("first_isolated", self.first_isolated(threshold))):
                out[key] = d.to_dict() if d else None
        return out


def _parts(model) -> list:
    parts = model.parts if isinstance(model, Pipeline) else [model]
    for p in parts:
        if not hasattr(p, "interpreter"):
            raise ParameterError("a layer-wise comparison needs the simulator's own sessions or pipelines (their "
                                 "interpreters), not another engine's")
    return parts


def _part_feeds(pipe, feed: dict):
    """Per part: its feed, as the pipeline chains them (recorded by running it)."""
    if not isinstance(pipe, Pipeline):
        return [feed]
    pipe.record, recorded = [], None
    try:
        pipe.run(None, feed)
        recorded = pipe.record
    finally:
        pipe.record = None
    return [f for _, f in sorted(recorded, key=lambda r: r[0])]


def compare_pipelines_by_layer(model_0, model_1, feed_0: dict, feed_1: dict | None = None) -> PipelineLayers:
    """Every shared tensor of two pipelines with the same parts (model 0 the reference), fed feed_0 and feed_1."""
    parts_0, parts_1 = _parts(model_0), _parts(model_1)
    if len(parts_0) != len(parts_1):
        raise ParameterError(f"the pipelines have {len(parts_0)} and {len(parts_1)} parts; a layer-wise comparison "
                             f"pairs them part by part")
    feeds_0 = _part_feeds(model_0, feed_0)
    feeds_1 = _part_feeds(model_1, feed_1 if feed_1 is not None else feed_0)
    result = PipelineLayers()
    for index, (s0, s1, f0, f1) in enumerate(zip(parts_0, parts_1, feeds_0, feeds_1)):
        i0, i1 = s0.interpreter, s1.interpreter
        values_0: dict = {}
        i0.run(s0.prepare_feed(f0), set(), observer=lambda name, value, raw: values_0.__setitem__(name, value))

        def observe_1(name, value, raw, i0=i0, i1=i1, values_0=values_0, index=index):
            ref = values_0.get(name)
            if ref is None or getattr(ref, "dtype", None) is None or ref.dtype.kind != "f" or name in i1.constants:
                return
            ref_h, out_h = np.asarray(to_host(ref)), np.asarray(to_host(value))
            if ref_h.shape != out_h.shape:
                return
            step = i1.producer.get(name)
            isolated = None
            if step is not None:
                args = [None if not n or n in i1.constants else values_0.get(n) for n in step.inputs]
                if all(a is not None for a, n in zip(args, step.inputs) if n and n not in i1.constants):
                    isolated = snr(ref_h, np.asarray(to_host(i1.run_step(name, args))))
            op = step.node.op_type if step is not None else "Input"
            result.layers.append(LayerDiff(index, name, op, snr(ref_h, out_h), isolated))

        i1.run(s1.prepare_feed(f1), set(), observer=observe_1)
    return result


__all__ = ["LayerDiff", "PipelineLayers", "compare_pipelines_by_layer"]
