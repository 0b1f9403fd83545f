"""The verdict of a layer-wise result and its diagnosis in words: pass, an isolated failure (the error arises
at that layer), a cascade (every layer agrees in isolation: rounding flips propagating), inconclusive, or
unchecked (nothing could be compared: never a pass)."""
from __future__ import annotations

from .. import report as _report
from ..encodings import describe_names


def diagnose(result) -> tuple[str, str]:
    """(verdict, diagnosis) of a LayerwiseCheckResult whose layers are final."""
    m = result.metric
    first = result.first_failure
    first_iso = result.first_isolated_failure
    fmt = lambda v: _report.fmt(v, result.metric_info.unit)  # noqa: E731
    uncompared = [r for r in result.layers if not r.compared]
    if uncompared and len(uncompared) == len(result.layers):
        return "unchecked", (f"no layer was compared: none of the {len(uncompared)} matched tensors could be read "
                             f"or aligned ({uncompared[0].key!r}: {uncompared[0].note})")
    if first is None and first_iso is None:
        text = (f"every compared layer passes ({m} threshold {result.threshold:g}), cumulative and isolated"
                if any(r.isolated_compared for r in result.layers) else
                f"every compared layer passes ({m} threshold {result.threshold:g})")
        if uncompared:
            text += (f"; {len(uncompared)} matched tensors were not compared ({uncompared[0].key!r}: "
                     f"{uncompared[0].note}; also {describe_names([r.key for r in uncompared[1:]], 3)})"
                     if len(uncompared) > 1 else
                     f"; 1 matched tensor was not compared ({uncompared[0].key!r}: {uncompared[0].note})")
        return "pass", text
    if first_iso is not None:
        rec = result.layer(first_iso)
        more = [r.key for r in result.layers if r.isolated_passed is False][1:]
        text = (f"isolated failure at layer {rec.key!r} ({rec.op_type}): given identical inputs, this op's "
                f"output disagrees ({m} {fmt(rec.isolated_worst)}, threshold {result.isolated_threshold:g})"
                f" - the error arises at this layer (its kernel, its encoding or its own quantization), it is "
                f"not error accumulated upstream")
        steps = rec.isolated_steps
        if steps.n:
            text += f" (isolated error {steps.rms:.3g} steps rms, {steps.max:.3g} max)"
        if first is not None and first != first_iso:
            text += f"; first cumulative failure: {first!r}"
        if more:
            text += f"; other isolated failures: {describe_names(more, 5)}"
        if rec.note and "before its encoding" in rec.note:
            text += f"; at this layer {rec.note}"
        return "isolated", text + "."
    failing = [r for r in result.layers if r.passed is False]
    unchecked = [r.key for r in failing if not r.isolated_compared]
    checked = [r for r in result.layers if r.isolated_compared]
    rec = result.layer(first)
    head = (f"first cumulative failure at layer {rec.key!r} ({rec.op_type}): {m} "
            f"{fmt(rec.worst)} against threshold {result.threshold:g}")
    if not checked:
        return "cumulative", head + "; no isolated check was run, so a kernel or encoding bug cannot be told " \
                                    "from accumulated drift."
    worst_iso = max(checked, key=lambda r: result.metric_info.badness(r.isolated_worst))
    text = (f"{head}; but every layer agrees in isolation (worst isolated {m} "
            f"{fmt(worst_iso.isolated_worst)} at {worst_iso.key!r}")
    if worst_iso.isolated_steps.n:
        text += f", {worst_iso.isolated_steps.max:.3g} steps max"
    text += ("): the cumulative disagreement is rounding flips propagating through the network (a chaotic "
             "cascade), not a kernel or encoding bug")
    if unchecked:
        return "inconclusive", text + (f"; failing layers without an isolated check: "
                                       f"{describe_names(unchecked, 5)}.")
    return "cascade", text + "."
