"""Encodings tooling: inspect, convert, calibrate, export to QDQ ONNX.

This package sits at the API level (it may import everything of `simulator` below `api`). The helpers
here describe a model's tensors in graph order and AIMET's placement rules, shared by the tools:

* `graph_tensors(model)`: every tensor (graph inputs, weights where first read, node outputs) with
  its producer op, shape and dtype (ONNX shape inference; observed shapes win when data is given);
* `consumers(model, name)`: (op_type, input index, attributes) of the ops reading a tensor, looking
  through Identity and marking a Transpose in front of MatMul's weight input, as AIMET decides the
  per-channel axis (`simulator.encodings.channel_axis_for_param`);
* `param_axis(model, name, rank)`: that axis;
* `observe(model, encodings, data)`: run a data folder and collect each tensor's observed range.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .. import graph as _graph
from ..encodings import DATA_MOVEMENT_OPS, channel_axis_for_param
# Weight inputs (op, input index) quantized as parameters: symmetric, per-channel when asked.
WEIGHT_INPUTS = frozenset({("Conv", 1), ("ConvTranspose", 1), ("Gemm", 1), ("MatMul", 1)})
# Normalisation scales: AIMET quantizes them asymmetric, per tensor, at 8 bits (ln.weight in the golden cases).
NORM_SCALE_INPUTS = frozenset({("LayerNormalization", 1), ("BatchNormalization", 1),
                               ("InstanceNormalization", 1), ("GroupNormalization", 1)})
# Inputs that are biases: never quantized by AIMET's simulation (2.x files add export-only int32 encodings).
BIAS_INPUTS = frozenset({("Conv", 2), ("ConvTranspose", 2), ("Gemm", 2), ("LayerNormalization", 2),
                         ("BatchNormalization", 2), ("BatchNormalization", 3), ("BatchNormalization", 4),
                         ("InstanceNormalization", 2), ("GroupNormalization", 2)})
# AIMET's default supergroups: the first op's output is not quantized when its only consumer is the second.
SUPERGROUPS = frozenset({
    ("Conv", "Relu"), ("Conv", "Clip"), ("Conv", "BatchNormalization"), ("ConvTranspose", "Relu"),
    ("ConvTranspose", "Clip"), ("ConvTranspose", "BatchNormalization"), ("BatchNormalization", "Relu"),
    ("BatchNormalization", "Clip"), ("Gemm", "Relu"), ("Gemm", "Clip"), ("MatMul", "Relu"), ("Add", "Relu"),
    ("Add", "Clip"), ("MatMul", "Add"),
})


@dataclass
class TensorEntry:
    """One tensor of the graph, in graph order."""
    name: str
    kind: str  # "input", "weight" (an initializer), "constant" (a Constant node's output), "activation"
    op: str  # the producing op type; "input" / "initializer" for those
    node: str = ""  # the producing node's name
    shape: tuple | None = None
    dtype: str | None = None  # numpy dtype name
    consumers: list = field(default_factory=list)  # (op_type, node name, input index)

    @property
    def is_float(self) -> bool:
        return self.dtype in ("float32", "float16", "float64", "bfloat16")


def _dtype_name(elem_type: int) -> str | None:
    if not elem_type:
        return None
    if elem_type == onnx.TensorProto.BFLOAT16:
        return "bfloat16"
    try:
        return np.dtype(helper.tensor_dtype_to_np_dtype(elem_type)).name
    except Exception:  # noqa: BLE001 - exotic types (float8, int4): their ONNX name
        return onnx.TensorProto.DataType.Name(elem_type).lower()


def _shape_of(vi: onnx.ValueInfoProto):
    tt = vi.type.tensor_type
    if not tt.HasField("shape"):
        return None
    # shape inference names the dimensions it cannot tell "unk__N": unknown, as an unnamed one (printed "?")
    return tuple(d.dim_value if d.HasField("dim_value") else
                 (None if not d.dim_param or d.dim_param.startswith("unk__") else d.dim_param) for d in tt.shape.dim)


def _inferred(model: onnx.ModelProto) -> dict[str, tuple]:
    """name -> (shape, dtype) from ONNX shape inference (best effort: {} where it fails)."""
    out = {}
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False)
    except Exception:  # noqa: BLE001 - inference is a nicety
        inferred = model
    g = inferred.graph
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        out[vi.name] = (_shape_of(vi), _dtype_name(vi.type.tensor_type.elem_type))
    return out


def graph_tensors(model: onnx.ModelProto) -> list[TensorEntry]:
    """The graph's tensors in graph order: inputs, then per node (topological order) the initializers it
    reads for the first time, then its outputs; unread initializers last."""
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    info = _inferred(model)
    entries: dict[str, TensorEntry] = {}
    for vi in g.input:
        if vi.name in inits:
            continue
        entries[vi.name] = TensorEntry(vi.name, "input", "input", "", _shape_of(vi),
                                       _dtype_name(vi.type.tensor_type.elem_type))
    available = set(inits) | set(entries)
    for node in _graph.topological_order(g, available):
        for idx, name in enumerate(node.input):
            if name in inits and name not in entries:
                t = inits[name]
                entries[name] = TensorEntry(name, "weight", "initializer", "", tuple(t.dims), _dtype_name(t.data_type))
            if name in entries:
                entries[name].consumers.append((node.op_type, node.name, idx))
        for name in node.output:
            if not name:
                continue
            shape, dtype = info.get(name, (None, None))
            if node.op_type == "Constant" and node.attribute:
                try:
                    value = numpy_helper.to_array(helper.get_attribute_value(node.attribute[0]))
                    shape, dtype = tuple(value.shape), value.dtype.name
                except Exception:  # noqa: BLE001 - value_float(s)/int(s) forms
                    pass
            kind = "constant" if node.op_type == "Constant" else "activation"
            entries[name] = TensorEntry(name, kind, node.op_type, node.name, shape, dtype)
    for name, t in inits.items():
        if name not in entries:
            entries[name] = TensorEntry(name, "weight", "initializer", "", tuple(t.dims), _dtype_name(t.data_type))
    return list(entries.values())


def consumers(model: onnx.ModelProto, name: str) -> list[tuple[str, int, dict]]:
    """(op_type, input index, attributes) of the nodes reading `name`, through Identity; a Transpose in front
    of MatMul's input 1 is reported as "Transpose->MatMul" (the rule of channel_axis_for_param)."""
    readers = [(n.op_type, n.input, n.output, n) for n in model.graph.node]
    return _graph.consumers(readers, name, _int_float_attributes)


def _int_float_attributes(node: onnx.NodeProto) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute
            if a.type in (onnx.AttributeProto.INT, onnx.AttributeProto.FLOAT)}


def param_axis(model: onnx.ModelProto, name: str, rank: int) -> int | None:
    """The per-channel axis AIMET uses for weight `name` of rank `rank` (None: no consumer decides it)."""
    return channel_axis_for_param(consumers(model, name), rank)


@dataclass
class Observed:
    """A tensor's values seen over a data folder (before its encoding)."""
    min: float = float("inf")
    max: float = float("-inf")
    count: int = 0
    shape: tuple | None = None
    dtype: str | None = None
    outside: int = 0  # values beyond the encoding's grid, when a grid was given

    def update(self, value, grid=None):
        a = np.asarray(value)
        self.shape, self.dtype = tuple(a.shape), a.dtype.name
        if a.dtype.kind != "f" or a.size == 0:
            return
        finite = a[np.isfinite(a)] if not np.isfinite(a).all() else a
        if finite.size:
            self.min = min(self.min, float(finite.min()))
            self.max = max(self.max, float(finite.max()))
        self.count += a.size
        if grid is not None:
            lo, hi = grid
            self.outside += int(np.count_nonzero((a < lo) | (a > hi)))

    def merge(self, later: "Observed") -> "Observed":
        """The range over both (exact: min and max do not depend on the order); shape and dtype: the later's."""
        self.min, self.max = min(self.min, later.min), max(self.max, later.max)
        self.count += later.count
        self.outside += later.outside
        if later.shape is not None:
            self.shape, self.dtype = later.shape, later.dtype
        return self


class _ObserveState:
    """One process's part of observe: the interpreter and the data folder."""

    def __init__(self, model, data_path, encodings, source, grids, options=None):
        from .. import data as _data  # noqa: PLC0415
        from ..interpreter import Interpreter  # noqa: PLC0415

        self.interp = Interpreter.from_options(model, encodings, options, source=source)
        self.reader = _data.SampleReader(data_path, self.interp.inputs)
        self.grids = grids or {}


def _observe_shard(state: _ObserveState, names: list) -> dict:
    """{tensor name: Observed} over one shard of samples (runner work function)."""
    from ..backend import to_device, to_host  # noqa: PLC0415

    stats: dict[str, Observed] = {}

    def observer(name, value, raw):
        st = stats.get(name)
        if st is None:
            st = stats[name] = Observed()
        st.update(to_host(raw), state.grids.get(name))

    xp = state.interp.xp
    for sample in names:
        state.interp.run({k: to_device(xp, v) for k, v in state.reader.read(sample).items()}, set(), observer=observer)
    return stats


def observe(model: onnx.ModelProto, data_path, encodings=None, source: str = "<model>", grids=None,
            max_samples: int | None = None, options=None, runner_options=None) -> tuple[dict[str, Observed], int]:
    """Run every sample of a data folder (with `encodings` applied when given) and collect, per graph input
    and node output, the range of its values before its encoding. `grids` (name -> (lo, hi)) counts the
    values outside each grid; `options` (a parameter schema, None: the defaults) chooses device, deterministic
    mode, rounding and kernels as for a session; `runner_options` (simulator.runner.Options: workers,
    scheduler, executor) spreads the samples over processes (ranges merge exactly). Returns ({name: Observed},
    number of samples)."""
    from .. import runner as _runner  # noqa: PLC0415

    if max_samples is not None and (isinstance(max_samples, bool) or not isinstance(max_samples, int)
                                    or max_samples < 1):
        from ..errors import ParameterError  # noqa: PLC0415
        raise ParameterError(f"max_samples must be a whole number of 1 or more (or None: every sample), got "
                             f"{max_samples!r}")
    state = _ObserveState(model, data_path, encodings, source, grids, options)
    names = state.reader.names[:max_samples] if max_samples is not None else state.reader.names
    stats: dict[str, Observed] = {}

    def merge(index, shard, observed):
        for name, st in observed.items():
            if name in stats:
                stats[name].merge(st)
            else:
                stats[name] = st

    task = _runner.Task("simulator.tools:_ObserveState", (model, data_path, encodings, source, grids, options),
                        "simulator.tools:_observe_shard", "observe", use_cuda=getattr(options, "use_cuda", False))
    _runner.run(task, names, merge, runner_options or _runner.Options(), local_state=state)
    return stats, len(names)


__all__ = ["DATA_MOVEMENT_OPS", "WEIGHT_INPUTS", "NORM_SCALE_INPUTS", "BIAS_INPUTS", "SUPERGROUPS", "TensorEntry",
           "graph_tensors", "consumers", "param_axis", "Observed", "observe"]
