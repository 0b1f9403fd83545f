"""What onnxruntime.InferenceSession describes a model with, spelled as ONNX Runtime spells it.

NodeArg (get_inputs / get_outputs / _inputs_meta: .name, .shape, .type), ONNX Runtime's type strings
(`tensor(float)`, `seq(tensor(float))`, `optional(tensor(int64))`, `map(int64,tensor(float))`), ModelMetadata
(get_modelmeta), SessionOptions / RunOptions with ONNX Runtime's attribute names, and the providers rule.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from enum import IntEnum

import onnx

from .errors import DeviceError, ParameterError

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
NO_VERSION = 2**63 - 1  # ModelMetadata.version when the model sets none (ONNX Runtime's value)


@dataclass(frozen=True)
class NodeArg:
    """An input or output as ONNX Runtime's NodeArg describes it: .name, .shape (int, str or None per dimension;
    [] for sequences and maps), .type (ONNX Runtime's type string)."""
    name: str
    shape: list
    type: str


def elem_name(elem_type: int) -> str:
    """ONNX Runtime's name of an element type: float, int64, float16, string, float8e4m3fn, ..."""
    if not elem_type or elem_type not in onnx.TensorProto.DataType.values():
        return "undefined"
    return onnx.TensorProto.DataType.Name(elem_type).lower()


def type_string(tp: onnx.TypeProto) -> str:
    """ONNX Runtime's spelling of a value type."""
    kind = tp.WhichOneof("value")
    if kind == "tensor_type":
        return f"tensor({elem_name(tp.tensor_type.elem_type)})"
    if kind == "sparse_tensor_type":
        return f"sparse_tensor({elem_name(tp.sparse_tensor_type.elem_type)})"
    if kind == "sequence_type":
        return f"seq({type_string(tp.sequence_type.elem_type)})"
    if kind == "optional_type":
        return f"optional({type_string(tp.optional_type.elem_type)})"
    if kind == "map_type":
        return f"map({elem_name(tp.map_type.key_type)},{type_string(tp.map_type.value_type)})"
    return "tensor(undefined)"


def type_shape(tp: onnx.TypeProto) -> list:
    """ONNX Runtime's NodeArg.shape: a tensor's (or an optional tensor's) dimensions, [] otherwise."""
    kind = tp.WhichOneof("value")
    if kind == "optional_type":
        return type_shape(tp.optional_type.elem_type)
    if kind not in ("tensor_type", "sparse_tensor_type"):
        return []
    tt = getattr(tp, kind)
    if not tt.HasField("shape"):
        return []
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tt.shape.dim]


def node_arg(vi: onnx.ValueInfoProto) -> NodeArg:
    return NodeArg(vi.name, type_shape(vi.type), type_string(vi.type))


def _declares_less(vi: onnx.ValueInfoProto) -> bool:
    tp = vi.type
    return tp.WhichOneof("value") is None or (tp.WhichOneof("value") == "tensor_type"
                                              and not tp.tensor_type.HasField("shape"))


def output_value_infos(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    """The graph outputs' types, completed by onnx's shape inference where the file declares no shape
    (ONNX Runtime reports the shapes it infers)."""
    outputs = list(model.graph.output)
    if not any(_declares_less(vi) for vi in outputs):
        return outputs
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False).graph.output
    except Exception:  # noqa: BLE001 - inference is a nicety here; the declared types stay
        return outputs
    by_name = {vi.name: vi for vi in inferred}
    return [by_name.get(vi.name, vi) if _declares_less(vi) else vi for vi in outputs]


@dataclass(frozen=True)
class ModelMetadata:
    """onnxruntime.ModelMetadata: what get_modelmeta() returns."""
    producer_name: str
    graph_name: str
    domain: str
    description: str
    graph_description: str
    version: int
    custom_metadata_map: dict

    @classmethod
    def of(cls, model: onnx.ModelProto) -> "ModelMetadata":
        return cls(model.producer_name, model.graph.name, model.domain, model.doc_string, model.graph.doc_string,
                   model.model_version if model.HasField("model_version") else NO_VERSION,
                   {p.key: p.value for p in model.metadata_props})


class GraphOptimizationLevel(IntEnum):
    """onnxruntime.GraphOptimizationLevel's values (accepted; the simulator runs the graph as written)."""
    ORT_DISABLE_ALL = 0
    ORT_ENABLE_BASIC = 1
    ORT_ENABLE_EXTENDED = 2
    ORT_ENABLE_LAYOUT = 3
    ORT_ENABLE_ALL = 99


class ExecutionMode(IntEnum):
    """onnxruntime.ExecutionMode's values (accepted; nodes run one after another)."""
    ORT_SEQUENTIAL = 0
    ORT_PARALLEL = 1


class ExecutionOrder(IntEnum):
    """onnxruntime.ExecutionOrder's values (accepted; nodes run in the file's topological order)."""
    DEFAULT = 0
    PRIORITY_BASED = 1
    MEMORY_EFFICIENT = 2


@dataclass
class SessionOptions:
    """onnxruntime.SessionOptions' attributes, for code that builds one without ONNX Runtime installed (an
    onnxruntime.SessionOptions is accepted as well). Honoured: intra_op_num_threads (the BLAS threads of a CPU
    run, 0 = the library's default), enable_profiling and profile_file_prefix. The others are accepted and
    change nothing: the simulator runs the graph as written, node by node, with no graph optimisation."""
    intra_op_num_threads: int = 0
    inter_op_num_threads: int = 0
    enable_profiling: bool = False
    profile_file_prefix: str = "onnxruntime_profile_"
    execution_mode: ExecutionMode = ExecutionMode.ORT_SEQUENTIAL
    execution_order: ExecutionOrder = ExecutionOrder.DEFAULT
    graph_optimization_level: GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL
    log_severity_level: int = 2
    log_verbosity_level: int = 0
    logid: str = ""
    enable_cpu_mem_arena: bool = True
    enable_mem_pattern: bool = True
    enable_mem_reuse: bool = True
    optimized_model_filepath: str = ""
    use_deterministic_compute: bool = False
    _config: dict = field(default_factory=dict, repr=False)

    def add_session_config_entry(self, key: str, value: str) -> None:
        self._config[str(key)] = str(value)

    def get_session_config_entry(self, key: str) -> str:
        if key not in self._config:
            raise ParameterError(f"SessionOptions has no config entry {key!r}")
        return self._config[key]

    def has_providers(self) -> bool:
        return False


@dataclass
class RunOptions:
    """onnxruntime.RunOptions' attributes; accepted by run() and changing nothing (a run cannot be cancelled)."""
    log_severity_level: int = 2
    log_verbosity_level: int = 0
    logid: str = ""
    terminate: bool = False
    only_execute_path_to_fetches: bool = False
    _config: dict = field(default_factory=dict, repr=False)

    def add_run_config_entry(self, key: str, value: str) -> None:
        self._config[str(key)] = str(value)

    def get_run_config_entry(self, key: str) -> str:
        return self._config[key]


def normalize_providers(providers, provider_options) -> list[tuple[str, dict]]:
    """ONNX Runtime's check of `providers` / `provider_options`: [(name, options), ...], the same ValueErrors."""
    if providers is None:
        return []
    if isinstance(providers, (str, bytes)) or not hasattr(providers, "__iter__"):
        raise ParameterError("'providers' should be a sequence.")
    providers = list(providers)
    if provider_options is not None:
        if isinstance(provider_options, (str, bytes, dict)) or not hasattr(provider_options, "__iter__"):
            raise ParameterError("'provider_options' should be a sequence.")
        provider_options = list(provider_options)
        if len(providers) != len(provider_options):
            raise ParameterError("'providers' and 'provider_options' should be the same length if both are given.")
        if not all(isinstance(p, str) for p in providers):
            raise ParameterError("Only string values for 'providers' are supported if 'provider_options' is given.")
        if not all(isinstance(o, dict) for o in provider_options):
            raise ParameterError("'provider_options' values must be dicts.")
        return list(zip(providers, provider_options))
    out = []
    for p in providers:
        if isinstance(p, str):
            out.append((p, {}))
        elif isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) and isinstance(p[1], dict):
            out.append(p)
        else:
            raise ParameterError("'providers' values must be either strings or (string, dict) tuples.")
    return out


def choose_provider(providers: list[tuple[str, dict]], cuda_available) -> tuple[str, dict]:
    """The first listed provider the simulator can be (CPU: NumPy; CUDA: CuPy), as ONNX Runtime takes the first it
    has; a provider it cannot be is skipped with a warning, as ONNX Runtime skips one it lacks. None listed: CPU."""
    if not providers:
        return CPU, {}
    skipped = []
    for name, options in providers:
        if name == CPU or (name == CUDA and cuda_available()):
            if skipped:
                warnings.warn(f"the simulator runs as {name}; it cannot be {', '.join(skipped)} (it simulates "
                              f"{CPU} and {CUDA} only)", UserWarning, stacklevel=3)
            return name, dict(options)
        skipped.append(name + (" (no usable GPU here)" if name == CUDA else ""))
    names = [n for n, _ in providers]
    if CUDA in names:
        raise DeviceError(f"providers {names}: {CUDA} asked for, but no usable GPU/CuPy is available here, and "
                             f"{CPU} is not listed as its fallback; add {CPU!r} or install the cuda extra")
    raise ParameterError(f"providers {names}: the simulator can be {CPU!r} (NumPy) or {CUDA!r} (CuPy) only")


__all__ = ["CPU", "CUDA", "ExecutionMode", "ExecutionOrder", "GraphOptimizationLevel", "ModelMetadata", "NodeArg", "RunOptions", "SessionOptions", "choose_provider",
           "node_arg", "normalize_providers", "output_value_infos", "type_shape", "type_string"]
