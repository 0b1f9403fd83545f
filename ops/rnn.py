"""Recurrent layers: RNN, GRU, LSTM (forward, reverse, bidirectional; sequence_lens; layout 0 and 1; clip;
activations with their alpha/beta; LSTM peepholes and input_forget; GRU linear_before_reset).

Steps past a batch entry's sequence length leave its state unchanged and write zeros to Y; the reverse direction
runs each entry's own sequence backwards.
"""
from __future__ import annotations

from .registry import register


def _activation(xp, name, alpha, beta):
    n = name.lower()
    if n == "tanh":
        return xp.tanh
    if n == "sigmoid":
        return lambda x: 1 / (1 + xp.exp(-x))
    if n == "relu":
        return lambda x: xp.maximum(x, 0)
    if n == "affine":
        return lambda x: alpha * x + beta
    if n == "leakyrelu":
        return lambda x: xp.where(x >= 0, x, alpha * x)
    if n == "thresholdedrelu":
        return lambda x: xp.where(x > alpha, x, 0)
    if n == "scaledtanh":
        return lambda x: alpha * xp.tanh(beta * x)
    if n == "hardsigmoid":
        return lambda x: xp.clip(alpha * x + beta, 0, 1)
    if n == "elu":
        return lambda x: xp.where(x >= 0, x, alpha * (xp.exp(x) - 1))
    if n == "softsign":
        return lambda x: x / (1 + xp.abs(x))
    if n == "softplus":
        return lambda x: xp.log(1 + xp.exp(x))
    raise ValueError(f"unknown RNN activation {name!r}")


_DEFAULT_ALPHA = {"leakyrelu": 0.01, "thresholdedrelu": 1.0, "hardsigmoid": 0.2, "elu": 1.0, "scaledtanh": 1.0,
                  "affine": 1.0}
_DEFAULT_BETA = {"hardsigmoid": 0.5, "scaledtanh": 1.0, "affine": 0.0}


def _activations(xp, names, alphas, betas, per_dir, num_dir, defaults):
    names = list(names) if names else defaults * num_dir
    if len(names) == per_dir:
        names = names * num_dir
    names = names[:per_dir * num_dir]  # RNN's schema default lists two (one per direction) for either count
    fns, ai, bi = [], 0, 0
    for name in names:
        n = name.lower()
        a = _DEFAULT_ALPHA.get(n, 0.0)
        b = _DEFAULT_BETA.get(n, 0.0)
        if n in _DEFAULT_ALPHA and alphas and ai < len(alphas):
            a = alphas[ai]
            ai += 1
        if n in _DEFAULT_BETA and betas and bi < len(betas):
            b = betas[bi]
            bi += 1
        fns.append(_activation(xp, name, a, b))
    return [fns[d * per_dir:(d + 1) * per_dir] for d in range(num_dir)]


def _run(xp, X, sequence_lens, num_dir, direction, layout, states, cell):
    """Run `cell(d, x_t, states) -> new states` over time for each direction; returns Y and final states."""
    if layout:
        X = X.transpose(1, 0, 2)
    T, N = X.shape[0], X.shape[1]
    lens = [T] * N if sequence_lens is None else [int(v) for v in sequence_lens.reshape(-1).tolist()]
    lens_a = xp.asarray(lens).reshape(N, 1)
    H = states[0].shape[-1]
    Y = xp.zeros((T, num_dir, N, H), dtype=X.dtype)
    finals = []
    for d in range(num_dir):
        reverse = direction == "reverse" or d == 1
        st = [s[d] for s in states]
        for step in range(T):
            if reverse:
                # Entry b reads its own sequence backwards: time lens[b] - 1 - step.
                idx = xp.asarray([max(n - 1 - step, 0) for n in lens])
                x_t = X[idx, xp.arange(N)]
                t_out = idx
            else:
                x_t = X[step]
                t_out = xp.full(N, step)
            active = step < lens_a
            new = cell(d, x_t, st)
            st = [xp.where(active, nv, ov) for nv, ov in zip(new, st)]
            h = xp.where(active, st[0], 0)
            mask = (step < lens_a).reshape(-1)
            rows = xp.arange(N)[mask]
            Y[t_out[mask], d, rows] = h[mask]
        finals.append(st)
    outs = [xp.stack([f[k] for f in finals]) for k in range(len(states))]
    if layout:
        Y = Y.transpose(2, 0, 1, 3)
        outs = [o.transpose(1, 0, 2) for o in outs]
    return [Y] + outs


def _common(X, W, B, initial, layout, hidden_size, gates, num_dir, xp):
    N = X.shape[0] if layout else X.shape[1]
    H = hidden_size or W.shape[1] // gates
    if B is None:
        B = xp.zeros((num_dir, 2 * gates * H), dtype=X.dtype)
    init = []
    for s in initial:
        if s is None:
            init.append(xp.zeros((num_dir, N, H), dtype=X.dtype))
        else:
            init.append(s.transpose(1, 0, 2) if layout else s)
    return H, B, init


def _clip(xp, x, clip):
    return x if clip is None else xp.clip(x, -clip, clip)


def _RNN(xp, X, W, R, B=None, sequence_lens=None, initial_h=None, *, activation_alpha=None, activation_beta=None,
         activations=None, clip=None, direction="forward", hidden_size=None, layout=0):
    num_dir = 2 if direction == "bidirectional" else 1
    H, B, (h0,) = _common(X, W, B, [initial_h], layout, hidden_size, 1, num_dir, xp)
    fns = _activations(xp, activations, activation_alpha, activation_beta, 1, num_dir, ["Tanh"])

    def cell(d, x, st):
        wb, rb = B[d, :H], B[d, H:]
        return [fns[d][0](_clip(xp, x @ W[d].T + st[0] @ R[d].T + wb + rb, clip)).astype(X.dtype)]

    Y, Y_h = _run(xp, X, sequence_lens, num_dir, direction, layout, [h0], cell)
    return Y, Y_h


def _GRU(xp, X, W, R, B=None, sequence_lens=None, initial_h=None, *, activation_alpha=None, activation_beta=None,
         activations=None, clip=None, direction="forward", hidden_size=None, layout=0, linear_before_reset=0):
    direction = "forward" if direction == "foward" else direction  # GRU-1's schema default is spelled "foward"
    num_dir = 2 if direction == "bidirectional" else 1
    H, B, (h0,) = _common(X, W, B, [initial_h], layout, hidden_size, 3, num_dir, xp)
    fns = _activations(xp, activations, activation_alpha, activation_beta, 2, num_dir, ["Sigmoid", "Tanh"])

    def cell(d, x, st):
        f, g = fns[d]
        h = st[0]
        w, r = W[d], R[d]
        wb, rb = B[d, :3 * H], B[d, 3 * H:]
        xw = x @ w.T + wb
        z = f(_clip(xp, xw[:, :H] + h @ r[:H].T + rb[:H], clip))
        rr = f(_clip(xp, xw[:, H:2 * H] + h @ r[H:2 * H].T + rb[H:2 * H], clip))
        if linear_before_reset:
            hh = g(_clip(xp, xw[:, 2 * H:] + rr * (h @ r[2 * H:].T + rb[2 * H:]), clip))
        else:
            hh = g(_clip(xp, xw[:, 2 * H:] + (rr * h) @ r[2 * H:].T + rb[2 * H:], clip))
        return [((1 - z) * hh + z * h).astype(X.dtype)]

    Y, Y_h = _run(xp, X, sequence_lens, num_dir, direction, layout, [h0], cell)
    return Y, Y_h


def _LSTM(xp, X, W, R, B=None, sequence_lens=None, initial_h=None, initial_c=None, P=None, *,
          activation_alpha=None, activation_beta=None, activations=None, clip=None, direction="forward",
          hidden_size=None, input_forget=0, layout=0):
    num_dir = 2 if direction == "bidirectional" else 1
    H, B, (h0, c0) = _common(X, W, B, [initial_h, initial_c], layout, hidden_size, 4, num_dir, xp)
    fns = _activations(xp, activations, activation_alpha, activation_beta, 3, num_dir, ["Sigmoid", "Tanh", "Tanh"])
    if P is None:
        P = xp.zeros((num_dir, 3 * H), dtype=X.dtype)

    def cell(d, x, st):
        f, g, h_act = fns[d]
        h, c = st
        gates = x @ W[d].T + h @ R[d].T + B[d, :4 * H] + B[d, 4 * H:]
        gi, go, gf, gc = (gates[:, k * H:(k + 1) * H] for k in range(4))
        pi, po, pf = P[d, :H], P[d, H:2 * H], P[d, 2 * H:]
        i = f(_clip(xp, gi + pi * c, clip))
        fg = f(_clip(xp, gf + pf * c, clip))
        if input_forget:
            fg = 1 - i
        cc = g(_clip(xp, gc, clip))
        c_new = fg * c + i * cc
        o = f(_clip(xp, go + po * c_new, clip))
        h_new = o * h_act(c_new)
        return [h_new.astype(X.dtype), c_new.astype(X.dtype)]

    return tuple(_run(xp, X, sequence_lens, num_dir, direction, layout, [h0, c0], cell))


@register("RNN", 1)
def RNN_1(xp, X, W, R, B=None, sequence_lens=None, initial_h=None, *, activation_alpha=None, activation_beta=None,
          activations=("Tanh", "Tanh"), clip=None, direction="forward", hidden_size=None, output_sequence=0):
    return _RNN(xp, X, W, R, B, sequence_lens, initial_h, activation_alpha=activation_alpha,
                activation_beta=activation_beta, activations=activations, clip=clip, direction=direction,
                hidden_size=hidden_size)


@register("RNN", 7)
def RNN_7(xp, X, W, R, B=None, sequence_lens=None, initial_h=None, *, activation_alpha=None, activation_beta=None,
          activations=("Tanh", "Tanh"), clip=None, direction="forward", hidden_size=None):
    return _RNN(xp, X, W, R, B, sequence_lens, initial_h, activation_alpha=activation_alpha,
                activation_beta=activation_beta, activations=activations, clip=clip, direction=direction,
                hidden_size=hidden_size)


@register("RNN", 14, 22)
def RNN(xp, X, W, R, B=None, sequence_lens=None, initial_h=None, *, activation_alpha=None, activation_beta=None,
        activations=("Tanh", "Tanh"), clip=None, direction="forward", hidden_size=None, layout=0):
    return _RNN(xp, X, W, R, B, sequence_lens, initial_h, activation_alpha=activation_alpha,
                activation_beta=activation_beta, activations=activations, clip=clip, direction=direction,
                hidden_size=hidden_size, layout=layout)


@register("GRU", 1)
def GRU_1(xp, X, W, R, B=None, sequence_lens=None, initial_h=None, *, activation_alpha=None, activation_beta=None,
          activations=None, clip=None, direction="foward", hidden_size=None, linear_before_reset=0,
          output_sequence=0):
    return _GRU(xp, X, W, R, B, sequence_lens, initial_h, activation_alpha=activation_alpha,
                activation_beta=activation_beta, activations=activations, clip=clip, direction=direction,
                hidden_size=hidden_size, linear_before_reset=linear_before_reset)


@register("GRU", 3)
def GRU_3(xp, X, W, R, B=None, sequence_lens=None, initial_h=None, *, activation_alpha=None, activation_beta=None,
          activations=None, clip=None, direction="forward", hidden_size=None, linear_before_reset=0,
          output_sequence=0):
    return _GRU(xp, X, W, R, B, sequence_lens, initial_h, activation_alpha=activation_alpha,
                activation_beta=activation_beta, activations=activations, clip=clip, direction=direction,
                hidden_size=hidden_size, linear_before_reset=linear_before_reset)


@register("GRU", 7)
def GRU_7(xp, X, W, R, B=None, sequence_lens=None, initial_h=None, *, activation_alpha=None, activation_beta=None,
          activations=None, clip=None, direction="forward", hidden_size=None, linear_before_reset=0):
    return _GRU(xp, X, W, R, B, sequence_lens, initial_h, activation_alpha=activation_alpha,
                activation_beta=activation_beta, activations=activations, clip=clip, direction=direction,
                hidden_size=hidden_size, linear_before_reset=linear_before_reset)


@register("GRU", 14, 22)
def GRU(xp, X, W, R, B=None, sequence_lens=None, initial_h=None, *, activation_alpha=None, activation_beta=None,
        activations=None, clip=None, direction="forward", hidden_size=None, layout=0, linear_before_reset=0):
    return _GRU(xp, X, W, R, B, sequence_lens, initial_h, activation_alpha=activation_alpha,
                activation_beta=activation_beta, activations=activations, clip=clip, direction=direction,
                hidden_size=hidden_size, layout=layout, linear_before_reset=linear_before_reset)


@register("LSTM", 1)
def LSTM_1(xp, X, W, R, B=None, sequence_lens=None, initial_h=None, initial_c=None, P=None, *,
           activation_alpha=None, activation_beta=None, activations=None, clip=None, direction="forward",
           hidden_size=None, input_forget=0, output_sequence=0):
    return _LSTM(xp, X, W, R, B, sequence_lens, initial_h, initial_c, P, activation_alpha=activation_alpha,
                 activation_beta=activation_beta, activations=activations, clip=clip, direction=direction,
                 hidden_size=hidden_size, input_forget=input_forget)


@register("LSTM", 7)
def LSTM_7(xp, X, W, R, B=None, sequence_lens=None, initial_h=None, initial_c=None, P=None, *,
           activation_alpha=None, activation_beta=None, activations=None, clip=None, direction="forward",
           hidden_size=None, input_forget=0):
    return _LSTM(xp, X, W, R, B, sequence_lens, initial_h, initial_c, P, activation_alpha=activation_alpha,
                 activation_beta=activation_beta, activations=activations, clip=clip, direction=direction,
                 hidden_size=hidden_size, input_forget=input_forget)


@register("LSTM", 14, 22)
def LSTM(xp, X, W, R, B=None, sequence_lens=None, initial_h=None, initial_c=None, P=None, *,
         activation_alpha=None, activation_beta=None, activations=None, clip=None, direction="forward",
         hidden_size=None, input_forget=0, layout=0):
    return _LSTM(xp, X, W, R, B, sequence_lens, initial_h, initial_c, P, activation_alpha=activation_alpha,
                 activation_beta=activation_beta, activations=activations, clip=clip, direction=direction,
                 hidden_size=hidden_size, input_forget=input_forget, layout=layout)
