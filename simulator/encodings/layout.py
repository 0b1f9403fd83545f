"""What the writers of every version share: float32 values as JSON numbers that read back exactly, a per-block
encoding laid out one entry per block, and the split of a file's entries into parameters and activations."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import EncodingsError
from ..quantization import Encoding, Granularity, bind


def f32(x) -> float:
    """A float32 value as the Python float that reads back to it exactly."""
    return float(np.float32(x))


def zp_value(z: float):
    return int(z) if float(z).is_integer() else float(z)


def nested(a: np.ndarray, conv):
    return conv(a) if a.ndim == 0 else [nested(x, conv) for x in a]


def blocks(enc: Encoding, shape, channel_axis) -> tuple[np.ndarray, np.ndarray, int, int]:
    """A per-block encoding's scales and offsets at the tensor's rank, one entry per block (not repeated),
    with its channel and block axes."""
    rank = len(shape)
    try:
        q = bind(enc, tuple(shape), channel_axis)
    except ValueError as exc:
        raise EncodingsError(f"tensor {enc.name!r}: per-block encoding does not fit shape {tuple(shape)}: {exc}") from None
    scale = np.broadcast_to(q.scale, np.broadcast_shapes(q.scale.shape, q.offset.shape))
    offset = np.broadcast_to(q.offset, scale.shape)
    if np.asarray(enc.scale).ndim == rank:
        block_axis = enc.axis if enc.axis is not None else enc.block_axis
        ch = next((a for a in range(rank) if a != (block_axis or 0) % rank and scale.shape[a] > 1), None)
    else:
        ch = (enc.axis if enc.axis is not None else channel_axis)
        block_axis = enc.block_axis
        if ch is not None and block_axis is None:
            ch %= rank
            block_axis = 1 if ch == 0 else ch - 1
    if block_axis is None:
        raise EncodingsError(f"tensor {enc.name!r}: cannot tell the block axis of its per-block encoding")
    block_axis %= rank
    sl = [slice(None)] * rank
    sl[block_axis] = slice(None, None, enc.block_size) if scale.shape[block_axis] > 1 else slice(None)
    return (np.ascontiguousarray(scale[tuple(sl)]), np.ascontiguousarray(offset[tuple(sl)]),
            None if ch is None else ch % rank, block_axis)


def implied_blocks(enc: Encoding, shape, channel_axis, version: str):
    """blocks() for the versions that state no block axis (0.6.1, 1.0.0): it must be the one next to the
    channel axis."""
    if shape is None:
        raise EncodingsError(f"tensor {enc.name!r}: writing a per-block encoding as {version} needs the model "
                             f"(the weight's shape)")
    scale, offset, ch, block_axis = blocks(enc, shape, channel_axis)
    if ch is None or block_axis != (1 if ch == 0 else ch - 1):
        raise EncodingsError(f"tensor {enc.name!r}: {version} cannot express blocks along axis {block_axis} "
                             f"(it implies the axis next to the channel axis)")
    return scale, offset, ch, block_axis


@dataclass
class WriteJob:
    """What a version's `write(job)` gets from tools.convert.write_encodings: the names in the order to write,
    their encodings, which are parameters, the weights' shapes, and the model's answers (per-channel axis, why it
    is unknown, the check that a version without an 'axis' field reads the same axis back)."""
    names: list[str]
    encodings: dict[str, Encoding]
    params: set[str]
    inits: dict[str, tuple]
    axis_of: Callable[[str], int | None]
    no_axis_why: Callable[[str], str]
    check_axis: Callable[[Encoding], None]
    int32_bias: dict[str, Encoding]
    notes: list[str] = field(default_factory=list)


def params_and_activations(job: WriteJob, entry) -> tuple[list, list]:
    """(name, entry) pairs of parameters and of activations, for the versions that keep them in two sections and
    derive a per-channel axis from the consumer (0.6.1, 1.0.0)."""
    par, act = [], []
    for n in job.names:
        enc = job.encodings[n]
        if enc.granularity != Granularity.PER_BLOCK:
            job.check_axis(enc)
        (par if n in job.params else act).append((n, entry(enc, job.inits.get(n), job.axis_of(n))))
    return par, act


def two_section_layout(data: dict, empty) -> tuple[set[str], list[str], dict | None]:
    """(parameter names, names in file order, quantizer_args) of a file with 'param_encodings' and
    'activation_encodings' sections (`empty`: a section's empty value, {} or [])."""
    params, order = set(), []
    for section in ("param_encodings", "activation_encodings"):
        entries = data.get(section) or empty
        names = list(entries) if isinstance(entries, dict) else [e.get("name") for e in entries if isinstance(e, dict)]
        if section == "param_encodings":
            params.update(names)
        order += names
    return params, order, data.get("quantizer_args")
