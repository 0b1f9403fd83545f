"""Graph structure rules, written once: topological order, outer-scope names of bodies, the consumer walk.

The planner (simulator.planner), the quantizer-group finder (simulator.precision) and the encodings tools
(simulator.tools) all ask these questions; they ask here.
"""
from __future__ import annotations

import heapq
from typing import Any, Callable, Sequence

import onnx

from .encodings import describe_names
from .errors import ModelError


def bodies(node: onnx.NodeProto) -> list[onnx.GraphProto]:
    """The node's GRAPH and GRAPHS attributes (If/Loop/Scan bodies)."""
    out = []
    for attr in node.attribute:
        out.extend([attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs))
    return out


def subgraph_names(node: onnx.NodeProto) -> set[str]:
    """Outer-scope names read inside the node's subgraphs (If/Loop/Scan bodies, any depth)."""
    names: set[str] = set()
    for g in bodies(node):
        local = {i.name for i in g.input} | {t.name for t in g.initializer}
        for n in g.node:
            local.update(n.output)
        for n in g.node:
            names.update(i for i in n.input if i and i not in local)
            names.update(x for x in subgraph_names(n) if x not in local)
    return names


def all_names(graph: onnx.GraphProto) -> set[str]:
    """Every tensor name of a graph and of its nested subgraphs (walked with a stack: a file's nesting cannot
    exhaust Python's)."""
    names: set[str] = set()
    stack = [graph]
    while stack:
        g = stack.pop()
        names.update(i.name for i in g.input)
        names.update(t.name for t in g.initializer)
        names.update(sp.values.name for sp in g.sparse_initializer)
        for node in g.node:
            names.update(o for o in node.output if o)
            stack.extend(bodies(node))
    return names


def topological_order(graph: onnx.GraphProto, available: set[str]) -> list[onnx.NodeProto]:
    """Kahn's algorithm over the nodes; keeps the file's order among ready nodes. A name produced twice, a name
    nothing defines and a cycle are ModelErrors."""
    producer: dict[str, int] = {}
    for i, node in enumerate(graph.node):
        for out in node.output:
            if not out:
                continue
            if out in producer or out in available:
                raise ModelError(f"tensor {out!r} is produced twice (node {node.name!r} and another node or input)")
            producer[out] = i
    deps: list[set[int]] = []
    users: list[list[int]] = [[] for _ in graph.node]
    for i, node in enumerate(graph.node):
        d = set()
        for name in list(node.input) + sorted(subgraph_names(node)):
            if not name or name in available:
                continue
            if name not in producer:
                raise ModelError(f"node {node.name!r} ({node.op_type}) reads tensor {name!r}, which no node, graph "
                                 f"input or initializer defines")
            d.add(producer[name])
        deps.append(d)
        for j in d:
            users[j].append(i)
    remaining = [len(d) for d in deps]
    ready = [i for i, r in enumerate(remaining) if r == 0]
    order = []
    heapq.heapify(ready)
    while ready:
        i = heapq.heappop(ready)
        order.append(graph.node[i])
        for u in users[i]:
            remaining[u] -= 1
            if remaining[u] == 0:
                heapq.heappush(ready, u)
    if len(order) != len(graph.node):
        stuck = [graph.node[i].name or graph.node[i].op_type for i, r in enumerate(remaining) if r > 0]
        raise ModelError(f"the graph has a cycle; nodes on or after it: {describe_names(stuck)}")
    return order


# A reader of tensors, as the consumer walk sees it: (op_type, input names, output names, attributes), where
# attributes is a dict or what `attributes_of` turns into one (read only for the readers of the name asked for).
Reader = tuple[str, Sequence[str], Sequence[str], Any]


def consumers(readers: Sequence[Reader], name: str,
              attributes_of: Callable[[Any], dict] = lambda attrs: attrs) -> list[tuple[str, int, dict]]:
    """(op_type, input index, attributes) of the readers of `name`, looking through Identity; a Transpose in front
    of MatMul's input 1 is reported as "Transpose->MatMul", as AIMET marks it (the rule of
    encodings.channel_axis_for_param). Depth first in reader order, walked with a stack of iterators: a chain of
    thousands of Identity nodes in a file cannot exhaust Python's stack."""
    by_input: dict[str, list] = {}
    for op_type, inputs, outputs, attrs in readers:
        for idx, inp in enumerate(inputs):
            by_input.setdefault(inp, []).append((op_type, idx, outputs, attrs))
    out = []
    stack = [(iter(by_input.get(name, ())), False)]
    while stack:
        it, transposed = stack[-1]
        item = next(it, None)
        if item is None:
            stack.pop()
            continue
        op_type, idx, outputs, attrs = item
        if op_type in ("Identity", "Transpose"):
            stack.append((iter(by_input.get(outputs[0], ()) if outputs else ()), transposed or op_type == "Transpose"))
        elif transposed and op_type == "MatMul" and idx == 1:
            out.append(("Transpose->MatMul", 1, attributes_of(attrs)))
        else:
            out.append((op_type, idx, attributes_of(attrs)))
    return out


__all__ = ["bodies", "subgraph_names", "all_names", "topological_order", "consumers", "Reader"]
