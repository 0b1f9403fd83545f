"""What an encodings file does to a model: every tensor in graph order with its encoding, what is left
float, totals per bitwidth, and warnings for what looks wrong.

    report = inspect_encodings("model.onnx", "model.encodings", data="data/")
    print(report.format_table()); report.to_dict()   # JSON-ready

Warnings (each names the tensor):
* `unknown-tensor`: a name of the file that the model does not have;
* `updated-suffix`: a name that exists only with AIMET's "_updated" suffix (accepted, but another tool may not);
* `float-gap`: a tensor AIMET would quantize, left float between encoded neighbours;
* `channel-count`: per-channel scales that do not match the tensor's channel dimension;
* `not-float`: an encoding on an integer tensor (never applied);
* `clipping` / `coarse-grid` (with data): the grid does not hold the observed range (values beyond it),
  or the observed range spans only a few steps of it.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

import numpy as np

from ..encodings import EncodingsFile, load_encodings, no_encodings_warning
from ..errors import SimulatorError
from ..names import resolve_updated
from ..quantization import Encoding, Granularity
from . import DATA_MOVEMENT_OPS, SUPERGROUPS, TensorEntry, graph_tensors, observe, param_axis

CLIP_FRACTION = 0.001  # share of values beyond the grid that makes a `clipping` warning
CLIP_OVERSHOOT = 0.05  # ... or how far beyond the grid (share of the grid's span) the observed range reaches
COARSE_STEPS = 8
# Pairs a hardware configuration may fuse (AIMET's default supergroups and the HTP ones: Conv + PRelu, ...):
# the first op's output left float is then by design, not a gap.
FUSIONS = frozenset(SUPERGROUPS | {(a, b) for a in ("Conv", "ConvTranspose", "Gemm", "MatMul", "BatchNormalization")
                                   for b in ("PRelu", "LeakyRelu", "Sigmoid", "Tanh", "HardSwish", "HardSigmoid",
                                             "Elu", "Relu", "Clip", "BatchNormalization")})  # an observed range narrower than this many steps makes a `coarse-grid` warning


@dataclass
class EncodingInfo:
    bitwidth: int
    dtype: str  # "int" or "float"
    signed: bool | None = None
    symmetric: bool | None = None
    granularity: str = "per_tensor"
    channels: int | None = None
    axis: int | None = None
    block_size: int | None = None
    scale_min: float | None = None
    scale_max: float | None = None
    offset_min: float | None = None
    offset_max: float | None = None
    grid_min: float | None = None  # the representable range (per-tensor: [offset·Δ, (offset + 2^bw − 1)·Δ])
    grid_max: float | None = None
    float_format: str | None = None
    int32_bias: bool = False  # a 2.x export-only bias encoding, not applied by default
    file_name: str = ""  # the name as the file spells it

    @property
    def label(self) -> str:
        if self.dtype == "float":
            return self.float_format or "float16"
        kind = f"{'int' if self.signed else 'uint'}{self.bitwidth}"
        gran = {"per_tensor": "", "per_channel": f" per-channel[{self.channels}]",
                "per_block": f" per-block[{self.channels}, bs {self.block_size}]"}[self.granularity]
        return kind + (" sym" if self.symmetric else " asym") + gran + (" (bias, not applied)" if self.int32_bias else "")


@dataclass
class Row:
    index: int
    name: str
    kind: str
    op: str
    shape: list | None
    dtype: str | None
    encoding: EncodingInfo | None = None
    observed_min: float | None = None
    observed_max: float | None = None
    outside_fraction: float | None = None


@dataclass
class Warning_:
    code: str
    tensor: str
    message: str


@dataclass
class InspectReport:
    model: str
    encodings: str | None
    version: str | None
    rows: list[Row]
    totals: dict  # label -> {"params": n, "activations": n}
    unencoded: list[str]  # float tensors left without an encoding (graph order)
    unknown: list[str]  # names of the file the model does not have
    warnings: list[Warning_] = field(default_factory=list)
    samples: int = 0

    @property
    def encoded(self) -> list[Row]:
        return [r for r in self.rows if r.encoding is not None]

    def to_dict(self) -> dict:
        d = asdict(self)
        for r, rd in zip(self.rows, d["rows"]):
            if r.encoding is not None:
                rd["encoding"]["label"] = r.encoding.label
        return d

    def format_table(self, only_encoded: bool = False) -> str:
        lines = [f"model {self.model}" + (f", encodings {self.encodings} (version {self.version})" if self.encodings
                                           else ", no encodings")
                 + (f", observed on {self.samples} sample(s)" if self.samples else "")]
        head = ("#", "tensor", "op", "shape", "dtype", "encoding", "scale", "observed")
        table = []
        for r in self.rows:
            if only_encoded and r.encoding is None:
                continue
            e = r.encoding
            enc = e.label if e else ("-" if r.dtype in ("float32", "float16", "bfloat16", "float64") else "")
            if e and e.scale_min is not None:
                scale = (f"{e.scale_min:.4g}" if e.scale_min == e.scale_max else f"{e.scale_min:.4g}..{e.scale_max:.4g}")
            else:
                scale = ""
            obs = ""
            if r.observed_min is not None:
                obs = f"[{r.observed_min:.4g}, {r.observed_max:.4g}]"
                if r.outside_fraction:
                    obs += f" {100 * r.outside_fraction:.2g}% clipped"
            shape = "" if r.shape is None else "x".join(str(d if d is not None else "?") for d in r.shape) or "scalar"
            table.append((str(r.index), r.name, r.op, shape, r.dtype or "?", enc, scale, obs))
        widths = [max(len(h), *(len(t[i]) for t in table)) if table else len(h) for i, h in enumerate(head)]
        fmt = "  ".join(f"{{:{w}}}" for w in widths)
        lines.append(fmt.format(*head).rstrip())
        lines += [fmt.format(*t).rstrip() for t in table]
        if self.totals:
            lines.append("totals: " + ", ".join(f"{k}: {v['params']} param(s), {v['activations']} activation(s)"
                                                for k, v in self.totals.items()))
        lines.append(f"left float: {len(self.unencoded)} float tensor(s) without an encoding")
        if self.unknown:
            lines.append(f"not in the model: {', '.join(self.unknown)}")
        for w in self.warnings:
            lines.append(f"warning [{w.code}] {w.tensor}: {w.message}")
        if not self.warnings:
            lines.append("no warnings")
        return "\n".join(lines)


def _info(enc: Encoding, file_name: str, int32_bias=False) -> EncodingInfo:
    if enc.is_float:
        return EncodingInfo(enc.bitwidth, "float", float_format=enc.float_format, file_name=file_name)
    scale = np.asarray(enc.scale, np.float64).reshape(-1)
    offset = np.asarray(enc.offset, np.float64).reshape(-1)
    steps = 2.0 ** enc.bitwidth - 1
    lo, hi = offset * scale, (offset + steps) * scale
    signed = bool(enc.symmetric)  # 0.6.1/1.0.0: is_symmetric; 2.x: intN (signed) vs uintN
    return EncodingInfo(enc.bitwidth, "int", signed, bool(enc.symmetric), enc.granularity.value,
                        scale.size if enc.granularity != Granularity.PER_TENSOR else None, enc.axis, enc.block_size,
                        float(scale.min()), float(scale.max()), float(offset.min()), float(offset.max()),
                        float(lo.min()), float(hi.max()), None, int32_bias, file_name)


def _graph_name(name: str, known: set[str]) -> str | None:
    return resolve_updated(name, known)


def inspect_encodings(model, encodings=None, data=None, max_samples: int | None = None,
                      options=None, runner_options=None) -> InspectReport:
    """Inspect `encodings` (path, EncodingsFile or None) on `model` (path or ModelProto); with `data` (a data
    folder) also the observed range of every tensor against its grid, run with `options` (a parameter schema,
    None: the defaults: device, deterministic mode, kernels)."""
    from ..model import load_model  # noqa: PLC0415

    model_path = os.fspath(model) if isinstance(model, (str, os.PathLike)) else "<model>"
    if isinstance(model, (str, os.PathLike)):
        model = load_model(model)
    enc_file: EncodingsFile | None
    if encodings is None or isinstance(encodings, EncodingsFile):
        enc_file = encodings
    else:
        enc_file = load_encodings(encodings)
    entries = graph_tensors(model)
    by_name: dict[str, TensorEntry] = {e.name: e for e in entries}
    known = set(by_name)
    warnings: list[Warning_] = []

    # the file's encodings by graph name
    mapped: dict[str, EncodingInfo] = {}
    mapped_enc: dict[str, Encoding] = {}
    unknown = []
    if enc_file is not None:
        if enc_file.is_empty:
            warnings.append(Warning_("no-encodings", "*", no_encodings_warning(enc_file)))
        all_encs = [(n, e, False) for n, e in enc_file.encodings.items()]
        all_encs += [(n, e, True) for n, e in enc_file.int32_bias.items()]
        for name, enc, is_bias in all_encs:
            g = _graph_name(name, known)
            if g is None:
                unknown.append(name)
                warnings.append(Warning_("unknown-tensor", name, "the model has no tensor of this name (nor without "
                                                                 "an '_updated' suffix); the simulator refuses the file"))
                continue
            if g != name:
                warnings.append(Warning_("updated-suffix", name, f"exists in the model only as {g!r}; the simulator "
                                                                 f"accepts the AIMET '_updated' spelling, other readers "
                                                                 f"may not"))
            mapped[g] = _info(enc, name, is_bias)
            if not is_bias:
                mapped_enc[g] = enc

    # observed ranges
    stats, samples, grids = {}, 0, {}
    if data is not None:
        run_file = None
        if enc_file is not None:
            run_file = EncodingsFile(enc_file.version, dict(mapped_enc), {}, enc_file.path)
        grids = {n: (i.grid_min, i.grid_max) for n, i in mapped.items()
                 if i.dtype == "int" and i.granularity == "per_tensor" and not i.int32_bias}
        try:
            stats, samples = observe(model, data, run_file, model_path, grids, max_samples, options, runner_options)
        except SimulatorError as exc:
            if run_file is None:
                raise
            warnings.append(Warning_("float-run", "*", f"the encodings cannot run on this model ({exc}); observed "
                                                       f"ranges are those of the float model"))
            stats, samples = observe(model, data, None, model_path, grids, max_samples, options, runner_options)

    rows = []
    for i, e in enumerate(entries):
        st = stats.get(e.name)
        shape = list(st.shape) if st is not None and st.shape is not None else (list(e.shape) if e.shape is not None else None)
        dtype = st.dtype if st is not None and st.dtype else e.dtype
        row = Row(i, e.name, e.kind, e.op, shape, dtype, mapped.get(e.name))
        if st is not None and st.count:
            row.observed_min, row.observed_max = st.min, st.max
            if e.name in grids:
                row.outside_fraction = st.outside / st.count
        rows.append(row)

    # warnings on the encoded tensors
    for row in rows:
        info = row.encoding
        if info is None:
            continue
        entry = by_name[row.name]
        if row.dtype and not entry.is_float and row.dtype not in ("float32", "float16", "float64", "bfloat16"):
            warnings.append(Warning_("not-float", row.name, f"is a {row.dtype} tensor; only float tensors are "
                                                            f"quantized, this encoding is never applied"))
        if info.granularity == "per_channel" and not info.int32_bias and row.shape:
            rank = len(row.shape)
            axis = info.axis
            if axis is None:
                axis = param_axis(model, row.name, rank) if entry.kind == "weight" else (1 if rank > 1 else 0)
            if axis is None or not -rank <= axis < rank:
                warnings.append(Warning_("channel-count", row.name, f"{info.channels} per-channel scales, and no "
                                                                    f"channel axis fits shape {tuple(row.shape)}"))
            elif row.shape[axis] != info.channels:
                warnings.append(Warning_("channel-count", row.name, f"{info.channels} per-channel scales for "
                                         f"dimension {axis % rank} of size {row.shape[axis]} (shape {tuple(row.shape)})"))
        if row.observed_min is not None and info.dtype == "int" and info.granularity == "per_tensor" \
                and not info.int32_bias and entry.kind != "weight":
            lo, hi = info.grid_min, info.grid_max
            span = hi - lo
            over = max(lo - row.observed_min, row.observed_max - hi, 0.0)
            if (row.outside_fraction or 0) > CLIP_FRACTION or over > CLIP_OVERSHOOT * span:
                warnings.append(Warning_("clipping", row.name, f"the grid [{lo:.4g}, {hi:.4g}] (scale {info.scale_min:.4g}) "
                                         f"cannot hold the observed range [{row.observed_min:.4g}, {row.observed_max:.4g}]: "
                                         f"{100 * (row.outside_fraction or 0):.2g}% of the values are clipped; scale too small?"))
            obs_span = row.observed_max - row.observed_min
            if obs_span > 0 and obs_span / info.scale_min < COARSE_STEPS and info.bitwidth > 3:
                warnings.append(Warning_("coarse-grid", row.name, f"the observed range [{row.observed_min:.4g}, "
                                         f"{row.observed_max:.4g}] spans only {obs_span / info.scale_min:.1f} steps of "
                                         f"scale {info.scale_min:.4g} ({info.bitwidth} bits); scale too large?"))

    # float gaps: tensors AIMET would quantize, left float between encoded neighbours
    unencoded = [r.name for r in rows if r.encoding is None and by_name[r.name].is_float]
    if enc_file is not None and mapped:
        from .calibrate import placements  # noqa: PLC0415
        expected = {p.name for p in placements(model)}
        producer = {o: n for n in model.graph.node for o in n.output}
        readers: dict[str, list] = {}
        for n in model.graph.node:
            for x in n.input:
                readers.setdefault(x, []).append(n)

        def encoded_upstream(name, depth=0):
            if name in mapped:
                return True
            node = producer.get(name)
            if node is None or depth > 16 or node.op_type not in DATA_MOVEMENT_OPS:
                return False
            return any(encoded_upstream(x, depth + 1) for x in node.input[:1] if x)

        def encoded_downstream(name, hops=0, depth=0):
            """An encoded tensor within two compute ops downstream (data-movement ops are free)."""
            for n in readers.get(name, []):
                cost = 0 if n.op_type in DATA_MOVEMENT_OPS else 1
                for o in n.output:
                    if o in mapped:
                        return True
                    if hops + cost < 2 and depth < 16 and encoded_downstream(o, hops + cost, depth + 1):
                        return True
            return False

        for name in unencoded:
            if name not in expected or by_name[name].kind != "activation":
                continue
            node = producer.get(name)
            if node is None:
                continue
            rs = readers.get(name, [])
            if len(rs) == 1 and (node.op_type, rs[0].op_type) in FUSIONS:
                continue  # inside a supergroup of some hardware configuration: float by design
            if any(encoded_upstream(x) for x in node.input if x) and encoded_downstream(name):
                warnings.append(Warning_("float-gap", name, f"output of {node.op_type} left float between encoded "
                                                            f"tensors (AIMET would quantize it); a missing encoding?"))

    totals: dict[str, dict] = {}
    for row in rows:
        if row.encoding is None:
            continue
        info = row.encoding
        label = info.float_format if info.dtype == "float" else f"{info.bitwidth}-bit" + (
            " (int32 bias, not applied)" if info.int32_bias else "")
        t = totals.setdefault(label, {"params": 0, "activations": 0})
        t["params" if by_name[row.name].kind == "weight" else "activations"] += 1
    totals = dict(sorted(totals.items(), key=lambda kv: (not kv[0][0].isdigit(), int(kv[0].split("-")[0])
                                                          if kv[0][0].isdigit() else 0, kv[0])))
    return InspectReport(model_path, enc_file.path if enc_file is not None else None,
                         enc_file.version if enc_file is not None else None, rows, totals, unencoded, unknown,
                         warnings, samples)


__all__ = ["InspectReport", "Row", "EncodingInfo", "inspect_encodings"]
