"""Control flow: If, Loop, Scan. Bodies arrive as callables planned by the interpreter: calling one runs
the body on its formal inputs, reading outer-scope values of the current run; only the taken branch runs."""
from __future__ import annotations

import contextvars
import os

from .errors import LimitError, ParameterError
from .registry import register

# The most iterations one Loop node may run (a trip count above it is refused before the first iteration,
# a cond-only "while" loop stops with an error when it reaches it). Change it with the environment variable.
# Loops nested in a Loop's body share the outermost one's budget: 1000 x 1000 nested iterations are a
# million, not a thousand twice.
MAX_LOOP_ITERATIONS = 100_000
LOOP_LIMIT_VARIABLE = "SIMULATOR_MAX_LOOP_ITERATIONS"
_nested_iterations = contextvars.ContextVar("nested_loop_iterations", default=None)  # [count] of the outermost


def max_loop_iterations() -> int:
    text = os.environ.get(LOOP_LIMIT_VARIABLE, "").strip()
    if not text:
        return MAX_LOOP_ITERATIONS
    if not text.isdigit():
        raise ParameterError(f"environment variable {LOOP_LIMIT_VARIABLE}={text!r}: expected a whole number of "
                             f"iterations")
    return int(text)


@register("If", 1, 11, 13, 16, 19, 21, 23, 24, 25)
def If(xp, cond, *, then_branch, else_branch):
    taken = then_branch if bool(cond.reshape(-1)[0]) else else_branch
    return taken()


def _stack(xp, items, axis=0):
    """Per-iteration scan outputs stacked along `axis` (a new axis)."""
    if not items:
        return xp.zeros((0,), dtype=xp.float32)
    if isinstance(items[0], list):  # a sequence per iteration: not stackable, keep the last (ONNX types it so)
        return items[-1]
    return xp.stack([xp.asarray(v) for v in items], axis=axis)


@register("Loop", 1, 11, 13, 16, 19, 21, 23, 24, 25)
def Loop(xp, M=None, cond=None, *v_initial, body):
    """body(iteration_num, cond, *loop_carried) -> (cond, *loop_carried, *scan_outputs)."""
    trip = None if M is None else int(M.reshape(-1)[0])
    keep_going = True if cond is None else bool(cond.reshape(-1)[0])
    limit = max_loop_iterations()
    if trip is not None and trip > limit and keep_going:
        raise LimitError(f"trip count M = {trip} is over the limit of {limit} Loop iterations; if the model really "
                         f"loops that often, raise the limit with the environment variable {LOOP_LIMIT_VARIABLE}")
    outer = _nested_iterations.get()
    token = _nested_iterations.set([0]) if outer is None else None
    try:
        return _run_loop(xp, trip, cond, keep_going, v_initial, body, limit, _nested_iterations.get())
    finally:
        if token is not None:
            _nested_iterations.reset(token)


def _run_loop(xp, trip, cond, keep_going, v_initial, body, limit, spent):
    carried = list(v_initial)
    n_carried = len(carried)
    scans: list[list] | None = None
    i = 0
    while (trip is None or i < trip) and keep_going:
        spent[0] += 1
        if spent[0] > limit:
            raise LimitError(f"nested Loops have run {limit} iterations in all, the limit of Loop iterations (an "
                             f"inner Loop's iterations count toward its outer Loop's); raise it with the environment "
                             f"variable {LOOP_LIMIT_VARIABLE} if the model really loops that often")
        out = body(xp.asarray(i, dtype=xp.int64), xp.asarray(keep_going, dtype=xp.bool_), *carried)
        if cond is not None:  # without a cond input the body's cond output is ignored (a for loop)
            keep_going = bool(out[0].reshape(-1)[0])
        carried = list(out[1:1 + n_carried])
        if scans is None:
            scans = [[] for _ in out[1 + n_carried:]]
        for acc, v in zip(scans, out[1 + n_carried:]):
            acc.append(v)
        i += 1
        if i >= limit and keep_going and (trip is None or i < trip):
            raise LimitError(f"the loop is still running after {limit} iterations (its condition never became "
                             f"false), the limit of Loop iterations; raise it with the environment variable "
                             f"{LOOP_LIMIT_VARIABLE} if the model really loops that often")
    return tuple(carried) + tuple(_stack(xp, acc) for acc in (scans or []))


def _run_scan(xp, body, states, scan_inputs, input_axes, input_dirs, output_axes, output_dirs):
    n = scan_inputs[0].shape[input_axes[0]] if scan_inputs else 0
    inputs = []
    for x, axis, d in zip(scan_inputs, input_axes, input_dirs):
        x = xp.moveaxis(x, axis, 0)
        inputs.append(x[::-1] if d else x)
    states = list(states)
    outs: list[list] | None = None
    for t in range(n):
        res = body(*states, *[x[t] for x in inputs])
        states = list(res[:len(states)])
        if outs is None:
            outs = [[] for _ in res[len(states):]]
        for acc, v in zip(outs, res[len(states):]):
            acc.append(v)
    results = []
    for k, acc in enumerate(outs or []):
        if output_dirs[k]:
            acc = acc[::-1]
        y = xp.stack(acc, axis=0)
        axis = output_axes[k]
        axis = axis + y.ndim if axis < 0 else axis
        results.append(xp.moveaxis(y, 0, axis))
    return states, results


@register("Scan", 8)
def Scan_8(xp, sequence_lens, *initial_state_and_scan_inputs, body, num_scan_inputs, directions=None):
    # Scan-8 has a batch axis 0 in front of every input and output; the scan axis is 1.
    n_state = len(initial_state_and_scan_inputs) - num_scan_inputs
    batch = initial_state_and_scan_inputs[0].shape[0]
    dirs = list(directions) if directions else [0] * num_scan_inputs
    final_states, scan_outs = [], []
    for b in range(batch):
        states = [s[b] for s in initial_state_and_scan_inputs[:n_state]]
        scans = [x[b] for x in initial_state_and_scan_inputs[n_state:]]
        if sequence_lens is not None:
            length = int(sequence_lens.reshape(-1)[b])
            scans = [x[:length] for x in scans]
        st, outs = _run_scan(xp, body, states, scans, [0] * num_scan_inputs, dirs, [0] * 64, [0] * 64)
        final_states.append(st)
        scan_outs.append(outs)
    out = [xp.stack([fs[k] for fs in final_states]) for k in range(n_state)]
    out += [xp.stack([so[k] for so in scan_outs]) for k in range(len(scan_outs[0]) if scan_outs else 0)]
    return tuple(out)


@register("Scan", 9, 11, 16, 19, 21, 23, 24, 25)
def Scan(xp, *initial_state_and_scan_inputs, body, num_scan_inputs, scan_input_axes=None,
         scan_input_directions=None, scan_output_axes=None, scan_output_directions=None):
    n_state = len(initial_state_and_scan_inputs) - num_scan_inputs
    states = initial_state_and_scan_inputs[:n_state]
    scans = initial_state_and_scan_inputs[n_state:]
    in_axes = [a + x.ndim if a < 0 else a for a, x in zip(scan_input_axes or [0] * num_scan_inputs, scans)]
    in_dirs = list(scan_input_directions or [0] * num_scan_inputs)
    out_axes = list(scan_output_axes or [0] * 64)
    out_dirs = list(scan_output_directions or [0] * 64)
    final, outs = _run_scan(xp, body, states, scans, in_axes, in_dirs, out_axes, out_dirs)
    return tuple(final) + tuple(outs)
