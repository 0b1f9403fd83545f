"""Attention family: Attention (23, 24, 25), RotaryEmbedding, LinearAttention, CausalConvWithState, SwiGLU and
ai.onnx.preview's FlexAttention.

Attention follows the spec's function body: the scale is split as sqrt(scale) on Q and on K, the causal and
sliding-window masks are bottom-right aligned to the past length, boolean masks are -inf where False, and rows
whose bias is -inf everywhere give zeros. 3-D inputs are (batch, seq, heads * head_size).
"""
from __future__ import annotations

import math

from .dtypes import dtype_of
from .gemm import matmul
from .registry import register


def _heads(xp, x, n):
    b, t, hd = x.shape
    return x.reshape(b, t, n, hd // n).transpose(0, 2, 1, 3)


def _softmax_rows(xp, x):
    m = x.max(axis=-1, keepdims=True)
    m = xp.where(xp.isneginf(m), x.dtype.type(0), m)
    e = xp.exp(x - m)
    s = e.sum(axis=-1, keepdims=True)
    s = xp.where(s == 0, x.dtype.type(1), s)
    return e / s


def _offset_mask(xp, dtype, q, kv, offset, lo=None, hi=None):
    """0 where key j is allowed for query i (offset-aligned: p = i + offset), -inf elsewhere.
    `offset` is an int or a per-batch 1-D array (result (batch, 1, q, kv))."""
    i = xp.arange(q).reshape(q, 1)
    j = xp.arange(kv).reshape(1, kv)
    per_batch = not isinstance(offset, int)
    p = i + (offset.reshape(-1, 1, 1) if per_batch else offset)
    diff = p - j
    allowed = xp.ones(diff.shape, dtype=bool)
    if lo is None and hi is None:
        allowed = diff >= 0
    else:
        if lo is not None and lo >= 0:
            allowed &= diff <= lo
        if hi is not None and hi >= 0:
            allowed &= -diff <= hi
    out = xp.where(allowed, dtype.type(0), dtype.type(-math.inf)).astype(dtype)
    return out.reshape(out.shape[0], 1, q, kv) if per_batch else out


def _attention(xp, Q, K, V, attn_mask=None, past_key=None, past_value=None, nonpad_kv_seqlen=None, *, scale=None,
               is_causal=0, q_num_heads=None, kv_num_heads=None, softmax_precision=None, softcap=0.0,
               qk_matmul_output_mode=0, left_window_size=-1, right_window_size=-1):
    rank3 = Q.ndim == 3
    dt = Q.dtype
    if rank3:
        Q = _heads(xp, Q, q_num_heads)
        K = _heads(xp, K, kv_num_heads)
        V = _heads(xp, V, kv_num_heads)
    if scale is None:
        scale = 1.0 / math.sqrt(Q.shape[3])
    sq = dt.type(math.sqrt(scale))
    present_key = K if past_key is None else xp.concatenate((past_key, K), axis=2)
    present_value = V if past_value is None else xp.concatenate((past_value, V), axis=2)
    K, V = present_key, present_value
    q, kv = Q.shape[2], K.shape[2]
    bias = xp.zeros((q, kv), dtype=dt)
    if attn_mask is not None:
        pad = kv - attn_mask.shape[-1]
        if pad > 0:
            fill = False if attn_mask.dtype == bool else -math.inf
            attn_mask = xp.pad(attn_mask, [(0, 0)] * (attn_mask.ndim - 1) + [(0, pad)], constant_values=fill)
        if attn_mask.dtype == bool:
            attn_mask = xp.where(attn_mask, dt.type(0), dt.type(-math.inf)).astype(dt)
        bias = bias + attn_mask
    if past_key is None and nonpad_kv_seqlen is not None:
        offset = nonpad_kv_seqlen.reshape(-1).astype(xp.int64) - q
    else:
        offset = past_key.shape[2] if past_key is not None else 0
    if is_causal:
        bias = bias + _offset_mask(xp, dt, q, kv, offset)
    if left_window_size >= 0 or right_window_size >= 0:
        bias = bias + _offset_mask(xp, dt, q, kv, offset, left_window_size, right_window_size)
    if nonpad_kv_seqlen is not None:
        keep = xp.arange(kv).reshape(1, kv) < nonpad_kv_seqlen.reshape(-1, 1)
        bias = bias + xp.where(keep, dt.type(0), dt.type(-math.inf)).astype(dt).reshape(-1, 1, 1, kv)
    hq, hk = Q.shape[1], K.shape[1]
    if hq != hk:
        K = xp.repeat(K, hq // hk, axis=1)
        V = xp.repeat(V, hq // hk, axis=1)
    qk = matmul(xp, Q * sq, xp.swapaxes(K * sq, -1, -2))
    if softcap and softcap > 0:
        qk = (xp.tanh(qk / dt.type(softcap)) * dt.type(softcap)).astype(dt)
    with_bias = qk + bias
    qk_out = with_bias if qk_matmul_output_mode == 2 else qk
    s = with_bias if softmax_precision is None else with_bias.astype(dtype_of(softmax_precision))
    probs = _softmax_rows(xp, s)
    all_masked = xp.isneginf(bias.max(axis=-1, keepdims=True))
    probs = xp.where(all_masked, probs.dtype.type(0), probs)
    if qk_matmul_output_mode == 3:
        qk_out = probs
    probs = probs.astype(dt)
    Y = matmul(xp, probs, V).astype(dt)
    if rank3:
        Y = Y.transpose(0, 2, 1, 3)
        Y = Y.reshape(Y.shape[0], Y.shape[1], -1)
    return Y, present_key, present_value, qk_out.astype(dt)


@register("Attention", 23)
def Attention_23(xp, Q, K, V, attn_mask=None, past_key=None, past_value=None, *, is_causal=0, kv_num_heads=None,
                 q_num_heads=None, qk_matmul_output_mode=0, scale=None, softcap=0.0, softmax_precision=None):
    return _attention(xp, Q, K, V, attn_mask, past_key, past_value, None, scale=scale, is_causal=is_causal,
                      q_num_heads=q_num_heads, kv_num_heads=kv_num_heads, softmax_precision=softmax_precision,
                      softcap=softcap, qk_matmul_output_mode=qk_matmul_output_mode)


@register("Attention", 24)
def Attention_24(xp, Q, K, V, attn_mask=None, past_key=None, past_value=None, nonpad_kv_seqlen=None, *,
                 is_causal=0, kv_num_heads=None, q_num_heads=None, qk_matmul_output_mode=0, scale=None,
                 softcap=0.0, softmax_precision=None):
    return _attention(xp, Q, K, V, attn_mask, past_key, past_value, nonpad_kv_seqlen, scale=scale,
                      is_causal=is_causal, q_num_heads=q_num_heads, kv_num_heads=kv_num_heads,
                      softmax_precision=softmax_precision, softcap=softcap,
                      qk_matmul_output_mode=qk_matmul_output_mode)


@register("Attention", 25)
def Attention(xp, Q, K, V, attn_mask=None, past_key=None, past_value=None, nonpad_kv_seqlen=None, *, is_causal=0,
              kv_num_heads=None, left_window_size=-1, q_num_heads=None, qk_matmul_output_mode=0,
              right_window_size=-1, scale=None, softcap=0.0, softmax_precision=None):
    return _attention(xp, Q, K, V, attn_mask, past_key, past_value, nonpad_kv_seqlen, scale=scale,
                      is_causal=is_causal, q_num_heads=q_num_heads, kv_num_heads=kv_num_heads,
                      softmax_precision=softmax_precision, softcap=softcap,
                      qk_matmul_output_mode=qk_matmul_output_mode, left_window_size=left_window_size,
                      right_window_size=right_window_size)


@register("RotaryEmbedding", 23)
def RotaryEmbedding(xp, X, cos_cache, sin_cache, position_ids=None, *, interleaved=0, num_heads=0,
                    rotary_embedding_dim=0):
    shape = X.shape
    x = X.transpose(0, 2, 1, 3) if X.ndim == 4 else X.reshape(shape[0], shape[1], num_heads, -1)
    d = rotary_embedding_dim or x.shape[3]
    rot, rest = x[..., :d], x[..., d:]
    if position_ids is not None:
        cos_cache = cos_cache[position_ids]
        sin_cache = sin_cache[position_ids]
    cos = xp.expand_dims(cos_cache, 2)
    sin = xp.expand_dims(sin_cache, 2)
    if interleaved:
        x1, x2 = rot[..., 0::2], rot[..., 1::2]
    else:
        x1, x2 = rot[..., :d // 2], rot[..., d // 2:]
    real = cos * x1 - sin * x2
    imag = sin * x1 + cos * x2
    if interleaved:
        rot = xp.stack((real, imag), axis=-1).reshape(rot.shape)
    else:
        rot = xp.concatenate((real, imag), axis=-1)
    out = xp.concatenate((rot, rest), axis=-1).astype(X.dtype)
    return out.transpose(0, 2, 1, 3) if X.ndim == 4 else out.reshape(shape)


@register("LinearAttention", 27)
def LinearAttention(xp, query, key, value, past_state=None, decay=None, beta=None, *, chunk_size=64,
                    kv_num_heads=None, q_num_heads=None, scale=0.0, update_rule="gated_delta"):
    f = xp.float32
    gating = update_rule in ("gated", "gated_delta")
    delta = update_rule in ("delta", "gated_delta")
    if update_rule not in ("linear", "gated", "delta", "gated_delta"):
        raise ValueError(f"LinearAttention: unknown update_rule {update_rule!r}")
    b, t, _ = query.shape
    d_k = query.shape[-1] // q_num_heads
    d_v = value.shape[-1] // kv_num_heads
    group = q_num_heads // kv_num_heads
    q4 = _heads(xp, query, q_num_heads).astype(f)
    k4 = _heads(xp, key, kv_num_heads).astype(f)
    v4 = _heads(xp, value, kv_num_heads).astype(f)
    if gating:
        if decay.shape[-1] == kv_num_heads:
            g4 = decay.reshape(b, t, kv_num_heads, 1).transpose(0, 2, 1, 3).astype(f)
        else:
            g4 = _heads(xp, decay, kv_num_heads).astype(f)
    if delta:
        beta4 = beta.reshape(b, t, beta.shape[-1], 1).transpose(0, 2, 1, 3).astype(f)
    state_dtype = past_state.dtype if past_state is not None else query.dtype
    state = past_state.astype(f) if past_state is not None else xp.zeros((b, kv_num_heads, d_k, d_v), dtype=f)
    s = f(scale) if scale else f(1.0 / math.sqrt(d_k))
    out = xp.zeros((b, q_num_heads, t, d_v), dtype=f)
    for i in range(t):
        k_t, v_t = k4[:, :, i, :], v4[:, :, i, :]
        if gating:
            state = state * xp.exp(g4[:, :, i, :])[..., None]
        if delta:
            retrieved = xp.einsum("bhdm,bhd->bhm", state, k_t)
            v_t = beta4[:, :, i, :] * (v_t - retrieved)
        state = state + k_t[..., :, None] * v_t[..., None, :]
        read = state if group == 1 else xp.repeat(state, group, axis=1)
        out[:, :, i, :] = s * xp.einsum("bhd,bhdm->bhm", q4[:, :, i, :], read)
    output = out.transpose(0, 2, 1, 3).reshape(b, t, q_num_heads * d_v).astype(query.dtype)
    return output, state.astype(state_dtype)


@register("CausalConvWithState", 27)
def CausalConvWithState(xp, input, weight, bias=None, past_state=None, *, activation="none"):
    if activation not in ("none", "silu", "swish"):
        raise ValueError(f"CausalConvWithState: unknown activation {activation!r}")
    n, c, length = input.shape
    k = weight.shape[2]
    pad = xp.zeros((n, c, k - 1), dtype=input.dtype) if past_state is None else past_state
    padded = xp.concatenate([pad, input], axis=2)
    acc = xp.zeros((n, c, length), dtype=xp.float32 if input.dtype.itemsize < 4 else input.dtype)
    w = weight.reshape(c, k).astype(acc.dtype)
    for j in range(k):
        acc = acc + padded[:, :, j:j + length].astype(acc.dtype) * w[:, j].reshape(1, c, 1)
    if bias is not None:
        acc = acc + bias.astype(acc.dtype).reshape(1, c, 1)
    out = acc.astype(input.dtype)
    if activation != "none":
        o = out.astype(xp.float32)
        out = (o * (1.0 / (1.0 + xp.exp(-o)))).astype(input.dtype)
    return out, padded[:, :, padded.shape[2] - (k - 1):]


@register("SwiGLU", 28)
def SwiGLU(xp, A, B, *, alpha=1.0):
    if A.shape != B.shape:
        raise ValueError(f"SwiGLU: A {A.shape} and B {B.shape} must have the same shape")
    t = A.dtype.type
    gate = A * (t(1) / (t(1) + xp.exp(-t(alpha) * A))).astype(A.dtype)
    return (gate * B).astype(A.dtype)


_SOFTMAX_DTYPES = {1: "float32", 10: "float16", 16: "bfloat16", 11: "float64"}


@register("FlexAttention", 1, domain="ai.onnx.preview")
def FlexAttention(xp, Q, K, V, *, prob_mod=None, scale=None, score_mod=None, softmax_precision=None):
    hq, hkv = Q.shape[1], K.shape[1]
    if scale is None:
        scale = 1.0 / math.sqrt(Q.shape[3])
    if hq != hkv:
        K = xp.repeat(K, hq // hkv, axis=1)
        V = xp.repeat(V, hq // hkv, axis=1)
    sq = Q.dtype.type(math.sqrt(xp.float32(scale)))
    scores = matmul(xp, Q * sq, xp.swapaxes(K * sq, -1, -2))
    if softmax_precision is not None:
        cdt = dtype_of(softmax_precision)
    else:
        cdt = xp.dtype(xp.float32) if Q.dtype.itemsize < 4 else Q.dtype
    scores = scores.astype(cdt)
    if score_mod is not None:
        scores = xp.asarray(score_mod(scores)[0]).astype(cdt)
    e = xp.exp(scores - scores.max(axis=-1, keepdims=True))
    probs = e / e.sum(axis=-1, keepdims=True)
    if prob_mod is not None:
        probs = xp.asarray(prob_mod(probs)[0]).astype(cdt)
    return matmul(xp, probs, V.astype(cdt)).astype(V.dtype)
