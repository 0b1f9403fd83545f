"""kernels="onnxruntime": ONNX Runtime's own CPU kernels for the ops whose float32 sums NumPy cannot order
as ONNX Runtime (MLAS) does, plus the rewrites ONNX Runtime applies between unquantized nodes.

AIMET's QuantSim is ONNX Runtime (default optimisation level) with each quantizer an opaque custom node.
Every elementwise, pooling, Softmax, Gather and data-movement kernel of the project is bit-identical to
ONNX Runtime's; the ops in ORT_OPS are not (BLAS and MLAS sum in different orders). Each such node is
prepared once, at load, as a one-node ONNX Runtime session with every input (weights included) fed as a
graph input, as AIMET's quantizer outputs are, and graph optimisations off; the interpreter, the
quantizers and every intermediate stay the project's. `rewrite_plan` then reproduces the rewrites
ONNX Runtime's default level applies where no quantizer sits between two nodes (DivMulFusion).
"""
from __future__ import annotations

import threading

import numpy as np
import onnx

from ops.registry import Kernel

from .errors import DeviceError, ParameterError

KERNEL_MODES = ("numpy", "onnxruntime")
ORT_INSTALL_HINT = "install the extra from the project's folder: pip install '.[onnxruntime]'"

# Measured with conformance/ort_node_diff.py: the ops whose nodes differ from ONNX Runtime, each re-run on
# the same inputs, over every golden case. Every other op there is bit-identical.
ORT_OPS = frozenset({"Conv", "ConvTranspose", "MatMul", "Gemm", "LayerNormalization"})


def check_kernels(kernels: str, use_cuda: bool = False, deterministic: bool = False) -> None:
    """A clear error for an unknown mode, for ORT kernels on the GPU or in deterministic mode, or when
    onnxruntime is not installed."""
    if kernels not in KERNEL_MODES:
        raise ParameterError(f"kernels={kernels!r} is not a kernel mode; expected one of {', '.join(KERNEL_MODES)}")
    if kernels != "onnxruntime":
        return
    if use_cuda:
        raise ParameterError("kernels='onnxruntime' runs ONNX Runtime's CPU kernels (those of AIMET's CPU QuantSim) "
                             "and cannot be combined with use_cuda=True; use kernels='numpy' on the GPU")
    if deterministic:
        raise ParameterError("kernels='onnxruntime' reproduces ONNX Runtime's float32 summation order and "
                             "deterministic=True replaces it with float64 accumulation: choose one of the two")
    onnxruntime()


def onnxruntime():
    try:
        import onnxruntime as ort  # noqa: PLC0415 - optional dependency, imported only when asked for
    except ImportError as exc:
        raise DeviceError(f"kernels='onnxruntime' needs the onnxruntime package, which is not installed ({exc}); "
                          f"{ORT_INSTALL_HINT}") from None
    return ort


def _session_options(ort):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    # One thread per node session: dozens of sessions each with its own spinning pool would fight over the
    # cores. MLAS splits a product over threads by output blocks, never along the sum, so bits do not move.
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.log_severity_level = 3
    return so


class OrtNode:
    """One node as a one-node ONNX Runtime session; called like a kernel: fn(xp, *inputs) -> tuple.

    `bake` (at load) builds the session with the node's constant inputs (quantized weights) as initializers,
    as AIMET's session holds them: ONNX Runtime then pre-packs a MatMul/Gemm weight, whose packed product
    sums in another order than the unpacked one (measured: K=384 MatMuls of the KV decoder). The other
    inputs are graph inputs, typed float32 unless they arrive otherwise (a session for those types is then
    built once and cached), and a call whose constant arguments are not the baked arrays (a re-run on
    dumped values) feeds every input."""

    def __init__(self, node: onnx.NodeProto, opsets: dict[str, int]):
        self.node = node
        self.opsets = opsets
        self.input_names = [f"in{i}" if name else "" for i, name in enumerate(node.input)]
        self.output_names = [f"out{i}" if name else "" for i, name in enumerate(node.output)]
        self.baked: dict[int, np.ndarray] = {}
        self._sessions: dict[tuple, object] = {}
        self._lock = threading.Lock()

    def bake(self, constants: dict[int, np.ndarray]) -> None:
        """Hold these inputs (index -> array) inside the session; builds it now, for float32 other inputs."""
        self.baked = dict(constants)
        self._session(tuple(self._type(self.baked[i]) if i in self.baked else onnx.TensorProto.FLOAT
                            for i, n in enumerate(self.input_names) if n), True)

    @staticmethod
    def _type(a) -> int:
        return onnx.helper.np_dtype_to_tensor_dtype(np.asarray(a).dtype)

    def _session(self, types: tuple, baked: bool):
        key = (types, baked)
        sess = self._sessions.get(key)
        if sess is None:
            with self._lock:
                if key not in self._sessions:
                    self._sessions[key] = self._build(types, self.baked if baked else {})
                sess = self._sessions[key]
        return sess

    def _build(self, types: tuple, baked: dict):
        ort = onnxruntime()
        node = onnx.NodeProto()
        node.CopyFrom(self.node)
        del node.input[:], node.output[:]
        node.input.extend(self.input_names)
        node.output.extend(self.output_names)
        present = [(i, n) for i, n in enumerate(self.input_names) if n]
        inputs = [onnx.helper.make_tensor_value_info(n, t, None) for (i, n), t in zip(present, types) if i not in baked]
        weights = [onnx.numpy_helper.from_array(np.asarray(baked[i]), n) for i, n in present if i in baked]
        graph = onnx.helper.make_graph([node], "node", inputs, [onnx.ValueInfoProto(name=n)
                                                               for n in self.output_names if n], weights)
        model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid(d, v)
                                                             for d, v in self.opsets.items()])
        model.ir_version = min(model.ir_version, 10)
        inferred = onnx.shape_inference.infer_shapes(model)
        for out in model.graph.output:
            found = [vi for vi in inferred.graph.output if vi.name == out.name]
            elem = found[0].type.tensor_type.elem_type if found else 0
            out.type.tensor_type.elem_type = elem or types[0]
        return ort.InferenceSession(model.SerializeToString(), _session_options(ort),
                                    providers=["CPUExecutionProvider"])

    def __call__(self, xp, *inputs, **_attributes):  # attributes are the node's own, inside the session
        baked = bool(self.baked) and all(inputs[i] is a for i, a in self.baked.items())
        skip = self.baked if baked else {}
        feed = {n: np.ascontiguousarray(a) for i, (n, a) in enumerate(zip(self.input_names, inputs))
                if n and a is not None and i not in skip}
        types = tuple(self._type(a) for n, a in zip(self.input_names, inputs) if n)
        names = [n for n in self.output_names if n]
        got = dict(zip(names, self._session(types, baked).run(names, feed)))
        return tuple(got.get(n) for n in self.output_names)


def ort_kernel(kernel: Kernel, node: onnx.NodeProto, opsets: dict[str, int]):
    """`kernel` with its function replaced by ONNX Runtime's, for a node of ORT_OPS (else None)."""
    if kernel.domain != "" or node.op_type not in ORT_OPS:
        return None
    return Kernel(OrtNode(node, opsets), kernel.domain, kernel.op_type, kernel.since_version,
                  kernel.host_inputs, False)


def bake_constants(steps, constants: dict, fixed: set[str]) -> None:
    """Build each ORT node's session, its fixed constant inputs (weights) inside (OrtNode.bake)."""
    for step in steps:
        if isinstance(step.kernel.fn, OrtNode):
            step.kernel.fn.bake({i: constants[n] for i, n in enumerate(step.inputs) if n in fixed})


def divmul_fusions(steps, constants: dict, encoded: set[str], graph_outputs: set[str]) -> dict:
    """ONNX Runtime's DivMulFusion, where AIMET's session applies it: Mul(a, Div(1, b)) computed as Div(a, b)
    when the Div's output has no encoding (no quantizer node between the two), is no graph output, and the
    Mul is its only reader. Returns {index of the Mul step: (a, b)}."""
    readers: dict[str, list[int]] = {}
    for i, step in enumerate(steps):
        for name in step.inputs:
            if name:
                readers.setdefault(name, []).append(i)
    producer = {out: step for step in steps for out in step.outputs if out}
    fused = {}
    for i, step in enumerate(steps):
        if step.node.op_type != "Mul" or step.kernel.domain != "":
            continue
        for k, name in enumerate(step.inputs):
            div = producer.get(name)
            if (div is None or div.node.op_type != "Div" or name in encoded or name in graph_outputs
                    or readers.get(name) != [i] or not _is_one(constants.get(div.inputs[0]))):
                continue
            fused[i] = (step.inputs[1 - k], div.inputs[1])
            break
    return fused


def _is_one(value) -> bool:
    return value is not None and getattr(value, "size", 0) == 1 and np.issubdtype(value.dtype, np.floating) \
        and bool(np.asarray(value).reshape(-1)[0] == 1)
