"""Greedy generation with a prompt graph and a token graph sharing a KV cache, and float-vs-quantized
comparison per generated token.

    gen = Generator(prompt_model, token_model)          # sessions or pipelines (run / get_inputs / get_outputs)
    result = gen.generate([1, 5, 9], max_new_tokens=8, stop_token=2)
    result.tokens, result.logits                          # generated ids; each step's last-position logits

Inputs are recognised by name: `input_ids`; `position_ids`; `attention_mask` (1 = attend, per cache slot);
`seqlens_k` / `total_sequence_length` (ONNX Runtime's GroupQueryAttention); the cache inputs
(`past_key_values.{i}.key`, `past_key_{i}`, `past_key_{i}_in`, ..., and their `value` twins), each paired
with the output named `present...` / `..._out`. Any other input comes from `extra_feed(step)` (RoPE cos/sin,
LoRA weights). The cache layout is read from the shapes, per cache input:
- growing: the output is the past and the new entries concatenated (length past + new) and becomes the past;
- fixed, in place: the input has the maximum context length and the output holds only the step's new
  entries: they are written into the cache at the current position;
- fixed, returned whole: the output has the input's shape (GroupQueryAttention's shared buffer) and becomes
  the past.
A prompt graph of a fixed length longer than the prompt is left-padded (ids `pad_token`, mask 0).
"""
from __future__ import annotations

import math
import re
from itertools import accumulate
from dataclasses import asdict, dataclass, field
from typing import Callable, Optional

import numpy as np

from .encodings import describe_names
from .errors import DataError, ParameterError
from .metrics import snr

_CACHE_IN = [
    (re.compile(r"^past_key_values\.(\d+)\.(key|value)$"), "present.{i}.{kv}"),
    (re.compile(r"^past_(key|value)_(\d+)_in$"), "past_{kv}_{i}_out"),
    (re.compile(r"^past_(key|value)_(\d+)$"), "present_{kv}_{i}"),
    (re.compile(r"^past_(key|value)s?\.(\d+)$"), "present_{kv}.{i}"),
]
MAX_NEW_TOKENS = 100_000


def cache_output_name(input_name: str, outputs: set[str]) -> str | None:
    """The output that carries input `input_name`'s cache forward, or None when it is no cache input."""
    for pattern, template in _CACHE_IN:
        m = pattern.match(input_name)
        if m:
            groups = m.groups()
            i, kv = (groups[0], groups[1]) if groups[0].isdigit() else (groups[1], groups[0])
            candidates = [template.format(i=i, kv=kv), input_name.replace("past", "present", 1),
                          input_name[: -len("_in")] + "_out" if input_name.endswith("_in") else None]
            for c in candidates:
                if c in outputs:
                    return c
            raise DataError(f"cache input {input_name!r} has no matching output (tried "
                            f"{describe_names([c for c in candidates if c])}); outputs: {describe_names(outputs)}")
    return None


def _where(model) -> str:
    """A model's file(s) for messages (another engine's session may not say)."""
    return getattr(model, "model_path", None) or type(model).__name__


def _declared(arg) -> list:
    return list(arg.shape) if arg.shape else []


def _np_type(arg):
    import onnx  # noqa: PLC0415

    name = arg.type[len("tensor("):-1] if arg.type.startswith("tensor(") else "float"
    return onnx.helper.tensor_dtype_to_np_dtype(getattr(onnx.TensorProto, name.upper()))


def _sequence_axis(cache, new: np.ndarray, old: np.ndarray, model) -> int:
    """The one axis along which a cache output and its cache differ in size (DataError otherwise)."""
    if new.ndim != old.ndim:
        raise DataError(f"cache output {cache.output!r} of {_where(model)!r} has rank {new.ndim}, its input "
                        f"{cache.name!r} rank {old.ndim}")
    differ = [a for a in range(new.ndim) if new.shape[a] != old.shape[a]]
    if len(differ) != 1:
        raise DataError(f"cache output {cache.output!r} {list(new.shape)} and input {cache.name!r} "
                        f"{list(old.shape)} differ in more than the sequence axis")
    return differ[0]


def _fixed(d) -> int | None:
    return d if isinstance(d, int) and d > 0 else None


@dataclass
class _Cache:
    """One KV cache: the array fed to input `name`, carried forward by output `output`."""
    name: str
    output: str
    value: np.ndarray


@dataclass
class GenerationResult:
    prompt: list[int]
    tokens: list[int] = field(default_factory=list)        # generated ids (fed ids when teacher-forced)
    predicted: list[int] = field(default_factory=list)     # each step's argmax
    logits: list[np.ndarray] = field(default_factory=list)  # each step's last-position logits (float32)
    stopped_by: str = "length"
    feeds: dict = field(default_factory=dict)  # step -> the feed that produced its logits (steps in keep_feeds)

    def to_dict(self) -> dict:
        return {"prompt": self.prompt, "tokens": self.tokens, "predicted": self.predicted,
                "stopped_by": self.stopped_by}


class Generator:
    """Greedy decoding over a prompt graph and a token graph (may be one and the same model)."""

    def __init__(self, prompt_model, token_model=None, logits_name: str | None = None, pad_token: int = 0,
                 extra_feed: Optional[Callable[[dict], dict]] = None):
        self.prompt_model = prompt_model
        self.token_model = token_model if token_model is not None else prompt_model
        self.pad_token = int(pad_token)
        self.extra_feed = extra_feed
        outputs = [o.name for o in self.token_model.get_outputs()]
        if logits_name is None:
            logits_name = "logits" if "logits" in outputs else None
            caches = {cache_output_name(a.name, set(outputs)) for a in self.token_model.get_inputs()}
            rest = [o for o in outputs if o not in caches]
            logits_name = logits_name or (rest[0] if rest else None)
        if logits_name not in outputs:
            raise ParameterError(f"logits output {logits_name!r} is not an output of the token model; outputs: "
                                 f"{describe_names(outputs)}")
        self.logits_name = logits_name
        prompt_outputs = [o.name for o in self.prompt_model.get_outputs()]
        if logits_name not in prompt_outputs:
            raise ParameterError(f"logits output {logits_name!r} is not an output of the prompt model; outputs: "
                                 f"{describe_names(prompt_outputs)}")
        token_outputs = set(outputs)
        self._cache_outputs = [o for o in (cache_output_name(a.name, token_outputs)
                                           for a in self.token_model.get_inputs()) if o is not None]
        self._models: dict = {}

    # -- one step ------------------------------------------------------------------------------

    def _io(self, model):
        """((input, declared shape, NumPy type, cache output name or None) per input, output names) of a model,
        read once."""
        io = self._models.get(id(model))
        if io is None:
            outputs = {o.name for o in model.get_outputs()}
            inputs = [(a, _declared(a), _np_type(a), cache_output_name(a.name, outputs)) for a in model.get_inputs()]
            io = self._models[id(model)] = (inputs, outputs)
        return io

    def _feed(self, model, ids: list[int], new_mask: list[int], state: dict) -> tuple[dict, list[str], dict]:
        inputs, outputs = self._io(model)
        feed, caches = {}, {}
        s = len(ids)
        past = state["filled"]  # cache slots already written (padding included)
        mask_arg = None
        for arg, shape, dtype, out in inputs:
            if out is not None:
                cache = state["caches"].get(out)
                if cache is None:  # no earlier step wrote it: an empty cache of the declared shape
                    dims = [_fixed(d) or 0 for d in shape]
                    if dims and dims[0] == 0:
                        dims[0] = 1  # batch
                    cache = _Cache(arg.name, out, np.zeros(dims, dtype=dtype))
                    state["caches"][out] = cache
                feed[arg.name] = cache.value
                caches[out] = cache
            elif arg.name == "input_ids":
                feed[arg.name] = np.asarray([ids], dtype=dtype)
            elif arg.name == "position_ids":  # the new entries' places among the valid ones
                before = sum(state["mask"]) - 1
                feed[arg.name] = np.array([[max(n + before, 0) for n in accumulate(new_mask)]], dtype=dtype)
            elif arg.name == "attention_mask":
                mask_arg = (arg, shape, dtype)
            elif arg.name == "seqlens_k":
                feed[arg.name] = np.full([_fixed(d) or 1 for d in shape] or [1], past + s - 1, dtype=dtype)
            elif arg.name == "total_sequence_length":
                feed[arg.name] = np.full([_fixed(d) or 1 for d in shape], past + s, dtype=dtype)
        if mask_arg is not None:
            feed[mask_arg[0].name] = self._mask(*mask_arg, model, state["mask"], new_mask, caches)
        missing = [a.name for a, *_ in inputs if a.name not in feed]
        if missing and self.extra_feed is not None:
            extra = self.extra_feed({"position": past, "length": s, "ids": ids, "inputs": missing})
            feed.update({k: v for k, v in extra.items() if k in missing})
            missing = [n for n in missing if n not in feed]
        if missing:
            raise DataError(f"no value for input(s) {describe_names(missing)} of {_where(model)!r}: the "
                            f"generator feeds input_ids, position_ids, attention_mask, seqlens_k, "
                            f"total_sequence_length and KV caches; give the others through extra_feed")
        # Cache outputs of a graph without the matching inputs (a prompt graph without past) start the cache.
        fresh = [o for o in self._cache_outputs if o in outputs and o not in caches]
        return feed, [self.logits_name] + list(caches) + fresh, caches

    @staticmethod
    def _mask(arg, shape: list, dtype, model, past_mask: list[int], new_mask: list[int], caches: dict) -> np.ndarray:
        """1 per attended position, in the order the graph lays them out: past then new entries (growing, or a
        cache of the maximum length with the new entries appended), or cache slots only (a cache the graph
        updates in place)."""
        valid = past_mask + new_mask
        length = (_fixed(shape[-1]) if shape else None) or len(valid)
        s = len(new_mask)
        m = np.zeros(length, dtype=dtype)
        cache_lengths = {d for c in caches.values() for d in c.value.shape}
        if length > len(valid) and length - s in cache_lengths and length - s >= len(past_mask):
            m[:len(past_mask)] = past_mask  # slots of a fixed cache, then the step's own entries
            m[length - s:] = new_mask
        elif length >= len(valid):
            m[:len(valid)] = valid
        else:
            raise DataError(f"input {arg.name!r} of {_where(model)!r} holds {length} positions, fewer than the "
                            f"{len(valid)} tokens processed so far (the context is full)")
        return m.reshape((1,) * max(len(shape) - 1, 1) + (length,))

    def _step(self, model, ids: list[int], state: dict, new_mask: list[int] | None = None) -> np.ndarray:
        new_mask = [1] * len(ids) if new_mask is None else new_mask
        feed, names, caches = self._feed(model, ids, new_mask, state)
        values = dict(zip(names, model.run(names, feed)))
        logits = np.asarray(values[self.logits_name], dtype=np.float32)
        for out in names[1:]:
            new = np.asarray(values[out])
            if out in caches:
                caches[out].value = self._update(caches[out], new, state["filled"], len(ids), model)
            else:
                state["caches"][out] = _Cache(out, out, new)
        state["filled"] += len(ids)
        state["mask"] += new_mask
        if state["run"] in state["keep_feeds"]:
            state["feeds"][state["run"]] = feed
        state["run"] += 1
        return logits.reshape(-1, logits.shape[-1])[-1]

    @staticmethod
    def _update(cache: _Cache, new: np.ndarray, filled: int, s: int, model) -> np.ndarray:
        old = cache.value
        if new.shape == old.shape:
            return new  # the graph returned the whole cache (or a fixed-length one updated in place)
        axis = _sequence_axis(cache, new, old, model)
        if new.shape[axis] == old.shape[axis] + s:  # growing: past + new
            return new
        if new.shape[axis] == s and old.shape[axis] < filled + s:
            raise DataError(f"the KV cache {cache.name!r} holds {old.shape[axis]} positions: the context is full "
                            f"after {filled} (generate fewer tokens, or use a model with a longer cache)")
        if new.shape[axis] == s:  # fixed length: write the new entries in place
            updated = old.copy()
            updated[(slice(None),) * axis + (slice(filled, filled + s),)] = new
            return updated
        raise DataError(f"cache output {cache.output!r} {list(new.shape)} fits neither a growing cache (past + "
                        f"{s}) nor a fixed one of length {old.shape[axis]} at position {filled}")

    # -- generation ----------------------------------------------------------------------------

    def generate(self, prompt, max_new_tokens: int, stop_token: int | None = None, forced: list[int] | None = None,
                 progress: Optional[Callable[[int], None]] = None, keep_feeds=()) -> GenerationResult:
        """Greedy decoding from the token ids `prompt`: up to max_new_tokens ids, stopping after `stop_token`.
        With `forced`, those ids are fed instead of the argmax (teacher forcing, to compare two models).
        `keep_feeds`: steps whose model feed to keep in result.feeds (step 0 is the prompt graph's)."""
        prompt = [int(t) for t in prompt]
        if not prompt:
            raise ParameterError("the prompt needs at least one token id")
        if not isinstance(max_new_tokens, int) or not 1 <= max_new_tokens <= MAX_NEW_TOKENS:
            raise ParameterError(f"max_new_tokens must be an integer from 1 to {MAX_NEW_TOKENS}, "
                                 f"got {max_new_tokens!r}")
        result = GenerationResult(prompt)
        state = {"filled": 0, "mask": [], "caches": {}, "run": 0, "keep_feeds": set(keep_feeds),
                 "feeds": result.feeds}
        ids_arg = next((a for a in self.prompt_model.get_inputs() if a.name == "input_ids"), None)
        if ids_arg is None:
            raise ParameterError(f"the prompt model {_where(self.prompt_model)!r} has no input 'input_ids'")
        length = _fixed(_declared(ids_arg)[-1]) if _declared(ids_arg) else None
        pad = 0
        if length is not None:
            if len(prompt) > length:
                raise ParameterError(f"the prompt has {len(prompt)} tokens; the prompt model takes {length}")
            pad = length - len(prompt)
        # Padded positions fill cache slots but are masked out.
        logits = self._step(self.prompt_model, [self.pad_token] * pad + prompt, state, [0] * pad + [1] * len(prompt))
        for step in range(max_new_tokens):
            predicted = int(logits.argmax())
            token = forced[step] if forced is not None and step < len(forced) else predicted
            result.logits.append(logits)
            result.predicted.append(predicted)
            result.tokens.append(token)
            if progress is not None:
                progress(step)
            if stop_token is not None and token == stop_token:
                result.stopped_by = "stop_token"
                break
            if forced is not None and step + 1 >= len(forced):
                break
            if step + 1 < max_new_tokens:
                if self._cache_outputs:
                    logits = self._step(self.token_model, [token], state)
                else:  # no KV cache: the token graph sees the whole sequence again
                    fresh = dict(state, filled=0, mask=[], caches={})
                    logits = self._step(self.token_model, prompt + result.tokens, fresh)
                    state["run"] = fresh["run"]
        return result


# -- comparison ---------------------------------------------------------------------------------

def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    m = x.max()
    return x - m - math.log(np.exp(x - m).sum())


def kl_divergence(ref_logits, out_logits) -> float:
    """KL(softmax(ref) || softmax(out)) in nats (float64: a report, not simulation)."""
    lp, lq = _log_softmax(np.asarray(ref_logits)), _log_softmax(np.asarray(out_logits))
    return float(np.sum(np.exp(lp) * (lp - lq)))


@dataclass
class StepComparison:
    step: int
    token_0: int
    token_1: int
    snr_db: float
    top1_agree: bool
    kl: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class GenerationComparison:
    """Model 0 generates greedily; model 1 is fed the same tokens (teacher forcing) and its logits and argmax are
    compared per step."""
    result_0: GenerationResult
    result_1: GenerationResult
    steps: list[StepComparison]
    threshold: float = 30.0
    layers: Optional[object] = None  # PipelineLayers at the first differing step (simulator.pipeline_compare)

    @property
    def first_divergence(self) -> int | None:
        """The first step whose argmax differs between the models (None: they agree throughout)."""
        return next((s.step for s in self.steps if not s.top1_agree), None)

    @property
    def top1_agreement(self) -> float:
        return sum(s.top1_agree for s in self.steps) / len(self.steps) if self.steps else 1.0

    def to_dict(self) -> dict:
        out = {"prompt": self.result_0.prompt, "tokens_0": self.result_0.tokens,
               "tokens_1": self.result_1.predicted, "first_divergence": self.first_divergence,
               "top1_agreement": self.top1_agreement, "steps": [s.to_dict() for s in self.steps]}
        if self.layers is not None:
            out["divergence_layers"] = self.layers.to_dict(self.threshold)
        return out

    def format_table(self) -> str:
        lines = [f"{'step':>4}  {'token 0':>8}  {'token 1':>8}  {'SNR dB':>8}  {'KL':>10}  top-1"]
        for s in self.steps:
            lines.append(f"{s.step:>4}  {s.token_0:>8}  {s.token_1:>8}  {s.snr_db:>8.2f}  {s.kl:>10.3g}  "
                         f"{'yes' if s.top1_agree else 'NO'}")
        first = self.first_divergence
        lines.append(f"top-1 agreement {self.top1_agreement:.1%}; " +
                     ("the tokens agree at every step" if first is None else f"first differing step: {first}"))
        if self.layers is not None:
            below = f"first layer below {self.threshold:g} dB"
            found = ((f"{below} (cumulative)", self.layers.first_cumulative(self.threshold)),
                     (f"{below} (isolated)", self.layers.first_isolated(self.threshold)),
                     ("layer adding the most error by itself", self.layers.worst_isolated()))
            for what, d in found:
                lines.append(f"at step {first}, {what}: {_describe_layer(d)}")
        return "\n".join(lines)


def _describe_layer(d) -> str:
    if d is None:
        return "none"
    isolated = "n/a (a graph input)" if d.isolated_snr is None else f"{d.isolated_snr:.2f} dB"
    return f"part {d.part} {d.name!r} ({d.op_type}), cumulative {d.cumulative_snr:.2f} dB, isolated {isolated}"


def compare_generation(gen_0: Generator, gen_1: Generator, prompt, max_new_tokens: int,
                       stop_token: int | None = None, progress: Optional[Callable[[int], None]] = None,
                       locate: bool = True, threshold: float = 30.0) -> GenerationComparison:
    """Model 0 generates; model 1 runs on model 0's tokens; per step: logits SNR, top-1 agreement, KL. With
    `locate`, at the first step where the tokens differ both models re-run up to it and are compared layer by
    layer (cumulative and isolated SNR; the first layer below `threshold` dB)."""
    r0 = gen_0.generate(prompt, max_new_tokens, stop_token, progress=progress)
    r1 = gen_1.generate(prompt, max_new_tokens, None, forced=r0.tokens)
    steps = [StepComparison(i, r0.tokens[i], r1.predicted[i], snr(l0, l1), r0.predicted[i] == r1.predicted[i],
                            kl_divergence(l0, l1))
             for i, (l0, l1) in enumerate(zip(r0.logits, r1.logits))]
    result = GenerationComparison(r0, r1, steps, threshold)
    first = result.first_divergence
    if locate and first is not None and all(_simulated(g) for g in (gen_0, gen_1)):
        from .pipeline_compare import compare_pipelines_by_layer  # noqa: PLC0415

        f0 = gen_0.generate(prompt, first + 1, forced=r0.tokens, keep_feeds={first}).feeds[first]
        f1 = gen_1.generate(prompt, first + 1, forced=r0.tokens, keep_feeds={first}).feeds[first]
        graph = "prompt_model" if first == 0 else "token_model"
        result.layers = compare_pipelines_by_layer(getattr(gen_0, graph), getattr(gen_1, graph), f0, f1)
    return result


def _simulated(gen: Generator) -> bool:
    """Whether both graphs run in the simulator (a layer-wise look needs its interpreters)."""
    from .pipeline import Pipeline  # noqa: PLC0415

    def ours(m):
        return all(hasattr(p, "interpreter") for p in (m.parts if isinstance(m, Pipeline) else [m]))
    return ours(gen.prompt_model) and ours(gen.token_model)


__all__ = ["Generator", "GenerationResult", "GenerationComparison", "StepComparison", "compare_generation",
           "cache_output_name", "kl_divergence"]
