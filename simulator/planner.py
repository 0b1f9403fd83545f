"""Planning: an ONNX graph and its encodings -> an immutable Plan (simulator.plan).

`plan_model` checks the options and resolves the encodings' names; `plan_graph`
reads the initializers, sorts the nodes (simulator.graph), resolves each node's kernel (the
ONNX Runtime ones too, kernels="onnxruntime"), converts attributes, binds the encodings (weights are
fake-quantized here, once), plans If/Loop/Scan bodies as plans of their own, folds the constant nodes
(simulator.folding), applies ONNX Runtime's DivMulFusion where that mode asks for it, and records when each
value is last used.
"""
from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType, ModuleType

import numpy as np
import onnx

import ops
from ops.errors import OpError

from . import ort_kernels
from .attributes import node_attributes, sparse_to_dense
from .backend import HOST_FALLBACKS, Float64Accumulation, device_can_hold, is_numpy, to_device, to_host
from .encodings import EncodingsFile, channel_axis_for_param, describe_names
from .errors import EncodingsError, ModelError
from .executor import project_error
from .folding import fold_constants
from .graph import all_names, subgraph_names, topological_order
from .model import initializer_array, opset_versions, release_pages
from .names import without_updated
from .plan import EMPTY, Plan, Step, tensor_info
from .quantization import HALF_AWAY_FROM_ZERO, Granularity, bind


def encodings_by_name(encodings: EncodingsFile, apply_int32_bias: bool, known: set[str], source: str) -> dict:
    """The file's encodings keyed by graph tensor name ("<name>_updated" resolved); names absent from the model
    are an EncodingsError."""
    wanted = dict(encodings.encodings)
    if apply_int32_bias:
        wanted.update(encodings.int32_bias)
    unknown = []
    for name in list(wanted):
        if name not in known:
            base = without_updated(name)
            if base in known and base not in wanted:
                wanted[base] = wanted.pop(name)
            else:
                unknown.append(name)
    if unknown:
        raise EncodingsError(f"{encodings.path or '<encodings>'}: {len(unknown)} encoded tensor(s) do not exist in "
                             f"model {source!r}: {describe_names(unknown)}")
    return wanted


def plan_model(model: onnx.ModelProto, encodings: EncodingsFile | None = None, xp: ModuleType = np,
               rounding: str = HALF_AWAY_FROM_ZERO, apply_int32_bias: bool = False, source: str = "<model>",
               kernels: str = "numpy", ort_threads: int = 0) -> Plan:
    """The plan of a model's main graph with `encodings` applied, on array module `xp`."""
    ort_kernels.check_kernels(kernels, not is_numpy(xp), isinstance(xp, Float64Accumulation), ort_threads)
    wanted = {}
    if encodings is not None:
        wanted = encodings_by_name(encodings, apply_int32_bias, all_names(model.graph), source)
    return plan_graph(model.graph, opset_versions(model), wanted, xp, source=source, rounding=rounding,
                      kernels=kernels, ort_threads=ort_threads, encodings_path=encodings.path if encodings else "")


def plan_graph(graph: onnx.GraphProto, opsets: dict[str, int], wanted: dict, xp: ModuleType, *, source: str,
               rounding: str, kernels: str = "numpy", ort_threads: int = 0, encodings_path: str = "",
               outer_scope: frozenset = frozenset()) -> Plan:
    """The plan of `graph` (a model's main graph, or a body whose `outer_scope` names the caller provides)."""
    raw_initializers = _initializers(graph, source)
    inputs = tuple(tensor_info(vi) for vi in graph.input if vi.name not in raw_initializers)
    overridable = tuple(tensor_info(vi) for vi in graph.input if vi.name in raw_initializers)
    input_names = [i.name for i in inputs]
    available = set(raw_initializers) | set(input_names) | outer_scope
    node_order = tuple(topological_order(graph, available))
    body_options = dict(source=source, rounding=rounding, kernels=kernels, ort_threads=ort_threads,
                        encodings_path=encodings_path)
    # The constants whose values are final (no encoding, no feed replaces them): ONNX Runtime may pre-pack them.
    fixed = frozenset(raw_initializers).difference(wanted, (i.name for i in overridable))

    steps: list[Step] = []
    for node in node_order:
        domain = "" if node.domain in ("", "ai.onnx") else node.domain
        if domain not in opsets:
            raise ModelError(f"{source}: node {node.name!r} ({node.op_type}) uses domain {domain!r}, which the "
                             f"model does not import (opset_import: {sorted(opsets)})")
        try:
            kernel = ops.resolve(node.op_type, domain, opsets[domain], node.name)
        except OpError as exc:
            raise project_error(exc) from None
        if kernels == "onnxruntime":
            kernel = ort_kernels.ort_kernel(kernel, node, opsets, raw_initializers, ort_threads, fixed,
                                               quantized=bool(wanted)) or kernel
        attrs = node_attributes(node)
        if kernel.takes_output_count:
            attrs["_n_outputs"] = len(node.output)
        bodies = {}
        for name, value in list(attrs.items()):
            if isinstance(value, onnx.GraphProto):
                # A body sees every name visible here: ours, and our own outer scope.
                visible = available | {o for s in steps for o in s.outputs} | set(node.input)
                bodies[name] = plan_graph(value, opsets, wanted, xp, outer_scope=frozenset(visible), **body_options)
                del attrs[name]
        steps.append(Step(node, kernel, tuple(node.input), tuple(node.output), attrs,
                          subgraphs=MappingProxyType(bodies) if bodies else EMPTY,
                          runs_on_host=not is_numpy(xp) and _runs_on_host(node.op_type, attrs)))
    producer = {out: s for s in steps for out in s.outputs if out}
    value_names = tuple(input_names + list(raw_initializers) + list(producer))
    body_names: dict[str, str] = {}  # tensors of bodies (any depth): not values of this graph
    for s in steps:
        for g in s.subgraphs.values():
            for n in list(g.value_names) + list(g.body_names):
                body_names.setdefault(n, s.label)

    plan = Plan(source, xp, rounding, kernels, ort_threads, MappingProxyType(dict(opsets)), outer_scope, inputs,
                overridable, tuple(tensor_info(vi) for vi in graph.output), node_order, tuple(steps), producer,
                value_names, body_names, {}, {}, {}, {}, {}, encodings_by_name=wanted, encodings_path=encodings_path)
    local = set(value_names)
    plan = _bind_encodings(plan, {n: e for n, e in wanted.items() if n in local}, raw_initializers)
    plan = fold_constants(plan)
    if kernels == "onnxruntime":
        plan = _apply_ort_rewrites(plan)
    return _plan_host_args_and_liveness(plan)


def _initializers(graph: onnx.GraphProto, source: str) -> dict:
    out = {}
    for t in graph.initializer:
        if any(d < 0 for d in t.dims):
            raise ModelError(f"{source}: initializer {t.name!r} has dims {list(t.dims)}: a negative size")
        try:
            out[t.name] = initializer_array(t, source)
        except ModelError as exc:  # negative dims, external data not loaded or refused
            raise ModelError(f"{source}: initializer {exc}") from None
        except Exception as exc:  # malformed raw_data, wrong sizes
            raise ModelError(f"{source}: initializer {t.name!r} cannot be read: {exc}") from None
    for sp in graph.sparse_initializer:
        try:
            out[sp.values.name] = sparse_to_dense(sp)
        except Exception as exc:  # indices out of range, sizes that do not match
            raise ModelError(f"{source}: sparse initializer {sp.values.name!r} cannot be read: {exc}") from None
    return out


def _bind_encodings(plan: Plan, wanted: dict, raw_initializers: dict) -> Plan:
    """Quantize the weights once; keep the activations' encodings for when they are produced."""
    where = plan.encodings_path or "<encodings>"
    params = dict(raw_initializers)
    param_quantizers, raw_params, activation_encodings = {}, {}, {}
    for name, enc in wanted.items():
        if name in raw_initializers:
            value = raw_initializers[name]
            if not np.issubdtype(value.dtype, np.floating):
                raise EncodingsError(f"{where}: tensor {name!r} is an initializer of type {value.dtype}; "
                                     f"only float tensors can be quantized")
            axis = None
            if enc.granularity != Granularity.PER_TENSOR and enc.axis is None:
                axis = channel_axis_for_param(plan.consumers(name), value.ndim)
                if axis is None and enc.granularity == Granularity.PER_CHANNEL:
                    fits = [a for a, d in enumerate(value.shape) if d == enc.scale.size]
                    axis = fits[0] if len(fits) == 1 else None
            try:
                q = bind(enc, value.shape, axis, plan.rounding)
            except ValueError as exc:
                raise EncodingsError(f"{where}: encoding of tensor {name!r} (shape {value.shape}) does not fit: "
                                     f"{exc}") from None
            with np.errstate(all="ignore"):
                params[name] = q(np, value)
            release_pages(value)  # a mapped weight's float value stays in its file until ::pre_quant asks
            param_quantizers[name] = q
            raw_params[name] = value
        else:
            if enc.granularity == Granularity.PER_BLOCK:
                raise EncodingsError(f"{where}: tensor {name!r} is an activation; per-block encodings are for "
                                     f"weights")
            activation_encodings[name] = enc
    activation_quantizers = {name: bind(enc, (), rounding=plan.rounding).to(plan.xp)
                             for name, enc in activation_encodings.items()
                             if enc.granularity == Granularity.PER_TENSOR or enc.is_float}
    return replace(plan, constants={name: to_device(plan.xp, v) for name, v in params.items()},
                   raw_params=raw_params, param_quantizers=param_quantizers,
                   activation_encodings=activation_encodings, activation_quantizers=activation_quantizers)


def _apply_ort_rewrites(plan: Plan) -> Plan:
    """The rewrites ONNX Runtime applies in AIMET's session between unquantized nodes (ort_kernels)."""
    read_elsewhere = {o.name for o in plan.outputs}.union(*(subgraph_names(s.node) for s in plan.steps))
    fused = ort_kernels.divmul_fusions(plan.steps, plan.constants, set(plan.activation_encodings), read_elsewhere)
    if not fused:
        return plan
    steps, producer = list(plan.steps), dict(plan.producer)
    for i, (numerator, divisor) in fused.items():
        step = steps[i]
        div = ops.resolve("Div", "", plan.opsets[""], step.node.name)
        steps[i] = replace(step, kernel=div, inputs=(numerator, divisor), attrs={})
        producer.update({out: steps[i] for out in step.outputs if out})
    return replace(plan, steps=tuple(steps), producer=producer)


def _plan_host_args_and_liveness(plan: Plan) -> Plan:
    """Host copies of constant shape-like inputs, and each value's last use (freed after it unless kept)."""
    fixed = set(plan.constants) - {o.name for o in plan.overridable}  # a feed may replace the others
    last_use: dict[str, int] = {}
    for i, step in enumerate(plan.steps):
        for name in list(step.inputs) + sorted(subgraph_names(step.node)):
            if name:
                last_use[name] = i
        for name in step.outputs:
            if name and name not in last_use:
                last_use[name] = i  # produced but never read: free right away
    for name in (i.name for i in plan.inputs):
        last_use.setdefault(name, -1)
    free: list[list[str]] = [[] for _ in plan.steps]
    for name, i in last_use.items():
        if i >= 0 and name not in plan.constants and name not in plan.outer_scope:
            free[i].append(name)
    steps = []
    for step, names in zip(plan.steps, free):
        host_args = {i: to_host(plan.constants[step.inputs[i]]) for i in step.kernel.host_inputs
                     if i < len(step.inputs) and step.inputs[i] in fixed}
        steps.append(replace(step, free=tuple(names), host_args=host_args or EMPTY))
    changed = {id(old): new for old, new in zip(plan.steps, steps)}
    producer = {name: changed.get(id(s), s) for name, s in plan.producer.items()}
    return replace(plan, steps=tuple(steps), producer=producer,
                   graph_input_free=tuple(n for n, i in last_use.items() if i == -1))


_DTYPE_ATTRIBUTES = ("to", "output_dtype", "dtype")


def _runs_on_host(op_type: str, attrs: dict) -> bool:
    """A listed op, or an output type CuPy cannot hold (Cast to float8, a Constant of int4, ...)."""
    if op_type in HOST_FALLBACKS:
        return True
    for name, value in attrs.items():
        if name in _DTYPE_ATTRIBUTES and isinstance(value, int) and value:
            try:
                if not device_can_hold(onnx.helper.tensor_dtype_to_np_dtype(value)):
                    return True
            except (KeyError, TypeError, ValueError):
                return True
        elif isinstance(value, np.ndarray) and not device_can_hold(value.dtype):
            return True
    return False


__all__ = ["plan_model", "plan_graph", "encodings_by_name"]
