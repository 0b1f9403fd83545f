"""What a comparison records of each compared tensor's distribution, bounded in size whatever the model:
the observed range against the encoding's grid (the share clipped), histograms of the reference and the
compared values on the same bins, and the per-channel ranges of the weights the layer's op reads.
The comparison page (simulator.report_html) draws them; JSON carries them.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from .backend import to_host
from .encodings import channel_axis_for_param

HIST_BINS = 64
HIST_SAMPLES = 4  # histograms cover the first samples only (ranges and clipping cover all)
HIST_VALUES = 1 << 14  # and at most this many values of each (evenly strided)
MAX_CHANNELS = 256  # more channels are grouped: each group keeps the lowest minimum and highest maximum


def grid_of(quantizer, value=None) -> Optional[tuple[np.ndarray, np.ndarray]]:
    """(lowest, highest) representable value of a quantizer, shaped to broadcast against its tensor."""
    if quantizer is None or quantizer.scale is None:
        return None
    scale = np.asarray(to_host(quantizer.scale), np.float64)
    offset = np.asarray(to_host(quantizer.offset), np.float64)
    lo, hi = offset * scale, (offset + quantizer.qmax) * scale
    if value is not None:
        try:
            np.broadcast_shapes(lo.shape, np.shape(value))
        except ValueError:
            return None
    return lo, hi


def _finite_range(a: np.ndarray) -> tuple[float, float]:
    if a.size == 0 or a.dtype.kind not in "fiub":
        return math.inf, -math.inf
    if a.dtype.kind != "f":
        return float(a.min()), float(a.max())
    lo, hi = float(a.min()), float(a.max())
    if math.isfinite(lo) and math.isfinite(hi):
        return lo, hi
    finite = a[np.isfinite(a)]  # rare: inf or NaN in the tensor
    return (float(finite.min()), float(finite.max())) if finite.size else (math.inf, -math.inf)


def _subsample(a: np.ndarray) -> np.ndarray:
    """At most HIST_VALUES evenly strided values (the histogram's shape, at a bounded cost)."""
    flat = a.reshape(-1)
    step = -(-flat.size // HIST_VALUES)
    return flat[::step] if step > 1 else flat


def _counts(a: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Counts in HIST_BINS equal bins over [lo, hi] (the last bin closed, as np.histogram's); values outside
    the bins (later samples beyond the first one's range) and NaN are not counted. np.histogram does the
    same at several times the cost on small tensors."""
    x = (a.astype(np.float64) - lo) * (HIST_BINS / (hi - lo))
    with np.errstate(invalid="ignore"):
        x = x[(x >= 0) & (x <= HIST_BINS)]
    return np.bincount(np.minimum(x.astype(np.intp), HIST_BINS - 1), minlength=HIST_BINS)


class TensorStats:
    """Accumulates, sample by sample: the ranges of the reference, of the compared value and of the compared
    value before its encoding ("observed"), the share of observed values outside the grid, and histograms."""

    def __init__(self):
        self.ref = [math.inf, -math.inf]
        self.out = [math.inf, -math.inf]
        self.observed = [math.inf, -math.inf]
        self.grid: Optional[list[float]] = None
        self.elements = 0
        self.clipped = 0
        self.edges: Optional[np.ndarray] = None
        self.hist_ref = self.hist_out = None
        self.hist_samples = 0

    @staticmethod
    def _widen(r, lo_hi):
        r[0], r[1] = min(r[0], lo_hi[0]), max(r[1], lo_hi[1])

    def update(self, ref, out, observed=None, grid=None):
        self.apply(self.contribution(ref, out, observed, grid, values=self.hist_samples < HIST_SAMPLES))

    @staticmethod
    def contribution(ref, out, observed=None, grid=None, values: bool = True) -> Optional[dict]:
        """What one sample adds (ranges, clipped values, and with `values` the histogram's subsamples): what a
        worker of simulator.runner returns for the main process to apply in sample order."""
        ref, out = np.asarray(ref), np.asarray(out)
        if ref.dtype.kind not in "fiub" or out.dtype.kind not in "fiub":
            return None
        observed = out if observed is None else np.asarray(to_host(observed))
        c = {"ref": _finite_range(ref), "out": _finite_range(out), "observed": _finite_range(observed), "grid": None,
             "clipped": 0, "elements": 0}
        if grid is not None:
            lo, hi = grid
            g = [float(np.min(lo)), float(np.max(hi))]
            c["grid"] = g
            inside = np.size(lo) == 1 and (c["observed"][0] >= g[0] and c["observed"][1] <= g[1])
            if not inside:  # a per-tensor grid holding the observed range clips nothing: no pass needed
                with np.errstate(invalid="ignore"):
                    c["clipped"] = int(np.count_nonzero((observed < lo) | (observed > hi)))
            c["elements"] = observed.size
        if values:
            c["ref_values"], c["out_values"] = np.array(_subsample(ref)), np.array(_subsample(out))
        return c

    def apply(self, c: Optional[dict]) -> None:
        if c is None:
            return
        self._widen(self.ref, c["ref"])
        self._widen(self.out, c["out"])
        self.observed_now = c["observed"]
        self._widen(self.observed, self.observed_now)
        if c["grid"] is not None:
            g = c["grid"]
            self.grid = g if self.grid is None else [min(self.grid[0], g[0]), max(self.grid[1], g[1])]
            self.clipped += c["clipped"]
            self.elements += c["elements"]
        if self.hist_samples < HIST_SAMPLES and "ref_values" in c:
            if self.edges is None:
                lo = min(self.ref[0], self.out[0], *(self.grid or [])[:1])
                hi = max(self.ref[1], self.out[1], *(self.grid or [])[1:])
                if not (math.isfinite(lo) and math.isfinite(hi)):
                    return
                pad = 1e-3 * max(abs(lo), abs(hi), 1.0)
                if hi - lo < pad:  # one value (or nearly): bins around it
                    lo, hi = lo - pad, hi + pad
                self.edges = np.linspace(lo, hi, HIST_BINS + 1)
                self.hist_ref = np.zeros(HIST_BINS, np.int64)
                self.hist_out = np.zeros(HIST_BINS, np.int64)
            lo, hi = float(self.edges[0]), float(self.edges[-1])
            self.hist_ref += _counts(c["ref_values"], lo, hi)
            self.hist_out += _counts(c["out_values"], lo, hi)
            self.hist_samples += 1

    def merge(self, later: "TensorStats") -> None:
        """A later shard's stats (simulator.runner): ranges and clipping add up; the histograms are the first
        samples', so a fresh record takes the first shard's, and later shards (which keep none) add nothing."""
        for mine, theirs in ((self.ref, later.ref), (self.out, later.out), (self.observed, later.observed)):
            self._widen(mine, theirs)
        if later.grid is not None:
            self.grid = later.grid if self.grid is None else [min(self.grid[0], later.grid[0]),
                                                              max(self.grid[1], later.grid[1])]
        self.clipped += later.clipped
        self.elements += later.elements
        if self.edges is None and self.hist_samples == 0 and later.edges is not None:
            self.edges, self.hist_ref, self.hist_out = later.edges, later.hist_ref, later.hist_out
            self.hist_samples = later.hist_samples

    def to_dict(self) -> dict:
        def rng(r):
            return r if math.isfinite(r[0]) else None
        d = {"reference_range": rng(self.ref), "compared_range": rng(self.out), "observed_range": rng(self.observed),
             "grid_range": self.grid,
             "clipped_share": (self.clipped / self.elements) if self.elements else None}
        if self.edges is not None:
            d["histogram"] = {"range": [float(self.edges[0]), float(self.edges[-1])],  # HIST_BINS equal bins
                              "reference": self.hist_ref.tolist(), "compared": self.hist_out.tolist(),
                              "samples": self.hist_samples}
        return d


def weight_ranges(interp, name: str) -> list[dict]:
    """Per-channel min/max of each weight the op producing `name` reads (before its encoding), beside the
    encoding's per-channel (or per-tensor) grid; at most MAX_CHANNELS entries per weight."""
    step = interp.producer.get(name)
    if step is None:
        return []
    out = []
    for w in dict.fromkeys(n for n in step.inputs if n and n in interp.constants):
        value = np.asarray(to_host(interp.raw_params.get(w, interp.constants[w])))
        if value.dtype.kind != "f" or value.ndim < 2:
            continue
        axis = channel_axis_for_param(interp.plan.consumers(w), value.ndim)  # the axis AIMET's per-channel uses
        if axis is None:
            continue
        per_channel = np.moveaxis(value, axis, 0).reshape(value.shape[axis], -1)
        lo, hi = per_channel.min(axis=1).astype(np.float64), per_channel.max(axis=1).astype(np.float64)
        grid = grid_of(interp.param_quantizers.get(w), value)
        g_lo = g_hi = None
        if grid is not None:
            g_lo = np.broadcast_to(np.moveaxis(np.broadcast_to(grid[0], value.shape), axis, 0)
                                   .reshape(value.shape[axis], -1).min(axis=1), lo.shape)
            g_hi = np.broadcast_to(np.moveaxis(np.broadcast_to(grid[1], value.shape), axis, 0)
                                   .reshape(value.shape[axis], -1).max(axis=1), hi.shape)
        group = max(1, math.ceil(lo.size / MAX_CHANNELS))
        entry = {"name": w, "axis": int(axis), "channels": int(lo.size), "group": group,
                 "min": _grouped(lo, group, np.min), "max": _grouped(hi, group, np.max)}
        if g_lo is not None:
            entry["grid_min"], entry["grid_max"] = _grouped(g_lo, group, np.min), _grouped(g_hi, group, np.max)
        out.append(entry)
    return out


def _grouped(a: np.ndarray, group: int, reduce) -> list[float]:
    if group > 1:
        pad = (-a.size) % group
        a = np.concatenate([a, np.full(pad, a[-1])]) if pad else a
        a = reduce(a.reshape(-1, group), axis=1)
    return [float(v) for v in a]
