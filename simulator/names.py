"""Tensor names as users and the toolchain spell them: AIMET's "<name>_updated" alias and "<name>::pre_quant".

AIMET's QuantSim names a quantized tensor "<name>_updated"; encodings files, dumps and output lists written
by that toolchain carry the suffix, and the simulator accepts it wherever a graph tensor name is expected.
This module is the one place that knows the spelling.
"""
from __future__ import annotations

from typing import Collection, Optional

UPDATED_SUFFIX = "_updated"
PRE_QUANT_SUFFIX = "::pre_quant"


def without_updated(name: str) -> Optional[str]:
    """`name` without its "_updated" suffix, or None when it has none."""
    return name[: -len(UPDATED_SUFFIX)] if name.endswith(UPDATED_SUFFIX) else None


def resolve_updated(name: str, known: Collection[str]) -> Optional[str]:
    """The graph tensor `name` stands for: itself when known, else its base when it is "<known name>_updated";
    None when neither is a tensor of `known`."""
    if name in known:
        return name
    base = without_updated(name)
    return base if base is not None and base in known else None


def updated_spellings(name: str) -> list[str]:
    """The names that may stand for the same tensor as `name` in another model: itself, "<name>_updated", and
    its base when `name` carries the suffix (in that order of preference)."""
    base = without_updated(name)
    return [name, name + UPDATED_SUFFIX] + ([base] if base is not None else [])


def split_pre_quant(name: str, known: Collection[str]) -> tuple[str, bool]:
    """(name, whether the value before its encoding is asked for): "<name>::pre_quant" unless a tensor of `known`
    is literally called so."""
    if name not in known and name.endswith(PRE_QUANT_SUFFIX):
        return name[: -len(PRE_QUANT_SUFFIX)], True
    return name, False


__all__ = ["UPDATED_SUFFIX", "PRE_QUANT_SUFFIX", "without_updated", "resolve_updated", "updated_spellings",
           "split_pre_quant"]
