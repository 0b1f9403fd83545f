"""ai.onnx.preview.training optimizers: Adagrad, Momentum, Adam. Each updates n tensors at once: the inputs are
R (learning rate), T (update count), then the n X's, the n G's and the optimizer's n-tensor states in that order;
the outputs are the new X's, then the new states."""
from __future__ import annotations

from .registry import register

_DOMAIN = "ai.onnx.preview.training"


def _split(inputs, groups):
    n = len(inputs) // groups
    return [inputs[k * n:(k + 1) * n] for k in range(groups)]


@register("Adagrad", 1, domain=_DOMAIN)
def Adagrad(xp, R, T, *inputs, decay_factor=0.0, epsilon=1e-6, norm_coefficient=0.0):
    X, G, H = _split(inputs, 3)
    r = R / (1 + T * decay_factor)
    xs, hs = [], []
    for x, g, h in zip(X, G, H):
        g_reg = norm_coefficient * x + g
        h_new = h + g_reg * g_reg
        xs.append((x - r * g_reg / (xp.sqrt(h_new) + epsilon)).astype(x.dtype))
        hs.append(h_new.astype(h.dtype))
    return tuple(xs + hs)


@register("Momentum", 1, domain=_DOMAIN)
def Momentum(xp, R, T, *inputs, alpha, beta, mode, norm_coefficient):
    X, G, V = _split(inputs, 3)
    beta_adj = beta if int(T.reshape(-1)[0]) > 0 else 1.0
    xs, vs = [], []
    for x, g, v in zip(X, G, V):
        g_reg = norm_coefficient * x + g
        v_new = alpha * v + beta_adj * g_reg
        if mode == "standard":
            x_new = x - R * v_new
        elif mode == "nesterov":
            x_new = x - R * (g_reg + alpha * v_new)
        else:
            raise ValueError(f"Momentum: mode must be standard or nesterov, not {mode!r}")
        xs.append(x_new.astype(x.dtype))
        vs.append(v_new.astype(v.dtype))
    return tuple(xs + vs)


@register("Adam", 1, domain=_DOMAIN)
def Adam(xp, R, T, *inputs, alpha=0.9, beta=0.999, epsilon=1e-6, norm_coefficient=0.0, norm_coefficient_post=0.0):
    X, G, V, H = _split(inputs, 4)
    t = int(T.reshape(-1)[0])
    r = R * xp.sqrt(1 - beta ** t) / (1 - alpha ** t) if t > 0 else R
    xs, vs, hs = [], [], []
    for x, g, v, h in zip(X, G, V, H):
        g_reg = norm_coefficient * x + g
        v_new = alpha * v + (1 - alpha) * g_reg
        h_new = beta * h + (1 - beta) * (g_reg * g_reg)
        x_new = x - r * (v_new / (xp.sqrt(h_new) + epsilon))
        xs.append(((1 - norm_coefficient_post) * x_new).astype(x.dtype))
        vs.append(v_new.astype(v.dtype))
        hs.append(h_new.astype(h.dtype))
    return tuple(xs + vs + hs)
