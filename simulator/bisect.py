"""Bisection against dumps over many samples: the first dumped layer whose isolated error exceeds the threshold
on any sample, in O(log L) probes of partial re-runs.

The L candidates are the dumped tensors that a node computes at run time, in graph order. The isolated value of
candidate j on a sample is the simulator's value of that tensor when every dumped tensor computed before it is
replaced by its dump: with dense dumps that is the op re-run on the dumped inputs; with sparse dumps it is the
chain of ops from the nearest dumped values (the segment). Since candidate j reads only dumps that come before
it, "some candidate among the first k fails on some sample" is monotone in k, and a binary search over k finds
the first failure in at most ceil(log2 L) + 2 probes. A probe runs the graph only up to the k-th candidate's node
and stops at the first sample that fails; the failing candidate it stops on bounds the search from above, so a
single failing layer is usually found in two probes (the whole graph, then the prefix before it).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from . import data as _data
from . import debug_report as _report
from . import runner as _runner
from .backend import to_host
from .compare.dump_reader import Dump, dump_inputs, extend_mapping, match_dump_names, read_aligned
from .errors import DataError
from .metrics import Stats, get_metric
from .session import InferenceSession

Progress = Optional[Callable[[str], None]]


@dataclass
class Probe:
    k: int
    tensor: str
    failed: bool
    samples_run: int
    steps_run: int

    def to_dict(self) -> dict:
        return {"k": self.k, "tensor": self.tensor, "failed": self.failed, "samples_run": self.samples_run,
                "steps_run": self.steps_run}


@dataclass
class BisectResult(_report.Reportable):
    """.first_failure (tensor name or None), where it fails (.sample, .value), and the probes it took."""
    model: str
    dumps: str
    metric: str
    threshold: float
    candidates: list[str]
    num_samples: int
    first_failure: Optional[str] = None
    node: str = ""
    op_type: str = ""
    sample: Optional[str] = None
    value: Optional[float] = None
    probes: list[Probe] = field(default_factory=list)
    full_steps: int = 0  # node executions of checking every candidate on every sample
    title = "Bisection against dumps"

    @property
    def steps_run(self) -> int:
        return sum(p.steps_run for p in self.probes)

    def _head(self) -> str:
        unit = self.unit
        if self.first_failure is None:
            found = f"no dumped layer fails in isolation ({self.metric} threshold {self.threshold:g})"
        else:
            found = (f"first isolated failure: {self.first_failure!r} (node {self.node!r}, {self.op_type}) on sample "
                     f"{self.sample!r}: {self.metric} {_report.fmt(self.value, unit)} against threshold "
                     f"{self.threshold:g}")
        return (f"{found}; {len(self.candidates)} dumped layers, {self.num_samples} sample(s), {len(self.probes)} "
                f"probes, {self.steps_run} node runs (checking every layer on every sample: {self.full_steps})")

    def to_dict(self) -> dict:
        return {"kind": "bisect", "model": self.model, "dumps": self.dumps, "metric": self.metric,
                "threshold": self.threshold, "num_candidates": len(self.candidates), "num_samples": self.num_samples,
                "first_failure": self.first_failure, "node": self.node, "op_type": self.op_type,
                "sample": self.sample, "value": self.value, "probes": [p.to_dict() for p in self.probes],
                "steps_run": self.steps_run, "full_steps": self.full_steps, "summary": self._head()}

    def csv_rows(self):
        cols = ["k", "tensor", "failed", "samples_run", "steps_run"]
        return cols, [[p.k, p.tensor, p.failed, p.samples_run, p.steps_run] for p in self.probes]

    def html_section(self) -> str:
        cols, rows = self.csv_rows()
        return _report.html_section("Bisection against dumps", self._head(), cols, [[str(c) for c in r] for r in rows])

    def __str__(self):
        cols, rows = self.csv_rows()
        return "\n".join([self._head(), ""] + _report.text_table(cols, [[str(c) for c in r] for r in rows]))


def _samples(params, interp, dump):
    """(dump sample, feed) pairs: from the data folder (paired by name, else by order), or the dumped inputs."""
    names = list(dump.samples)
    if params.input_data_path is None:
        return None, names
    data_names = _data.sample_names(params.input_data_path, interp.inputs)  # names only: no file is read
    if all(s in data_names for s in names):
        return {s: s for s in names}, names
    if len(data_names) == len(names):
        return dict(zip(data_names, names)), names
    raise DataError(f"the dump's samples ({len(names)}) match the data folder {params.input_data_path!r} "
                    f"({len(data_names)}) neither by name nor by count")


def bisect_dumps(params, progress: Progress = None) -> BisectResult:
    """Simulator.bisect_dumps for a FeaturemapVerifierParameters (or DumpVerifierParameters) schema; the isolated
    threshold (default: threshold) decides a failure."""
    metric = get_metric(params.metric)
    threshold = params.threshold if params.isolated_threshold is None else params.isolated_threshold
    session = InferenceSession.from_options(params.input_model_path, params.input_encodings_path, params)
    interp = session.interpreter
    dump = Dump(params.featuremap_path)
    produced = list(interp.producer)
    keys = sorted({k for files in dump.samples.values() for k in files})
    candidates_all = [i.name for i in interp.inputs] + produced
    mapping, unmatched = match_dump_names(keys, candidates_all)
    mapping, _ = extend_mapping(mapping, unmatched, candidates_all, getattr(params, "name_map_path", None))
    dumped = set(mapping.values())
    step_of = {out: i for i, s in enumerate(interp.steps) for out in s.outputs if out}
    candidates = [n for n in produced if n in dumped and n in step_of]
    if not candidates:
        raise DataError(f"no dumped featuremap in {dump.path!r} is computed by a node of {params.input_model_path!r}")
    pairing, dump_names = _samples(params, interp, dump)
    result = BisectResult(params.input_model_path, dump.path, metric.name, float(threshold), candidates,
                          len(dump_names))
    result.full_steps = len(dump_names) * (step_of[candidates[-1]] + 1)
    specs = {i.name: i for i in interp.inputs}
    layouts = _Layouts()  # each dump's layout, found once and kept across probes

    def feeds():
        if pairing is None:
            for s in dump_names:
                yield s, dump_inputs(dump, s, mapping, specs, params.input_model_path)
        else:
            for data_name, feed in _runner.iter_samples(params.input_data_path, interp.inputs):
                if data_name in pairing:
                    yield pairing[data_name], feed

    def probe(k: int) -> Probe:
        """Does any of the first k candidates fail in isolation on some sample? (stops at the first failure)"""
        wanted = set(candidates[:k])
        last = step_of[candidates[k - 1]]
        samples = steps = 0
        for sample, feed in feeds():
            files = {mapping[key]: loc for key, loc in dump.samples[sample].items() if key in mapping}
            samples += 1
            steps += last + 1
            failure = _prefix_run(interp, session.prepare_feed(feed), files, wanted, last, metric, threshold, layouts)
            if failure is not None:
                name, value = failure
                if result.first_failure is None or candidates.index(name) < candidates.index(result.first_failure):
                    result.first_failure, result.sample, result.value = name, sample, value
                return Probe(k, candidates[k - 1], True, samples, steps)
        return Probe(k, candidates[k - 1], False, samples, steps)

    lo, hi = 1, len(candidates)
    top = probe(hi)
    result.probes.append(top)
    if progress is not None:
        progress(top.tensor)
    if top.failed:
        # A failing probe names a failing candidate: the first failure is at or before it. Check the prefix before
        # it once (one layer failing: done), then bisect what is left.
        bound = lambda: candidates.index(result.first_failure) + 1  # noqa: E731
        hi = bound()
        if lo < hi:
            p = probe(hi - 1)
            result.probes.append(p)
            if progress is not None:
                progress(p.tensor)
            lo, hi = (lo, bound()) if p.failed else (hi, hi)
        while lo < hi:
            mid = (lo + hi) // 2
            p = probe(mid)
            result.probes.append(p)
            if progress is not None:
                progress(p.tensor)
            if p.failed:
                hi = min(mid, bound())
            else:
                lo = mid + 1
        # the first failing candidate is candidates[lo - 1]; find where it fails if no probe stopped on it
        if result.first_failure != candidates[lo - 1]:
            result.first_failure = None
            result.probes.append(probe(lo))
        step = interp.producer[result.first_failure]
        result.node, result.op_type = step.node.name, step.node.op_type
    return result


def _prefix_run(interp, feed, files, wanted, last, metric, threshold, layouts):
    """Run steps 0..last with every dumped tensor replaced by its dump once produced; returns (tensor, value) of
    the first wanted tensor whose computed value disagrees with its dump, or None."""

    def from_dump(name, q):
        if name not in files:
            return q
        host = np.asarray(to_host(q))
        rec = _NoteSink()
        d = read_aligned(layouts, rec, files[name], name, host, None, interp)
        if d is None:
            raise DataError(f"dump of tensor {name!r}: {rec.note}")
        if name in wanted:
            v = metric.value(Stats.of(host, d, 0))
            if not metric.passes(v, threshold):
                raise _Disagrees(name, v)
        return interp.xp.asarray(d)

    try:
        interp.run_prefix(feed, last + 1, from_dump)
    except _Disagrees as found:
        return found.args
    return None


class _Disagrees(Exception):
    """(tensor, metric value): the first wanted tensor that disagrees with its dump; ends a prefix run."""


class _NoteSink:
    note: Optional[str] = None


class _Layouts:
    dump_diagnosis = None


__all__ = ["BisectResult", "Probe", "bisect_dumps"]
