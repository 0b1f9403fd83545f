"""Control flow: If, Loop, Scan. Bodies arrive as callables planned by the interpreter: calling one runs
the body on its formal inputs, reading outer-scope values of the current run; only the taken branch runs."""
from __future__ import annotations

from .registry import register


@register("If", 1, 11, 13, 16, 19, 21, 23, 24, 25)
def If(xp, cond, *, then_branch, else_branch):
    taken = then_branch if bool(cond.reshape(-1)[0]) else else_branch
    return taken()
