"""kernels="onnxruntime": ONNX Runtime's own CPU kernels for the ops whose float32 sums NumPy cannot order
as ONNX Runtime (MLAS) does, plus the rewrites ONNX Runtime applies between unquantized nodes.

AIMET's QuantSim is ONNX Runtime (default optimisation level) with each quantizer an opaque custom node.
Every elementwise, pooling, Softmax, Gather and data-movement kernel of the project is bit-identical to
ONNX Runtime's; the ops in ORT_OPS are not (BLAS and MLAS sum in different orders). Each such node is
prepared once, at load, as a one-node ONNX Runtime session with every input (weights included) fed as a
graph input, as AIMET's quantizer outputs are, and graph optimisations off; the interpreter, the
quantizers and every intermediate stay the project's. `divmul_fusions` finds, for the plan, the rewrite
ONNX Runtime's default level applies where no quantizer sits between two nodes (DivMulFusion).
Measured choices (threads, fed weights, one-node sessions): docs/quantization.md, "Kernel modes".
"""
from __future__ import annotations

import threading
import weakref

import numpy as np
import onnx

from ops.registry import Kernel

from .errors import DeviceError, KernelError, ParameterError

KERNEL_MODES = ("numpy", "onnxruntime")
ORT_INSTALL_HINT = "install the extra from the project's folder: pip install '.[onnxruntime]'"

MS = "com.microsoft"
# The one table of which ops run on ONNX Runtime in this mode, by domain. ai.onnx: measured with
# conformance/ort_node_diff.py, the ops whose nodes differ from ONNX Runtime, each re-run on the same inputs,
# over every golden case (every other op there is bit-identical). SimplifiedLayerNormalization (ONNX Runtime
# registers it in the ONNX domain) and com.microsoft: the contrib ops of LLM exports whose NumPy kernels
# follow MLAS's sums only in the cases measured (ops/contrib_*.py; tests/test_ort_kernels_contrib.py). The
# Gelus' NumPy kernels are bit-identical to ONNX Runtime's on every size and scale measured (440,000 elements),
# but one ONNX Runtime call is cheaper than their emulated MLAS erf / tanh (the small decoder's token step:
# 0.36 against 0.42 ms), so they run here too.
ORT_OPS = {
    "": frozenset({"Conv", "ConvTranspose", "MatMul", "Gemm", "LayerNormalization", "SimplifiedLayerNormalization"}),
    MS: frozenset({"MultiHeadAttention", "GroupQueryAttention", "RotaryEmbedding", "SkipLayerNormalization",
                   "SkipSimplifiedLayerNormalization", "MatMulNBits", "Gelu", "BiasGelu", "FastGelu", "QuickGelu"}),
}


def check_kernels(kernels: str, use_cuda: bool = False, deterministic: bool = False, ort_threads: int = 0) -> None:
    """A clear error for an unknown mode, for ORT kernels on the GPU or in deterministic mode, for a thread
    count that is not one, or when onnxruntime is not installed."""
    if kernels not in KERNEL_MODES:
        raise ParameterError(f"kernels={kernels!r} is not a kernel mode; expected one of {', '.join(KERNEL_MODES)}")
    if isinstance(ort_threads, bool) or not isinstance(ort_threads, int) or ort_threads < 0:
        raise ParameterError(f"ort_threads={ort_threads!r}: expected a thread count >= 0 (0: ONNX Runtime's default)")
    if kernels != "onnxruntime":
        if ort_threads:
            raise ParameterError(f"ort_threads={ort_threads} applies to kernels='onnxruntime' only "
                                 f"(kernels={kernels!r})")
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


def _session_options(ort, threads: int):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # the rewrites are the plan's
    # The intra-op thread count of AIMET's session (0: ONNX Runtime's default, its physical cores, as AIMET run
    # on this machine): MLAS splits a product's N over the threads and picks its K stride from each share, so
    # the thread count decides the order of a sum (measured: docs/quantization.md, "Kernel modes").
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")  # many small sessions: no busy waits
    so.log_severity_level = 3
    return so


_SHARED: "weakref.WeakValueDictionary[tuple, object]" = weakref.WeakValueDictionary()  # OrtNode._shared
_SHARED_LOCK = threading.Lock()


class OrtNode:
    """One node as a one-node ONNX Runtime session; called like a kernel: fn(xp, *inputs) -> tuple.

    Every input is a graph input, weights included, as AIMET's quantizer outputs are in its session (a
    weight held as an initializer would be pre-packed, and a pre-packed product sums in another order for
    a single row), except `embedded` ({input position: value}): constants held as initializers, for ONNX
    Runtime to pre-pack as the session reproduced does (PREPACKED, below). The session is built at
    load for the given input types; a run with other types (a float16 feed) builds and caches one for
    those, once."""

    def __init__(self, node: onnx.NodeProto, opsets: dict[str, int], input_types: tuple, threads: int = 0,
                 embedded: dict | None = None):
        self.node = node
        self.threads = threads
        self.embedded = dict(embedded or {})
        self.opsets = {d: v for d, v in opsets.items() if d in ORT_OPS}  # the domains of the ops run here
        self.input_names = [f"in{i}" if name else "" for i, name in enumerate(node.input)]
        self.output_names = [f"out{i}" if name else "" for i, name in enumerate(node.output)]
        # What a call feeds and fetches, worked out once: (position, name) of each fed input, the names of the
        # outputs the node has, and where each lands in the result tuple.
        self._fed = [(i, n) for i, n in enumerate(self.input_names) if n and i not in self.embedded]
        self._fetch = [n for n in self.output_names if n]
        self._slots = [k for k, n in enumerate(self.output_names) if n]
        self._sessions: dict[tuple, object] = {}
        self._lock = threading.Lock()
        try:
            self._session(tuple(onnx.helper.tensor_dtype_to_np_dtype(t) for t in input_types))
        except KernelError:
            pass  # the planned types were a guess (inputs not typed in the model): built for the real ones at run

    @property
    def label(self) -> str:
        return f"node {self.node.name or '<unnamed>'!r} ({self.node.op_type})"

    def _session(self, types: tuple):
        """The run function for fed inputs of NumPy dtypes `types`, built on first use."""
        run = self._sessions.get(types)
        if run is None:
            with self._lock:
                if types not in self._sessions:
                    self._sessions[types] = self._shared(types)
                run = self._sessions[types]
        return run

    def _shared(self, dtypes: tuple):
        """One session for every node of the same op, attributes, opsets, threads and input types that holds no
        constant (a session's shapes are free): an LLM's MatMuls of one kind share one, and the process keeps
        one intra-op thread pool per distinct node rather than per node. Kept while a plan uses it."""
        node = self._session_node()
        if self.embedded:
            return self._build(node, dtypes)
        key = (node.SerializeToString(deterministic=True), tuple(sorted(self.opsets.items())), self.threads, dtypes)
        with _SHARED_LOCK:
            run = _SHARED.get(key)
            if run is None:
                run = _SHARED[key] = self._build(node, dtypes)
        return run

    def _session_node(self) -> onnx.NodeProto:
        """The node as its session holds it: inputs and outputs renamed by position, no name of its own."""
        node = onnx.NodeProto()
        node.CopyFrom(self.node)
        del node.input[:], node.output[:]
        node.input.extend(self.input_names)
        node.output.extend(self.output_names)
        node.name, node.doc_string = "", ""
        return node

    def _build(self, node: onnx.NodeProto, dtypes: tuple):
        ort = onnxruntime()
        types = [onnx.helper.np_dtype_to_tensor_dtype(d) for d in dtypes]
        inputs = [onnx.helper.make_tensor_value_info(n, t, None) for (_, n), t in zip(self._fed, types)]
        initializers = [_external_tensor(self.input_names[i], v) for i, v in self.embedded.items()]
        graph = onnx.helper.make_graph([node], "node", inputs, [onnx.ValueInfoProto(name=n) for n in self._fetch],
                                       initializers)
        model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid(d, v)
                                                             for d, v in self.opsets.items()])
        model.ir_version = min(model.ir_version, 10)
        inferred = {vi.name: vi.type.tensor_type.elem_type
                    for vi in onnx.shape_inference.infer_shapes(model).graph.output}
        for out in model.graph.output:  # com.microsoft ops are not inferred: their outputs take the first type
            out.type.tensor_type.elem_type = inferred.get(out.name) or types[0]
        options, values = _session_options(ort, self.threads), []
        if self.embedded:  # the constants' own memory, not a copy in the model's bytes
            values = [ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(v)) for v in self.embedded.values()]
            options.add_external_initializers([t.name for t in initializers], values)
        try:
            sess = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # an opset or type ONNX Runtime does not implement
            kinds = ", ".join(onnx.TensorProto.DataType.Name(t).lower() for t in types)
            raise KernelError(f"kernels='onnxruntime': ONNX Runtime cannot run {self.label} on inputs of type "
                              f"({kinds}) at opset {self.opsets.get('')}: {exc}; "
                              f"kernels='numpy' runs it with the project's own kernel") from None
        # The binding's own run (what InferenceSession.run calls after checking its arguments again on every
        # call): the fetch list and an empty RunOptions built once.
        binding, fetch, run_options = sess._sess, self._fetch, ort.RunOptions()
        return lambda feed, _held=values: binding.run(fetch, feed, run_options)  # (the session reads `values`)

    def __call__(self, xp, *inputs, **_attributes):  # attributes are the node's own, inside the session
        feed, types = {}, []
        for i, name in self._fed:
            a = inputs[i] if i < len(inputs) else None
            if a is None:
                continue
            if not (isinstance(a, np.ndarray) and a.flags.c_contiguous):
                a = np.asarray(a, order="C")  # (not ascontiguousarray: it makes a scalar 1-D)
            feed[name] = a
            types.append(a.dtype)
        got = self._session(tuple(types))(feed)
        out = [None] * len(self.output_names)
        for k, value in zip(self._slots, got):
            out[k] = value
        return tuple(out)


def _external_tensor(name: str, value) -> onnx.TensorProto:
    """An initializer whose data ONNX Runtime takes from an OrtValue (add_external_initializers)."""
    t = onnx.TensorProto(name=name, data_type=onnx.helper.np_dtype_to_tensor_dtype(value.dtype), dims=value.shape,
                         data_location=onnx.TensorProto.EXTERNAL)
    t.external_data.add(key="location", value="<memory>")
    return t


def element_types(inputs, names) -> tuple:
    """The ONNX element types of the inputs that the node names."""
    return tuple(onnx.helper.np_dtype_to_tensor_dtype(np.asarray(a).dtype) for a, n in zip(inputs, names) if n)


# Which constants a one-node session holds as initializers, for ONNX Runtime to pre-pack as the session being
# reproduced does (pre-packing changes the bits: a pre-packed MatMul of one row takes MLAS's other order).
# - A quantized run reproduces AIMET's session, where every weight comes out of a quantizer node: fed, except
#   for the ops of PREPACKED, whose weights are already quantized and carry no quantizer there. MatMulNBits
#   packs B with its scales and zero points (measured, tests/test_ort_kernels_contrib.py: fed, 156 of 192
#   outputs differ at accuracy_level 0 with blocks of 128, and every output at accuracy_level 4).
# - A float run (no encodings) reproduces ONNX Runtime's own session on the model: every constant whose value
#   is final is an initializer there (measured: the small decoder's token steps, MatMuls of one row, differ
#   on 55-61 of 64 logits per step fed, none held).
PREPACKED = frozenset({(MS, "MatMulNBits")})


def ort_kernel(kernel: Kernel, node: onnx.NodeProto, opsets: dict[str, int], constants: dict, threads: int = 0,
               fixed: frozenset = frozenset(), quantized: bool = True):
    """`kernel` with its function replaced by ONNX Runtime's, for a node of ORT_OPS (else None). Its session
    is built now, for the constants' types and the other inputs typed as its float weight (else float32);
    `fixed` names the constants whose value is final (no encoding, no feed replaces it), held in the session
    as the rule above says for a `quantized` run or a float one."""
    if node.op_type not in ORT_OPS.get(kernel.domain, ()):
        return None
    embedded = {}
    if not quantized or (kernel.domain, node.op_type) in PREPACKED:
        embedded = {i: constants[n] for i, n in enumerate(node.input) if n in fixed and n in constants}
    known = [constants[n].dtype for n in node.input if n in constants and constants[n].dtype.kind == "f"]
    guess = onnx.helper.np_dtype_to_tensor_dtype(known[0]) if known else onnx.TensorProto.FLOAT  # a weight's type
    types = tuple(onnx.helper.np_dtype_to_tensor_dtype(constants[n].dtype) if n in constants else guess
                  for i, n in enumerate(node.input) if n and i not in embedded)
    return Kernel(OrtNode(node, opsets, types, threads, embedded), kernel.domain, kernel.op_type,
                  kernel.since_version, kernel.host_inputs, False)


def divmul_fusions(steps, constants: dict, encoded: set[str], read_elsewhere: set[str]) -> dict:
    """ONNX Runtime's DivMulFusion, where AIMET's session applies it: Mul(a, Div(1, b)) computed as Div(a, b)
    when the Div's output has no encoding (no quantizer node between the two), is no graph output (nor read
    by a control-flow body: `read_elsewhere`), and the Mul is its only reader. Returns {index of the Mul
    step: (a, b)}."""
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
            if (div is None or div.node.op_type != "Div" or name in encoded or name in read_elsewhere
                    or readers.get(name) != [i] or not _is_one(constants.get(div.inputs[0]))):
                continue
            fused[i] = (step.inputs[1 - k], div.inputs[1])
            break
    return fused


def _is_one(value) -> bool:
    return value is not None and getattr(value, "size", 0) == 1 and np.issubdtype(value.dtype, np.floating) \
        and bool(np.asarray(value).reshape(-1)[0] == 1)
