"""Write `Encoding`s as an AIMET encodings file of version 0.6.1, 1.0.0 or 2.0.0, and convert between them.

The layouts and field names are those of aimet-onnx 2.42's exports (the golden cases' files); each version's
entries are written by its module in simulator.encodings (v0_6_1, v1_0_0, v2: `entry` and `write`). This module
assembles whole files (order, parameters, axes from the model, producer, notes) and converts between versions.

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
from ..encodings import WRITE_VERSIONS, EncodingsFile, format_of, load_encodings, parse_encodings, writer_of
from ..encodings.layout import WriteJob
from ..encodings.v0_6_1 import entry as entry_061
from ..encodings.v1_0_0 import entry as entry_100
from ..encodings.v2 import entry as entry_200
from ..errors import EncodingsError
from ..names import resolve_updated
from ..quantization import Encoding, Granularity, flat_blocks_as_per_block

PRODUCER = {"package": "onnx-quantization-simulator", "version": "1"}


@dataclass
class Written:
    """What write_encodings produced: the JSON dict, and the notes a user should see."""
    data: dict
    version: str
    notes: list[str] = field(default_factory=list)


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
    writer = writer_of(version)
    version = writer.FORMAT.writes
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

    job = WriteJob(names, {n: resolved(n, encodings[n]) for n in names}, params, inits, axis_of, no_axis_why,
                   check_axis, dict(int32_bias or {}), notes)
    out = writer.write(job)
    if int32_bias and not writer.FORMAT.keeps_int32_bias:
        notes.append(f"{len(int32_bias)} int32 bias encoding(s) of the 2.x source dropped ({version} has none; "
                     f"AIMET's simulation does not apply them): {', '.join(sorted(int32_bias)[:5])}"
                     + (" ..." if len(int32_bias) > 5 else ""))
    out["producer"] = dict(PRODUCER)
    if quantizer_args is not None and writer.FORMAT.keeps_quantizer_args:
        out["quantizer_args"] = quantizer_args
    out["version"] = version
    return Written(out, version, notes)


def dump(data: dict, path) -> None:
    """Write an encodings dict as AIMET does: indented, keys sorted."""
    safe_io.write_text(path, json.dumps(data, indent=4, sort_keys=True) + "\n", "encodings file", EncodingsError)


# -- conversion ------------------------------------------------------------------------------------

def _model_params(model: onnx.ModelProto) -> set[str]:
    """The model's weights read at a weight position: the parameters of a file that does not say (2.x)."""
    from . import BIAS_INPUTS, NORM_SCALE_INPUTS, WEIGHT_INPUTS, consumers  # noqa: PLC0415
    out = set()
    for name in {t.name for t in model.graph.initializer}:
        positions = {(op.replace("Transpose->", ""), i) for op, i, _ in consumers(model, name)}
        if positions & (WEIGHT_INPUTS | NORM_SCALE_INPUTS | BIAS_INPUTS):
            out.add(name)
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
    version = writer_of(version).FORMAT.writes
    if isinstance(source, dict):
        data, parsed = source, parse_encodings(source)
    else:
        parsed = load_encodings(source)
        data = safe_io.read_json(parsed.path, "encodings file", EncodingsError)
    if isinstance(model, (str, os.PathLike)):
        from ..model import load_model  # noqa: PLC0415
        model = load_model(model, external_data=False)
    source_format = format_of(parsed.version)
    params, order, qargs = source_format.source_layout(data)
    if not source_format.FORMAT.params_stated:
        params = (_model_params(model) if model is not None else params) & (set(parsed.encodings) | set(parsed.int32_bias))
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
