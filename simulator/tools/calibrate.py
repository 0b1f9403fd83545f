"""Calibration: AIMET-compatible encodings computed from a data folder (AIMET's "min_max" scheme).

Which tensors get an encoding follows AIMET ONNX QuantSim's default placement (the golden cases' files):
graph inputs, float Constant outputs, the output of every op except data-movement ops
(`DATA_MOVEMENT_OPS`) and the first op of a supergroup (`SUPERGROUPS`, e.g. Conv→Relu, MatMul→Add bias),
graph outputs; weights read at a weight position (Conv/ConvTranspose/Gemm/MatMul input 1); normalisation
scales (LayerNorm/BatchNorm input 1, asymmetric per tensor); other float initializers read by compute ops
(a PRelu slope) as activations; never biases.

The formulas are AIMET's (libpymo / aimet v2 min-max, in float64):

* asymmetric: lo = min(x_min, 0), hi = max(x_max, 0); scale = max((hi − lo)/(2^bw − 1), 2^−23);
  offset = round(lo / scale) (≤ 0, AIMET's unsigned convention);
* symmetric (weights, and activations when asked): scale = max(−lo / 2^(bw−1), hi / (2^(bw−1) − 1), 2^−23),
  offset = −2^(bw−1): the full signed grid, per output channel when per-channel.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import numpy_helper

from ..errors import ParameterError
from ..quantization import Encoding, Granularity
from . import (BIAS_INPUTS, DATA_MOVEMENT_OPS, NORM_SCALE_INPUTS, SUPERGROUPS, WEIGHT_INPUTS, graph_tensors, observe,
               param_axis)
from .convert import WRITE_VERSIONS, Written, dump, write_encodings

MIN_SCALE = 2.0 ** -23  # AIMET's floor on a scale (a constant 0 gets scale 2^-23: /Constant_9 in the golden cases)
FLOAT16 = "float16"


def _bw(value, what: str):
    """A bitwidth setting: an int 1-32 (or its text), or "float16"/"fp16"."""
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("float16", "fp16", "f16"):
            return FLOAT16
        try:
            value = int(v)
        except ValueError:
            raise ParameterError(f"{what}: bitwidth {value!r} is neither an integer nor 'float16'") from None
    if isinstance(value, bool) or not isinstance(value, int) or not 2 <= value <= 32:
        raise ParameterError(f"{what}: bitwidth must be an integer from 2 to 32 (or 'float16'), got {value!r}")
    return value


@dataclass
class CalibrationConfig:
    """What calibrate computes. op_bitwidths: op type -> bitwidth (or "float16") for that op's output and
    the weights it reads; tensor_bitwidths: tensor name -> bitwidth (or "float16"), over everything else."""
    param_bitwidth: int = 8
    activation_bitwidth: int = 8
    per_channel: bool = False
    activation_symmetric: bool = False
    norm_scale_bitwidth: int = 8
    op_bitwidths: dict = field(default_factory=dict)
    tensor_bitwidths: dict = field(default_factory=dict)

    def __post_init__(self):
        self.param_bitwidth = _bw(self.param_bitwidth, "param_bitwidth")
        self.activation_bitwidth = _bw(self.activation_bitwidth, "activation_bitwidth")
        self.norm_scale_bitwidth = _bw(self.norm_scale_bitwidth, "norm_scale_bitwidth")
        self.op_bitwidths = {k: _bw(v, f"op_bitwidths[{k!r}]") for k, v in dict(self.op_bitwidths).items()}
        self.tensor_bitwidths = {k: _bw(v, f"tensor_bitwidths[{k!r}]") for k, v in dict(self.tensor_bitwidths).items()}

    def quantizer_args(self) -> dict:
        return {"activation_bitwidth": self.activation_bitwidth, "dtype": "int",
                "is_symmetric": True, "param_bitwidth": self.param_bitwidth,
                "per_channel_quantization": bool(self.per_channel), "quant_scheme": "min_max"}


@dataclass
class Placement:
    """One tensor to encode: its role ("weight", "norm_scale", "activation") and the op type that decides its
    bitwidth (the producer for an activation, the consumer for a weight)."""
    name: str
    role: str
    op: str


def placements(model: onnx.ModelProto) -> list[Placement]:
    """The tensors AIMET's default configuration quantizes, in graph order."""
    entries = graph_tensors(model)
    outputs = {o.name for o in model.graph.output}
    node_of = {}
    for node in model.graph.node:
        for o in node.output:
            node_of[o] = node
    readers: dict[str, list[onnx.NodeProto]] = {}
    for node in model.graph.node:
        for i in node.input:
            readers.setdefault(i, []).append(node)

    def bias_like(name, node, idx):
        if (node.op_type, idx) in BIAS_INPUTS:
            return True
        if node.op_type == "Add":  # MatMul + Add(bias) supergroup: the bias stays float
            other = [i for j, i in enumerate(node.input) if j != idx]
            return any(node_of.get(o) is not None and node_of[o].op_type in ("MatMul", "Gemm") for o in other)
        return False

    out = []
    for e in entries:
        if not e.is_float:
            continue
        if e.kind == "input":
            out.append(Placement(e.name, "activation", "input"))
        elif e.kind == "weight":
            roles = set()
            for op, node_name, idx in e.consumers:
                node = next(n for n in readers.get(e.name, []) if n.name == node_name and n.op_type == op)
                if (op, idx) in WEIGHT_INPUTS:
                    roles.add(("weight", op))
                elif (op, idx) in NORM_SCALE_INPUTS:
                    roles.add(("norm_scale", op))
                elif op not in DATA_MOVEMENT_OPS and not bias_like(e.name, node, idx):
                    roles.add(("activation", op))
            for role in ("weight", "norm_scale", "activation"):
                ops = sorted(op for r, op in roles if r == role)
                if ops:
                    out.append(Placement(e.name, role, ops[0]))
                    break
        elif e.kind == "constant":
            out.append(Placement(e.name, "activation", "Constant"))
        else:
            if e.name not in outputs:
                if e.op in DATA_MOVEMENT_OPS:
                    continue
                rs = readers.get(e.name, [])
                if len(rs) == 1 and (e.op, rs[0].op_type) in SUPERGROUPS:
                    nxt = rs[0]
                    if not (nxt.op_type == "Add" and e.op == "MatMul" and not any(
                            i in {t.name for t in model.graph.initializer} for i in nxt.input if i != e.name)):
                        continue
            out.append(Placement(e.name, "activation", e.op))
    return out


def _asymmetric(lo, hi, bw):
    lo, hi = np.minimum(lo, 0.0), np.maximum(hi, 0.0)
    steps = 2.0 ** bw - 1
    scale = np.maximum((hi - lo) / steps, MIN_SCALE)
    offset = np.clip(np.round(lo / scale), -steps, 0.0)
    return scale, offset


def _symmetric(lo, hi, bw):
    lo, hi = np.minimum(lo, 0.0), np.maximum(hi, 0.0)
    half = 2.0 ** (bw - 1)
    scale = np.maximum(np.maximum(-lo / half, hi / (half - 1)), MIN_SCALE)
    return scale, np.full_like(scale, -half)


def _encoding(name, bw, lo, hi, symmetric, granularity=Granularity.PER_TENSOR, axis=None) -> Encoding:
    if bw == FLOAT16:
        return Encoding(name, "float", 16)
    scale, offset = (_symmetric if symmetric else _asymmetric)(np.asarray(lo, np.float64), np.asarray(hi, np.float64), bw)
    return Encoding(name, "int", int(bw), np.atleast_1d(scale).astype(np.float32),
                    np.atleast_1d(offset).astype(np.float32), bool(symmetric), granularity, axis=axis,
                    extra={"scale64": np.atleast_1d(scale)})


@dataclass
class Calibration:
    encodings: dict[str, Encoding]
    params: set[str]
    order: list[str]
    config: CalibrationConfig
    samples: int
    unobserved: list[str] = field(default_factory=list)

    def write(self, version: str = "1.0.0", model: onnx.ModelProto | None = None, output=None) -> Written:
        """The encodings as a file of `version` (written to `output` when given)."""
        written = write_encodings(self.encodings, version, self.params, model, None, self.config.quantizer_args(),
                                  self.order)
        if output is not None:
            dump(written.data, output)
        return written


def calibrate(model, data_path, config: CalibrationConfig | None = None, max_samples: int | None = None,
              source: str = "<model>", options=None, runner_options=None) -> Calibration:
    """Min-max encodings for `model` (path or ModelProto) from the samples of `data_path`; `options` (a parameter
    schema, None: the defaults) chooses the device, deterministic mode and kernels of the runs; `runner_options`
    (simulator.runner.Options) spreads the samples over processes (the ranges merge exactly)."""
    from ..model import load_model  # noqa: PLC0415

    config = config or CalibrationConfig()
    if isinstance(model, (str, os.PathLike)):
        source = os.fspath(model)
        model = load_model(model)
    places = placements(model)
    unknown = [n for n in config.tensor_bitwidths if n not in {p.name for p in graph_tensors(model)}]
    if unknown:
        raise ParameterError(f"tensor_bitwidths names tensor(s) the model does not have: {', '.join(map(repr, unknown))}")
    stats, n = observe(model, data_path, None, source, max_samples=max_samples, options=options,
                       runner_options=runner_options)
    if n == 0:
        raise ParameterError(f"data folder {os.fspath(data_path)!r} holds no samples to calibrate on")
    inits = {t.name: t for t in model.graph.initializer}
    encodings: dict[str, Encoding] = {}
    params: set[str] = set()
    unobserved = []
    for p in places:
        if p.role == "weight":
            bw = config.op_bitwidths.get(p.op, config.param_bitwidth)
        elif p.role == "norm_scale":
            bw = config.op_bitwidths.get(p.op, config.norm_scale_bitwidth)
        else:
            bw = config.op_bitwidths.get(p.op, config.activation_bitwidth)
        bw = config.tensor_bitwidths.get(p.name, bw)
        if p.name in inits:
            w = numpy_helper.to_array(inits[p.name]).astype(np.float64)
            if p.role == "weight":
                params.add(p.name)
                axis = param_axis(model, p.name, w.ndim) if config.per_channel and w.ndim > 1 else None
                if axis is not None:
                    axis %= w.ndim
                    red = tuple(a for a in range(w.ndim) if a != axis)
                    enc = _encoding(p.name, bw, w.min(axis=red), w.max(axis=red), True, Granularity.PER_CHANNEL)
                else:
                    enc = _encoding(p.name, bw, w.min(), w.max(), True)
            else:
                if p.role == "norm_scale":
                    params.add(p.name)
                enc = _encoding(p.name, bw, w.min(), w.max(), config.activation_symmetric and p.role == "activation")
        else:
            st = stats.get(p.name)
            if st is None or st.count == 0:
                unobserved.append(p.name)
                continue
            enc = _encoding(p.name, bw, st.min, st.max, config.activation_symmetric)
        encodings[p.name] = enc
    return Calibration(encodings, params, [p.name for p in places], config, n, unobserved)


__all__ = ["CalibrationConfig", "Calibration", "Placement", "placements", "calibrate", "WRITE_VERSIONS", "MIN_SCALE"]
