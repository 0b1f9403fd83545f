"""AIMET encodings 2.0.0 and 2.1.0: {"encodings": [{name, output_dtype, y_scale, [y_zero_point], [axis],
[block_size], [per_block_int_scale, per_channel_float_scale]}], ...} (QuantizeLinear's terms).

Written as 2.0.0: parameters first, then activations; activations unsigned (uintN, zero point = −offset, as
AIMET's force_activation_as="unsigned"), symmetric parameters signed (intN, zero point omitted when 0),
asymmetric parameters unsigned. 2.0.0 cannot express float16 quantizers. int32/uint32 entries are bias
encodings that AIMET's simulation does not apply: kept apart (EncodingsFile.int32_bias) and written back.
"""
from __future__ import annotations

import re
from typing import Optional, Union

import numpy as np

from ..errors import EncodingsError
from ..quantization import Encoding, Granularity
from .common import (EncodingsFile, EntryBase, FileFormat, add, array, check_int, check_offset, entry_name, lpbq_block_scales,
                     replace_in_list, sections, validated)
from .layout import WriteJob, blocks, f32, nested, zp_value

FORMAT = FileFormat(("2.0.0", "2.1.0"), "2.0.0", ("encodings",), params_stated=False, keeps_int32_bias=True,
                    keeps_quantizer_args=False)

Nested = Union[float, list]


class Entry200(EntryBase):
    name: str
    output_dtype: str
    y_scale: Optional[Nested] = None
    y_zero_point: Optional[Nested] = None
    axis: Optional[int] = None
    block_size: Optional[int] = None
    per_block_int_scale: Optional[Nested] = None
    per_channel_float_scale: Optional[Nested] = None


_DTYPE_RE = re.compile(r"^(u?int)(\d+)$")


def _check_zero_point(name, zp, signed, bw, dtype, source):
    """A 2.x zero point is an integer of the output dtype's range (uint8: 0..255, int8: -128..127)."""
    lo, hi = (-(2.0 ** (bw - 1)), 2.0 ** (bw - 1) - 1) if signed else (0.0, 2.0 ** bw - 1)
    bad = (zp < lo) | (zp > hi) | (zp != np.round(zp))
    if bad.any():
        raise EncodingsError(f"{source}: tensor {name!r}: y_zero_point {zp.reshape(-1)[np.argmax(bad.reshape(-1))]:g} "
                             f"is not an integer in {dtype}'s range [{lo:.0f}, {hi:.0f}]")


def parse(data, source, version) -> EncodingsFile:
    out: dict[str, Encoding] = {}
    int32: dict[str, Encoding] = {}
    for _, entries in sections(data, source, FORMAT.sections, list):
        for raw in entries:
            e = validated(Entry200, raw, source, entry_name(raw))
            dtype = e.output_dtype.lower()
            if dtype in ("float16", "bfloat16", "fp16", "bf16"):
                fmt = "bfloat16" if dtype.startswith("b") else "float16"
                add(out, Encoding(e.name, "float", 16, float_format=fmt, version=version), source)
                continue
            m = _DTYPE_RE.match(dtype)
            if not m:
                raise EncodingsError(f"{source}: tensor {e.name!r}: unsupported output_dtype {e.output_dtype!r}")
            signed, bw = m.group(1) == "int", int(m.group(2))
            if e.per_block_int_scale is not None:  # LPBQ: block int scale x channel float scale
                if e.per_channel_float_scale is None:
                    raise EncodingsError(f"{source}: tensor {e.name!r}: LPBQ needs 'per_channel_float_scale'")
                int_scale = array(e.per_block_int_scale, e.name, "per_block_int_scale", source)
                float_scale = array(e.per_channel_float_scale, e.name, "per_channel_float_scale", source)
                try:
                    np.broadcast_shapes(int_scale.shape, float_scale.shape)
                except ValueError:
                    raise EncodingsError(f"{source}: tensor {e.name!r}: per_block_int_scale of shape "
                                         f"{int_scale.shape} does not fit per_channel_float_scale of shape "
                                         f"{float_scale.shape}") from None
                check_int(e.name, bw, float_scale, source)
                scale = lpbq_block_scales(int_scale, float_scale)
            elif e.y_scale is None:
                raise EncodingsError(f"{source}: tensor {e.name!r}: missing 'y_scale'")
            else:
                scale = array(e.y_scale, e.name, "y_scale", source)
            check_int(e.name, bw, scale, source)
            zp = array(e.y_zero_point if e.y_zero_point is not None else 0, e.name, "y_zero_point", source)
            check_offset(e.name, zp, source)
            _check_zero_point(e.name, zp, signed, bw, dtype, source)
            offset = -zp - (2.0 ** (bw - 1) if signed else 0.0)
            if offset.size not in (1, scale.size):
                raise EncodingsError(f"{source}: tensor {e.name!r}: {offset.size} zero points for {scale.size} scales")
            offset = np.broadcast_to(offset, scale.shape)
            if e.block_size:
                gran, axis, block_axis = Granularity.PER_BLOCK, None, e.axis
            elif scale.size > 1 or e.axis is not None:
                gran, axis, block_axis = Granularity.PER_CHANNEL, e.axis, None
                scale, offset = scale.reshape(-1), offset.reshape(-1)
            else:
                gran, axis, block_axis = Granularity.PER_TENSOR, None, None
            enc = Encoding(e.name, "int", bw, scale.astype(np.float32), offset.astype(np.float32), signed, gran,
                           axis=axis, block_axis=block_axis, block_size=e.block_size, version=version)
            if bw == 32:  # bias encodings: export-only in AIMET's simulation
                if e.name in int32:
                    raise EncodingsError(f"{source}: tensor {e.name!r} has two encodings")
                int32[e.name] = enc
            else:
                add(out, enc, source)
    return EncodingsFile(version, out, int32)


def entry(enc: Encoding, is_param: bool, shape=None, channel_axis=None,
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
            scale, offset, _, block_axis = blocks(enc, shape, channel_axis)
        zp = -np.asarray(offset, np.float64) - shift
        out.update({"axis": int(block_axis), "block_size": int(enc.block_size), "y_scale": nested(scale, f32)})
        if np.any(zp != 0):
            out["y_zero_point"] = nested(zp, zp_value)
        return out, notes
    scale = np.asarray(enc.scale, np.float32).reshape(-1)
    zp = -np.broadcast_to(np.asarray(enc.offset, np.float64).reshape(-1), scale.shape) - shift
    if enc.granularity == Granularity.PER_TENSOR:
        out["y_scale"] = f32(scale[0])
        if zp[0] != 0:
            out["y_zero_point"] = zp_value(zp[0])
        return out, notes
    axis = enc.axis if enc.axis is not None else channel_axis
    if axis is None:
        notes.append(f"tensor {enc.name!r}: per-channel axis unknown ({no_axis_why}); written without 'axis'")
    else:
        out["axis"] = int(axis)
    out["y_scale"] = [f32(s) for s in scale]
    if np.any(zp != 0):
        out["y_zero_point"] = [zp_value(z) for z in zp]
    return out, notes


def write(job: WriteJob) -> dict:
    par_entries, act_entries = [], []
    for n in job.names:
        written, notes = entry(job.encodings[n], n in job.params, job.inits.get(n), job.axis_of(n), job.no_axis_why(n))
        job.notes += notes
        (par_entries if n in job.params else act_entries).append(written)
    for n, enc in job.int32_bias.items():
        par_entries.append(entry(enc, True, None, job.axis_of(n))[0])
    return {"encodings": par_entries + act_entries}


def source_layout(data: dict):
    """(parameter names, names in file order, quantizer_args). A 2.x file does not say which entries are
    parameters: those stated signed or per-channel are taken for them (the model's weights decide when it is
    given: params_stated is False)."""
    params = {e.get("name") for e in data.get("encodings") or []
              if isinstance(e, dict) and (str(e.get("output_dtype", "")).startswith("int") or "axis" in e)}
    order = [e.get("name") for e in data.get("encodings") or [] if isinstance(e, dict)]
    return params, order, None



def replace_entries(data: dict, changed: dict, params, shapes, axis) -> dict:
    """`data` (a copy of a file's JSON) with the encodings in `changed` rewritten (None: removed)."""
    data["encodings"] = replace_in_list(data.get("encodings"), changed,
                                        lambda n: entry(changed[n], n in params, shapes.get(n), axis(n))[0])
    return data
