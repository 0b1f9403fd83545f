"""Quantizer groups and precision moves: what sensitivity analysis and mixed-precision search change.

A quantizer group is what a user changes as one unit: a node's output encodings ("output"), the encodings of
the weights and biases it reads ("weights"), or a graph input's encoding ("input"). A move changes every
encoding of a group:

* "float": the encodings are removed, so the tensors stay float32 (the node goes on the exclude list);
* "int16": each integer encoding of fewer than 16 bits is re-gridded to 16 bits over the same range (AIMET's
  rule: asymmetric min/max kept, scale = (max - min) / (2^16 - 1), offset = round(min / scale); symmetric
  signed grids keep max|x|, scale = max / (2^15 - 1), offset = -2^15).

`rewrite_encodings_json` writes the changed encodings into the source file's own JSON (same version, every
other entry and key kept as it was), through the entry writers of simulator.tools.convert.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import numpy as np
import onnx

from .encodings import EncodingsFile, format_of
from .errors import ParameterError
from .graph import topological_order
from .quantization import Encoding
from .names import resolve_updated

FLOAT = "float"
INT16 = "int16"
MOVES = (INT16, FLOAT)


@dataclass(frozen=True)
class QuantizerGroup:
    """One unit of change: `tensors` are the encodings file's names of the group's encoded tensors."""
    key: str  # "<node name>:output", "<node name>:weights" or "<input name>:input"
    kind: str  # "output", "weights" or "input"
    node: str
    op_type: str
    tensors: tuple[str, ...]
    index: int  # position in graph order

    def to_dict(self) -> dict:
        return {"group": self.key, "kind": self.kind, "node": self.node, "op_type": self.op_type,
                "tensors": list(self.tensors)}


def check_moves(moves) -> tuple[str, ...]:
    if isinstance(moves, str):
        moves = [m.strip() for m in moves.split(",") if m.strip()]
    moves = tuple(dict.fromkeys(str(m).lower() for m in moves))
    bad = [m for m in moves if m not in MOVES]
    if bad or not moves:
        raise ParameterError(f"unknown move(s) {', '.join(map(repr, bad)) or '(none given)'}; allowed moves: "
                             f"{', '.join(MOVES)} (comma-separated)")
    return moves


def find_groups(model: onnx.ModelProto, encodings: EncodingsFile) -> list[QuantizerGroup]:
    """The quantizer groups of the model's main graph, in graph order. Encodings of tensors inside
    control-flow bodies belong to no group (they are left as they are)."""
    graph = model.graph
    initializers = {t.name for t in graph.initializer} | {t.values.name for t in graph.sparse_initializer}
    inputs = [vi.name for vi in graph.input if vi.name not in initializers]
    by_graph_name: dict[str, str] = {}
    known = initializers | set(inputs) | {o for n in graph.node for o in n.output if o}
    for key in encodings.encodings:
        by_graph_name.setdefault(resolve_updated(key, known) or key, key)
    groups: list[QuantizerGroup] = []
    for name in inputs:
        if name in by_graph_name:
            groups.append(QuantizerGroup(f"{name}:input", "input", name, "Input", (by_graph_name[name],), len(groups)))
    assigned: set[str] = set()
    for i, node in enumerate(topological_order(graph, initializers | set(inputs))):
        label = node.name or f"{node.op_type}_{i}"
        weights = [by_graph_name[n] for n in dict.fromkeys(node.input)
                   if n in initializers and n in by_graph_name and n not in assigned]
        assigned.update(n for n in node.input if n in initializers)
        if weights:
            groups.append(QuantizerGroup(f"{label}:weights", "weights", label, node.op_type, tuple(weights),
                                         len(groups)))
        outputs = [by_graph_name[o] for o in node.output if o in by_graph_name]
        if outputs:
            groups.append(QuantizerGroup(f"{label}:output", "output", label, node.op_type, tuple(outputs), len(groups)))
    return groups


def to_bits(enc: Encoding, bits: int) -> Encoding:
    """`enc` on a grid of `bits` bits over the same range; unchanged when it is float or already as wide."""
    if enc.is_float or enc.bitwidth >= bits:
        return enc
    scale = np.asarray(enc.scale, np.float64)
    offset = np.asarray(enc.offset, np.float64)
    half_old, half_new = 2.0 ** (enc.bitwidth - 1), 2.0 ** (bits - 1)
    if enc.symmetric and np.all(offset == -half_old):  # signed symmetric: keep max|x|
        new_scale = scale * (half_old - 1) / (half_new - 1)
        new_offset = np.full_like(offset, -half_new)
    else:  # asymmetric (or unsigned symmetric): keep min and max
        new_scale = scale * (2.0 ** enc.bitwidth - 1) / (2.0 ** bits - 1)
        new_offset = np.round(offset * scale / new_scale)
    return replace(enc, bitwidth=bits, scale=new_scale.astype(np.float32), offset=new_offset.astype(np.float32))


def move_applies(enc: Encoding, move: str) -> bool:
    return move == FLOAT or (not enc.is_float and enc.bitwidth < 16)


def group_move_applies(group: QuantizerGroup, encodings: dict[str, Encoding], move: str) -> bool:
    return any(move_applies(encodings[t], move) for t in group.tensors)


def apply_moves(encodings: dict[str, Encoding], changes: dict[QuantizerGroup, str]) -> dict[str, Encoding]:
    """A copy of `encodings` with each group's move applied."""
    out = dict(encodings)
    for group, move in changes.items():
        for t in group.tensors:
            if move == FLOAT:
                out.pop(t, None)
            else:
                out[t] = to_bits(out[t], 16)
    return out


def only(encodings: dict[str, Encoding], group: QuantizerGroup) -> dict[str, Encoding]:
    """Only the group's encodings (every other tensor float32)."""
    return {t: encodings[t] for t in group.tensors}


def precision_label(enc: Encoding | None) -> str:
    if enc is None:
        return "float32"
    if enc.is_float:
        return enc.float_format if enc.bitwidth < 32 else "float32"
    return f"int{enc.bitwidth}"


def precision_fractions(source: dict[str, Encoding], changed: dict[str, Encoding]) -> dict[str, float]:
    """Share of the source file's encoded tensors at each precision after the changes."""
    counts: dict[str, int] = {}
    for name in source:
        label = precision_label(changed.get(name))
        counts[label] = counts.get(label, 0) + 1
    total = max(len(source), 1)
    return {k: counts[k] / total for k in sorted(counts)}


def rewrite_encodings_json(data: dict, version: str, changed: dict[str, Encoding | None], params: set[str],
                           model: onnx.ModelProto | None = None) -> dict:
    """The source file's JSON with the encodings in `changed` replaced (None: the entry removed)."""
    from .tools import param_axis  # noqa: PLC0415

    shapes = {t.name: tuple(t.dims) for t in model.graph.initializer} if model is not None else {}

    def axis(name):
        return param_axis(model, name, len(shapes[name])) if name in shapes else None

    return format_of(version).replace_entries(copy.deepcopy(data), changed, params, shapes, axis)


__all__ = ["FLOAT", "INT16", "MOVES", "QuantizerGroup", "find_groups", "to_bits", "apply_moves", "only",
           "precision_fractions", "rewrite_encodings_json", "check_moves", "group_move_applies"]
