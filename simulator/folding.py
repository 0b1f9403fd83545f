"""Constant folding over a plan: every node whose inputs are all constants is computed once, at load.

Weights built by Constant or ConstantOfShape chains and shape arithmetic on weights become constants, with
their encodings applied exactly as a run would apply them, so results do not change. Only the quantized
value is kept: a request for the value before its encoding recomputes it (Executor.raw_constant).
"""
from __future__ import annotations

from dataclasses import replace

from .executor import Executor
from .plan import Plan

# Ops whose output must not be computed once at load: random by definition.
NOT_FOLDABLE = frozenset({"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Bernoulli",
                          "Multinomial"})


def fold_constants(plan: Plan) -> Plan:
    """`plan` with its foldable steps computed: their outputs join `constants` and `folded`, and they leave
    `steps` (they stay in `producer`, so that a layer-wise comparison can name their node)."""
    executor = Executor(plan)
    constants = dict(plan.constants)
    folded = {}
    remaining = []
    with executor.errstate():
        for step in plan.steps:
            if (step.subgraphs or step.node.op_type in NOT_FOLDABLE
                    or not all(n in constants for n in step.inputs if n)):
                remaining.append(step)
                continue
            args = [constants[n] if n else None for n in step.inputs]
            for name, value in zip(step.outputs, executor.call_step(step, args, constants)):
                if name:
                    constants[name] = executor.quantize(name, value)
                    folded[name] = step
    # The quantizers bound while folding keep the axes they were bound with (chosen from the consumers before
    # folding): re-running a folded node (Executor.run_step) quantizes its output as folding did.
    bound = {name: q for (name, _rank), q in executor.bound_quantizers().items() if name in folded}
    return replace(plan, steps=tuple(remaining), constants=constants, folded=folded,
                   activation_quantizers={**plan.activation_quantizers, **bound})


__all__ = ["fold_constants", "NOT_FOLDABLE"]
