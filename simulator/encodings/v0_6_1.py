"""AIMET encodings 0.6.1: {"activation_encodings": {name: [entry, ...one per channel]}, "param_encodings": {...}}.

An entry is {bitwidth, dtype: "int"/"float", is_symmetric: "True"/"False", max, min, offset, scale}; min =
offset·scale, max = (offset + 2^bw − 1)·scale; float16 is [{"bitwidth": 16, "dtype": "float"}]. A per-block
weight is one flat list of n_blocks x n_channels entries in the weight's own axis order ([in/block, out] for a
MatMul weight [in, out]), as AIMET writes it; reading it back needs the model (quantization.flat_blocks_as_per_block).
"""
from __future__ import annotations

from typing import Literal, Optional

import numpy as np
from pydantic import field_validator

from ..errors import EncodingsError
from ..quantization import Encoding, Granularity
from .common import EncodingsFile, EntryBase, FileFormat, add, check_float, check_int, check_offset, sections, validated
from .layout import WriteJob, f32, implied_blocks, params_and_activations, two_section_layout

FORMAT = FileFormat(("0.6.1",), "0.6.1", ("activation_encodings", "param_encodings"))


class Entry061(EntryBase):
    bitwidth: int
    dtype: Literal["int", "float"] = "int"
    is_symmetric: bool = False  # a string "True"/"False" in the toolchain's files; pydantic reads both
    min: Optional[float] = None
    max: Optional[float] = None
    offset: Optional[float] = None
    scale: Optional[float] = None

    @field_validator("dtype", mode="before")
    @classmethod
    def _lower(cls, v):
        return v.lower() if isinstance(v, str) else v


def parse(data, source, version="0.6.1") -> EncodingsFile:
    out: dict[str, Encoding] = {}
    for section, entries in sections(data, source, FORMAT.sections, dict):
        for name, raw in entries.items():
            channels = raw if isinstance(raw, list) else [raw]
            if not channels:
                raise EncodingsError(f"{source}: tensor {name!r} in {section} has an empty encoding list")
            parsed = [validated(Entry061, c, source, name) for c in channels]
            first = parsed[0]
            if any(p.dtype != first.dtype or p.bitwidth != first.bitwidth for p in parsed):
                raise EncodingsError(f"{source}: tensor {name!r}: channels disagree on dtype or bitwidth")
            if first.dtype == "float":
                check_float(name, first.bitwidth, source)
                add(out, Encoding(name, "float", first.bitwidth, version="0.6.1"), source)
                continue
            if any(p.scale is None or p.offset is None for p in parsed):
                raise EncodingsError(f"{source}: tensor {name!r}: integer encoding needs 'scale' and 'offset'")
            scale = np.array([p.scale for p in parsed], dtype=np.float64)
            check_int(name, first.bitwidth, scale, source)
            offset = np.array([p.offset for p in parsed], dtype=np.float64)
            check_offset(name, offset, source)
            gran = Granularity.PER_CHANNEL if len(parsed) > 1 else Granularity.PER_TENSOR
            # A list may also be blockwise (n_blocks x n_channels entries): told apart once bound to its weight.
            add(out, Encoding(name, "int", first.bitwidth, scale.astype(np.float32), offset.astype(np.float32),
                              first.is_symmetric, gran, version="0.6.1",
                              extra={"flat_blocks": True} if len(parsed) > 1 else {}), source)
    return EncodingsFile("0.6.1", out)


def entry(enc: Encoding, shape=None, channel_axis=None) -> list[dict]:
    """One tensor's 0.6.1 entry: a list of one dict per channel (per block: the flat AIMET list)."""
    if enc.is_float:
        if enc.float_format != "float16":
            raise EncodingsError(f"tensor {enc.name!r}: a {enc.float_format} encoding cannot be expressed in 0.6.1 "
                                 f"(its dtype 'float' means float16)")
        return [{"bitwidth": int(enc.bitwidth), "dtype": "float"}]
    scale, offset = np.asarray(enc.scale, np.float32), np.asarray(enc.offset, np.float32)
    if enc.granularity == Granularity.PER_BLOCK:
        # AIMET's layout: one flat list of n_blocks x n_channels entries in the weight's own axis order.
        scale, offset, _, _ = implied_blocks(enc, shape, channel_axis, "0.6.1")
    steps = 2.0 ** enc.bitwidth - 1
    out = []
    for s, o in zip(scale.reshape(-1), np.broadcast_to(offset, scale.shape).reshape(-1)):
        s, o = f32(s), float(o)
        out.append({"bitwidth": int(enc.bitwidth), "dtype": "int", "is_symmetric": str(bool(enc.symmetric)),
                    "max": (o + steps) * s, "min": o * s, "offset": o, "scale": s})
    return out


def write(job: WriteJob) -> dict:
    par, act = params_and_activations(job, entry)
    return {"activation_encodings": dict(act), "param_encodings": dict(par)}


def source_layout(data: dict):
    """(parameter names, names in file order, quantizer_args) as the file states them."""
    return two_section_layout(data, {})


def replace_entries(data: dict, changed: dict, params, shapes, axis) -> dict:
    """`data` (a copy of a file's JSON) with the encodings in `changed` rewritten (None: removed)."""
    for section in FORMAT.sections:
        entries = data.get(section) or {}
        for name in [n for n in entries if n in changed]:
            if changed[name] is None:
                del entries[name]
            else:
                entries[name] = entry(changed[name])
    return data
