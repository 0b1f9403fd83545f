"""Write `Encoding`s as an AIMET encodings file of version 0.6.1, 1.0.0 or 2.0.0, and convert between them.

The layouts and field names are those of aimet-onnx 2.42's exports (the golden cases' files):

* 0.6.1: {"activation_encodings": {name: [{bitwidth, dtype, is_symmetric: "True"/"False", max, min, offset,
  scale}, ...one per channel]}, "param_encodings": {...}, "producer", "quantizer_args", "version"};
  min = offset·scale, max = (offset + 2^bw − 1)·scale; float16: [{"bitwidth": 16, "dtype": "float"}]; a
  per-block weight is one flat list of n_blocks x n_channels entries in the weight's own axis order
  ([in/block, out] for a MatMul weight [in, out]), as AIMET writes it; reading it back needs the model.
* 1.0.0: lists of {bw, dtype: "INT"/"FLOAT", enc_type, is_sym, name, offset: [...], scale: [...]}.
* 2.0.0: {"encodings": [{name, output_dtype, y_scale, [y_zero_point], [axis], [block_size]}], ...}; parameters
  first, then activations; activations are written unsigned (uintN, zero point = −offset, as AIMET's
  force_activation_as="unsigned"), symmetric parameters signed (intN, zero point omitted when 0),
  asymmetric parameters unsigned. 2.0.0 cannot express float16 quantizers.

Scales are written as the float32 value the simulator uses (its shortest repr), so that reading the file
back gives the same float32 scale and offset: a conversion simulates bit for bit like its source.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np
import onnx

from .. import safe_io
from ..encodings import EncodingsFile, load_encodings, parse_encodings
from ..errors import EncodingsError, ParameterError
from ..names import resolve_updated
from ..quantization import Encoding, Granularity, bind, flat_blocks_as_per_block

WRITE_VERSIONS = ("0.6.1", "1.0.0", "2.0.0")
PRODUCER = {"package": "onnx-quantization-simulator", "version": "1"}


@dataclass
class Written:
    """What write_encodings produced: the JSON dict, and the notes a user should see."""
    data: dict
    version: str
    notes: list[str] = field(default_factory=list)


def _f(x) -> float:
    """A float32 value as the Python float that reads back to it exactly."""
    return float(np.float32(x))


def _zp_value(z: float):
    return int(z) if float(z).is_integer() else float(z)


def _check_version(version: str) -> str:
    version = str(version)
    if version not in WRITE_VERSIONS:
        raise ParameterError(f"cannot write encodings version {version!r}; supported: {', '.join(WRITE_VERSIONS)}")
    return version


# -- one entry per version -------------------------------------------------------------------------

def entry_061(enc: Encoding, shape=None, channel_axis=None) -> list[dict]:
    if enc.is_float:
        if enc.float_format != "float16":
            raise EncodingsError(f"tensor {enc.name!r}: a {enc.float_format} encoding cannot be expressed in 0.6.1 "
                                 f"(its dtype 'float' means float16)")
        return [{"bitwidth": int(enc.bitwidth), "dtype": "float"}]
    scale, offset = np.asarray(enc.scale, np.float32), np.asarray(enc.offset, np.float32)
    if enc.granularity == Granularity.PER_BLOCK:
        # AIMET's layout: one flat list of n_blocks x n_channels entries in the weight's own axis order.
        scale, offset, _, _ = _implied_blocks(enc, shape, channel_axis, "0.6.1")
    steps = 2.0 ** enc.bitwidth - 1
    out = []
    for s, o in zip(scale.reshape(-1), np.broadcast_to(offset, scale.shape).reshape(-1)):
        s, o = _f(s), float(o)
        out.append({"bitwidth": int(enc.bitwidth), "dtype": "int", "is_symmetric": str(bool(enc.symmetric)),
                    "max": (o + steps) * s, "min": o * s, "offset": o, "scale": s})
    return out


def _blocks(enc: Encoding, shape, channel_axis) -> tuple[np.ndarray, np.ndarray, int, int]:
    """A per-block encoding's scales and offsets at the tensor's rank, one entry per block (not repeated),
    with its channel and block axes."""
    rank = len(shape)
    try:
        q = bind(enc, tuple(shape), channel_axis)
    except ValueError as exc:
        raise EncodingsError(f"tensor {enc.name!r}: per-block encoding does not fit shape {tuple(shape)}: {exc}") from None
    scale = np.broadcast_to(q.scale, np.broadcast_shapes(q.scale.shape, q.offset.shape))
    offset = np.broadcast_to(q.offset, scale.shape)
    if np.asarray(enc.scale).ndim == rank:
        block_axis = enc.axis if enc.axis is not None else enc.block_axis
        ch = next((a for a in range(rank) if a != (block_axis or 0) % rank and scale.shape[a] > 1), None)
    else:
        ch = (enc.axis if enc.axis is not None else channel_axis)
        block_axis = enc.block_axis
        if ch is not None and block_axis is None:
            ch %= rank
            block_axis = 1 if ch == 0 else ch - 1
    if block_axis is None:
        raise EncodingsError(f"tensor {enc.name!r}: cannot tell the block axis of its per-block encoding")
    block_axis %= rank
    sl = [slice(None)] * rank
    sl[block_axis] = slice(None, None, enc.block_size) if scale.shape[block_axis] > 1 else slice(None)
    return (np.ascontiguousarray(scale[tuple(sl)]), np.ascontiguousarray(offset[tuple(sl)]),
            None if ch is None else ch % rank, block_axis)


def _implied_blocks(enc: Encoding, shape, channel_axis, version: str):
    """_blocks for 0.6.1 and 1.0.0, which state no block axis: it must be the one next to the channel axis."""
    if shape is None:
        raise EncodingsError(f"tensor {enc.name!r}: writing a per-block encoding as {version} needs the model "
                             f"(the weight's shape)")
    scale, offset, ch, block_axis = _blocks(enc, shape, channel_axis)
    if ch is None or block_axis != (1 if ch == 0 else ch - 1):
        raise EncodingsError(f"tensor {enc.name!r}: {version} cannot express blocks along axis {block_axis} "
                             f"(it implies the axis next to the channel axis)")
    return scale, offset, ch, block_axis


def entry_100(enc: Encoding, shape=None, channel_axis=None) -> dict:
    if enc.is_float:
        if enc.float_format != "float16":
            raise EncodingsError(f"tensor {enc.name!r}: a {enc.float_format} encoding cannot be expressed in 1.0.0")
        return {"bw": int(enc.bitwidth), "dtype": "FLOAT", "enc_type": "PER_TENSOR", "name": enc.name}
    if enc.granularity == Granularity.PER_BLOCK:
        scale, offset, ch, block_axis = _implied_blocks(enc, shape, channel_axis, "1.0.0")
        order = lambda a: np.moveaxis(np.moveaxis(a, ch, 0), block_axis if block_axis > ch else block_axis + 1, 1)  # noqa: E731
        scale, offset = order(scale).reshape(-1), order(offset).reshape(-1)
        return {"block_size": int(enc.block_size), "bw": int(enc.bitwidth), "dtype": "INT", "enc_type": "PER_BLOCK",
                "is_sym": bool(enc.symmetric), "name": enc.name, "offset": [float(o) for o in offset],
                "scale": [_f(s) for s in scale]}
    scale = np.asarray(enc.scale, np.float32).reshape(-1)
    offset = np.broadcast_to(np.asarray(enc.offset, np.float32).reshape(-1), scale.shape)
    enc_type = "PER_TENSOR" if enc.granularity == Granularity.PER_TENSOR else "PER_CHANNEL"
    return {"bw": int(enc.bitwidth), "dtype": "INT", "enc_type": enc_type, "is_sym": bool(enc.symmetric),
            "name": enc.name, "offset": [float(o) for o in offset], "scale": [_f(s) for s in scale]}


def _nested(a: np.ndarray, conv):
    return conv(a) if a.ndim == 0 else [_nested(x, conv) for x in a]


def entry_200(enc: Encoding, is_param: bool, shape=None, channel_axis=None,
              no_axis_why: str = "give the model") -> tuple[dict, list[str]]:
    """One 2.0.0 entry (and notes). Activations are written unsigned, parameters signed when symmetric.
    no_axis_why: why a per-channel encoding's axis is unknown, for the note."""
    notes = []
    if enc.is_float:
        raise EncodingsError(f"tensor {enc.name!r}: its {enc.float_format} encoding cannot be expressed in 2.0.0 "
                             f"(2.0.0 files have no float quantizers; keep 0.6.1 or 1.0.0 for mixed float16)")
    bw = int(enc.bitwidth)
    signed = bool(is_param and enc.symmetric)
    shift = 2.0 ** (bw - 1) if signed else 0.0
    out = {"name": enc.name, "output_dtype": f"{'int' if signed else 'uint'}{bw}"}
    if enc.granularity == Granularity.PER_BLOCK:
        if shape is None and np.asarray(enc.scale).ndim < 2:
            raise EncodingsError(f"tensor {enc.name!r}: writing a per-block encoding as 2.0.0 needs the model "
                                 f"(the weight's shape)")
        if shape is None:
            scale, offset = np.asarray(enc.scale, np.float32), np.broadcast_to(enc.offset, np.shape(enc.scale))
            block_axis = enc.axis if enc.axis is not None else enc.block_axis
        else:
            scale, offset, _, block_axis = _blocks(enc, shape, channel_axis)
        zp = -np.asarray(offset, np.float64) - shift
        out.update({"axis": int(block_axis), "block_size": int(enc.block_size), "y_scale": _nested(scale, _f)})
        if np.any(zp != 0):
            out["y_zero_point"] = _nested(zp, _zp_value)
        return out, notes
    scale = np.asarray(enc.scale, np.float32).reshape(-1)
    zp = -np.broadcast_to(np.asarray(enc.offset, np.float64).reshape(-1), scale.shape) - shift
    if enc.granularity == Granularity.PER_TENSOR:
        out["y_scale"] = _f(scale[0])
        if zp[0] != 0:
            out["y_zero_point"] = _zp_value(zp[0])
        return out, notes
    axis = enc.axis if enc.axis is not None else channel_axis
    if axis is None:
        notes.append(f"tensor {enc.name!r}: per-channel axis unknown ({no_axis_why}); written without 'axis'")
    else:
        out["axis"] = int(axis)
    out["y_scale"] = [_f(s) for s in scale]
    if np.any(zp != 0):
        out["y_zero_point"] = [_zp_value(z) for z in zp]
    return out, notes


# -- whole files -----------------------------------------------------------------------------------

def write_encodings(encodings: dict[str, Encoding], version: str, params=(), model: onnx.ModelProto | None = None,
                    int32_bias: dict[str, Encoding] | None = None, quantizer_args: dict | None = None,
                    order=None) -> Written:
    """The JSON dict of an encodings file of `version` holding `encodings`.

    params: names written as parameter encodings (the others are activations). model: gives the
    per-channel axis AIMET would use (2.0.0 writes it) and the weights' shapes (per-block). int32_bias:
    2.x export-only bias encodings, written to 2.0.0 only. order: names in the order to write (graph order).
    Raises EncodingsError naming the tensor when the version cannot express an encoding.
    """
    version = _check_version(version)
    params = set(params)
    names = [n for n in (order or []) if n in encodings] + [n for n in encodings if n not in set(order or [])]
    inits = {t.name: tuple(t.dims) for t in model.graph.initializer} if model is not None else {}
    notes: list[str] = []

    def axis_of(name):
        if model is None or name not in inits:
            return None
        from . import param_axis  # noqa: PLC0415
        return param_axis(model, name, len(inits[name]))

    def no_axis_why(name):
        if model is None:
            return "give the model"
        if name not in inits:
            return "the model given has no weight of this name: are the encodings of another model?"
        return "no Conv, Gemm or MatMul of the model reads it as its weight"

    def check_axis(enc):
        """0.6.1/1.0.0 do not store the axis: the consumer's rule must give the same one."""
        if enc.granularity != Granularity.PER_CHANNEL or enc.axis is None or enc.is_float:
            return
        if enc.name not in inits:
            if model is not None:
                raise EncodingsError(f"tensor {enc.name!r}: per-channel activation encoding on axis {enc.axis}; "
                                     f"{version} cannot state the axis")
            notes.append(f"tensor {enc.name!r}: axis {enc.axis} not checked against the consumer's rule (no model)")
            return
        rank = len(inits[enc.name])
        derived = axis_of(enc.name)
        if derived is None or derived % rank != enc.axis % rank:
            raise EncodingsError(f"tensor {enc.name!r}: per-channel axis {enc.axis} differs from the axis {derived} "
                                 f"that a {version} reader derives from its consumer; {version} cannot express it")

    def resolved(n, enc):
        """A 0.6.1 source's blockwise list (known by the weight's shape) as the per-block encoding it is."""
        if enc.extra.get("flat_blocks") and n in inits and axis_of(n) is not None:
            if np.asarray(enc.scale).size != inits[n][axis_of(n)]:
                try:
                    return flat_blocks_as_per_block(enc, inits[n], axis_of(n))
                except ValueError as exc:
                    raise EncodingsError(f"tensor {n!r} (shape {inits[n]}): {exc}") from None
        return enc

    encodings = {n: resolved(n, encodings[n]) for n in names}
    out: dict = {}
    if version == "0.6.1":
        act, par = {}, {}
        for n in names:
            enc = encodings[n]
            if enc.granularity != Granularity.PER_BLOCK:
                check_axis(enc)
            (par if n in params else act)[n] = entry_061(enc, inits.get(n), axis_of(n))
        out = {"activation_encodings": act, "param_encodings": par}
    elif version == "1.0.0":
        act, par = [], []
        for n in names:
            enc = encodings[n]
            if enc.granularity != Granularity.PER_BLOCK:
                check_axis(enc)
            (par if n in params else act).append(entry_100(enc, inits.get(n), axis_of(n)))
        out = {"activation_encodings": act, "param_encodings": par}
    else:
        par_entries, act_entries = [], []
        for n in names:
            entry, entry_notes = entry_200(encodings[n], n in params, inits.get(n), axis_of(n), no_axis_why(n))
            notes += entry_notes
            (par_entries if n in params else act_entries).append(entry)
        for n, enc in (int32_bias or {}).items():
            entry, _ = entry_200(enc, True, None, axis_of(n))
            par_entries.append(entry)
        out = {"encodings": par_entries + act_entries}
    if int32_bias and version != "2.0.0":
        notes.append(f"{len(int32_bias)} int32 bias encoding(s) of the 2.x source dropped ({version} has none; "
                     f"AIMET's simulation does not apply them): {', '.join(sorted(int32_bias)[:5])}"
                     + (" ..." if len(int32_bias) > 5 else ""))
    out["producer"] = dict(PRODUCER)
    if quantizer_args is not None and version != "2.0.0":
        out["quantizer_args"] = quantizer_args
    out["version"] = version
    return Written(out, version, notes)


def dump(data: dict, path) -> None:
    """Write an encodings dict as AIMET does: indented, keys sorted."""
    safe_io.write_text(path, json.dumps(data, indent=4, sort_keys=True) + "\n", "encodings file", EncodingsError)


# -- conversion ------------------------------------------------------------------------------------

def _source_layout(data: dict, version: str) -> tuple[set[str], list[str], dict | None]:
    """(parameter names, names in file order, quantizer_args) as the source file states them."""
    if version in ("0.6.1", "1.0.0"):
        params, order = set(), []
        for section in ("param_encodings", "activation_encodings"):
            entries = data.get(section) or ({} if version == "0.6.1" else [])
            names = list(entries) if isinstance(entries, dict) else [e.get("name") for e in entries
                                                                     if isinstance(e, dict)]
            if section == "param_encodings":
                params.update(names)
            order += names
        return params, order, data.get("quantizer_args")
    order = [e.get("name") for e in data.get("encodings") or [] if isinstance(e, dict)]
    return set(), order, None


def _params_2x(data: dict, model: onnx.ModelProto | None) -> set[str]:
    """Parameter names of a 2.x file: weights the model reads at a weight position; without a model,
    entries stated signed or per-channel."""
    if model is not None:
        from . import BIAS_INPUTS, NORM_SCALE_INPUTS, WEIGHT_INPUTS, consumers  # noqa: PLC0415
        inits = {t.name for t in model.graph.initializer}
        out = set()
        for name in inits:
            positions = {(op.replace("Transpose->", ""), i) for op, i, _ in consumers(model, name)}
            if positions & (WEIGHT_INPUTS | NORM_SCALE_INPUTS | BIAS_INPUTS):
                out.add(name)
        return out
    out = set()
    for e in data.get("encodings") or []:
        if isinstance(e, dict) and (str(e.get("output_dtype", "")).startswith("int") or "axis" in e):
            out.add(e.get("name"))
    return out


@dataclass
class Conversion:
    source: EncodingsFile
    written: Written

    @property
    def data(self) -> dict:
        return self.written.data

    @property
    def notes(self) -> list[str]:
        return self.written.notes


def convert_encodings(source, version: str, model=None, output=None) -> Conversion:
    """Convert an encodings file (path, or a dict read from JSON) to `version`; write it to `output` if given.

    `model` (a path or ModelProto) is optional: it supplies the per-channel axis 2.0.0 states, checks that
    an older version's consumer rule gives the axis a 2.x file states, and tells parameters from
    activations for a 2.x source. The names, scales and offsets carry over exactly (float32), so the
    converted file simulates bit for bit like the source; an encoding the target cannot express is an
    EncodingsError naming the tensor. 2.x int32 bias encodings (export-only) are dropped for 0.6.1/1.0.0.
    """
    version = _check_version(version)
    if isinstance(source, dict):
        data, parsed = source, parse_encodings(source)
    else:
        parsed = load_encodings(source)
        data = safe_io.read_json(parsed.path, "encodings file", EncodingsError)
    if isinstance(model, (str, os.PathLike)):
        from ..model import load_model  # noqa: PLC0415
        model = load_model(model, external_data=False)
    params, order, qargs = _source_layout(data, parsed.version)
    if parsed.version not in ("0.6.1", "1.0.0"):
        params = _params_2x(data, model) & (set(parsed.encodings) | set(parsed.int32_bias))
    if model is not None:
        from . import graph_tensors  # noqa: PLC0415
        graph_order = [t.name for t in graph_tensors(model)]
        pos = {n: i for i, n in enumerate(graph_order)}
        key = lambda n: pos.get(resolve_updated(n, pos) or n, len(pos))  # noqa: E731
        order = sorted(order, key=key)
    written = write_encodings(parsed.encodings, version, params, model, parsed.int32_bias, qargs, order)
    lists = [n for n, e in parsed.encodings.items() if e.extra.get("flat_blocks")]
    if lists and model is None and version != "0.6.1":
        written.notes.append(f"{len(lists)} 0.6.1 list(s) written as per-channel: without the model a blockwise "
                             f"list (n_blocks x n_channels entries) cannot be told from a per-channel one")
    if output is not None:
        dump(written.data, output)
    return Conversion(parsed, written)


__all__ = ["WRITE_VERSIONS", "Written", "Conversion", "entry_061", "entry_100", "entry_200", "write_encodings",
           "convert_encodings", "dump"]
