"""The isolated check: an op of the compared model re-run on the reference's values of its inputs (compare_by_layer)
or on the dumped ones (verify_dumps), so that an error that arises at a layer is told from error accumulated
upstream; undumped inputs are replayed from the nearest dumped tensors."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..backend import to_host
from ..encodings import describe_names
from ..errors import DataError, SimulatorError


def isolated_inputs(pairs, i0, i1) -> dict[str, list]:
    """{model 1 tensor: per input of its producer, the model 0 (name, pre) that feeds the re-run; None for a
    constant or an absent input; ("", name) for an input model 0 does not produce}."""
    # model 1 name -> model 0 (name, pre) whose value feeds the isolated re-run of model 1's ops
    feed_map = {r1[0]: r0 for _, r0, r1 in pairs if not r1[1] and not r0[1]}
    known0 = set(i0.value_names)
    out: dict[str, list] = {}
    for _, r0, r1 in pairs:
        step = i1.producer.get(r1[0])
        if step is None or r1[1]:
            continue
        names = []
        for n in step.inputs:
            if not n or n in i1.constants:
                names.append(None)
            elif n in feed_map:
                names.append(feed_map[n])
            elif n in known0 and n not in i0.constants:
                names.append((n, False))
            else:
                names.append(("", n))  # missing: not produced by model 0
        out[r1[0]] = names
    return out


def rerun_on_reference(rec, sample, ref, name1: str, names, store, i1, scale) -> None:
    """model 1's op that produces `name1` re-run on model 0's values (`store`) of its inputs, added to `rec` as
    the isolated sample; otherwise the record's isolated_note says why not."""
    if names is None:
        rec.isolated_note = "graph input or initializer: no op to re-run"
        return
    missing = [n[1] for n in names if n is not None and not n[0]]
    if missing:
        rec.isolated_note = f"input(s) {describe_names(missing)} of its op have no counterpart in model 0"
        return
    args = []
    for n in names:
        if n is None:
            args.append(None)
            continue
        v = store.get(n)
        args.append(None if v is None else i1.xp.asarray(v))
    try:
        iso = np.asarray(to_host(i1.run_step(name1, args)))
    except SimulatorError as exc:
        rec.isolated_note = f"re-running {i1.producer[name1].label} failed: {exc}"
        return
    if iso.size != ref.size:
        rec.isolated_note = f"the re-run op gives shape {iso.shape}, model 0 has {tuple(np.shape(ref))}"
        return
    rec.add_isolated(sample, ref, iso, scale)


def replay(interp, name: str, known: Callable, replayed: dict, chain: list):
    """The value of tensor `name` from the nearest known tensors: `known(n)` (a dumped tensor, or None), else
    its producer re-run on its inputs, recursively (iterative: a chain may be long). `replayed` caches what
    was re-computed; the labels of the re-run nodes are appended to `chain`. DataError when a tensor on the
    way is neither known nor produced by a node."""
    values = dict(replayed)  # + the known tensors read on the way, for this call only
    stack, opened = [name], set()
    while stack:
        n = stack[-1]
        if n in values:
            stack.pop()
            continue
        v = known(n)
        if v is not None:
            values[n] = v
            stack.pop()
            continue
        step = interp.producer.get(n)
        if step is None:
            raise DataError(f"tensor {n!r} (an input of the chain that produces {name!r}) was not dumped and no "
                            f"node produces it")
        pending = [i for i in step.inputs if i and i not in interp.constants and i not in values]
        if pending and n not in opened:
            opened.add(n)
            stack += pending
            continue
        values[n] = replayed[n] = interp.run_step(n, [None if not i or i in interp.constants else values[i]
                                                      for i in step.inputs])
        chain.append(step.label)
        stack.pop()
    return values[name]
