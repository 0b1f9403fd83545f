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
from typing import Any, Collection, Literal, Optional, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from . import safe_io
from .errors import EncodingsError
from .paths import checked_path
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


def no_encodings_warning(enc: EncodingsFile) -> str:
    """The warning for an encodings file that quantizes nothing although the user asked for quantization."""
    bias = f" (only {len(enc.int32_bias)} int32 bias encoding(s), which AIMET's simulation does not apply)" \
        if enc.int32_bias else ""
    return (f"encodings file {enc.path or '<encodings>'!r} (version {enc.version}) holds no encodings{bias}: nothing is "
            f"quantized, the model runs in float")


# ---------------------------------------------------------------------------------------------
# Entry schemas, one per version. Extra keys are allowed: the toolchain's files carry more.

class _Entry(BaseModel):
    model_config = ConfigDict(extra="allow")

    @field_validator("bitwidth", "bw", "compressed_bw", "block_size", "axis", mode="before", check_fields=False)
    @classmethod
    def _not_bool(cls, v):
        if isinstance(v, bool):  # JSON true/false: pydantic would read them as 1/0
            raise ValueError(f"expected an integer, got the boolean {json.dumps(v)}")
        return v


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

def load_encodings(path: str | os.PathLike, known: Optional[Collection[str]] = None, model: str = "") -> EncodingsFile:
    """Read and parse an encodings file; every problem is an EncodingsError naming the file.

    `known`: the model's tensor names; a file naming tensors the model does not have is refused before its
    entries are parsed (a huge file for the wrong model fails fast); `model` names the model in that error."""
    path = checked_path(path, "encodings file", EncodingsError, expected="an AIMET .encodings JSON file")
    limit_name = "SIMULATOR_MAX_JSON_BYTES"
    raw = safe_io.read_bytes(path, "encodings file", EncodingsError, max_bytes=safe_io.limit(limit_name),
                             limit_name=limit_name)
    try:
        text = raw.decode("utf-8")
        del raw
        if known is not None:  # names first, in a light pass that keeps only each entry's name
            names = json.loads(text, object_pairs_hook=_names_only)
            if isinstance(names, dict) and isinstance(names.get("version", ""), (str, type(None))):
                version = names.get("version") or ("0.6.1" if "encodings" not in names else "2.0.0")
                _check_names(names, version, path, known, model)
            del names
        data = json.loads(text)
        del text
    except RecursionError:
        raise EncodingsError(f"encodings file {path!r} is not an encodings file: its JSON is nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError, integers too long to convert
        raise EncodingsError(f"encodings file {path!r} is not valid JSON: {exc}") from None
    except OSError as exc:
        raise EncodingsError(f"cannot read encodings file {path!r}: {exc.strerror}") from None
    parsed = parse_encodings(data, source=path)
    parsed.path = path
    return parsed


def parse_encodings(data: Any, source: str = "<encodings>", known: Optional[Collection[str]] = None,
                    model: str = "") -> EncodingsFile:
    """Parse encodings already read from JSON (a dict); `known` as in load_encodings."""
    if not isinstance(data, dict):
        raise EncodingsError(f"{source}: expected a JSON object at the top level, got {type(data).__name__}")
    version = data.get("version")
    if version is None:  # the toolchain writes null (or nothing) for 0.6.1
        version = "0.6.1" if "encodings" not in data else "2.0.0"
    if not isinstance(version, str):
        raise EncodingsError(f"{source}: 'version' must be a string such as \"1.0.0\", got {type(version).__name__} "
                             f"{_short(version)}")
    if version not in SUPPORTED_VERSIONS:
        raise EncodingsError(f"{source}: unsupported encodings version {_short(version)}; supported: "
                             f"{', '.join(SUPPORTED_VERSIONS)}")
    _check_layout(data, version, source)
    if known is not None:
        _check_names(data, version, source, known, model)
    try:
        if version == "0.6.1":
            return _parse_061(data, source)
        if version == "1.0.0":
            return _parse_100(data, source)
        return _parse_2x(data, source, version)
    except RecursionError:
        raise EncodingsError(f"{source}: the encodings are nested too deeply") from None
    except (ValueError, TypeError, ArithmeticError, IndexError, KeyError, AttributeError) as exc:
        # A safety net: every check above names the tensor; what slips through still is an EncodingsError.
        raise EncodingsError(f"{source}: malformed encodings ({type(exc).__name__}: {exc})") from None


_LAYOUT_KEYS = {"1.x": ("activation_encodings", "param_encodings"), "2.x": ("encodings",)}


def _check_layout(data: dict, version: str, source: str) -> None:
    """A file must have the layout of the version it names: 2.x keeps one 'encodings' list, 0.6.1 and 1.0.0
    the 'activation_encodings' and 'param_encodings' sections. Otherwise it would parse to nothing."""
    mine, other = ("2.x", "1.x") if version.startswith("2.") else ("1.x", "2.x")
    if not any(k in data for k in _LAYOUT_KEYS[mine]) and any(k in data for k in _LAYOUT_KEYS[other]):
        raise EncodingsError(f"{source}: the file says \"version\": {version!r} but has the layout of another version "
                             f"(keys {', '.join(repr(k) for k in _LAYOUT_KEYS[other] if k in data)}; version "
                             f"{version} keeps its encodings in {' and '.join(repr(k) for k in _LAYOUT_KEYS[mine])}); "
                             f"fix the version or the layout")


def _names_only(pairs):
    """json object_pairs_hook of the names pass: an entry becomes its name (1.0.0, 2.x) or 0 (0.6.1, whose
    names are the section's keys), so that a file of a million entries costs a list of names. 2.x int32
    bias entries become None: the session checks their names only when it applies them."""
    d = dict(pairs)
    if isinstance(d.get("name"), str):
        return None if str(d.get("output_dtype", "")).lower() in ("int32", "uint32") else d["name"]
    return 0 if "bitwidth" in d else d


def _check_names(data: dict, version: str, source: str, known: Collection[str], model: str) -> None:
    """The tensor names of the raw entries (dicts, or names from the names pass), checked against the model
    before any entry is parsed."""
    names: list = []
    for section in (_LAYOUT_KEYS["2.x"] if version.startswith("2.") else _LAYOUT_KEYS["1.x"]):
        entries = data.get(section)
        if isinstance(entries, dict):
            names.extend(entries)
        elif isinstance(entries, list):
            names.extend(e if isinstance(e, str) else e.get("name") for e in entries
                         if isinstance(e, str) or isinstance(e, dict) and isinstance(e.get("name"), str))
    unknown = [n for n in names if n not in known and not (n.endswith("_updated") and n[:-len("_updated")] in known)]
    if unknown:
        raise EncodingsError(f"{source}: {len(unknown)} encoded tensor(s) do not exist in "
                             f"{f'model {model!r}' if model else 'the model'}: {describe_names(unknown)}")


def _short(value, limit=60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _array(value, name, what, source) -> np.ndarray:
    """A (nested) list of numbers as a float64 array, or an EncodingsError naming the tensor and field."""
    try:
        out = np.asarray(value, dtype=np.float64)
    except (ValueError, TypeError, RecursionError) as exc:
        raise EncodingsError(f"{source}: tensor {name!r}: {what} must be a number or a (nested, rectangular) list "
                             f"of numbers: {str(exc).splitlines()[0]}") from None
    return out


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
    with np.errstate(over="ignore", under="ignore"):
        as_float32 = scale.astype(np.float32)
    bad = ~np.isfinite(as_float32) | (as_float32 <= 0)
    if bad.any():
        value = scale.reshape(-1)[np.argmax(bad.reshape(-1))]
        raise EncodingsError(f"{source}: tensor {name!r}: scale {value} is out of float32's range (it would become "
                             f"{as_float32.reshape(-1)[np.argmax(bad.reshape(-1))]}); scales are float32")


def _check_offset(name, offset, source):
    offset = np.asarray(offset, dtype=np.float64)
    # Offsets are integers on a grid of at most 2^32 steps; anything far larger is not an encoding
    # (and would overflow float32).
    bad = ~np.isfinite(offset) | (np.abs(np.nan_to_num(offset)) > 2.0 ** 33)
    if bad.any():
        raise EncodingsError(f"{source}: tensor {name!r}: offset {offset.reshape(-1)[np.argmax(bad.reshape(-1))]} is "
                             f"not a finite number within +-2^33")


def _check_zero_point(name, zp, signed, bw, dtype, source):
    """A 2.x zero point is an integer of the output dtype's range (uint8: 0..255, int8: -128..127)."""
    lo, hi = (-(2.0 ** (bw - 1)), 2.0 ** (bw - 1) - 1) if signed else (0.0, 2.0 ** bw - 1)
    bad = (zp < lo) | (zp > hi) | (zp != np.round(zp))
    if bad.any():
        raise EncodingsError(f"{source}: tensor {name!r}: y_zero_point {zp.reshape(-1)[np.argmax(bad.reshape(-1))]:g} "
                             f"is not an integer in {dtype}'s range [{lo:.0f}, {hi:.0f}]")


def _check_float(name, bw, source):
    if bw not in (16, 32):
        raise EncodingsError(f"{source}: tensor {name!r}: float encodings must have bitwidth 16 (or 32), got {bw}")


def lpbq_block_scales(int_scale: np.ndarray, float_scale: np.ndarray) -> np.ndarray:
    """LPBQ block scales as AIMET forms them: the file's per-block integer scale times its per-channel
    float scale, multiplied in float64 (the values as the file states them) and rounded once to float32.
    Rounding the float scale to float32 first and multiplying in float32 differs in the last bit on
    some blocks (683 of 5,120 on a 4-bit decoder)."""
    return (np.asarray(int_scale, np.float64) * np.asarray(float_scale, np.float64)).astype(np.float32)


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
            _check_offset(name, offset, source)
            gran = Granularity.PER_CHANNEL if len(parsed) > 1 else Granularity.PER_TENSOR
            # A list may also be blockwise (n_blocks x n_channels entries): told apart once bound to its weight.
            _add(out, Encoding(name, "int", first.bitwidth, scale.astype(np.float32), offset.astype(np.float32),
                               first.is_symmetric, gran, version="0.6.1",
                               extra={"flat_blocks": True} if len(parsed) > 1 else {}), source)
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
                _check_int(e.name, e.compressed_bw, scale, source)
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
            _check_int(e.name, bw, scale, source)
            _check_offset(e.name, offset, source)
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
                int_scale = _array(e.per_block_int_scale, e.name, "per_block_int_scale", source)
                float_scale = _array(e.per_channel_float_scale, e.name, "per_channel_float_scale", source)
                try:
                    np.broadcast_shapes(int_scale.shape, float_scale.shape)
                except ValueError:
                    raise EncodingsError(f"{source}: tensor {e.name!r}: per_block_int_scale of shape "
                                         f"{int_scale.shape} does not fit per_channel_float_scale of shape "
                                         f"{float_scale.shape}") from None
                _check_int(e.name, bw, float_scale, source)
                scale = lpbq_block_scales(int_scale, float_scale)
            elif e.y_scale is None:
                raise EncodingsError(f"{source}: tensor {e.name!r}: missing 'y_scale'")
            else:
                scale = _array(e.y_scale, e.name, "y_scale", source)
            _check_int(e.name, bw, scale, source)
            zp = _array(e.y_zero_point if e.y_zero_point is not None else 0, e.name, "y_zero_point", source)
            _check_offset(e.name, zp, source)
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
                _add(out, enc, source)
    return EncodingsFile(version, out, int32)


# Ops whose output AIMET does not quantize: they move or select values, the grid passes through
# (calibrate leaves them without an encoding; the comparison page hides them by default).
DATA_MOVEMENT_OPS = frozenset({
    "Reshape", "Transpose", "Split", "Slice", "MaxPool", "GlobalMaxPool", "Identity", "Flatten", "Squeeze",
    "Unsqueeze", "Pad", "Expand", "Tile", "Gather", "GatherElements", "GatherND", "DepthToSpace",
    "SpaceToDepth", "Dropout", "Cast", "Shape", "Size", "ConstantOfShape", "NonZero", "TopK", "ArgMax", "ArgMin",
})


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


__all__ = ["EncodingsFile", "load_encodings", "no_encodings_warning", "parse_encodings", "channel_axis_for_param", "DATA_MOVEMENT_OPS", "SUPPORTED_VERSIONS",
           "math"]
