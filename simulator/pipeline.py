"""A model split into parts, run as one: an ordered list of (model, encodings) pairs chained by tensor name.

    pipe = Pipeline.load("parts/")            # layer_00.onnx + layer_00.encodings, ..., or *_1_of_4.onnx ...
    pipe = Pipeline.load("pipeline.json")     # {"parts": [{"model": "a.onnx", "encodings": "a.encodings"}, ...]}
    logits, = pipe.run(["logits"], {"input_ids": ids})
    pipe.run(["/model/layers.3/Add_1_output_0"], feed)   # any intermediate of any part

A part's input is fed by the graph input of that name, else by an earlier part's output of that name, else by
an earlier part's output "<name>_updated" (the toolchain's name for the quantized tensor). The pipeline's
inputs are the parts' inputs no earlier part produces; its outputs the parts' outputs no later part reads.
"""
from __future__ import annotations

import json
import os
import re

import numpy as np

from .backend import errstate
from .encodings import describe_names
from .errors import ModelError, ParameterError
from .paths import checked_path
from .session import PRE_QUANT_SUFFIX, UPDATED_SUFFIX, InferenceSession, NodeArg

_LAYER = re.compile(r"^layer_(\d+)\.onnx$")
_I_OF_N = re.compile(r"^(.*)_(\d+)_of_(\d+)\.onnx$")
MAX_PARTS = 10_000  # a spec file cannot make us open more sessions than this
MAX_SPEC_BYTES = 1 << 20  # nor make us read more than this


def _encodings_beside(model_path: str) -> str | None:
    stem = os.path.splitext(model_path)[0]
    path = stem + ".encodings"
    return path if os.path.isfile(path) else None


def parts_in_folder(folder: str) -> list[tuple[str, str | None]]:
    """(model, encodings or None) of a folder's parts, in order: layer_NN.onnx, or NAME_i_of_n.onnx."""
    names = sorted(os.listdir(folder))
    layers = sorted((int(m.group(1)), n) for n in names if (m := _LAYER.match(n)))
    split = sorted((int(m.group(2)), int(m.group(3)), m.group(1), n) for n in names if (m := _I_OF_N.match(n)))
    if layers:
        files = [n for _, n in layers]
    elif split:
        stems, totals = {s[2] for s in split}, {s[1] for s in split}
        if len(stems) != 1 or len(totals) != 1 or [s[0] for s in split] != list(range(1, split[0][1] + 1)):
            raise ModelError(f"pipeline folder {folder!r}: the NAME_i_of_n.onnx parts must share one NAME and one n "
                             f"and number 1..n; found {describe_names([s[3] for s in split])}")
        files = [s[3] for s in split]
    else:
        raise ModelError(f"pipeline folder {folder!r} holds no parts: expected layer_NN.onnx files, "
                         f"NAME_i_of_n.onnx files, or a pipeline.json")
    # Remaining non-layer models (e.g. lm_head.onnx) come after the layers only when listed in a pipeline.json.
    paths = [os.path.join(folder, n) for n in files]
    return [(p, _encodings_beside(p)) for p in paths]


def parts_in_spec(path: str) -> list[tuple[str, str | None]]:
    """The parts a pipeline JSON file lists; paths are relative to its folder and must stay inside it."""
    base = os.path.dirname(os.path.abspath(path))
    if not os.path.isfile(path):  # a FIFO or a device would block or never end
        raise ModelError(f"pipeline file {path!r} is not a regular file")
    if os.path.getsize(path) > MAX_SPEC_BYTES:
        raise ModelError(f"pipeline file {path!r} is larger than {MAX_SPEC_BYTES} bytes; a list of parts is small")
    try:
        with open(path, encoding="utf-8") as f:
            spec = json.load(f)
    except (OSError, ValueError) as exc:
        raise ModelError(f"pipeline file {path!r} cannot be read as JSON: {exc}") from None
    parts = spec.get("parts") if isinstance(spec, dict) else None
    if not isinstance(parts, list) or not parts or len(parts) > MAX_PARTS:
        raise ModelError(f"pipeline file {path!r}: expected "
                         f"{{\"parts\": [{{\"model\": ..., \"encodings\": ...}}, ...]}} "
                         f"with 1 to {MAX_PARTS} parts")
    out = []
    for i, part in enumerate(parts):
        if not isinstance(part, dict) or not isinstance(part.get("model"), str):
            raise ModelError(f"pipeline file {path!r}: part {i} needs a \"model\" path (a string)")
        files = []
        for key in ("model", "encodings"):
            value = part.get(key)
            if value is None:
                files.append(None)
                continue
            if not isinstance(value, str):
                raise ModelError(f"pipeline file {path!r}: part {i} {key!r} must be a path (a string)")
            full = os.path.abspath(os.path.join(base, value))
            if os.path.commonpath([full, base]) != base:
                raise ModelError(f"pipeline file {path!r}: part {i} {key} {value!r} lies outside the file's folder")
            files.append(full)
        out.append((files[0], files[1]))
    return out


class Pipeline:
    """Parts run in order as one model, with an InferenceSession's interface (run, get_inputs, get_outputs).
    A part is a (model path, encodings path or None) pair, or a session (anything with run/get_inputs/get_outputs,
    onnxruntime.InferenceSession included). `quantized=False` ignores the encodings; the other keywords are
    InferenceSession's (use_cuda, rounding, apply_int32_bias, deterministic, kernels, ...)."""

    def __init__(self, parts, quantized: bool = True, **session_options):
        if not parts:
            raise ParameterError("a pipeline needs at least one (model, encodings) part")
        self.parts = []
        for part in parts:
            if hasattr(part, "run") and hasattr(part, "get_inputs"):  # a session already made (ours or ORT's)
                self.parts.append(part)
                continue
            model, encodings = part
            self.parts.append(InferenceSession(model, encodings_path=encodings if quantized else None,
                                               **session_options))
        self.record: list | None = None  # set to a list to collect (part index, feed) of every part run
        self._plan()

    @classmethod
    def load(cls, spec, **options) -> "Pipeline":
        """A folder of parts, a pipeline JSON file, or one .onnx model (with its .encodings beside it)."""
        if isinstance(spec, (str, os.PathLike)) and os.path.isdir(spec):
            return cls(parts_in_folder(os.fspath(spec)), **options)
        path = checked_path(spec, "pipeline", ModelError,
                            expected="a folder of parts, a pipeline .json or a .onnx model")
        if path.endswith(".json"):
            parts = parts_in_spec(path)
        else:
            parts = [(path, _encodings_beside(path))]
        return cls(parts, **options)

    def _plan(self):
        produced: dict[str, int] = {}
        self._sources: list[dict[str, str]] = []  # per part: input name -> the environment name feeding it
        inputs: list[NodeArg] = []
        seen_inputs = set()
        for i, part in enumerate(self.parts):
            sources = {}
            for arg in part.get_inputs():
                if arg.name in produced:
                    sources[arg.name] = arg.name
                elif arg.name + UPDATED_SUFFIX in produced:
                    sources[arg.name] = arg.name + UPDATED_SUFFIX
                else:
                    sources[arg.name] = arg.name
                    if arg.name not in seen_inputs:
                        seen_inputs.add(arg.name)
                        inputs.append(arg)
            self._sources.append(sources)
            for arg in part.get_outputs():
                produced[arg.name] = i
        consumed = {src for s in self._sources for src in s.values()}
        self._inputs = inputs
        self._outputs = [arg for part in self.parts for arg in part.get_outputs() if arg.name not in consumed]
        self._output_part = {arg.name: i for i, part in enumerate(self.parts) for arg in part.get_outputs()}
        self._part_outputs = [[arg.name for arg in part.get_outputs()] for part in self.parts]
        self._input_names = {a.name for a in inputs}
        self._routes: dict = {}  # output names -> _route's answer
        # the simulator's own sessions run chained (InferenceSession.run_chained), any other session through run()
        self._chained = [isinstance(part, InferenceSession) for part in self.parts]

    # -- ONNX Runtime's interface ---------------------------------------------------------------

    def get_inputs(self) -> list[NodeArg]:
        return list(self._inputs)

    def get_outputs(self) -> list[NodeArg]:
        return list(self._outputs)

    def run(self, output_names, input_feed: dict, run_options=None) -> list:
        """Run every part needed for `output_names` (None: the pipeline's outputs); any tensor of any part may be
        named (the first part that has it), with "::pre_quant" and "_updated" as a session takes them."""
        if output_names is None:
            output_names = [o.name for o in self._outputs]
        elif isinstance(output_names, str):
            output_names = [output_names]
        route = self._route(output_names)
        known = self._input_names
        unknown = [n for n in input_feed if n not in known]
        if unknown:
            raise ParameterError(f"unknown input name(s) {describe_names(unknown)}; pipeline inputs: "
                                 f"{describe_names(known)}")
        env = dict(input_feed)
        results: dict[str, np.ndarray] = {}
        with errstate(np, all="ignore"):  # once for every part: a ChainLink runs inside it
            self._run_parts(route, env, results)
        return [results[n] for n in output_names]

    def _run_parts(self, route, env: dict, results: dict) -> None:
        for i, sources, asked, wanted, to_caller, link in route:
            part = self.parts[i]
            try:
                feed = {name: env[source] for name, source in sources}
            except KeyError:
                name = next(name for name, source in sources if source not in env)
                raise ParameterError(f"missing input {name!r} of pipeline part {i} "
                                     f"({getattr(part, 'model_path', '')!r})") from None
            if self.record is not None:
                self.record.append((i, feed))
            if link is not None and self.record is None and link.serves():  # bound for these names
                values = link.run(feed, to_caller)
            elif self._chained[i]:
                values = part.run_chained(asked, feed, to_caller)
            else:
                values = part.run(asked, feed)
            env.update(zip(wanted, values))  # the part's outputs, then the extra names asked of it
            for k in to_caller:
                results[asked[k]] = values[k]

    def _route(self, output_names) -> tuple:
        """Per part run for `output_names`: (index, (input, environment name) pairs, the names to ask it for (its
        outputs, then the extra names asked of it), its outputs, the indices of what it is asked for that the
        pipeline returns, its ChainLink or None); remembered per list of names (a generation loop asks for the
        same names every step)."""
        key = tuple(output_names)
        route = self._routes.get(key)
        if route is None:
            owner = [self.part_of(n) for n in output_names]
            asked = set(output_names)
            route = []
            for i in range(max(owner) + 1):
                wanted = self._part_outputs[i]
                extra = [n for n, p in zip(output_names, owner) if p == i and n not in wanted]
                returned = [k for k, n in enumerate(wanted) if n in asked]
                to_caller = tuple(returned) + tuple(range(len(wanted), len(wanted) + len(extra)))
                link = self.parts[i].chain_link(wanted + extra) if self._chained[i] else None
                route.append((i, tuple(self._sources[i].items()), wanted + extra, wanted, to_caller, link))
            route = tuple(route)
            if len(self._routes) >= 256:  # a bound on what callers asking for ever new lists can make us hold
                self._routes.clear()
            self._routes[key] = route
        return route

    # -- beyond ONNX Runtime --------------------------------------------------------------------

    def part_of(self, name: str) -> int:
        """The index of the first part that knows tensor `name` (or the part producing an output of that name)."""
        if name in self._output_part:
            return self._output_part[name]
        for i, part in enumerate(self.parts):
            base = name[: -len(PRE_QUANT_SUFFIX)] if name.endswith(PRE_QUANT_SUFFIX) else name
            if base not in part.tensor_names and base.endswith(UPDATED_SUFFIX):
                base = base[: -len(UPDATED_SUFFIX)]
            if base in getattr(part, "tensor_names", ()):
                return i
        raise ParameterError(f"tensor {name!r} exists in none of the pipeline's {len(self.parts)} parts "
                             f"({describe_names([p.model_path for p in self.parts])})")

    @property
    def tensor_names(self) -> list[str]:
        return [n for part in self.parts for n in getattr(part, "tensor_names", ())]

    @property
    def model_path(self) -> str:
        return " + ".join(getattr(p, "model_path", type(p).__name__) for p in self.parts)


__all__ = ["Pipeline", "parts_in_folder", "parts_in_spec"]
