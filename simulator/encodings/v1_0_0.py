"""AIMET encodings 1.0.0: {"activation_encodings": [entry, ...], "param_encodings": [...]}, where an entry is
{bw, dtype: "INT"/"FLOAT", enc_type: PER_TENSOR/PER_CHANNEL/PER_BLOCK/LPBQ, is_sym, name, offset: [...],
scale: [...]} (per block: block_size, in (channel, block) order; LPBQ: compressed_bw, per_block_int_scale)."""
from __future__ import annotations

from typing import Literal, Optional

import numpy as np
from pydantic import field_validator

from ..errors import EncodingsError
from ..quantization import Encoding, Granularity
from .common import (EncodingsFile, EntryBase, FileFormat, add, check_float, check_int, check_offset, entry_name,
                     lpbq_block_scales, replace_in_list, sections, validated)
from .layout import WriteJob, f32, implied_blocks, params_and_activations, two_section_layout

FORMAT = FileFormat(("1.0.0",), "1.0.0", ("activation_encodings", "param_encodings"))


class Entry100(EntryBase):
    name: str
    bw: int
    dtype: Literal["INT", "FLOAT"] = "INT"
    enc_type: Literal["PER_TENSOR", "PER_CHANNEL", "PER_BLOCK", "LPBQ"] = "PER_TENSOR"
    is_sym: bool = False
    scale: Optional[list[float]] = None
    offset: Optional[list[float]] = None
    zero_point_shift: Optional[list[float]] = None
    block_size: Optional[int] = None
    compressed_bw: Optional[int] = None
    per_block_int_scale: Optional[list[float]] = None

    @field_validator("dtype", "enc_type", mode="before")
    @classmethod
    def _upper(cls, v):
        return v.upper() if isinstance(v, str) else v

    @field_validator("dtype", mode="before")
    @classmethod
    def _fp(cls, v):
        return "FLOAT" if v == "FP" else v


def parse(data, source, version="1.0.0") -> EncodingsFile:
    out: dict[str, Encoding] = {}
    for section, entries in sections(data, source, FORMAT.sections, list):
        for raw in entries:
            e = validated(Entry100, raw, source, entry_name(raw))
            if e.dtype == "FLOAT":
                check_float(e.name, e.bw, source)
                add(out, Encoding(e.name, "float", e.bw, version="1.0.0"), source)
                continue
            if e.scale is None or e.offset is None:
                raise EncodingsError(f"{source}: tensor {e.name!r}: integer encoding needs 'scale' and 'offset'")
            scale = np.array(e.scale, dtype=np.float64)
            offset = np.array(e.offset, dtype=np.float64)
            if e.zero_point_shift is not None:
                shift = np.array(e.zero_point_shift, dtype=np.float64)
                if shift.size not in (1, offset.size):
                    raise EncodingsError(f"{source}: tensor {e.name!r}: {shift.size} zero_point_shift values for "
                                         f"{offset.size} offsets")
                offset = offset + shift
            bw = e.bw
            gran = {"PER_TENSOR": Granularity.PER_TENSOR, "PER_CHANNEL": Granularity.PER_CHANNEL}.get(
                e.enc_type, Granularity.PER_BLOCK)
            extra = {"transposed_blocks": True}
            if e.enc_type == "LPBQ":
                if e.per_block_int_scale is None or e.compressed_bw is None:
                    raise EncodingsError(f"{source}: tensor {e.name!r}: LPBQ needs 'per_block_int_scale' and 'compressed_bw'")
                int_scale = np.array(e.per_block_int_scale, dtype=np.float64)
                check_int(e.name, e.compressed_bw, scale, source)
                if int_scale.size % max(scale.size, 1):
                    raise EncodingsError(f"{source}: tensor {e.name!r}: {int_scale.size} per-block int scales do not "
                                         f"divide into {scale.size} per-channel scales")
                # (channel, block) order: each channel's float scale times its blocks' int scales.
                per_channel = np.repeat(scale, int_scale.size // scale.size)
                scale = lpbq_block_scales(int_scale, per_channel)
                bw = e.compressed_bw
                offset = np.full(scale.shape, -(2.0 ** (bw - 1)))
            elif offset.size not in (1, scale.size):
                raise EncodingsError(f"{source}: tensor {e.name!r}: {offset.size} offsets for {scale.size} scales")
            check_int(e.name, bw, scale, source)
            check_offset(e.name, offset, source)
            if gran == Granularity.PER_TENSOR and scale.size != 1:
                raise EncodingsError(f"{source}: tensor {e.name!r}: PER_TENSOR encoding with {scale.size} scales")
            if gran == Granularity.PER_BLOCK and not e.block_size:
                raise EncodingsError(f"{source}: tensor {e.name!r}: {e.enc_type} encoding without 'block_size'")
            offset = np.broadcast_to(offset, scale.shape)
            add(out, Encoding(e.name, "int", bw, scale.astype(np.float32), offset.astype(np.float32), e.is_sym, gran,
                              block_size=e.block_size, version="1.0.0", extra=extra), source)
    return EncodingsFile("1.0.0", out)


def entry(enc: Encoding, shape=None, channel_axis=None) -> dict:
    """One tensor's 1.0.0 entry."""
    if enc.is_float:
        if enc.float_format != "float16":
            raise EncodingsError(f"tensor {enc.name!r}: a {enc.float_format} encoding cannot be expressed in 1.0.0")
        return {"bw": int(enc.bitwidth), "dtype": "FLOAT", "enc_type": "PER_TENSOR", "name": enc.name}
    if enc.granularity == Granularity.PER_BLOCK:
        scale, offset, ch, block_axis = implied_blocks(enc, shape, channel_axis, "1.0.0")
        order = lambda a: np.moveaxis(np.moveaxis(a, ch, 0), block_axis if block_axis > ch else block_axis + 1, 1)  # noqa: E731
        scale, offset = order(scale).reshape(-1), order(offset).reshape(-1)
        return {"block_size": int(enc.block_size), "bw": int(enc.bitwidth), "dtype": "INT", "enc_type": "PER_BLOCK",
                "is_sym": bool(enc.symmetric), "name": enc.name, "offset": [float(o) for o in offset],
                "scale": [f32(s) for s in scale]}
    scale = np.asarray(enc.scale, np.float32).reshape(-1)
    offset = np.broadcast_to(np.asarray(enc.offset, np.float32).reshape(-1), scale.shape)
    enc_type = "PER_TENSOR" if enc.granularity == Granularity.PER_TENSOR else "PER_CHANNEL"
    return {"bw": int(enc.bitwidth), "dtype": "INT", "enc_type": enc_type, "is_sym": bool(enc.symmetric),
            "name": enc.name, "offset": [float(o) for o in offset], "scale": [f32(s) for s in scale]}


def write(job: WriteJob) -> dict:
    par, act = params_and_activations(job, entry)
    return {"activation_encodings": [e for _, e in act], "param_encodings": [e for _, e in par]}


def source_layout(data: dict):
    """(parameter names, names in file order, quantizer_args) as the file states them."""
    return two_section_layout(data, [])


def replace_entries(data: dict, changed: dict, params, shapes, axis) -> dict:
    """`data` (a copy of a file's JSON) with the encodings in `changed` rewritten (None: removed)."""
    for section in FORMAT.sections:
        data[section] = replace_in_list(data.get(section), changed,
                                        lambda n: entry(changed[n], shapes.get(n), axis(n)))
    return data
