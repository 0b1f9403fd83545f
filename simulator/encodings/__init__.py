"""AIMET encodings files (0.6.1, 1.0.0, 2.0.0, 2.1.0) parsed into one version-independent form.

`load_encodings(path)` returns an `EncodingsFile` whose `encodings` maps tensor names to
`quantization.Encoding`. The layouts and their (scale, offset) interpretation follow the numeric
contract (docs/quantization.md): offsets are kept in AIMET's unsigned convention.

One module per version (v0_6_1, v1_0_0, v2: its entry schema, parse and writer), the version table and the
checks made before parsing in sniff, what the versions share in common (parsing) and layout (writing), and
AIMET's version-independent rules in rules. tools.convert writes whole files through the version modules.
"""
from __future__ import annotations

import json
import os
from typing import Any, Collection, Optional

from .. import safe_io
from ..errors import EncodingsError
from ..paths import checked_path
from .common import EncodingsFile, describe_names, lpbq_block_scales, no_encodings_warning
from .rules import DATA_MOVEMENT_OPS, channel_axis_for_param
from .sniff import (FORMATS, SUPPORTED_VERSIONS, WRITE_VERSIONS, check_names, default_version, format_of,
                    names_only, sniff_version, writer_of)
from .v0_6_1 import Entry061
from .v1_0_0 import Entry100
from .v2 import Entry200


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
            names = json.loads(text, object_pairs_hook=names_only)
            if isinstance(names, dict) and isinstance(names.get("version", ""), (str, type(None))):
                check_names(names, names.get("version") or default_version(names), path, known, model)
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
    version = sniff_version(data, source)
    if known is not None:
        check_names(data, version, source, known, model)
    try:
        return format_of(version).parse(data, source, version)
    except RecursionError:
        raise EncodingsError(f"{source}: the encodings are nested too deeply") from None
    except (ValueError, TypeError, ArithmeticError, IndexError, KeyError, AttributeError) as exc:
        # A safety net: every check names the tensor; what slips through still is an EncodingsError.
        raise EncodingsError(f"{source}: malformed encodings ({type(exc).__name__}: {exc})") from None


__all__ = ["EncodingsFile", "load_encodings", "no_encodings_warning", "parse_encodings", "channel_axis_for_param",
           "DATA_MOVEMENT_OPS", "SUPPORTED_VERSIONS", "WRITE_VERSIONS", "FORMATS", "format_of", "writer_of",
           "describe_names", "lpbq_block_scales", "Entry061", "Entry100", "Entry200"]
