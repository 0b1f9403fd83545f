"""The graph interpreter: plan an ONNX graph once, then run it many times.

Planning sorts the nodes topologically, resolves each node's kernel, converts attributes, binds the
encodings (weights are fake-quantized here, once) and computes when each value is last used.
Running walks the plan: each node's kernel is called, each output is fake-quantized as it is
produced when it has an encoding, and values are freed after their last use unless kept.
"""
from __future__ import annotations

import contextlib
from collections import ChainMap
from functools import partial
from dataclasses import dataclass, field, replace
from types import ModuleType

import numpy as np
import onnx

import ops
from ops.errors import OpError
from ops.registry import Kernel

from .attributes import node_attributes, sparse_to_dense, tensor_array
from .backend import HOST_FALLBACKS, Float64Accumulation, device_can_hold, is_numpy, on_host, to_device, to_host
from .encodings import EncodingsFile, channel_axis_for_param, describe_names
from .errors import DataError, EncodingsError, KernelError, LimitError, ModelError, SimulatorError
from .model import consumers_through_identity, opset_versions, tensor_names
from . import errors, ort_kernels
from .quantization import HALF_AWAY_FROM_ZERO, Granularity, Quantizer, bind


@dataclass(frozen=True)
class TensorInfo:
    """A graph input's or output's declared type: ONNX element type and shape (int, str or None per dim)."""
    name: str
    elem_type: int
    shape: tuple

    @property
    def type_string(self) -> str:
        """ONNX Runtime's spelling: tensor(float), tensor(int64), ..."""
        if not self.elem_type:
            return "tensor(unknown)"
        return f"tensor({onnx.TensorProto.DataType.Name(self.elem_type).lower()})"

    @property
    def dtype(self):
        return onnx.helper.tensor_dtype_to_np_dtype(self.elem_type) if self.elem_type else None


def _tensor_info(vi: onnx.ValueInfoProto) -> TensorInfo:
    tt = vi.type.tensor_type
    if tt.elem_type not in onnx.TensorProto.DataType.values():
        raise ModelError(f"graph input or output {vi.name!r} has element type {tt.elem_type}, which ONNX does not "
                         f"define (expected one of TensorProto.DataType)")
    shape = None
    if tt.HasField("shape"):
        shape = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tt.shape.dim)
    return TensorInfo(vi.name, tt.elem_type, shape)


@dataclass
class Step:
    node: onnx.NodeProto
    kernel: Kernel
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: dict
    free: list[str] = field(default_factory=list)  # values whose last use is this step
    subgraphs: dict = field(default_factory=dict)  # GRAPH attributes, planned: attr name -> Interpreter
    # Host copies of constant shape-like inputs (input index -> NumPy array), made once at load so that a
    # GPU run reads Reshape's shape, Slice's starts, ... without a device-to-host copy per run.
    host_args: dict = field(default_factory=dict)
    runs_on_host: bool = False  # a GPU run must run this node on the host whatever its inputs (backend.py)

    @property
    def label(self) -> str:
        return f"node {self.node.name or '<unnamed>'!r} ({self.node.op_type})"


def _subgraph_names(node: onnx.NodeProto) -> set[str]:
    """Outer-scope names read inside the node's subgraphs (If/Loop/Scan bodies)."""
    names: set[str] = set()
    for attr in node.attribute:
        for g in ([attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs)):
            local = {i.name for i in g.input} | {t.name for t in g.initializer}
            for n in g.node:
                local.update(n.output)
            for n in g.node:
                names.update(i for i in n.input if i and i not in local)
                names.update(x for x in _subgraph_names(n) if x not in local)
    return names


def topological_order(graph: onnx.GraphProto, available: set[str]) -> list[onnx.NodeProto]:
    """Kahn's algorithm over the nodes; keeps the file's order among ready nodes."""
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
        for name in list(node.input) + sorted(_subgraph_names(node)):
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
    import heapq
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


# Ops whose output must not be computed once at load: random by definition.
NOT_FOLDABLE = frozenset({"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Bernoulli",
                          "Multinomial"})


class Interpreter:
    """A planned model on one array module (NumPy or CuPy). `run` is safe to call from several threads."""

    def __init__(self, model: onnx.ModelProto, encodings: EncodingsFile | None = None, xp: ModuleType = np,
                 rounding: str = HALF_AWAY_FROM_ZERO, apply_int32_bias: bool = False, source: str = "<model>",
                 kernels: str = "numpy", ort_threads: int = 0):
        ort_kernels.check_kernels(kernels, not is_numpy(xp), isinstance(xp, Float64Accumulation), ort_threads)
        self.xp = xp
        self.source = source
        self.rounding = rounding
        self.kernels, self.ort_threads = kernels, ort_threads
        self.outer_scope: frozenset[str] = frozenset()
        wanted = {}
        if encodings is not None:
            wanted = self._encodings_by_name(encodings, apply_int32_bias, tensor_names(model.graph))
        self._plan(model.graph, opset_versions(model), wanted, encodings.path if encodings else "")

    @classmethod
    def _subgraph(cls, graph: onnx.GraphProto, parent: "Interpreter", outer_scope: set[str]) -> "Interpreter":
        """An If/Loop/Scan body: its inputs are the formal inputs, outer-scope names are read from the caller."""
        sub = cls.__new__(cls)
        sub.xp, sub.source, sub.rounding = parent.xp, parent.source, parent.rounding
        sub.kernels, sub.ort_threads = parent.kernels, parent.ort_threads
        sub.outer_scope = frozenset(outer_scope)
        sub._plan(graph, parent.opsets, parent._wanted, parent._encodings_path)
        return sub

    def _plan(self, graph: onnx.GraphProto, opsets: dict[str, int], wanted: dict, encodings_path: str):
        source, xp = self.source, self.xp
        self.opsets, self._wanted, self._encodings_path = opsets, wanted, encodings_path
        raw_initializers = {}
        for t in graph.initializer:
            if any(d < 0 for d in t.dims):
                raise ModelError(f"{source}: initializer {t.name!r} has dims {list(t.dims)}: a negative size")
            try:
                raw_initializers[t.name] = tensor_array(t)
            except ModelError as exc:
                raise ModelError(f"{source}: initializer {exc}") from None
            except Exception as exc:  # malformed raw_data, wrong sizes
                raise ModelError(f"{source}: initializer {t.name!r} cannot be read: {exc}") from None
        for sp in graph.sparse_initializer:
            try:
                raw_initializers[sp.values.name] = sparse_to_dense(sp)
            except Exception as exc:  # indices out of range, sizes that do not match
                raise ModelError(f"{source}: sparse initializer {sp.values.name!r} cannot be read: {exc}") from None
        self.inputs = [_tensor_info(vi) for vi in graph.input if vi.name not in raw_initializers]
        self.overridable = [_tensor_info(vi) for vi in graph.input if vi.name in raw_initializers]
        self.outputs = [_tensor_info(vi) for vi in graph.output]
        input_names = [i.name for i in self.inputs]
        available = set(raw_initializers) | set(input_names) | self.outer_scope
        self.node_order = topological_order(graph, available)

        self.steps: list[Step] = []
        for node in self.node_order:
            domain = "" if node.domain in ("", "ai.onnx") else node.domain
            if domain not in opsets:
                raise ModelError(f"{source}: node {node.name!r} ({node.op_type}) uses domain {domain!r}, which the "
                                 f"model does not import (opset_import: {sorted(opsets)})")
            try:
                kernel = ops.resolve(node.op_type, domain, opsets[domain], node.name)
            except OpError as exc:
                raise _project_error(exc) from None
            if self.kernels == "onnxruntime":
                kernel = ort_kernels.ort_kernel(kernel, node, opsets, raw_initializers, self.ort_threads) or kernel
            attrs = node_attributes(node)
            if kernel.takes_output_count:
                attrs["_n_outputs"] = len(node.output)
            step = Step(node, kernel, tuple(node.input), tuple(node.output), attrs)
            for name, value in list(attrs.items()):
                if isinstance(value, onnx.GraphProto):
                    # A body sees every name visible here: ours, and our own outer scope.
                    visible = available | {o for s in self.steps for o in s.outputs} | set(node.input)
                    step.subgraphs[name] = Interpreter._subgraph(value, self, visible)
                    del attrs[name]
            step.runs_on_host = not is_numpy(xp) and _runs_on_host(step)
            self.steps.append(step)
        self.producer = {out: s for s in self.steps for out in s.outputs if out}
        self.value_names = input_names + list(raw_initializers) + list(self.producer)
        # Tensors of If/Loop/Scan bodies (any depth): not values of this graph, so a session refuses them by name.
        self.body_names: dict[str, str] = {}
        for s in self.steps:
            for g in s.subgraphs.values():
                for n in list(g.value_names) + list(g.body_names):
                    self.body_names.setdefault(n, s.label)

        self.param_quantizers: dict[str, Quantizer] = {}
        self.activation_encodings = {}
        self.raw_params: dict[str, np.ndarray] = {}
        params = dict(raw_initializers)
        local = set(self.value_names)
        self._bind_encodings({n: e for n, e in wanted.items() if n in local}, params, raw_initializers)
        self.constants = {name: to_device(xp, v) for name, v in params.items()}
        self.activation_quantizers: dict[str, Quantizer] = {}
        self._per_rank_quantizers: dict[tuple[str, int], Quantizer] = {}
        for name, enc in self.activation_encodings.items():
            if enc.granularity == Granularity.PER_TENSOR or enc.is_float:
                self.activation_quantizers[name] = bind(enc, (), rounding=self.rounding).to(xp)
        self._fold_constants()
        if self.kernels == "onnxruntime":
            self._apply_ort_rewrites()
        fixed = set(self.constants) - {o.name for o in self.overridable}  # a feed may replace the others
        for step in self.steps:
            step.host_args = {i: to_host(self.constants[step.inputs[i]]) for i in step.kernel.host_inputs
                              if i < len(step.inputs) and step.inputs[i] in fixed}
        self._plan_liveness()

    # -- planning -------------------------------------------------------------------------------

    def _consumers(self, name: str) -> list[tuple[str, int, dict]]:
        """(op_type, input index, attrs) of the ops that read `name`, looking through Identity and
        marking a Transpose feeding MatMul's weight input as AIMET does (iterative: a chain of thousands of
        Identity nodes cannot exhaust the stack)."""
        readers: dict[str, list] = {}
        for step in self.steps:
            for idx, inp in enumerate(step.inputs):
                readers.setdefault(inp, []).append((step, idx))
        return consumers_through_identity(name, lambda n: [(s.node.op_type, i, s.attrs, s.outputs[0] if s.outputs else "")
                                                  for s, i in readers.get(n, [])])

    def _encodings_by_name(self, encodings: EncodingsFile, apply_int32_bias: bool, known: set[str]) -> dict:
        """The file's encodings keyed by graph tensor name; names absent from the model are an error."""
        where = encodings.path or "<encodings>"
        wanted = dict(encodings.encodings)
        if apply_int32_bias:
            wanted.update(encodings.int32_bias)
        unknown = []
        for name in list(wanted):
            if name not in known:
                # The toolchain's sim names quantized tensors "<name>_updated".
                base = name[: -len("_updated")] if name.endswith("_updated") else None
                if base in known and base not in wanted:
                    wanted[base] = wanted.pop(name)
                else:
                    unknown.append(name)
        if unknown:
            raise EncodingsError(f"{where}: {len(unknown)} encoded tensor(s) do not exist in model {self.source!r}: "
                                 f"{describe_names(unknown)}")
        return wanted

    def _bind_encodings(self, wanted: dict, params, raw_initializers):
        """Quantize the weights once; keep the activations' encodings for when they are produced."""
        where = self._encodings_path or "<encodings>"
        for name, enc in wanted.items():
            if name in raw_initializers:
                value = raw_initializers[name]
                if not np.issubdtype(value.dtype, np.floating):
                    raise EncodingsError(f"{where}: tensor {name!r} is an initializer of type {value.dtype}; "
                                         f"only float tensors can be quantized")
                axis = None
                if enc.granularity != Granularity.PER_TENSOR and enc.axis is None:
                    axis = channel_axis_for_param(self._consumers(name), value.ndim)
                    if axis is None and enc.granularity == Granularity.PER_CHANNEL:
                        fits = [a for a, d in enumerate(value.shape) if d == enc.scale.size]
                        axis = fits[0] if len(fits) == 1 else None
                try:
                    q = bind(enc, value.shape, axis, self.rounding)
                except ValueError as exc:
                    raise EncodingsError(f"{where}: encoding of tensor {name!r} (shape {value.shape}) does not fit: "
                                         f"{exc}") from None
                with np.errstate(all="ignore"):
                    params[name] = q(np, value)
                self.param_quantizers[name] = q
                self.raw_params[name] = value
            else:
                if enc.granularity == Granularity.PER_BLOCK:
                    raise EncodingsError(f"{where}: tensor {name!r} is an activation; per-block encodings are for "
                                         f"weights")
                self.activation_encodings[name] = enc

    def _fold_constants(self):
        """Evaluate once, at load, every node whose inputs are all constants (weights built by Constant or
        ConstantOfShape chains, shape arithmetic on weights). Their outputs become constants, with their
        encodings applied exactly as a run would apply them, so results do not change. Only the quantized
        value is kept: a request for the value before its encoding recomputes it (_folded_raw)."""
        self.folded: dict[str, Step] = {}
        remaining = []
        with self._errstate():
            for step in self.steps:
                if (step.subgraphs or step.node.op_type in NOT_FOLDABLE
                        or not all(n in self.constants for n in step.inputs if n)):
                    remaining.append(step)
                    continue
                args = [self.constants[n] if n else None for n in step.inputs]
                for name, value in zip(step.outputs, self._call(step, args, self.constants)):
                    if name:
                        self.constants[name] = self._quantize(name, value)
                        self.folded[name] = step
        self.steps = remaining

    def _apply_ort_rewrites(self):
        """The rewrites ONNX Runtime applies in AIMET's session between unquantized nodes (ort_kernels)."""
        read_elsewhere = {o.name for o in self.outputs}.union(*(_subgraph_names(s.node) for s in self.steps))
        fused = ort_kernels.divmul_fusions(self.steps, self.constants, set(self.activation_encodings), read_elsewhere)
        for i, (numerator, divisor) in fused.items():
            step = self.steps[i]
            div = ops.resolve("Div", "", self.opsets[""], step.node.name)
            self.steps[i] = replace(step, kernel=div, inputs=(numerator, divisor), attrs={})
            self.producer.update({out: self.steps[i] for out in step.outputs if out})

    def _folded_raw(self, name: str):
        """A folded tensor as its node produced it, before its encoding (recomputed: rarely asked for)."""
        if name not in self.activation_encodings:
            return self.constants[name]
        step = self.folded[name]
        with self._errstate():
            result = self._call(step, [self.constants[n] if n else None for n in step.inputs], self.constants)
        return result[step.outputs.index(name)]

    def _raw_constant(self, name: str):
        if name in self.folded:
            return self._folded_raw(name)
        return self.raw_params.get(name, self.constants[name])

    def _plan_liveness(self):
        last_use: dict[str, int] = {}
        for i, step in enumerate(self.steps):
            for name in list(step.inputs) + sorted(_subgraph_names(step.node)):
                if name:
                    last_use[name] = i
            for name in step.outputs:
                if name and name not in last_use:
                    last_use[name] = i  # produced but never read: free right away
        for name in (i.name for i in self.inputs):
            last_use.setdefault(name, -1)
        self.graph_input_free = [n for n, i in last_use.items() if i == -1]
        for name, i in last_use.items():
            if i >= 0 and name not in self.constants and name not in self.outer_scope:
                self.steps[i].free.append(name)

    def quantizer_for(self, name: str, value) -> Quantizer | None:
        """The quantizer bound to activation `name` for a value of this shape (None: no encoding)."""
        return self._activation_quantizer(name, value)

    def _activation_quantizer(self, name: str, value) -> Quantizer | None:
        q = self.activation_quantizers.get(name)
        if q is not None or name not in self.activation_encodings:
            return q
        key = (name, value.ndim)
        q = self._per_rank_quantizers.get(key)
        if q is None:
            enc = self.activation_encodings[name]
            # A file that states no axis: the weight rule when the tensor feeds a weight input (a weight
            # built by Constant or DequantizeLinear nodes), else the NCHW channel.
            axis = channel_axis_for_param(self._consumers(name), value.ndim)
            if axis is None:
                axis = 1 if value.ndim > 1 else 0
            try:
                q = bind(enc, value.shape, axis, self.rounding).to(self.xp)
            except ValueError as exc:
                raise EncodingsError(f"encoding of activation {name!r} does not fit its value of shape "
                                     f"{tuple(value.shape)}: {exc}") from None
            self._per_rank_quantizers[key] = q
        return q

    # -- running --------------------------------------------------------------------------------

    def run(self, feeds: dict, keep: set[str], pre_quant: set[str] = frozenset(), outer=None,
            observer=None) -> tuple[dict, dict]:
        """Run the graph on `feeds` (input name -> array on this interpreter's device).

        Returns (values, raw): `values` holds every name in `keep` as its consumers see it (after its
        encoding), `raw` every name in `pre_quant` as produced, before its encoding. `outer` holds
        the caller's values, for a subgraph that reads names of its outer scope. `observer`, when
        given, is called as observer(name, value, raw_value) for each graph input and node output as
        it is produced (value after its encoding, raw_value before), so that a caller can look at
        every intermediate without keeping them all.
        """
        # Constants are read, never written or freed: a body's run layers its values over them (no copy).
        values = dict(self.constants) if outer is None else ChainMap({}, self.constants, outer)
        raw = {n: self._raw_constant(n) for n in pre_quant if n in self.constants}
        if observer is not None:
            for name in self.folded:  # computed at load, seen by the observer as if produced now
                observer(name, self.constants[name], self._folded_raw(name))
        with self._errstate():  # a graph input holding inf or NaN quantizes without warnings, like any value
            for name, value in feeds.items():
                self._store(name, value, values, raw, pre_quant, observer)
        for name in self.graph_input_free:
            if name not in keep:
                values.pop(name, None)
        with self._errstate():
            for step in self.steps:
                args = [values[n] if n else None for n in step.inputs]
                result = self._call(step, args, values)
                for name, value in zip(step.outputs, result):
                    if name:
                        self._store(name, value, values, raw, pre_quant, observer)
                for name in step.free:
                    if name not in keep:
                        values.pop(name, None)
        missing = [n for n in keep if n not in values]
        if missing:
            raise ModelError(f"tensor(s) {describe_names(missing)} were not produced (an optional output the node "
                             f"did not compute?)")
        return {n: values[n] for n in keep}, raw

    def run_step(self, output_name: str, inputs: list, quantize_inputs: bool = True):
        """Run the single node that produces `output_name` on the given input values (None for an omitted
        input); returns that output after its encoding. With quantize_inputs, each input is first
        fake-quantized by its own encoding, as the node's producers would have done (for re-running one
        op on values dumped elsewhere)."""
        step = self.producer.get(output_name)
        if step is None:
            raise ModelError(f"no node of {self.source!r} produces tensor {output_name!r}")
        args = []
        for name, value in zip(step.inputs, inputs):
            if value is not None and quantize_inputs and name not in self.constants:
                value = self._quantize(name, value)
            if value is None and name in self.constants:
                value = self.constants[name]
            args.append(value)
        with self._errstate():
            result = self._call(step, args, self.constants)
            return self._quantize(output_name, result[step.outputs.index(output_name)])

    def _errstate(self):
        return np.errstate(all="ignore") if is_numpy(self.xp) else contextlib.nullcontext()

    def _store(self, name, value, values, raw, pre_quant, observer):
        if name in pre_quant:
            raw[name] = value
        quantized = self._quantize(name, value)
        values[name] = quantized
        if observer is not None:
            observer(name, quantized, value)

    def _call(self, step: Step, args: list, values) -> tuple:
        """One kernel call, with host inputs moved to the host and bodies bound to this run's values."""
        for i in step.kernel.host_inputs:
            if i in step.host_args:
                args[i] = step.host_args[i]
            elif i < len(args) and args[i] is not None:
                args[i] = to_host(args[i])
        attrs = step.attrs
        if step.subgraphs:  # bodies run on demand, reading this run's values
            attrs = {**attrs, **{k: partial(g.call, values) for k, g in step.subgraphs.items()}}
        xp = self.xp
        if not is_numpy(xp) and step_needs_host(step, args):  # the rules and their reasons: backend.py
            xp, args = _host_twin(xp), [to_host(a) for a in args]
        try:
            result = step.kernel.fn(xp, *args, **attrs)
            if xp is not self.xp:
                result = tuple(to_device(self.xp, r) for r in (result if isinstance(result, tuple) else (result,)))
        except SimulatorError:  # a body's error (a LimitError there already names its node)
            raise
        except OpError as exc:
            error = _project_error(exc)
            if isinstance(error, LimitError):
                error = LimitError(f"{step.label}: {exc}")
            raise error from None
        except Exception as exc:
            shapes = ", ".join(f"{n or '<omitted>'}: {_describe(a)}" for n, a in zip(step.inputs, args))
            raise KernelError(f"{step.label} failed on inputs ({shapes}): {type(exc).__name__}: {exc}") from exc
        return result if isinstance(result, tuple) else (result,)

    def call(self, outer: dict, *inputs):
        """Run this subgraph on its formal inputs (as many as given), reading outer-scope names from `outer`."""
        feeds = {info.name: value for info, value in zip(self.inputs, inputs)}
        names = [o.name for o in self.outputs]
        values, _ = self.run(feeds, set(names), outer=outer)
        return tuple(values[n] for n in names)

    def _quantize(self, name, value):
        if name not in self.activation_encodings:
            return value
        dtype = getattr(value, "dtype", None)
        if dtype is None or dtype.kind != "f":
            return value  # only float tensors carry a quantizer
        return self._activation_quantizer(name, value)(self.xp, value)


_DTYPE_ATTRIBUTES = ("to", "output_dtype", "dtype")


def _project_error(exc: OpError) -> SimulatorError:
    """An error ops raised on purpose (ops.errors), as the simulator.errors class of the same name and message."""
    return getattr(errors, type(exc).__name__)(str(exc))


def _host_twin(xp):
    """NumPy, wrapped as xp is (a host fallback in deterministic mode stays deterministic)."""
    return Float64Accumulation(np) if isinstance(xp, Float64Accumulation) else np


def step_needs_host(step: Step, args: list) -> bool:
    """Whether a GPU run must run this node on the host: decided at load (_runs_on_host), or because an
    input is a host-resident tensor (a dtype CuPy cannot hold)."""
    return step.runs_on_host or any(on_host(a) for i, a in enumerate(args) if i not in step.kernel.host_inputs)


def _runs_on_host(step: Step) -> bool:
    """A listed op, or an output type CuPy cannot hold (Cast to float8, a Constant of int4, ...)."""
    if step.node.op_type in HOST_FALLBACKS:
        return True
    for name, value in step.attrs.items():
        if name in _DTYPE_ATTRIBUTES and isinstance(value, int) and value:
            try:
                if not device_can_hold(onnx.helper.tensor_dtype_to_np_dtype(value)):
                    return True
            except (KeyError, TypeError, ValueError):
                return True
        elif isinstance(value, np.ndarray) and not device_can_hold(value.dtype):
            return True
    return False


def _describe(a) -> str:
    if a is None:
        return "None"
    shape = getattr(a, "shape", None)
    return f"{getattr(a, 'dtype', type(a).__name__)}{list(shape) if shape is not None else ''}"


__all__ = ["Interpreter", "TensorInfo", "topological_order", "DataError"]
