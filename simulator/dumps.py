"""Device dumps read as they come: layout detection, integer-domain comparison, rounding-tie detection and the
vendor device tools' raw `.bin` files. This module reads no dump folder and imports nothing of simulator.compare.

Verification (simulator.compare.verify_dumps) and bisection read each dumped tensor through
simulator.compare.dump_reader (`read_aligned`, `read_input`; the name mapping is there too), which calls the
layout and grid rules here; what they find is kept on the result as a `DumpDiagnosis` (`result.dump_diagnosis`),
reported with the layers.

* Layout: a dump is read in the model's layout when that agrees; otherwise every axis permutation that gives
  the dump's shape (a bare `.bin`/`.raw` buffer: every permutation of the model's shape) is tried and the one
  that agrees best (SNR at least `LAYOUT_MARGIN_DB` better, and at least `LAYOUT_MIN_DB`) is reported (NHWC,
  or the permutation) and used.
* Integer domain: where the tensor has an integer encoding, both sides are put on its grid
  (q = round(x / scale - offset)) and the differences counted in steps (the off-by-N histogram).
* Ties: a one-step difference is a rounding tie when the simulator's value before its encoding lies within
  `tie_tolerance` steps of the half-way point between the two grid values (so any other summation order can
  round it either way); when every difference is such a tie, the tensor is reported as "rounding ties", not
  as a mismatch.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from . import debug_report as _report
from . import safe_io
from .errors import DataError
from .metrics import Stats, get_metric

BIN_EXTENSION = ".bin"
LAYOUT_MIN_DB = 20.0
LAYOUT_MARGIN_DB = 10.0
DEFAULT_TIE_TOLERANCE = 0.01  # steps
MAX_PERMUTED_RANK = 5
_SNR = get_metric("snr")


# -- reading ----------------------------------------------------------------------------------------

def read_bin(path: str, shape, dtype) -> np.ndarray:
    """A bare C-order buffer of `dtype` (the model's dtype of the tensor): exactly prod(shape) elements when the
    shape is known, else flat. Only regular files are read; the size is checked before anything is read."""
    st = safe_io.check_regular(path, "dump file", DataError)
    dtype = np.dtype(dtype)
    if shape is not None:
        expected = int(np.prod(shape)) * dtype.itemsize
        if st.st_size != expected:
            raise DataError(f"dump file {path!r} holds {st.st_size} bytes; the tensor ({dtype.name}, shape "
                            f"{tuple(shape)}) has {expected}")
    elif st.st_size % dtype.itemsize:
        raise DataError(f"dump file {path!r} holds {st.st_size} bytes, not a whole number of {dtype.name} values")
    if dtype == np.bool_:  # one byte per element, as the device tools and AIMET write booleans
        return np.fromfile(path, dtype=np.uint8) != 0
    return np.fromfile(path, dtype=dtype)


# -- layout -----------------------------------------------------------------------------------------

def _snr(ref, out) -> float:
    return _SNR.value(Stats.of(ref, out, 0))


def layout_name(perm: tuple, rank: int) -> str:
    if perm == tuple(range(rank)):
        return "as the model"
    if rank >= 3 and perm == (0, *range(2, rank), 1):
        return {3: "NWC (channels last)", 4: "NHWC", 5: "NDHWC"}.get(rank, "channels last")
    return f"axes permuted {perm}"


def align(host: np.ndarray, dumped: np.ndarray, known_perm: Optional[tuple] = None) -> tuple[np.ndarray, tuple]:
    """`dumped` in the host's layout and the permutation p it was stored in (dumped = host.transpose(p)).
    Raises DataError when no permutation fits the sizes."""
    rank = host.ndim
    identity = tuple(range(rank))
    if dumped.size != host.size:
        raise DataError(f"dumped shape {tuple(dumped.shape)} does not fit the tensor's shape {tuple(host.shape)}")
    flat = dumped.ndim == 1 and rank != 1

    def candidate(p):
        shape = tuple(host.shape[a] for a in p)
        if not flat and dumped.shape != shape:
            return None
        return dumped.reshape(shape).transpose(np.argsort(p))

    if known_perm is not None and len(known_perm) == rank:
        c = candidate(known_perm)
        if c is not None:
            return c, known_perm
    perms = itertools.permutations(range(rank)) if 1 < rank <= MAX_PERMUTED_RANK else [identity]
    options = [(p, c) for p in perms if (c := candidate(p)) is not None]
    if not options:
        raise DataError(f"dumped shape {tuple(dumped.shape)} is no permutation of the tensor's shape "
                        f"{tuple(host.shape)}")
    base = next(((p, c) for p, c in options if p == identity), options[0])
    if len(options) == 1 or host.dtype.kind not in "fc":
        return base[1], base[0]
    base_snr = _snr(host, base[1])
    if base_snr >= LAYOUT_MIN_DB + LAYOUT_MARGIN_DB:
        return base[1], base[0]
    scored = [(_snr(host, c), p, c) for p, c in options if p != base[0]]
    best = max(scored, key=lambda t: t[0])
    if best[0] >= max(LAYOUT_MIN_DB, base_snr + LAYOUT_MARGIN_DB):
        return best[2], best[1]
    return base[1], base[0]


# -- integer domain and ties ------------------------------------------------------------------------

@dataclass
class TensorDiagnosis:
    """What one dumped tensor's comparison found: its layout and, on its grid, the differences in steps."""
    name: str
    layout: str = "as the model"
    permutation: Optional[tuple] = None
    elements: int = 0
    histogram: dict[str, int] = field(default_factory=dict)  # steps of difference -> count ("<=-3", ..., ">=3")
    ties: int = 0  # one-step differences at rounding ties
    off_by_one: int = 0

    @property
    def has_grid(self) -> bool:
        return bool(self.histogram)

    @property
    def differing(self) -> int:
        return self.elements - self.histogram.get("0", 0) if self.has_grid else 0

    @property
    def verdict(self) -> str:
        if not self.has_grid:
            return "no encoding (float comparison only)"
        if self.differing == 0:
            return "identical on the grid"
        if self.off_by_one == self.differing and self.ties == self.differing:
            return "rounding ties"
        if self.off_by_one == self.differing:
            return "off by one step"
        return "differs by more than one step"

    def explanation(self) -> str:
        head = f"{self.name}: layout {self.layout}"
        if not self.has_grid:
            return head
        if self.differing == 0:
            return f"{head}; identical on its grid ({self.elements} values)"
        text = (f"{head}; {self.differing} of {self.elements} values differ on the grid "
                f"({self.off_by_one} by one step, {self.ties} of them at rounding ties)")
        if self.verdict == "rounding ties":
            text += ": these differences are rounding ties (the exact value lies half-way between two grid values; "
            text += "a different summation order rounds it the other way), not a bug"
        return text

    def to_dict(self) -> dict:
        return {"tensor": self.name, "layout": self.layout,
                "permutation": list(self.permutation) if self.permutation is not None else None,
                "elements": self.elements, "steps_histogram": dict(self.histogram), "differing": self.differing,
                "off_by_one": self.off_by_one, "ties": self.ties, "verdict": self.verdict,
                "explanation": self.explanation()}


def grid_compare(diag: TensorDiagnosis, quantizer, host, raw, dumped, tie_tolerance: float) -> None:
    """Count the differences of `dumped` against `host` in steps of the quantizer's grid; `raw` is the simulator's
    value before its encoding (for the tie test). Accumulates over samples."""
    scale = np.asarray(quantizer.scale, np.float64)
    offset = np.asarray(quantizer.offset, np.float64)
    q_host = np.rint(np.asarray(host, np.float64) / scale - offset)
    q_dump = np.rint(np.asarray(dumped, np.float64) / scale - offset)
    d = (q_dump - q_host).reshape(-1)
    finite = np.isfinite(d)
    d = np.where(finite, d, 1e9)
    for k in range(-2, 3):
        n = int(np.count_nonzero(d == k))
        if n:
            diag.histogram[str(k)] = diag.histogram.get(str(k), 0) + n
    for label, n in (("<=-3", int(np.count_nonzero(d <= -3))), (">=3", int(np.count_nonzero(d >= 3)))):
        if n:
            diag.histogram[label] = diag.histogram.get(label, 0) + n
    diag.histogram.setdefault("0", 0)
    diag.elements += d.size
    one = np.abs(d) == 1
    diag.off_by_one += int(np.count_nonzero(one))
    if raw is not None and one.any():
        v = (np.asarray(raw, np.float64) / scale - offset)
        v = np.broadcast_to(v, np.shape(host)).reshape(-1)
        lower = np.floor(v)
        near_half = np.abs(v - lower - 0.5) <= tie_tolerance
        between = np.minimum(q_host.reshape(-1), q_dump.reshape(-1)) == lower
        diag.ties += int(np.count_nonzero(one & near_half & between))


# -- what verification keeps ------------------------------------------------------------------------

class DumpDiagnosis(_report.Reportable):
    """Per dumped tensor: layout, off-by-N histogram, ties; the summary a user reads beside the layers."""

    title = "Dump diagnosis"

    def __init__(self, tie_tolerance: float = DEFAULT_TIE_TOLERANCE):
        self.tie_tolerance = float(tie_tolerance)
        self.tensors: dict[str, TensorDiagnosis] = {}

    def tensor(self, name: str) -> TensorDiagnosis:
        return self.tensors.setdefault(name, TensorDiagnosis(name))

    @property
    def relaid(self) -> list[str]:
        return [n for n, t in self.tensors.items() if t.permutation is not None and t.layout != "as the model"]

    @property
    def tied(self) -> list[str]:
        return [n for n, t in self.tensors.items() if t.verdict == "rounding ties"]

    def summary(self) -> str:
        parts = []
        if self.relaid:
            layouts = sorted({self.tensors[n].layout for n in self.relaid})
            parts.append(f"{len(self.relaid)} dumped tensor(s) are stored in another layout ({', '.join(layouts)}); "
                         f"they were read as such")
        if self.tied:
            parts.append(f"{len(self.tied)} tensor(s) differ only by rounding ties (one step, at half-way values): "
                         f"not a bug")
        return "; ".join(parts) or "every dump is in the model's layout; no rounding-tie differences"

    def to_dict(self) -> dict:
        return {"tie_tolerance_steps": self.tie_tolerance, "summary": self.summary(),
                "relaid_tensors": self.relaid, "tied_tensors": self.tied,
                "tensors": [t.to_dict() for t in self.tensors.values()]}

    def csv_rows(self):
        cols = ["tensor", "layout", "elements", "differing", "off_by_one", "ties", "verdict"]
        return cols, [[t.name, t.layout, t.elements, t.differing, t.off_by_one, t.ties, t.verdict]
                      for t in self.tensors.values()]

    def html_section(self) -> str:
        cols, rows = self.csv_rows()
        return _report.html_section("Dump diagnosis: layouts and rounding ties", self.summary(), cols,
                                    [[str(c) for c in r] for r in rows])

    def text_lines(self) -> list[str]:
        lines = [f"dump diagnosis: {self.summary()}"]
        lines += [f"  {t.explanation()}" for t in self.tensors.values()
                  if t.layout != "as the model" or t.differing]
        return lines

    def __str__(self):
        return "\n".join(self.text_lines())


def diagnosis_of(result, params=None) -> DumpDiagnosis:
    diag = getattr(result, "dump_diagnosis", None)
    if diag is None:
        diag = DumpDiagnosis(getattr(params, "tie_tolerance", None) or DEFAULT_TIE_TOLERANCE)
        result.dump_diagnosis = diag
    return diag


def merge_diagnosis(diag: DumpDiagnosis, later: dict) -> None:
    """A later shard's {tensor: TensorDiagnosis} into the run's (simulator.runner): counts add up, the layout
    is the first shard's."""
    for name, t in later.items():
        mine = diag.tensors.get(name)
        if mine is None:
            diag.tensors[name] = t
            continue
        if mine.permutation is None:
            mine.permutation, mine.layout = t.permutation, t.layout
        for k, n in t.histogram.items():
            mine.histogram[k] = mine.histogram.get(k, 0) + n
        mine.elements += t.elements
        mine.ties += t.ties
        mine.off_by_one += t.off_by_one


def annotate(result, d: dict) -> None:
    """Add the dump diagnosis (when there is one) to a layer-wise result's dict."""
    diag = getattr(result, "dump_diagnosis", None)
    if diag is None or not diag.tensors:
        return
    d["dump_diagnosis"] = diag.to_dict()
    by_name = diag.tensors
    for layer in d.get("layers", []):
        t = by_name.get(layer.get("name0"))
        if t is not None:
            layer["dump_layout"], layer["dump_verdict"] = t.layout, t.verdict


__all__ = ["read_bin", "align", "layout_name", "grid_compare", "TensorDiagnosis", "DumpDiagnosis", "diagnosis_of",
           "annotate", "merge_diagnosis"]
