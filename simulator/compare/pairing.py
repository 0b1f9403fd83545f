"""Which tensor of model 1 is compared with which of model 0: outputs by name (with the "_updated" alias) or
position, intermediate tensors by name or layer_match_info; a sample's feed for a model whose input names
differ; a value in the form two sides are compared in."""
from __future__ import annotations

import numpy as np

from ..encodings import describe_names
from ..errors import DataError, ModelError, ParameterError
from ..names import updated_spellings
from ..session import InferenceSession


def match_outputs(names0: list[str], names1: list[str], model0="model 0", model1="model 1"):
    """[(output of model 0, output of model 1)] and how: by name (with the "_updated" alias), else by
    position when both have as many outputs; ParameterError otherwise."""
    set1 = set(names1)
    pairs = []
    for n in names0:
        m = next((c for c in updated_spellings(n) if c in set1), None)
        if m is None:
            break
        pairs.append((n, m))
    else:
        return pairs, "name"
    if len(names0) == len(names1):
        return list(zip(names0, names1)), "position"
    raise ParameterError(f"the outputs of {model0!r} ({describe_names(names0)}) and of {model1!r} "
                         f"({describe_names(names1)}) match neither by name (nor '<name>_updated') nor by position "
                         f"({len(names0)} vs {len(names1)} outputs)")


def feed_for(session: InferenceSession, feed: dict, source: str) -> dict:
    """The sample's feed for a model whose input names may differ (then matched by position)."""
    names = [i.name for i in session.interpreter.inputs]
    if set(names) == set(feed):
        return feed
    if len(names) == len(feed):
        return dict(zip(names, feed.values()))
    raise DataError(f"the data folder's samples have inputs {describe_names(feed)}; model {source!r} has inputs "
                    f"{describe_names(names)}")


def comparable(value):
    """A sequence output (a list, as the session returns it) as its elements flattened end to end, compared
    element by element; an empty optional as an empty array."""
    if isinstance(value, list):
        return np.concatenate([np.ravel(v) for v in value]) if value else np.zeros(0, np.float32)
    return np.zeros(0, np.float32) if value is None else value


def check_sizes(a, b, what: str):
    if np.size(a) != np.size(b):
        raise ModelError(f"{what}: shapes {tuple(np.shape(a))} and {tuple(np.shape(b))} differ in size; they cannot "
                         f"be compared")


def layer_pairs(s0: InferenceSession, s1: InferenceSession, match_info) -> list[tuple[str, tuple, tuple]]:
    """[(key, (name0, pre0), (name1, pre1))] in model 1's graph order."""
    i0, i1 = s0.interpreter, s1.interpreter
    if match_info:
        pairs = []
        for item in match_info:
            n0, n1 = item
            r0 = s0.resolve_name(n0)
            r1 = s1.resolve_name(n1)
            pairs.append((r0, r1, n0, n1))
    else:
        in0 = {i.name for i in i0.inputs} | set(i0.producer)
        pairs = [((n, False), (n, False), n, n) for n in [i.name for i in i1.inputs] + list(i1.producer) if n in in0]
        if not pairs:
            raise ParameterError(f"models {s0.model_path!r} and {s1.model_path!r} share no tensor name; give "
                                 f"layer_match_info=[(name in model 0, name in model 1), ...]")
    order = {n: k for k, n in enumerate([i.name for i in i1.inputs] + list(i1.constants) + list(i1.producer))}
    pairs.sort(key=lambda p: order.get(p[1][0], len(order)))
    out, seen = [], set()
    for r0, r1, n0, n1 in pairs:
        key = n0 if n0 == n1 else f"{n0} -> {n1}"
        if key in seen:
            continue
        seen.add(key)
        out.append((key, r0, r1))
    return out


def op_of(interp, name):
    step = interp.producer.get(name) or getattr(interp, "folded", {}).get(name)  # folded: computed at load
    if step is None:
        return ("Input" if name in {i.name for i in interp.inputs} else "Initializer"), ""
    return step.node.op_type, step.node.name
