"""What every encodings version shares: the parsed form (`EncodingsFile`), the entry schema's base, and the
checks that turn a malformed entry into an EncodingsError naming the file and the tensor."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from ..errors import EncodingsError
from ..quantization import Encoding


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


@dataclass(frozen=True)
class FileFormat:
    """What a version module declares about its files (its FORMAT, which sniff's table reads)."""
    reads: tuple[str, ...]  # the "version" values it parses
    writes: str | None  # the version it writes
    sections: tuple[str, ...]  # its top-level keys holding entries
    params_stated: bool = True  # the file says which entries are parameters (2.x does not: the model decides)
    keeps_int32_bias: bool = False  # it can hold 2.x's int32 bias encodings
    keeps_quantizer_args: bool = True  # it carries AIMET's "quantizer_args"


def no_encodings_warning(enc: EncodingsFile) -> str:
    """The warning for an encodings file that quantizes nothing although the user asked for quantization."""
    bias = f" (only {len(enc.int32_bias)} int32 bias encoding(s), which AIMET's simulation does not apply)" \
        if enc.int32_bias else ""
    return (f"encodings file {enc.path or '<encodings>'!r} (version {enc.version}) holds no encodings{bias}: nothing is "
            f"quantized, the model runs in float")


def describe_names(names, limit=20) -> str:
    names = sorted(names)
    more = f" ... and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(repr(n) for n in names[:limit]) + more


def short(value, limit=60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


class EntryBase(BaseModel):
    """The base of every version's entry schema. Extra keys are allowed: the toolchain's files carry more."""
    model_config = ConfigDict(extra="allow")

    @field_validator("bitwidth", "bw", "compressed_bw", "block_size", "axis", mode="before", check_fields=False)
    @classmethod
    def _not_bool(cls, v):
        if isinstance(v, bool):  # JSON true/false: pydantic would read them as 1/0
            raise ValueError(f"expected an integer, got the boolean {json.dumps(v)}")
        return v


def entry_name(raw) -> str:
    """The name of a list entry, for messages, before it is validated."""
    return raw.get("name", "<unnamed>") if isinstance(raw, dict) else "<not an object>"


def array(value, name, what, source) -> np.ndarray:
    """A (nested) list of numbers as a float64 array, or an EncodingsError naming the tensor and field."""
    try:
        out = np.asarray(value, dtype=np.float64)
    except (ValueError, TypeError, RecursionError) as exc:
        raise EncodingsError(f"{source}: tensor {name!r}: {what} must be a number or a (nested, rectangular) list "
                             f"of numbers: {str(exc).splitlines()[0]}") from None
    return out


def sections(data, source, names, kind):
    """(section name, its value) of each top-level section, checked to be a JSON object (kind dict) or list."""
    for section in names:
        value = data.get(section, {} if kind is dict else [])
        if value is None:
            value = kind()
        if not isinstance(value, kind):
            raise EncodingsError(f"{source}: '{section}' must be a JSON {'object' if kind is dict else 'list'}, "
                                 f"got {type(value).__name__}")
        yield section, value


def validated(model, raw, source, name):
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'entry'}: {e['msg']}" for e in exc.errors())
        raise EncodingsError(f"{source}: encoding of tensor {name!r} is malformed: {problems}") from None


def add(out: dict, enc: Encoding, source: str):
    if enc.name in out and out[enc.name] != enc:
        raise EncodingsError(f"{source}: tensor {enc.name!r} has two different encodings")
    out[enc.name] = enc


def check_int(name, bw, scale, source):
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


def check_offset(name, offset, source):
    offset = np.asarray(offset, dtype=np.float64)
    # Offsets are integers on a grid of at most 2^32 steps; anything far larger is not an encoding
    # (and would overflow float32).
    bad = ~np.isfinite(offset) | (np.abs(np.nan_to_num(offset)) > 2.0 ** 33)
    if bad.any():
        raise EncodingsError(f"{source}: tensor {name!r}: offset {offset.reshape(-1)[np.argmax(bad.reshape(-1))]} is "
                             f"not a finite number within +-2^33")


def check_float(name, bw, source):
    if bw not in (16, 32):
        raise EncodingsError(f"{source}: tensor {name!r}: float encodings must have bitwidth 16 (or 32), got {bw}")


def lpbq_block_scales(int_scale: np.ndarray, float_scale: np.ndarray) -> np.ndarray:
    """LPBQ block scales as AIMET forms them: the file's per-block integer scale times its per-channel
    float scale, multiplied in float64 (the values as the file states them) and rounded once to float32.
    Rounding the float scale to float32 first and multiplying in float32 differs in the last bit on
    some blocks (683 of 5,120 on a 4-bit decoder)."""
    return (np.asarray(int_scale, np.float64) * np.asarray(float_scale, np.float64)).astype(np.float32)


def replace_in_list(entries, changed: dict, new_entry) -> list:
    """A list section with the entries named in `changed` rewritten by new_entry(name) (None: removed)."""
    kept = []
    for e in entries or []:
        name = e.get("name") if isinstance(e, dict) else None
        if name not in changed:
            kept.append(e)
        elif changed[name] is not None:
            kept.append(new_entry(name))
    return kept
