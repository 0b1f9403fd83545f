"""onnxruntime.InferenceSession over the interpreter, method by method (onnxruntime 1.32's Python API): load once,
run many times, with the model's encodings applied.

    sess = InferenceSession("model.onnx", providers=["CPUExecutionProvider"])  # as ONNX Runtime's
    sess = InferenceSession("model.onnx", encodings_path="model.encodings")     # quantized
    sess.run(None, {"input": x})                       # graph outputs, as ONNX Runtime returns them
    sess.run(["/conv1/Conv_output_0"], feed)           # any intermediate, after its encoding
    sess.run(["output_updated"], feed)                 # AIMET's quantized-name alias of "output"
    sess.run(["/conv1/Conv_output_0::pre_quant"], feed)  # the value before its encoding

docs/session.md lists what each ONNX Runtime argument and method does here.
"""
from __future__ import annotations

import contextlib
import os
import threading
import time

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import external_data_helper

from .backend import array_module, is_numpy, synchronize, to_device
from .encodings import EncodingsFile, describe_names, load_encodings, no_encodings_warning
from .errors import ArgumentTypeError, DataError, DeviceError, ModelError, ParameterError, UnknownNameError
from .interpreter import Interpreter, TensorInfo
from .graph import all_names
from .model import check_file, load_model
from .names import PRE_QUANT_SUFFIX, UPDATED_SUFFIX, split_pre_quant, without_updated  # noqa: F401 (re-exported)
from .ort_kernels import check_kernels
from .profiling import Profiler
from .quantization import HALF_AWAY_FROM_ZERO
from .session_chain import ChainLink
from .session_io import FeedSpec, check_feed_names, host_result
from .session_meta import (CPU, CUDA, ModelMetadata, NodeArg, RunOptions, SessionOptions, choose_provider,
                           node_arg, normalize_providers, output_value_infos)

# ONNX Runtime's documented keyword arguments; each is accepted (the simulator has no fallback or optimizer).
ORT_KWARGS = ("enable_fallback", "read_config_from_model", "disabled_optimizers")


def _read_model(path_or_bytes) -> tuple[onnx.ModelProto, str | None]:
    """(model, path): a path (str / PathLike), serialized bytes, or an onnx.ModelProto."""
    if isinstance(path_or_bytes, onnx.ModelProto):
        return path_or_bytes, None
    if isinstance(path_or_bytes, (bytes, bytearray)):
        try:
            model = onnx.load_model_from_string(bytes(path_or_bytes))
        except (DecodeError, ValueError, RuntimeError) as exc:
            raise ModelError(f"the model bytes are not a valid ONNX model: {exc}") from None
        if not model.HasField("graph"):
            raise ModelError("the model bytes hold no graph (not an ONNX model, or truncated)")
        if any(external_data_helper.uses_external_data(t) for t in external_data_helper._get_all_tensors(model)):
            raise ModelError("the model bytes refer to external data files, which have no folder to be read from: "
                             "pass the model's path instead")
        return model, None
    path = check_file(path_or_bytes, "model file")
    return load_model(path, external_data="map"), path  # weights memory-mapped (model.py)


def _cuda_available() -> bool:
    try:
        array_module(True)
    except DeviceError:
        return False
    return True


class InferenceSession:
    """Runs a model (with its encodings applied, if given) with onnxruntime.InferenceSession's interface.

    InferenceSession(path_or_bytes, sess_options=None, providers=None, provider_options=None, *,
                     encodings_path=None, use_cuda=None, rounding=..., apply_int32_bias=False, deterministic=False,
                     kernels="numpy", ort_threads=0)

    `path_or_bytes`: a model file, serialized model bytes or an onnx.ModelProto. A string or path as the second
    positional argument is the encodings file (the project's older signature). `providers` picks CPU (NumPy) or
    CUDA (CuPy) as ONNX Runtime picks the first provider it has; `use_cuda` says the same directly.
    """

    def __init__(self, path_or_bytes, sess_options=None, providers=None, provider_options=None, *,
                 encodings_path=None, use_cuda: bool | None = None, rounding: str = HALF_AWAY_FROM_ZERO,
                 apply_int32_bias: bool = False, deterministic: bool = False, kernels: str = "numpy",
                 ort_threads: int = 0, **kwargs):
        if isinstance(sess_options, (str, os.PathLike)):  # InferenceSession(model, encodings)
            if encodings_path is not None:
                raise ParameterError(f"encodings given twice: {sess_options!r} (second positional argument) and "
                                     f"encodings_path={encodings_path!r}")
            sess_options, encodings_path = None, sess_options
        unknown = [k for k in kwargs if k not in ORT_KWARGS]
        if unknown:
            raise ArgumentTypeError(f"InferenceSession got unexpected keyword argument(s) {unknown}; ONNX Runtime's "
                                    f"are {list(ORT_KWARGS)}, the simulator's encodings_path, use_cuda, rounding, "
                                    f"apply_int32_bias, deterministic, kernels, ort_threads")
        self._enable_fallback = int(kwargs.get("enable_fallback", 1)) == 1
        self._sess_options = sess_options if sess_options is not None else SessionOptions()
        self._profiler = None
        if getattr(self._sess_options, "enable_profiling", False):
            prefix = getattr(self._sess_options, "profile_file_prefix", "") or "onnxruntime_profile_"
            self._profiler = Profiler(prefix, CPU)
        start = _now()
        model, self._model_path = _read_model(path_or_bytes)
        if self._profiler is not None:
            loading = "model_loading_uri" if self._model_path else "model_loading_array"
            self._profiler.event("Session", loading, start, _now())
        self.model_path = self._model_path or "<model bytes>"
        self._model_bytes = None  # the ModelProto is kept instead (set_providers re-plans from it)
        self._model = model
        if kernels == "onnxruntime" and not ort_threads:  # ONNX Runtime's kernels take the session's thread count
            ort_threads = int(getattr(self._sess_options, "intra_op_num_threads", 0) or 0)
        self._simulation = dict(rounding=rounding, apply_int32_bias=apply_int32_bias, deterministic=deterministic,
                                kernels=kernels, ort_threads=ort_threads)
        self.encodings: EncodingsFile | None = (load_encodings(encodings_path, all_names(model.graph), self.model_path)
                                                if encodings_path else None)
        self.warnings: list[str] = []  # what a user should know about this session (printed by the CLI)
        if self.encodings is not None and self.encodings.is_empty:
            self.warnings.append(no_encodings_warning(self.encodings))
        self._use_cuda_arg = use_cuda
        self._plan(providers, provider_options)

    def _plan(self, providers, provider_options) -> None:
        """Choose the device from providers / use_cuda and plan the graph on it (again for set_providers)."""
        chosen = normalize_providers(providers, provider_options)
        use_cuda = self._use_cuda_arg
        if chosen:
            name, options = choose_provider(chosen, _cuda_available if use_cuda is not False else (lambda: False))
            if use_cuda and name != CUDA:
                raise ParameterError(f"use_cuda=True contradicts providers {[n for n, _ in chosen]}")
        else:
            name, options = (CUDA if use_cuda else CPU), {}
        start = _now()
        sim = self._simulation
        check_kernels(sim["kernels"], name == CUDA, sim["deterministic"], sim["ort_threads"])
        self.xp = array_module(name == CUDA, sim["deterministic"])
        model = self._model
        self._interp = Interpreter(model, self.encodings, self.xp, sim["rounding"], sim["apply_int32_bias"],
                                   source=self.model_path, kernels=sim["kernels"], ort_threads=sim["ort_threads"])
        self._providers = [name]
        self._provider_options = {name: {str(k): str(v) for k, v in options.items()}}
        self._known = set(self._interp.value_names)
        self._resolved: dict = {}  # output names -> _targets' answer (names resolve against this plan)
        self._on_host = is_numpy(self.xp)  # host feeds need no move
        initializers = {t.name for t in model.graph.initializer} | {s.values.name for s in model.graph.sparse_initializer}
        self._input_types = {vi.name: FeedSpec(vi.type) for vi in model.graph.input if vi.name not in initializers}
        self._overridable_types = {vi.name: FeedSpec(vi.type) for vi in model.graph.input if vi.name in initializers}
        # whether a feed may be a list whose elements a result could be (else a feed's own id is all to check)
        self._sequence_inputs = any(spec.holds_sequence for spec in (*self._input_types.values(),
                                                                    *self._overridable_types.values()))
        self._inputs_meta = [node_arg(vi) for vi in model.graph.input if vi.name not in initializers]
        self._overridable_initializers = [node_arg(vi) for vi in model.graph.input if vi.name in initializers]
        self._outputs_meta = [node_arg(vi) for vi in output_value_infos(model)]
        self._model_meta = ModelMetadata.of(model)
        self._constant_ids = {id(v) for v in self._interp.constants.values()}
        self._step_index = {id(s): i for i, s in enumerate(self._interp.steps)}
        if self._profiler is not None:
            self._profiler.provider = name
            self._profiler.event("Session", "session_initialization", start, _now())
        self._profiling_start_time_ns = self._profiler.start_ns if self._profiler else 0

    @classmethod
    def from_options(cls, model_path, encodings_path, options) -> "InferenceSession":
        """A session with the simulation options (use_cuda, rounding, ...) of a parameter schema."""
        return cls(model_path, encodings_path=encodings_path, use_cuda=options.use_cuda, rounding=options.rounding,
                   apply_int32_bias=options.apply_int32_bias, deterministic=options.deterministic,
                   kernels=options.kernels, ort_threads=options.ort_threads)

    # -- ONNX Runtime's metadata ----------------------------------------------------------------

    def get_inputs(self) -> list[NodeArg]:
        return list(self._inputs_meta)

    def get_outputs(self) -> list[NodeArg]:
        return list(self._outputs_meta)

    def get_overridable_initializers(self) -> list[NodeArg]:
        return list(self._overridable_initializers)

    def get_modelmeta(self) -> ModelMetadata:
        return self._model_meta

    def get_session_options(self):
        return self._sess_options

    def get_providers(self) -> list[str]:
        return list(self._providers)

    def get_provider_options(self) -> dict:
        return {k: dict(v) for k, v in self._provider_options.items()}

    def set_providers(self, providers=None, provider_options=None) -> None:
        """Re-plan the session on the first of `providers` it can be (None: CPU), as ONNX Runtime re-creates it."""
        self._use_cuda_arg = None
        self._plan(providers, provider_options)

    def disable_fallback(self) -> None:
        self._enable_fallback = False

    def enable_fallback(self) -> None:
        self._enable_fallback = True

    def get_profiling_start_time_ns(self) -> int:
        return self._profiling_start_time_ns

    def end_profiling(self) -> str:
        """Write the profile (SessionOptions.enable_profiling) and return its file name; "" when not profiling."""
        if self._profiler is None:
            return ""
        profiler, self._profiler = self._profiler, None
        try:
            return profiler.end()
        except OSError as exc:
            raise ParameterError(f"cannot write the profile with prefix {profiler.prefix!r} "
                                 f"(SessionOptions.profile_file_prefix): {exc.strerror}") from None

    # -- running --------------------------------------------------------------------------------

    def run(self, output_names, input_feed, run_options=None) -> list:
        """Run on `input_feed`; return the outputs named (None or []: every graph output) as ONNX Runtime does."""
        return self._run(output_names, input_feed, run_options)

    def _run(self, output_names, input_feed, run_options) -> list:
        check_feed_names(input_feed, self._input_types, self._overridable_types)
        targets, keep, pre_quant = self._targets(output_names)
        feeds = self._prepare(input_feed)
        fed = self._fed_ids(feeds, input_feed)
        threads = self._threads()
        if self._profiler is None and threads is None:
            values, raw = self._interp.run(feeds, keep, pre_quant)
        else:
            with threads or contextlib.nullcontext():
                values, raw = (self._interp.run(feeds, keep, pre_quant) if self._profiler is None
                               else self._profiled_run(feeds, keep, pre_quant))
        constants, returned = self._constant_ids, set()
        return [host_result(raw[name] if pre else values[name], constants, fed, returned) for name, pre in targets]

    def run_chained(self, output_names, input_feed: dict, to_caller: tuple) -> list:
        """run() as a Pipeline calls it where no ChainLink serves (chain_link), on a feed it built of every input of
        this part (its own inputs and earlier parts' results): the same checks of each value, but ONNX Runtime's
        fresh arrays only for the results at the indices in `to_caller` (those the pipeline returns); the others are
        the values as computed, which the next part only reads."""
        if self._profiler is not None or self._thread_limit():
            return self._run(output_names, input_feed, None)
        targets, keep, pre_quant = self._targets(output_names)
        feeds = self._prepare(input_feed)
        values, raw = self._interp.run(feeds, keep, pre_quant)
        results = [raw[name] if pre else values[name] for name, pre in targets]
        if to_caller:
            fed, returned = self._fed_ids(feeds, input_feed), set()
            for k in to_caller:
                results[k] = host_result(results[k], self._constant_ids, fed, returned)
        return results

    def chain_link(self, output_names):
        """This session's run inside a Pipeline's, bound once for `output_names` (session_chain.ChainLink); None
        where run_chained must serve (a device, values asked before their encoding, sequence inputs)."""
        _, _, pre_quant = self._targets(output_names)
        if pre_quant or not self._on_host or self._sequence_inputs:
            return None
        return ChainLink(self, output_names)

    def _fed_ids(self, feeds: dict, input_feed: dict) -> set:
        """The ids of what a run was fed, as given and as prepared (and their elements, where an input is a sequence):
        a result that is one of them is copied."""
        if self._sequence_inputs:
            return _ids(feeds.values(), input_feed.values())
        return {*map(id, feeds.values()), *map(id, input_feed.values())}

    def _profiled_run(self, feeds, keep, pre_quant):
        xp = self.xp
        sync = None if is_numpy(xp) else (lambda: synchronize(xp))
        observer = self._profiler.run_observer(self._interp, self._step_index, sync)
        start = _now()
        result = self._interp.run(feeds, keep, pre_quant, observer=observer)
        self._profiler.event("Session", "model_run", start, _now())
        return result

    def _threads(self):
        """SessionOptions.intra_op_num_threads as a context limiting a CPU run's BLAS threads (process-wide while
        the run lasts, as threadpoolctl sets them: made, the limit holds); None: no limit."""
        n = self._thread_limit()
        return _blas_controller().limit(limits=n, user_api="blas") if n else None

    def _thread_limit(self) -> int:
        """The BLAS thread limit a CPU run takes from SessionOptions.intra_op_num_threads (0: none)."""
        n = int(getattr(self._sess_options, "intra_op_num_threads", 0) or 0)
        return n if n > 0 and is_numpy(self.xp) else 0

    def _targets(self, output_names) -> tuple[list[tuple[str, bool]], frozenset, frozenset]:
        """(the requested names resolved, as (graph name, pre-quantization?), the names to keep, the names to keep
        before their encoding); remembered per list of names (a generation loop asks for the same each step)."""
        try:
            key = tuple(output_names) if isinstance(output_names, (list, tuple)) else output_names
            found = self._resolved.get(key)
        except TypeError:  # an unhashable name: refused below
            key, found = _UNHASHABLE, None
        if found is not None:
            return found
        if not output_names:
            output_names = [o.name for o in self._outputs_meta]
        elif isinstance(output_names, str):  # the project's shorthand for [name]
            output_names = [output_names]
        elif not isinstance(output_names, (list, tuple)):
            raise ArgumentTypeError(f"output_names must be a list of names or None, got {type(output_names).__name__}")
        targets = [self.resolve_name(n) for n in output_names]
        found = (targets, frozenset(n for n, pre in targets if not pre), frozenset(n for n, pre in targets if pre))
        if key is not _UNHASHABLE:
            if len(self._resolved) >= 256:  # a bound on what callers asking for ever new lists can make us hold
                self._resolved.clear()
            self._resolved[key] = found
        return found

    def _prepare(self, input_feed) -> dict:
        feeds = {}
        xp, on_host = self.xp, self._on_host
        for name, value in input_feed.items():
            spec = self._input_types.get(name) or self._overridable_types[name]
            value = spec.convert(name, value)
            feeds[name] = value if on_host and type(value) is np.ndarray else to_device(xp, value)
        if not feeds.keys() >= self._input_types.keys():
            for name in self._input_types:
                feeds.setdefault(name, None)  # an omitted optional input
        return feeds

    def run_async(self, output_names, input_feed, callback, user_data, run_options=None) -> None:
        """Run in another thread; then callback(results, user_data, error message or "") as ONNX Runtime does."""
        check_feed_names(input_feed, self._input_types, self._overridable_types)

        def work():
            try:
                results = self._run(output_names, input_feed, run_options)
            except Exception as exc:  # noqa: BLE001 - reported to the callback, as ONNX Runtime reports it
                callback([], user_data, str(exc))
                return
            callback(results, user_data, "")

        threading.Thread(target=work, name="simulator-run-async", daemon=True).start()

    def run_with_ort_values(self, output_names, input_dict_ort_values, run_options=None) -> list:
        """run() on a feed of onnxruntime.OrtValue; returns OrtValues (CPU tensors)."""
        from .iobinding import ort_values_in, ort_values_out  # noqa: PLC0415 - needs onnxruntime

        return ort_values_out(self.run(output_names, ort_values_in(input_dict_ort_values), run_options))

    def io_binding(self):
        from .iobinding import IOBinding  # noqa: PLC0415

        return IOBinding(self)

    def run_with_iobinding(self, iobinding, run_options=None) -> None:
        if getattr(iobinding, "_session", None) is not self:
            raise ParameterError("IOBinding must be used with the session that created it.")
        iobinding._run(run_options)

    def create_ortvalue_from_shape_and_type(self, shape, element_type, device_type: str = "cpu", device_id: int = 0,
                                            vendor_id: int = -1):
        from .iobinding import new_ort_value  # noqa: PLC0415

        return new_ort_value(shape, element_type, device_type, device_id)

    def get_tuning_results(self) -> list:
        return []  # no kernel tuning: a kernel's bits are fixed

    def set_tuning_results(self, results, *, error_on_invalid=False) -> None:
        """Accepted; there is nothing to tune."""

    def set_ep_dynamic_options(self, options: dict) -> None:
        """Accepted; the simulator's providers have no dynamic options."""

    def release_captured_graph(self, graph_annotation_id: int = 0) -> None:
        """No graph capture here: a no-op, as ONNX Runtime's providers without capture treat it."""

    # -- beyond ONNX Runtime --------------------------------------------------------------------

    @property
    def interpreter(self) -> Interpreter:
        """The planned graph this session runs (for tools that walk it: inputs, steps, encodings)."""
        return self._interp

    def prepare_feed(self, input_feed: dict) -> dict:
        """`input_feed` checked against the model's inputs and moved to this session's device."""
        check_feed_names(input_feed, self._input_types, self._overridable_types)
        return self._prepare(input_feed)

    @property
    def tensor_names(self) -> list[str]:
        """Every tensor name of the graph that run() accepts: inputs, initializers, node outputs."""
        return list(self._interp.value_names)

    def resolve_name(self, name: str) -> tuple[str, bool]:
        """(graph tensor name, whether the pre-quantization value is asked for) for a requested name."""
        if not isinstance(name, str):
            raise ArgumentTypeError(f"output names must be strings, got {name!r}")
        base, pre = split_pre_quant(name, self._known)
        if base not in self._known:
            base = without_updated(base) or base
        if base not in self._known and base in self._interp.body_names:
            raise UnknownNameError(f"tensor {name!r} is inside the body of {self._interp.body_names[base]}; tensors "
                                   f"inside If/Loop/Scan bodies cannot be requested by name (they may hold one value "
                                   f"per iteration, or none when a branch is not taken): request the node's outputs")
        if base not in self._known:
            close = [n for n in self._known if name.lower() in n.lower() or n.lower() in name.lower()][:10]
            hint = f"; similar names: {describe_names(close)}" if close else ""
            raise UnknownNameError(f"tensor {name!r} does not exist in model {self.model_path!r}{hint}")
        return base, pre


_UNHASHABLE = object()  # _targets' key for names it cannot remember
_BLAS = []  # threadpoolctl's controller, made once: finding the BLAS libraries takes 0.1 ms


def _blas_controller():
    if not _BLAS:
        from threadpoolctl import ThreadpoolController  # noqa: PLC0415 - only when a thread count is set

        _BLAS.append(ThreadpoolController())
    return _BLAS[0]


def _ids(*groups) -> set[int]:
    """ids of the values and of the elements of sequences (a result that is one of them must be copied)."""
    out = set()
    for values in groups:
        for v in values:
            out.add(id(v))
            if isinstance(v, list):
                out.update(map(id, v))
    return out


def _now() -> int:
    return time.monotonic_ns()


def check_input(spec: TensorInfo, value, what: str):
    """`value` as an array of the input's declared type and shape, or DataError naming `what` (data folders)."""
    if not hasattr(value, "dtype") or not hasattr(value, "shape"):
        try:
            value = np.asarray(value)
        except (ValueError, TypeError) as exc:  # ragged nested lists, objects NumPy cannot convert
            raise DataError(f"{what} cannot be read as an array ({type(value).__name__}): {exc}") from None
    expected = spec.dtype
    if expected is not None and value.dtype != expected:
        raise DataError(f"{what} has dtype {value.dtype}, the model expects {np.dtype(expected)} "
                        f"({spec.type_string}); convert it (e.g. .astype(np.{np.dtype(expected).name}))")
    if spec.shape is not None:
        if len(spec.shape) != value.ndim or any(
                isinstance(d, int) and d > 0 and d != s for d, s in zip(spec.shape, value.shape)):
            raise DataError(f"{what} has shape {tuple(value.shape)}, the model expects "
                            f"{tuple(d if isinstance(d, int) and d > 0 else '?' for d in spec.shape)}")
    return value


__all__ = ["InferenceSession", "NodeArg", "PRE_QUANT_SUFFIX", "RunOptions", "SessionOptions", "UPDATED_SUFFIX",
           "check_input"]
