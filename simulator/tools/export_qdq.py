"""Export a model and its encodings as a standard QDQ ONNX model that ONNX Runtime (or any QDQ reader) runs.

Every encoded tensor gets its quantizer as standard ops:

* a weight (an encoded initializer): stored as integers (int8/uint8/int16/uint16/int4/uint4) computed with
  ONNX Runtime's QuantizeLinear formula, then `DequantizeLinear` → the original name;
* an activation (graph input, node output, Constant output): `QuantizeLinear` → `DequantizeLinear`; a node
  output keeps its name on the DequantizeLinear (the producer's output is renamed `<name>_prequant`), so
  graph outputs and intermediate names stay as they were;
* per-channel: the `axis` attribute; per-block: `block_size` (opset 21);
* float16 / bfloat16: a `Cast` pair (float32 → float16 → float32), no scale.

Symmetric encodings use the signed type (zero point 0 for AIMET's full-range symmetric grids), the others
the unsigned type with zero point = −offset. int4/uint4 and int16/uint16 need ai.onnx opset 21: the model is
converted to opset 21 (onnx.version_converter) when it uses them and is older.

Where this differs from the AIMET simulation (docs/encodings-tools.md): QuantizeLinear rounds x/scale to
even *before* adding the zero point, AIMET subtracts its offset first and rounds ties away from zero; and
a runtime with graph optimizations on fuses QDQ groups into integer kernels. The simulator's rounding mode
"onnxruntime_qdq" matches the exported model under ONNX Runtime with graph optimizations off.
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .. import safe_io
from ..encodings import EncodingsFile, load_encodings
from ..encodings.layout import blocks
from ..errors import EncodingsError, ModelError
from ..graph import topological_order
from ..names import resolve_updated
from ..quantization import Encoding, Granularity, bind, quantize_linear
from . import param_axis

QDQ_OPSET = 21
_TYPES = {  # (bits, signed) -> (TensorProto type, numpy dtype for values, low, high)
    (4, True): (TensorProto.INT4, np.int8, -8, 7), (4, False): (TensorProto.UINT4, np.uint8, 0, 15),
    (8, True): (TensorProto.INT8, np.int8, -128, 127), (8, False): (TensorProto.UINT8, np.uint8, 0, 255),
    (16, True): (TensorProto.INT16, np.int16, -32768, 32767), (16, False): (TensorProto.UINT16, np.uint16, 0, 65535),
}


@dataclass
class Exported:
    model: onnx.ModelProto
    quantized: list[str]  # tensor names that got a quantizer
    notes: list[str] = field(default_factory=list)


def _qtype(enc: Encoding, name: str):
    key = (enc.bitwidth, bool(enc.symmetric))
    if key not in _TYPES:
        raise EncodingsError(f"tensor {name!r}: a {enc.bitwidth}-bit grid has no ONNX QuantizeLinear type "
                             f"(4, 8 and 16 bits can be exported)")
    ttype, npt, lo, hi = _TYPES[key]
    shift = 2 ** (enc.bitwidth - 1) if enc.symmetric else 0
    zp = -np.asarray(enc.offset, np.float64) - shift
    if np.any(zp != np.round(zp)) or np.any(zp < lo) or np.any(zp > hi):
        raise EncodingsError(f"tensor {name!r}: offset {np.asarray(enc.offset).reshape(-1)[0]} gives a zero point "
                             f"outside the {onnx.TensorProto.DataType.Name(ttype).lower()} range")
    return ttype, npt, lo, hi, zp


def _tensor(name, ttype, values: np.ndarray) -> onnx.TensorProto:
    values = np.asarray(values)
    if ttype in (TensorProto.INT4, TensorProto.UINT4):
        return helper.make_tensor(name, ttype, list(values.shape), values.reshape(-1).astype(np.int64).tolist())
    return numpy_helper.from_array(values, name)


def _scale_zp(enc: Encoding, name: str, shape, channel_axis):
    """(scale array, zero-point values, axis attribute, block_size attribute) for Q/DQ of a tensor of `shape`."""
    ttype, npt, lo, hi, _ = _qtype(enc, name)
    shift = 2 ** (enc.bitwidth - 1) if enc.symmetric else 0
    if enc.granularity == Granularity.PER_TENSOR:
        return np.float32(np.asarray(enc.scale).reshape(-1)[0]), np.asarray(-np.asarray(enc.offset).reshape(-1)[0] - shift), None, None
    if enc.granularity == Granularity.PER_CHANNEL:
        axis = enc.axis if enc.axis is not None else channel_axis
        if axis is None:
            raise EncodingsError(f"tensor {name!r}: per-channel encoding without an axis")
        scale = np.asarray(enc.scale, np.float32).reshape(-1)
        zp = -np.broadcast_to(np.asarray(enc.offset, np.float64).reshape(-1), scale.shape) - shift
        return scale, zp, int(axis), None
    scale, offset, _, block_axis = blocks(enc, shape, channel_axis)
    return scale.astype(np.float32), -offset.astype(np.float64) - shift, int(block_axis), int(enc.block_size)


def _quantize_ort(x: np.ndarray, scale, zp, axis, block_size, lo, hi, shape):
    """ONNX Runtime's QuantizeLinear on a weight (quantization.quantize_linear), scale and zero point laid out
    per tensor, per channel along `axis` or in blocks of `block_size` along it."""
    s = np.asarray(scale, np.float32)
    z = np.asarray(zp, np.float64)
    if axis is not None and block_size is None:
        bshape = [1] * len(shape)
        bshape[axis] = -1
        s, z = s.reshape(bshape), z.reshape(bshape)
    elif block_size is not None:
        s, z = np.repeat(s, block_size, axis=axis), np.repeat(z, block_size, axis=axis)
    return quantize_linear(x, s, z, lo, hi)


def export_qdq(model, encodings, output=None, apply_int32_bias: bool = False) -> Exported:
    """The QDQ model of `model` (path or ModelProto) with `encodings` (path or EncodingsFile); saved to
    `output` when given (weights inside the file)."""
    from ..model import load_model  # noqa: PLC0415

    if isinstance(model, (str, os.PathLike)):
        model = load_model(model)
    model = copy.deepcopy(model)
    enc_file = encodings if isinstance(encodings, EncodingsFile) else load_encodings(encodings)
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    value_names = {i.name for i in g.input} | set(inits) | {o for n in g.node for o in n.output}
    notes = []
    wanted: dict[str, Encoding] = {}
    for name, enc in enc_file.encodings.items():
        base = resolve_updated(name, value_names)
        if base is None:
            raise EncodingsError(f"{enc_file.path or '<encodings>'}: tensor {name!r} does not exist in the model "
                                 f"(inside an If/Loop/Scan body? those are not exported)")
        wanted[base] = enc
    if enc_file.int32_bias:
        notes.append(f"{len(enc_file.int32_bias)} int32 bias encoding(s) not exported: AIMET's simulation does not "
                     f"apply them" + ("" if not apply_int32_bias else " (and QuantizeLinear has no float64 path)"))

    needs21 = any(not e.is_float and (e.bitwidth != 8 or e.granularity == Granularity.PER_BLOCK)
                  for e in wanted.values())
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if needs21 and opset < QDQ_OPSET:
        from onnx import version_converter  # noqa: PLC0415
        try:
            model = version_converter.convert_version(model, QDQ_OPSET)
        except Exception as exc:  # noqa: BLE001
            raise ModelError(f"the encodings need int4/int16 QuantizeLinear (opset {QDQ_OPSET}), and the model "
                             f"(opset {opset}) cannot be converted to it: {exc}") from None
        notes.append(f"model converted from opset {opset} to {QDQ_OPSET} (int4/int16 QDQ)")
        g = model.graph
        inits = {t.name: t for t in g.initializer}
    elif opset < 13:
        raise ModelError(f"QDQ export needs ai.onnx opset 13 or later (per-axis DequantizeLinear); the model has {opset}")
    model.ir_version = max(model.ir_version, 10 if needs21 else model.ir_version)

    float_types = {TensorProto.FLOAT}
    from . import graph_tensors  # noqa: PLC0415
    dtypes = {e.name: e.dtype for e in graph_tensors(model)}
    new_nodes_after: dict[str, list] = {}  # producer output -> nodes to insert after its producer
    head_nodes = []
    new_inits = []
    rename_inputs: dict[str, str] = {}
    quantized = []

    for name, enc in wanted.items():
        if name in inits:
            t = inits[name]
            if t.data_type not in float_types:
                raise EncodingsError(f"tensor {name!r}: initializer of type "
                                     f"{TensorProto.DataType.Name(t.data_type)}; only float32 weights are exported")
            w = numpy_helper.to_array(t)
            g.initializer.remove(t)
            for vi in list(g.input):
                if vi.name == name:
                    g.input.remove(vi)
            if enc.is_float:
                ftype = TensorProto.BFLOAT16 if enc.float_format == "bfloat16" else TensorProto.FLOAT16
                if ftype == TensorProto.FLOAT16:
                    new_inits.append(numpy_helper.from_array(w.astype(np.float16), f"{name}_fp16"))
                else:
                    import ml_dtypes  # noqa: PLC0415
                    new_inits.append(helper.make_tensor(f"{name}_fp16", ftype, list(w.shape),
                                                        w.astype(ml_dtypes.bfloat16).view(np.uint16).reshape(-1).tolist(),
                                                        raw=False))
                head_nodes.append(helper.make_node("Cast", [f"{name}_fp16"], [name], name=f"{name}_cast", to=TensorProto.FLOAT))
            else:
                axis = param_axis(model, name, w.ndim) if enc.granularity != Granularity.PER_TENSOR else None
                if enc.granularity == Granularity.PER_CHANNEL and axis is None and enc.axis is None:
                    fits = [a for a, d in enumerate(w.shape) if d == np.asarray(enc.scale).size]
                    axis = fits[0] if len(fits) == 1 else None
                ttype, npt, lo, hi, _ = _qtype(enc, name)
                scale, zp, ax, bs = _scale_zp(enc, name, w.shape, axis)
                if ax is not None:
                    ax %= w.ndim
                q = _quantize_ort(w, scale, zp, ax, bs, lo, hi, w.shape)
                new_inits += [_tensor(f"{name}_quantized", ttype, q.astype(npt)),
                              numpy_helper.from_array(np.asarray(scale, np.float32), f"{name}_scale"),
                              _tensor(f"{name}_zero_point", ttype, np.asarray(zp).astype(npt))]
                attrs = {} if ax is None else {"axis": ax}
                if bs is not None:
                    attrs["block_size"] = bs
                head_nodes.append(helper.make_node("DequantizeLinear", [f"{name}_quantized", f"{name}_scale",
                                                                        f"{name}_zero_point"], [name],
                                                   name=f"{name}_DequantizeLinear", **attrs))
            quantized.append(name)
            continue
        if dtypes.get(name) not in (None, "float32"):
            notes.append(f"tensor {name!r} ({dtypes.get(name)}) left as it is: only float32 activations are exported")
            continue
        if enc.granularity == Granularity.PER_BLOCK:
            raise EncodingsError(f"tensor {name!r}: per-block encodings are for weights")
        is_input = name in {i.name for i in g.input}
        src = name if is_input else f"{name}_prequant"
        dst = f"{name}_dq" if is_input else name
        if enc.is_float:
            ftype = TensorProto.BFLOAT16 if enc.float_format == "bfloat16" else TensorProto.FLOAT16
            nodes = [helper.make_node("Cast", [src], [f"{name}_fp16"], name=f"{name}_cast_fp16", to=ftype),
                     helper.make_node("Cast", [f"{name}_fp16"], [dst], name=f"{name}_cast_back", to=TensorProto.FLOAT)]
        else:
            ttype, npt, lo, hi, _ = _qtype(enc, name)
            scale, zp, ax, _ = _scale_zp(enc, name, None, 1)
            new_inits += [numpy_helper.from_array(np.asarray(scale, np.float32), f"{name}_scale"),
                          _tensor(f"{name}_zero_point", ttype, np.asarray(zp).astype(npt))]
            attrs = {} if ax is None else {"axis": ax}
            nodes = [helper.make_node("QuantizeLinear", [src, f"{name}_scale", f"{name}_zero_point"], [f"{name}_q"],
                                      name=f"{name}_QuantizeLinear", **attrs),
                     helper.make_node("DequantizeLinear", [f"{name}_q", f"{name}_scale", f"{name}_zero_point"], [dst],
                                      name=f"{name}_DequantizeLinear", **attrs)]
        if is_input:
            head_nodes += nodes
            rename_inputs[name] = dst
        else:
            new_nodes_after[name] = nodes
        quantized.append(name)

    out_nodes = list(head_nodes)
    for node in g.node:
        for i, x in enumerate(node.input):
            if x in rename_inputs:
                node.input[i] = rename_inputs[x]
        after = []
        for i, o in enumerate(node.output):
            if o in new_nodes_after:
                node.output[i] = f"{o}_prequant"
                after += new_nodes_after[o]
        out_nodes.append(node)
        out_nodes += after
    for vi in list(g.value_info):
        if vi.name in new_nodes_after:
            vi.name = f"{vi.name}_prequant"
    del g.node[:]
    g.node.extend(out_nodes)
    g.initializer.extend(new_inits)
    # a graph input that is also a graph output keeps its float value there
    if needs21 or any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in out_nodes):
        for o in model.opset_import:
            if o.domain in ("", "ai.onnx") and needs21:
                o.version = max(o.version, QDQ_OPSET)
    available = {i.name for i in g.input} | {t.name for t in g.initializer}
    ordered = topological_order(g, available)
    del g.node[:]
    g.node.extend(ordered)
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise ModelError(f"the exported QDQ model does not pass the ONNX checker: {exc}") from None
    if output is not None:
        try:
            data = model.SerializeToString()
        except ValueError as exc:  # over protobuf's 2 GB
            raise ModelError(f"cannot write the QDQ model to {os.fspath(output)!r}: {exc}") from None
        with safe_io.atomic_write(output, "QDQ model file", ModelError) as f:
            f.write(data)
    return Exported(model, quantized, notes)


def _ort_session(model, optimize: bool = False):
    """An ONNX Runtime CPU session of a (QDQ) model; graph optimizations off unless `optimize`."""
    import onnxruntime as ort  # noqa: PLC0415

    so = ort.SessionOptions()
    so.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize
                                   else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else os.fspath(model)
    return ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])


def run_onnxruntime(model, feeds: dict, output_names=None, optimize: bool = False) -> list[np.ndarray]:
    """Run a (QDQ) model in ONNX Runtime on the CPU; graph optimizations off unless `optimize`."""
    return _ort_session(model, optimize).run(output_names, feeds)


class _CheckState:
    """One process's part of compare_with_simulator: the simulator (rounding onnxruntime_qdq), the QDQ model's
    ONNX Runtime session and the data folder."""

    def __init__(self, model, enc_file, qdq_model, data_path, options, source):
        from .. import data as _data  # noqa: PLC0415
        from ..interpreter import Interpreter  # noqa: PLC0415
        from ..quantization import ONNXRUNTIME_QDQ  # noqa: PLC0415

        self.interp = Interpreter.from_options(model, enc_file, options, source=source, rounding=ONNXRUNTIME_QDQ)
        self.names = [o.name for o in self.interp.outputs]
        self.ort = _ort_session(qdq_model)
        self.reader = _data.SampleReader(data_path, self.interp.inputs)


def _check_shard(state: _CheckState, names: list) -> list:
    """Per sample of the shard, per graph output: [identical elements, elements, sum of squares, sum of squared
    differences] (runner work function; the merge adds them in sample order, as one loop would)."""
    from ..backend import to_device, to_host  # noqa: PLC0415

    out = []
    for sample in names:
        feed = state.reader.read(sample)
        sim, _ = state.interp.run({k: to_device(state.interp.xp, v) for k, v in feed.items()}, set(state.names))
        ort = state.ort.run(state.names, feed)
        for name, o in zip(state.names, ort):
            a = np.asarray(to_host(sim[name]))
            same = int(np.count_nonzero((a == o) | (np.isnan(a) & np.isnan(o)) if a.dtype.kind == "f" else a == o))
            out.append([same, int(a.size), float(np.sum(np.square(a, dtype=np.float64))),
                        float(np.sum(np.square(a.astype(np.float64) - o)))])
    return out


def compare_with_simulator(model, encodings, qdq_model, data_path, max_samples: int | None = None,
                           options=None, runner_options=None) -> dict:
    """Run `qdq_model` in ONNX Runtime (optimizations off) and the simulator in rounding mode onnxruntime_qdq
    on every sample of `data_path`; count identical output elements and the SNR between the two. `options` (a
    parameter schema, None: the defaults) chooses the simulator's device, deterministic mode and kernels;
    `runner_options` (simulator.runner.Options, None: this process) spreads the samples over processes."""
    from .. import runner as _runner  # noqa: PLC0415
    from ..model import load_model  # noqa: PLC0415

    source = os.fspath(model) if isinstance(model, (str, os.PathLike)) else "<model>"
    if isinstance(model, (str, os.PathLike)):
        model = load_model(model)
    enc_file = encodings if isinstance(encodings, EncodingsFile) else load_encodings(encodings)
    args = (model, enc_file, qdq_model, data_path, options, source)
    state = _CheckState(*args)
    names = state.reader.names if max_samples is None else state.reader.names[:max(1, max_samples)]
    totals = {"same": 0, "total": 0, "num": 0.0, "den": 0.0}

    def merge(index, shard, rows):
        for same, size, num, den in rows:
            totals["same"] += same
            totals["total"] += size
            totals["num"] += num
            totals["den"] += den

    task = _runner.Task("simulator.tools.export_qdq:_CheckState", args, "simulator.tools.export_qdq:_check_shard",
                        "export-check", use_cuda=getattr(options, "use_cuda", False), encode=list, decode=list)
    _runner.run(task, names, merge, runner_options or _runner.Options(), local_state=state)
    num, den = totals["num"], totals["den"]
    snr = float("inf") if den == 0 else (10 * np.log10(num / den) if num > 0 else float("-inf"))
    return {"samples": len(names), "elements": totals["total"], "identical": totals["same"], "snr_db": snr}


__all__ = ["export_qdq", "Exported", "run_onnxruntime", "compare_with_simulator", "QDQ_OPSET", "bind"]
