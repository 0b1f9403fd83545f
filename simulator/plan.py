"""A planned graph: what to run, in which order, with which constants and quantizers. Immutable once built.

simulator.planner builds a Plan from an ONNX graph, simulator.folding folds its constant nodes, and
simulator.executor runs it. Every other module reads a plan's public fields (inputs, steps, producer,
constants, quantizers, ...) and never an executor's internals.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType, ModuleType
from typing import Mapping, Optional

import onnx

from ops.registry import Kernel

from . import graph as _graph
from .encodings import channel_axis_for_param
from .errors import EncodingsError, ModelError
from .quantization import Encoding, Quantizer, bind

EMPTY: Mapping = MappingProxyType({})


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


def tensor_info(vi: onnx.ValueInfoProto) -> TensorInfo:
    """The declared type of a graph input or output (ModelError for an element type ONNX does not define)."""
    tt = vi.type.tensor_type
    if tt.elem_type not in onnx.TensorProto.DataType.values():
        raise ModelError(f"graph input or output {vi.name!r} has element type {tt.elem_type}, which ONNX does not "
                         f"define (expected one of TensorProto.DataType)")
    shape = None
    if tt.HasField("shape"):
        shape = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tt.shape.dim)
    return TensorInfo(vi.name, tt.elem_type, shape)


@dataclass(frozen=True)
class Step:
    """One node as the executor calls it: kernel(xp, *inputs, **attrs)."""
    node: onnx.NodeProto
    kernel: Kernel
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: dict
    free: tuple[str, ...] = ()  # values whose last use is this step (freed after it unless kept)
    subgraphs: Mapping[str, "Plan"] = field(default_factory=lambda: EMPTY)  # GRAPH attributes: name -> Plan
    # Host copies of constant shape-like inputs (input index -> NumPy array), made once at load so that a
    # GPU run reads Reshape's shape, Slice's starts, ... without a device-to-host copy per run.
    host_args: Mapping[int, object] = field(default_factory=lambda: EMPTY)
    runs_on_host: bool = False  # a GPU run must run this node on the host whatever its inputs (backend.py)

    @property
    def label(self) -> str:
        return f"node {self.node.name or '<unnamed>'!r} ({self.node.op_type})"


@dataclass(frozen=True)
class Plan:
    """A graph planned for one array module. Bodies of If/Loop/Scan are Plans too (Step.subgraphs), whose
    `outer_scope` names are read from the caller's values."""
    source: str  # the model's path (or "<model>"), for messages
    xp: ModuleType  # NumPy or CuPy (maybe wrapped: backend.Float64Accumulation)
    rounding: str
    kernels: str  # "numpy" or "onnxruntime" (ort_kernels)
    ort_threads: int
    opsets: Mapping[str, int]  # domain -> opset version
    outer_scope: frozenset
    inputs: tuple[TensorInfo, ...]  # graph inputs that are not initializers: what a feed must hold
    overridable: tuple[TensorInfo, ...]  # graph inputs with an initializer: a feed may replace them
    outputs: tuple[TensorInfo, ...]
    node_order: tuple[onnx.NodeProto, ...]  # every node, in topological order (folded ones included)
    steps: tuple[Step, ...]  # what a run calls, in order (folded nodes are not steps)
    producer: Mapping[str, Step]  # node output name -> the step producing it (folded nodes included)
    value_names: tuple[str, ...]  # inputs, initializers, node outputs: the names a session may request
    body_names: Mapping[str, str]  # tensors inside bodies (any depth) -> label of the node holding the body
    constants: Mapping[str, object]  # initializers and folded outputs, on the device, after their encodings
    raw_params: Mapping[str, object]  # quantized initializers before their encoding (host)
    param_quantizers: Mapping[str, Quantizer]  # initializer name -> its bound quantizer
    activation_encodings: Mapping[str, Encoding]  # tensors quantized as they are produced
    activation_quantizers: Mapping[str, Quantizer]  # ... those whose quantizer needs no shape (per tensor, float)
    folded: Mapping[str, Step] = field(default_factory=lambda: EMPTY)  # outputs computed at load -> their step
    graph_input_free: tuple[str, ...] = ()  # graph inputs no step reads
    encodings_by_name: Mapping[str, Encoding] = field(default_factory=lambda: EMPTY, repr=False)  # for planning bodies
    encodings_path: str = ""

    def consumers(self, name: str) -> list[tuple[str, int, dict]]:
        """(op_type, input index, attributes) of the steps reading `name` (graph.consumers)."""
        return _graph.consumers([(s.node.op_type, s.inputs, s.outputs, s.attrs) for s in self.steps], name)

    def bind_activation(self, name: str, value) -> Optional[Quantizer]:
        """The quantizer of activation `name` for a value of this shape (None: no encoding); not cached (the
        executor keeps one per name and rank)."""
        q = self.activation_quantizers.get(name)
        if q is not None or name not in self.activation_encodings:
            return q
        enc = self.activation_encodings[name]
        # A file that states no axis: the weight rule when the tensor feeds a weight input (a weight built by
        # Constant or DequantizeLinear nodes), else the NCHW channel.
        axis = channel_axis_for_param(self.consumers(name), value.ndim)
        if axis is None:
            axis = 1 if value.ndim > 1 else 0
        try:
            return bind(enc, value.shape, axis, self.rounding).to(self.xp)
        except ValueError as exc:
            raise EncodingsError(f"encoding of activation {name!r} does not fit its value of shape "
                                 f"{tuple(value.shape)}: {exc}") from None


__all__ = ["Plan", "Step", "TensorInfo", "tensor_info"]
