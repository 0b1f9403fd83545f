"""Which encodings version a file is, and the module that reads and writes it.

FORMATS is the one table of versions: each module (v0_6_1, v1_0_0, v2) declares its FORMAT (common.FileFormat:
the versions it reads, the one it writes, its top-level sections) and provides parse, entry, write, source_layout
and replace_entries. A new version
is a new module added to FORMATS. The checks here run before any entry is parsed: the version must be one we
read, the layout must be that version's, and (given the model's names) every encoded tensor must exist.
"""
from __future__ import annotations

from types import ModuleType
from typing import Collection

from ..errors import EncodingsError, ParameterError
from ..names import resolve_updated
from . import v0_6_1, v1_0_0, v2
from .common import describe_names, short

FORMATS: tuple[ModuleType, ...] = (v0_6_1, v1_0_0, v2)

SUPPORTED_VERSIONS = tuple(v for f in FORMATS for v in f.FORMAT.reads)
WRITE_VERSIONS = tuple(f.FORMAT.writes for f in FORMATS if f.FORMAT.writes)


def format_of(version: str) -> ModuleType:
    """The module reading `version` (a supported one)."""
    return next(f for f in FORMATS if version in f.FORMAT.reads)


def writer_of(version) -> ModuleType:
    """The module writing `version`; a ParameterError for a version we cannot write."""
    version = str(version)
    for f in FORMATS:
        if f.FORMAT.writes == version:
            return f
    raise ParameterError(f"cannot write encodings version {version!r}; supported: {', '.join(WRITE_VERSIONS)}")


def default_version(data: dict) -> str:
    """The version of a file that states none: the toolchain writes null (or nothing) for 0.6.1; a file
    holding 2.x's 'encodings' list is 2.0.0."""
    return "0.6.1" if "encodings" not in data else "2.0.0"


def sniff_version(data: dict, source: str) -> str:
    """The file's version, checked to be one we read and to match the file's layout."""
    version = data.get("version")
    if version is None:
        version = default_version(data)
    if not isinstance(version, str):
        raise EncodingsError(f"{source}: 'version' must be a string such as \"1.0.0\", got {type(version).__name__} "
                             f"{short(version)}")
    if version not in SUPPORTED_VERSIONS:
        raise EncodingsError(f"{source}: unsupported encodings version {short(version)}; supported: "
                             f"{', '.join(SUPPORTED_VERSIONS)}")
    check_layout(data, version, source)
    return version


def check_layout(data: dict, version: str, source: str) -> None:
    """A file must have the layout of the version it names (2.x keeps one 'encodings' list, 0.6.1 and 1.0.0 the
    'activation_encodings' and 'param_encodings' sections); otherwise it would parse to nothing."""
    mine = format_of(version).FORMAT.sections
    other = tuple(dict.fromkeys(k for f in FORMATS for k in f.FORMAT.sections if k not in mine))
    if not any(k in data for k in mine) and any(k in data for k in other):
        raise EncodingsError(f"{source}: the file says \"version\": {version!r} but has the layout of another version "
                             f"(keys {', '.join(repr(k) for k in other if k in data)}; version "
                             f"{version} keeps its encodings in {' and '.join(repr(k) for k in mine)}); "
                             f"fix the version or the layout")


def names_only(pairs):
    """json object_pairs_hook of the names pass: an entry becomes its name (1.0.0, 2.x) or 0 (0.6.1, whose
    names are the section's keys), so that a file of a million entries costs a list of names. 2.x int32
    bias entries become None: the session checks their names only when it applies them."""
    d = dict(pairs)
    if isinstance(d.get("name"), str):
        return None if str(d.get("output_dtype", "")).lower() in ("int32", "uint32") else d["name"]
    return 0 if "bitwidth" in d else d


def check_names(data: dict, version: str, source: str, known: Collection[str], model: str) -> None:
    """The tensor names of the raw entries (dicts, or names from the names pass), checked against the model
    before any entry is parsed. A version we do not read is left to sniff_version's message."""
    if version not in SUPPORTED_VERSIONS:
        return
    names: list = []
    for section in format_of(version).FORMAT.sections:
        entries = data.get(section)
        if isinstance(entries, dict):
            names.extend(entries)
        elif isinstance(entries, list):
            names.extend(e if isinstance(e, str) else e.get("name") for e in entries
                         if isinstance(e, str) or isinstance(e, dict) and isinstance(e.get("name"), str))
    unknown = [n for n in names if n not in known and resolve_updated(n, known) is None]
    if unknown:
        raise EncodingsError(f"{source}: {len(unknown)} encoded tensor(s) do not exist in "
                             f"{f'model {model!r}' if model else 'the model'}: {describe_names(unknown)}")
