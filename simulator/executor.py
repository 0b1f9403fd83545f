"""Running a plan (simulator.plan): each step's kernel is called, each output is fake-quantized as it is
produced when it has an encoding, and values are freed after their last use unless kept.

An Executor holds nothing of a run: `run` is safe to call from several threads. Its only state is the cache
of activation quantizers bound per tensor and rank (a per-channel encoding's axis depends on the value's
rank), one executor per If/Loop/Scan body, and each step's call bound once (_bind: the kernel, a getter of
its inputs, its attributes, its outputs' quantizers, its free list), so that a run's loop does per node
little more than the kernel call: a token step of a small decoder is dozens of nodes on tiny tensors.
"""
from __future__ import annotations

from collections import ChainMap
from functools import partial
from operator import itemgetter
from typing import Callable, Optional

from ops.errors import OpError

from . import errors
from .backend import errstate, host_module, is_numpy, on_host, to_device, to_host, unwrap
from .encodings import describe_names
from .errors import KernelError, LimitError, ModelError, SimulatorError
from .plan import Plan, Step
from .quantization import Quantizer, quantize_function

# observer(name, value after its encoding, value before it), for each graph input and node output.
Observer = Callable[[str, object, object], None]


class Executor:
    """Runs one plan on its array module."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.xp = plan.xp
        self._on_host = is_numpy(plan.xp)  # NumPy: host inputs need no copy, no step moves to the host
        self._per_rank_quantizers: dict[tuple[str, int], Quantizer] = {}
        # Each body once: a step is in both `steps` and `producer`, and a file can nest bodies deeply (building
        # an executor per mention would double the work at every level).
        bodies = {id(g): g for s in (*plan.steps, *plan.producer.values()) for g in s.subgraphs.values()}
        self._bodies = {key: Executor(g) for key, g in bodies.items()}
        self._array_type = unwrap(plan.xp).ndarray
        # name -> the function quantizing a float value of it (quantization.quantize_function; per rank when the
        # axis depends on it), for every tensor with an encoding
        self._quantizers = {name: self._quantize_function(name) for name in plan.activation_encodings}
        self._bound = tuple(self._bind(step) for step in plan.steps)
        self._keeping: dict[frozenset, tuple] = {}  # kept names -> _bound with those names out of the free lists

    def _bind(self, step: Step) -> tuple:
        """What run needs of a step, looked up once: (step, kernel function, getter of its inputs from the run's
        values (one value, or a tuple), whether it takes a single input, attributes, outputs, their
        quantizers (None: no encoding), free list, whether the kernel is called directly, the name of its only
        output and that output's quantizer (stored without the loop over outputs, unless a run observes or keeps
        raw values)).
        A step that moves inputs to the host, runs a body, or runs on a device goes through call_step."""
        host_inputs = [i for i in step.kernel.host_inputs if i < len(step.inputs) and i not in step.host_args]
        direct = self._on_host and not step.subgraphs and not host_inputs  # on the host, host_args are the values
        names = step.inputs
        getter = itemgetter(*names) if names else _no_inputs
        quantizers = tuple(self._quantizers.get(n) if n else None for n in step.outputs)
        only = step.outputs[0] if len(step.outputs) == 1 and step.outputs[0] else None
        return (step, step.kernel.fn, getter, len(names) == 1, step.attrs, step.outputs, quantizers, step.free,
                direct, only, quantizers[0] if only else None)

    def steps_keeping(self, keep) -> tuple:
        """The bound steps (_bind's tuples) with the names in `keep` taken out of the free lists (remembered per
        frozenset of names: a session keeps the same names every run of a generation loop, so a freed name needs no
        test per run)."""
        keep = keep if type(keep) is frozenset else frozenset(keep)  # (a body's run keeps a set of its outputs)
        found = self._keeping.get(keep)
        if found is None:
            found = tuple(entry[:7] + (tuple(n for n in entry[7] if n not in keep),) + entry[8:]
                          for entry in self._bound)
            if len(self._keeping) >= 64:  # a bound on what callers keeping ever new names can make us hold
                self._keeping.clear()
            self._keeping[keep] = found
        return found

    def _quantize_function(self, name: str):
        q = self.plan.activation_quantizers.get(name)
        if q is not None:
            return quantize_function(self.xp, q)
        return partial(self._quantize_per_rank, name)  # the axis depends on the value's rank

    def _quantize_per_rank(self, name: str, value):
        return self.quantizer_for(name, value)(self.xp, value)

    # -- quantizers -----------------------------------------------------------------------------

    def quantizer_for(self, name: str, value) -> Optional[Quantizer]:
        """The quantizer bound to activation `name` for a value of this shape (None: no encoding)."""
        plan = self.plan
        q = plan.activation_quantizers.get(name)
        if q is not None or name not in plan.activation_encodings:
            return q
        key = (name, value.ndim)
        q = self._per_rank_quantizers.get(key)
        if q is None:
            q = self._per_rank_quantizers[key] = plan.bind_activation(name, value)
        return q

    def bound_quantizers(self) -> dict[tuple[str, int], Quantizer]:
        """The activation quantizers bound so far, by (tensor name, rank) (constant folding keeps them)."""
        return dict(self._per_rank_quantizers)

    def quantize(self, name: str, value):
        """`value` as tensor `name`'s consumers see it: fake-quantized by its encoding when it has one and is
        a float tensor, else unchanged."""
        q = self._quantizers.get(name)
        if q is None:
            return value
        dtype = getattr(value, "dtype", None)
        if dtype is None or dtype.kind != "f":
            return value  # only float tensors carry a quantizer
        return q(value)

    def errstate(self):
        """The floating-point error state of a run (inf and NaN are values, not warnings)."""
        return errstate(self.xp, all="ignore")

    # -- constants ------------------------------------------------------------------------------

    def raw_constant(self, name: str):
        """Constant `name` before its encoding: a weight as the file holds it, a folded tensor as its node
        produced it (recomputed: rarely asked for)."""
        plan = self.plan
        if name in plan.folded:
            if name not in plan.activation_encodings:
                return plan.constants[name]
            step = plan.folded[name]
            with self.errstate():
                result = self.call_step(step, [plan.constants[n] if n else None for n in step.inputs], plan.constants)
            return result[step.outputs.index(name)]
        return plan.raw_params.get(name, plan.constants[name])

    # -- running --------------------------------------------------------------------------------

    def run(self, feeds: dict, keep: set[str], pre_quant: set[str] = frozenset(), outer=None,
            observer: Optional[Observer] = None) -> tuple[dict, dict]:
        """Run the graph on `feeds` (input name -> array on this plan's device).

        Returns (values, raw): `values` holds every name in `keep` as its consumers see it (after its
        encoding), `raw` every name in `pre_quant` as produced, before its encoding. `outer` holds
        the caller's values, for a subgraph that reads names of its outer scope. `observer`, when
        given, is called as observer(name, value, raw_value) for each graph input and node output as
        it is produced (value after its encoding, raw_value before), so that a caller can look at
        every intermediate without keeping them all.
        """
        plan = self.plan
        # Constants are read, never written or freed: a body's run layers its values over them (no copy).
        values = dict(plan.constants) if outer is None else ChainMap({}, plan.constants, outer)
        raw = {n: self.raw_constant(n) for n in pre_quant if n in plan.constants} if pre_quant else {}
        plain = observer is None and not pre_quant  # values are stored as they come, nothing else
        if observer is not None:
            for name in plan.folded:  # computed at load, seen by the observer as if produced now
                observer(name, plan.constants[name], self.raw_constant(name))
        values[""] = None  # an omitted input, read through the steps' getters like any value
        with self.errstate():  # a graph input holding inf or NaN quantizes without warnings, like any value
            if plain and self._quantizers.keys().isdisjoint(feeds):
                values.update(feeds)  # no input has an encoding (a float run): stored as they come
            else:
                for name, value in feeds.items():
                    if plain:
                        values[name] = self.quantize(name, value)
                    else:
                        self._store(name, value, values, raw, pre_quant, observer)
            for name in plan.graph_input_free:
                if name not in keep:
                    values.pop(name, None)
            self.run_steps(values, self.steps_keeping(keep), raw, pre_quant, observer)
        if not values.keys() >= keep:  # a set comparison in C (this runs after every run)
            raise not_produced(values, keep)
        return {n: values[n] for n in keep}, raw

    def run_steps(self, values, steps: tuple, raw: Optional[dict] = None, pre_quant=frozenset(),
                  observer: Optional[Observer] = None) -> None:
        """The loop of run: each of `steps` (steps_keeping's) on `values` (the constants, "" and the inputs as
        their consumers see them), inside the run's floating-point error state. A caller running several plans
        one after the other (a pipeline's parts) calls it per plan, without run's per-call work."""
        plain = observer is None and not pre_quant  # values are stored as they come, nothing else
        xp, array_type, call_step, quantize = self.xp, self._array_type, self.call_step, self.quantize
        for step, fn, getter, single, attrs, outputs, quantizers, free, direct, only, only_quantizer in steps:
            if direct:
                args = getter(values)
                try:
                    result = fn(xp, args, **attrs) if single else fn(xp, *args, **attrs)
                except Exception as exc:  # noqa: BLE001 - wrapped with the node's name
                    raise_kernel_error(step, [args] if single else list(args), exc)
            else:
                result = call_step(step, [values[n] if n else None for n in step.inputs], values)
            if only is not None and plain and type(result) is array_type:  # the rule below, for one array
                values[only] = (result if only_quantizer is None or result.dtype.kind != "f"
                                else only_quantizer(result))
            elif observer is not None:
                for name, value in zip(outputs, result if isinstance(result, tuple) else (result,)):
                    if name:
                        self._store(name, value, values, raw, pre_quant, observer)
            else:  # _store's steps, inlined with the quantizers bound (this loop is a token step's overhead)
                for name, value, q in zip(outputs, result if isinstance(result, tuple) else (result,), quantizers):
                    if not name:
                        continue
                    if name in pre_quant:
                        raw[name] = value
                    if q is not None:  # a float array: its bound function; anything else: the general rule
                        value = (q(value) if type(value) is array_type and value.dtype.kind == "f"
                                 else quantize(name, value))
                    values[name] = value
            for name in free:
                values.pop(name, None)

    def run_prefix(self, feeds: dict, stop: int, substitute: Callable[[str, object], object]) -> dict:
        """Run steps 0 .. stop-1 on `feeds`, passing each node output (after its encoding) through
        substitute(name, value), whose result is what later steps read: a caller injects values computed
        elsewhere (dumps) this way, and raises from it to stop early. Returns the values still live."""
        plan = self.plan
        values = dict(plan.constants)
        with self.errstate():
            for name, value in feeds.items():
                values[name] = self.quantize(name, value)
            for step in plan.steps[:stop]:
                args = [values[n] if n else None for n in step.inputs]
                for name, value in zip(step.outputs, self.call_step(step, args, values)):
                    if name:
                        values[name] = substitute(name, self.quantize(name, value))
                for name in step.free:
                    values.pop(name, None)
        return values

    def run_step(self, output_name: str, inputs: list, quantize_inputs: bool = True):
        """Run the single node that produces `output_name` on the given input values (None for an omitted
        input); returns that output after its encoding. With quantize_inputs, each input is first
        fake-quantized by its own encoding, as the node's producers would have done (for re-running one
        op on values dumped elsewhere)."""
        plan = self.plan
        step = plan.producer.get(output_name)
        if step is None:
            raise ModelError(f"no node of {plan.source!r} produces tensor {output_name!r}")
        args = []
        for name, value in zip(step.inputs, inputs):
            if value is not None and quantize_inputs and name not in plan.constants:
                value = self.quantize(name, value)
            if value is None and name in plan.constants:
                value = plan.constants[name]
            args.append(value)
        with self.errstate():
            result = self.call_step(step, args, plan.constants)
            return self.quantize(output_name, result[step.outputs.index(output_name)])

    def call(self, outer: dict, *inputs):
        """Run this plan as a body on its formal inputs (as many as given), reading outer-scope names from
        `outer`."""
        feeds = {info.name: value for info, value in zip(self.plan.inputs, inputs)}
        names = [o.name for o in self.plan.outputs]
        values, _ = self.run(feeds, frozenset(names), outer=outer)
        return tuple(values[n] for n in names)

    def _store(self, name, value, values, raw, pre_quant, observer):
        if name in pre_quant:
            raw[name] = value
        quantized = self.quantize(name, value)
        values[name] = quantized
        if observer is not None:
            observer(name, quantized, value)

    def call_step(self, step: Step, args: list, values) -> tuple:
        """One kernel call, with host inputs moved to the host and bodies bound to this run's `values`;
        returns the outputs as a tuple (before their encodings). A kernel's failure is a KernelError."""
        on_host = self._on_host
        for i in step.kernel.host_inputs:
            if i in step.host_args:
                args[i] = step.host_args[i]
            elif i < len(args) and args[i] is not None and (not on_host or isinstance(args[i], list)):
                args[i] = to_host(args[i])  # on the host only a sequence changes (to_host copies it)
        attrs = step.attrs
        if step.subgraphs:  # bodies run on demand, reading this run's values
            attrs = {**attrs, **{k: partial(self._bodies[id(g)].call, values) for k, g in step.subgraphs.items()}}
        xp = self.xp
        if not on_host and step_needs_host(step, args):  # the rules and their reasons: backend.py
            xp, args = host_module(xp), [to_host(a) for a in args]
        try:
            result = step.kernel.fn(xp, *args, **attrs)
            if xp is not self.xp:
                result = tuple(to_device(self.xp, r) for r in (result if isinstance(result, tuple) else (result,)))
        except Exception as exc:  # noqa: BLE001 - wrapped with the node's name
            raise_kernel_error(step, args, exc)
        return result if isinstance(result, tuple) else (result,)


def not_produced(values, names) -> ModelError:
    """The error for a run asked for `names` that its `values` lack."""
    missing = [n for n in names if n not in values]
    return ModelError(f"tensor(s) {describe_names(missing)} were not produced (an optional output the node did not "
                      f"compute?)")


def raise_kernel_error(step: Step, args: list, exc: Exception):
    """Raise a kernel's failure on `args` as the project's error naming the step's node (inside the except
    clause that caught `exc`): a SimulatorError as it is (a body's: a LimitError there already names its
    node), an ops.errors error as the simulator.errors class of its name, anything else as a KernelError."""
    if isinstance(exc, SimulatorError):
        raise  # noqa: PLE0704 - the exception being handled, as it is
    if isinstance(exc, OpError):
        error = project_error(exc)
        if isinstance(error, LimitError):
            error = LimitError(f"{step.label}: {exc}")
        raise error from None
    shapes = ", ".join(f"{n or '<omitted>'}: {_describe(a)}" for n, a in zip(step.inputs, args))
    raise KernelError(f"{step.label} failed on inputs ({shapes}): {type(exc).__name__}: {exc}") from exc


def _no_inputs(values) -> tuple:
    return ()


def project_error(exc: OpError) -> SimulatorError:
    """An error ops raised on purpose (ops.errors), as the simulator.errors class of the same name and message."""
    return getattr(errors, type(exc).__name__)(str(exc))


def step_needs_host(step: Step, args: list) -> bool:
    """Whether a GPU run must run this node on the host: decided at load (Step.runs_on_host), or because an
    input is a host-resident tensor (a dtype CuPy cannot hold)."""
    return step.runs_on_host or any(on_host(a) for i, a in enumerate(args) if i not in step.kernel.host_inputs)


def _describe(a) -> str:
    if a is None:
        return "None"
    shape = getattr(a, "shape", None)
    return f"{getattr(a, 'dtype', type(a).__name__)}{list(shape) if shape is not None else ''}"


__all__ = ["Executor", "Observer", "not_produced", "project_error", "raise_kernel_error", "step_needs_host"]
