"""AIMET encodings files (0.6.1, 1.0.0, 2.0.0, 2.1.0) parsed into one version-independent form.

`load_encodings(path)` returns an `EncodingsFile` whose `encodings` maps tensor names to
`quantization.Encoding`. The layouts and their (scale, offset) interpretation follow the numeric
contract (docs/quantization.md): offsets are kept in AIMET's unsigned convention.
"""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, Literal, Optional, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from .errors import EncodingsError
from .quantization import Encoding, Granularity

SUPPORTED_VERSIONS = ("0.6.1", "1.0.0", "2.0.0", "2.1.0")


@dataclass
class EncodingsFile:
    version: str
    encodings: dict[str, Encoding]
    # 2.x entries that AIMET's simulation does not apply (int32 bias encodings), by name.
    int32_bias: dict[str, Encoding] = field(default_factory=dict)
    path: str = ""

    @property
    def is_empty(self) -> bool:
        return not self.encodings


# ---------------------------------------------------------------------------------------------
# Entry schemas, one per version. Extra keys are allowed: the toolchain's files carry more.

class _Entry(BaseModel):
    model_config = ConfigDict(extra="allow")


class Entry061(_Entry):
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


class Entry100(_Entry):
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


Nested = Union[float, list]


class Entry200(_Entry):
    name: str
    output_dtype: str
    y_scale: Optional[Nested] = None
    y_zero_point: Optional[Nested] = None
    axis: Optional[int] = None
    block_size: Optional[int] = None
    per_block_int_scale: Optional[Nested] = None
    per_channel_float_scale: Optional[Nested] = None


# ---------------------------------------------------------------------------------------------

def load_encodings(path: str | os.PathLike) -> EncodingsFile:
    """Read and parse an encodings file; every problem is an EncodingsError naming the file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise EncodingsError(f"encodings file {path!r} does not exist")
    if os.path.isdir(path):
        raise EncodingsError(f"encodings path {path!r} is a folder; expected an AIMET .encodings JSON file")
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EncodingsError(f"encodings file {path!r} is not valid JSON: {exc}") from None
    except OSError as exc:
        raise EncodingsError(f"cannot read encodings file {path!r}: {exc.strerror}") from None
    parsed = parse_encodings(data, source=path)
    parsed.path = path
    return parsed


def parse_encodings(data: Any, source: str = "<encodings>") -> EncodingsFile:
    """Parse encodings already read from JSON (a dict)."""
    if not isinstance(data, dict):
        raise EncodingsError(f"{source}: expected a JSON object at the top level, got {type(data).__name__}")
    version = data.get("version")
    if version is None:  # the toolchain writes null (or nothing) for 0.6.1
        version = "0.6.1" if "encodings" not in data else "2.0.0"
    version = str(version)
    if version not in SUPPORTED_VERSIONS:
        raise EncodingsError(f"{source}: unsupported encodings version {version!r}; supported: {', '.join(SUPPORTED_VERSIONS)}")
    if version == "0.6.1":
        return _parse_061(data, source)
    if version == "1.0.0":
        return _parse_100(data, source)
    return _parse_2x(data, source, version)


def _sections(data, source, names, kind):
    for section in names:
        value = data.get(section, {} if kind is dict else [])
        if value is None:
            value = kind()
        if not isinstance(value, kind):
            raise EncodingsError(f"{source}: '{section}' must be a JSON {'object' if kind is dict else 'list'}, "
                                 f"got {type(value).__name__}")
        yield section, value


def _validated(model, raw, source, name):
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'entry'}: {e['msg']}" for e in exc.errors())
        raise EncodingsError(f"{source}: encoding of tensor {name!r} is malformed: {problems}") from None


def _add(out: dict, enc: Encoding, source: str):
    if enc.name in out and out[enc.name] != enc:
        raise EncodingsError(f"{source}: tensor {enc.name!r} has two different encodings")
    out[enc.name] = enc


def _check_int(name, bw, scale, source, placeholder_ok=False):
    if not 1 <= bw <= 32:
        raise EncodingsError(f"{source}: tensor {name!r}: bitwidth {bw} is out of range (1 to 32)")
    scale = np.asarray(scale, dtype=np.float64)
    if scale.size == 0:
        raise EncodingsError(f"{source}: tensor {name!r}: integer encoding without a scale")
    bad = ~np.isfinite(scale) | (scale <= 0)
    if bad.any():
        value = scale.reshape(-1)[np.argmax(bad.reshape(-1))]
        raise EncodingsError(f"{source}: tensor {name!r}: scale {value} is not a positive finite number"
                             + (" (a placeholder encoding that was never calibrated?)" if value == 0 else ""))


def _check_float(name, bw, source):
    if bw not in (16, 32):
        raise EncodingsError(f"{source}: tensor {name!r}: float encodings must have bitwidth 16 (or 32), got {bw}")


def _parse_061(data, source) -> EncodingsFile:
    out: dict[str, Encoding] = {}
    for section, entries in _sections(data, source, ("activation_encodings", "param_encodings"), dict):
        for name, raw in entries.items():
            channels = raw if isinstance(raw, list) else [raw]
            if not channels:
                raise EncodingsError(f"{source}: tensor {name!r} in {section} has an empty encoding list")
            parsed = [_validated(Entry061, c, source, name) for c in channels]
            first = parsed[0]
            if any(p.dtype != first.dtype or p.bitwidth != first.bitwidth for p in parsed):
                raise EncodingsError(f"{source}: tensor {name!r}: channels disagree on dtype or bitwidth")
            if first.dtype == "float":
                _check_float(name, first.bitwidth, source)
                _add(out, Encoding(name, "float", first.bitwidth, version="0.6.1"), source)
                continue
            if any(p.scale is None or p.offset is None for p in parsed):
                raise EncodingsError(f"{source}: tensor {name!r}: integer encoding needs 'scale' and 'offset'")
            scale = np.array([p.scale for p in parsed], dtype=np.float64)
            _check_int(name, first.bitwidth, scale, source)
            offset = np.array([p.offset for p in parsed], dtype=np.float64)
            gran = Granularity.PER_CHANNEL if len(parsed) > 1 else Granularity.PER_TENSOR
            _add(out, Encoding(name, "int", first.bitwidth, scale.astype(np.float32), offset.astype(np.float32),
                               first.is_symmetric, gran, version="0.6.1"), source)
    return EncodingsFile("0.6.1", out)


def _parse_100(data, source) -> EncodingsFile:
    out: dict[str, Encoding] = {}
    for section, entries in _sections(data, source, ("activation_encodings", "param_encodings"), list):
        for raw in entries:
            name = raw.get("name", "<unnamed>") if isinstance(raw, dict) else "<not an object>"
            e = _validated(Entry100, raw, source, name)
            if e.dtype == "FLOAT":
                _check_float(e.name, e.bw, source)
                _add(out, Encoding(e.name, "float", e.bw, version="1.0.0"), source)
                continue
            if e.scale is None or e.offset is None:
                raise EncodingsError(f"{source}: tensor {e.name!r}: integer encoding needs 'scale' and 'offset'")
            scale = np.array(e.scale, dtype=np.float64)
            offset = np.array(e.offset, dtype=np.float64)
            if e.zero_point_shift is not None:
                offset = offset + np.array(e.zero_point_shift, dtype=np.float64)
            bw = e.bw
            gran = {"PER_TENSOR": Granularity.PER_TENSOR, "PER_CHANNEL": Granularity.PER_CHANNEL}.get(
                e.enc_type, Granularity.PER_BLOCK)
            extra = {"transposed_blocks": True}
            if e.enc_type == "LPBQ":
                if e.per_block_int_scale is None or e.compressed_bw is None:
                    raise EncodingsError(f"{source}: tensor {e.name!r}: LPBQ needs 'per_block_int_scale' and 'compressed_bw'")
                int_scale = np.array(e.per_block_int_scale, dtype=np.float64)
                if int_scale.size % max(scale.size, 1):
                    raise EncodingsError(f"{source}: tensor {e.name!r}: {int_scale.size} per-block int scales do not "
                                         f"divide into {scale.size} per-channel scales")
                # (channel, block) order: each channel's float scale times its blocks' int scales.
                per_channel = np.repeat(scale, int_scale.size // scale.size)
                scale = (int_scale.astype(np.float32) * per_channel.astype(np.float32)).astype(np.float64)
                bw = e.compressed_bw
                offset = np.full(scale.shape, -(2.0 ** (bw - 1)))
            elif offset.size not in (1, scale.size):
                raise EncodingsError(f"{source}: tensor {e.name!r}: {offset.size} offsets for {scale.size} scales")
            _check_int(e.name, bw, scale, source)
            if gran == Granularity.PER_TENSOR and scale.size != 1:
                raise EncodingsError(f"{source}: tensor {e.name!r}: PER_TENSOR encoding with {scale.size} scales")
            if gran == Granularity.PER_BLOCK and not e.block_size:
                raise EncodingsError(f"{source}: tensor {e.name!r}: {e.enc_type} encoding without 'block_size'")
            offset = np.broadcast_to(offset, scale.shape)
            _add(out, Encoding(e.name, "int", bw, scale.astype(np.float32), offset.astype(np.float32), e.is_sym, gran,
                               block_size=e.block_size, version="1.0.0", extra=extra), source)
    return EncodingsFile("1.0.0", out)


_DTYPE_RE = re.compile(r"^(u?int)(\d+)$")


def _parse_2x(data, source, version) -> EncodingsFile:
    out: dict[str, Encoding] = {}
    int32: dict[str, Encoding] = {}
    for _, entries in _sections(data, source, ("encodings",), list):
        for raw in entries:
            name = raw.get("name", "<unnamed>") if isinstance(raw, dict) else "<not an object>"
            e = _validated(Entry200, raw, source, name)
            dtype = e.output_dtype.lower()
            if dtype in ("float16", "bfloat16", "fp16", "bf16"):
                fmt = "bfloat16" if dtype.startswith("b") else "float16"
                _add(out, Encoding(e.name, "float", 16, float_format=fmt, version=version), source)
                continue
            m = _DTYPE_RE.match(dtype)
            if not m:
                raise EncodingsError(f"{source}: tensor {e.name!r}: unsupported output_dtype {e.output_dtype!r}")
            signed, bw = m.group(1) == "int", int(m.group(2))
            if e.per_block_int_scale is not None:  # LPBQ: block int scale x channel float scale
                if e.per_channel_float_scale is None:
                    raise EncodingsError(f"{source}: tensor {e.name!r}: LPBQ needs 'per_channel_float_scale'")
                scale = (np.asarray(e.per_block_int_scale, dtype=np.float32)
                         * np.asarray(e.per_channel_float_scale, dtype=np.float32)).astype(np.float64)
            elif e.y_scale is None:
                raise EncodingsError(f"{source}: tensor {e.name!r}: missing 'y_scale'")
            else:
                scale = np.asarray(e.y_scale, dtype=np.float64)
            _check_int(e.name, bw, scale, source)
            zp = np.asarray(e.y_zero_point if e.y_zero_point is not None else 0, dtype=np.float64)
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
                _add(out, enc, source)
    return EncodingsFile(version, out, int32)


def channel_axis_for_param(consumers: list[tuple[str, int, dict]], rank: int) -> int | None:
    """The per-channel axis AIMET uses for a weight, from the ops that consume it.

    consumers: (op_type, input_index, attributes) of each node reading the tensor (through
    Identity/Transpose already resolved by the caller). Conv -> 0; ConvTranspose -> 1;
    Gemm -> 0 if transB else 1; MatMul (input 1) -> last axis (-2 if a Transpose sits between).
    """
    for op_type, index, attrs in consumers:
        if op_type in ("Conv", "ConvInteger", "QLinearConv") and index == 1:
            return 0
        if op_type == "ConvTranspose" and index == 1:
            return 1
        if op_type == "Gemm" and index == 1:
            return 0 if attrs.get("transB", 0) else 1
        if op_type == "Gemm" and index == 0:
            return 1 if attrs.get("transA", 0) else 0
        if op_type == "MatMul" and index == 1:
            return rank - 1
        if op_type == "MatMul" and index == 0:
            return rank - 2 if rank >= 2 else 0
        if op_type == "Transpose->MatMul":
            return rank - 2
    return None


def describe_names(names, limit=20) -> str:
    names = sorted(names)
    more = f" ... and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(repr(n) for n in names[:limit]) + more


__all__ = ["EncodingsFile", "load_encodings", "parse_encodings", "channel_axis_for_param", "SUPPORTED_VERSIONS",
           "math"]
