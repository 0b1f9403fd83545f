"""ONNX Runtime's com.microsoft attention for LLMs: RotaryEmbedding, GroupQueryAttention, MultiHeadAttention.

RotaryEmbedding reproduces MLAS's rotary kernel (MlasRotaryEmbedOneRow): real = fma(x1, cos, -(x2 * sin)),
imag = fma(x1, sin, x2 * cos); bit for bit non-interleaved, and interleaved when the rotary dimension is a
multiple of 16 (ORT's scalar tail for other sizes is not reproduced). The attentions follow ORT's CPU
kernels (GQAAttentionBase, AttentionCPUBase): scores = alpha * Q K^T, MLAS's softmax over each row's
allowed window (the rest exactly 0), then probs @ V; the two matrix products use NumPy's BLAS, so results
differ from ORT's MLAS GEMM by a few ulps (measured bounds in tests/ops/test_contrib.py).
"""
from __future__ import annotations

import math

from .activation import mlas_tanh
from .elementwise import fma32
from .gemm import matmul
from .softmax import _mlas_softmax_rows
from .registry import register

MS = "com.microsoft"


def _rotate(xp, x, cos, sin, interleaved):
    """Rotary embedding of x (..., d) with cos/sin (..., d/2) broadcast against it."""
    if interleaved:
        x1, x2 = x[..., 0::2], x[..., 1::2]
    else:
        half = x.shape[-1] // 2
        x1, x2 = x[..., :half], x[..., half:]
    if x.dtype == xp.float32:
        real = fma32(xp, x1, cos, -(x2 * sin))
        imag = fma32(xp, x1, sin, x2 * cos)
    else:
        real = x1 * cos - x2 * sin
        imag = x1 * sin + x2 * cos
    if interleaved:
        return xp.stack((real, imag), axis=-1).reshape(x.shape)
    return xp.concatenate((real, imag), axis=-1)


def _rope_bsnh(xp, x, positions, cos_cache, sin_cache, interleaved, rotary_dim):
    """x (B, S, N, H), positions (B, S) int: rotary over the first rotary_dim features of each head."""
    d = rotary_dim or x.shape[-1]
    if int(positions.max(initial=0)) >= cos_cache.shape[0] or int(positions.min(initial=0)) < 0:
        raise ValueError(f"position ids must lie in [0, {cos_cache.shape[0]}) (the cos/sin cache's length), got "
                         f"{int(positions.min())}..{int(positions.max())}")
    cos = cos_cache[positions][:, :, None, : d // 2].astype(x.dtype, copy=False)
    sin = sin_cache[positions][:, :, None, : d // 2].astype(x.dtype, copy=False)
    rot = _rotate(xp, x[..., :d], cos, sin, interleaved)
    return rot if d == x.shape[-1] else xp.concatenate((rot, x[..., d:]), axis=-1)


@register("RotaryEmbedding", 1, domain=MS)
def RotaryEmbedding(xp, input, position_ids, cos_cache, sin_cache, *, interleaved=0, is_packed_batching=0,
                    num_heads=0, rotary_embedding_dim=0, scale=1.0):
    """ORT contrib: bit for bit non-interleaved, and interleaved when the rotary dimension is a multiple of 16 (else within 1e-6)."""
    if is_packed_batching:
        raise ValueError("RotaryEmbedding: is_packed_batching=1 is not supported")
    four_d = input.ndim == 4  # (B, N, S, H); else (B, S, N * H)
    b, s = (input.shape[0], input.shape[2]) if four_d else input.shape[:2]
    if four_d:
        x = input.transpose(0, 2, 1, 3)
    else:
        head = input.shape[2] // num_heads if num_heads else (rotary_embedding_dim or 2 * cos_cache.shape[-1])
        x = input.reshape(b, s, -1, head)
    pos = position_ids.astype(xp.int64)
    if pos.size == 1:  # one offset for every sequence
        pos = xp.broadcast_to(pos.reshape(1, 1) + xp.arange(s).reshape(1, s), (b, s))
    out = _rope_bsnh(xp, x, pos, cos_cache, sin_cache, interleaved, rotary_embedding_dim)
    return out.transpose(0, 2, 1, 3) if four_d else out.reshape(input.shape)


def _window_softmax(xp, scores, lo, hi):
    """MLAS softmax of scores[..., lo:hi] (one row group), zeros elsewhere."""
    out = xp.zeros(scores.shape, dtype=xp.float32)
    rows = scores[..., lo:hi].reshape(-1, hi - lo).astype(xp.float32)
    out[..., lo:hi] = _mlas_softmax_rows(xp, rows, False).reshape(scores[..., lo:hi].shape)
    return out


def _smooth_window_softmax(xp, scores, lo, hi):
    """Softmax with an extra zero logit in the denominator (smooth_softmax=1)."""
    out = xp.zeros(scores.shape, dtype=xp.float32)
    x = scores[..., lo:hi].astype(xp.float32)
    m = xp.maximum(x.max(axis=-1, keepdims=True), xp.float32(0))
    e = xp.exp(x - m)
    out[..., lo:hi] = e / (e.sum(axis=-1, keepdims=True, dtype=xp.float32) + xp.exp(-m))
    return out


def _bnsh(x, heads):
    b, s, hidden = x.shape
    return x.reshape(b, s, heads, hidden // heads).transpose(0, 2, 1, 3)


@register("GroupQueryAttention", 1, domain=MS)
def GroupQueryAttention(xp, query, key=None, value=None, past_key=None, past_value=None, seqlens_k=None,
                        total_sequence_length=None, cos_cache=None, sin_cache=None, position_ids=None,
                        attention_bias=None, head_sink=None, *, do_rotary=0, kv_num_heads, local_window_size=-1,
                        num_heads, qk_output=0, rotary_interleaved=0, scale=0.0, smooth_softmax=0, softcap=0.0):
    """ORT contrib: present key/value bit for bit; output within 1e-6 of its largest value (BLAS vs MLAS GEMM order; measured 3.0e-7, up to 1.2e4 ulps on outputs near zero)."""
    if attention_bias is not None or head_sink is not None:
        raise ValueError("GroupQueryAttention: the attention_bias and head_sink inputs are not supported")
    b, s = query.shape[:2]
    if key is None:  # packed QKV: (B, S, (N + 2 * N_kv) * H)
        head = query.shape[2] // (num_heads + 2 * kv_num_heads)
        q_end, k_end = num_heads * head, (num_heads + kv_num_heads) * head
        query, key, value = query[..., :q_end], query[..., q_end:k_end], query[..., k_end:]
    head = query.shape[2] // num_heads
    total = int(total_sequence_length.reshape(-1)[0])
    seqlens = seqlens_k.reshape(-1).astype(xp.int64)
    first_prompt = s == total
    past_lens = xp.zeros(b, dtype=xp.int64) if first_prompt else seqlens + 1 - s
    q = query.reshape(b, s, num_heads, head)
    k = key.reshape(b, s, kv_num_heads, head)
    if do_rotary:
        pos = position_ids.astype(xp.int64) if position_ids is not None else (
            past_lens.reshape(b, 1) + xp.arange(s).reshape(1, s))
        q = _rope_bsnh(xp, q, pos, cos_cache, sin_cache, rotary_interleaved, 0)
        k = _rope_bsnh(xp, k, pos, cos_cache, sin_cache, rotary_interleaved, 0)
    q, k = q.transpose(0, 2, 1, 3), k.transpose(0, 2, 1, 3)
    v = _bnsh(value, kv_num_heads)
    # present: the past's first past_len positions, the new keys after them, zeros beyond (as ORT writes a
    # present buffer of its own; a past buffer of the maximum length therefore keeps its length).
    buffer_len = past_key.shape[2] if past_key is not None else 0
    present_len = max(buffer_len, total)
    present_k = xp.zeros((b, kv_num_heads, present_len, head), dtype=k.dtype)
    present_v = xp.zeros((b, kv_num_heads, present_len, v.shape[3]), dtype=v.dtype)
    for i in range(b):
        p = int(past_lens[i])
        if past_key is not None:
            present_k[i, :, :p] = past_key[i, :, :p]
            present_v[i, :, :p] = past_value[i, :, :p]
        present_k[i, :, p:p + s] = k[i]
        present_v[i, :, p:p + s] = v[i]
    group = num_heads // kv_num_heads
    keys = xp.repeat(present_k, group, axis=1) if group > 1 else present_k
    vals = xp.repeat(present_v, group, axis=1) if group > 1 else present_v
    alpha = xp.float32(scale) if scale else xp.float32(1) / xp.sqrt(xp.float32(head))
    scores = matmul(xp, q.astype(xp.float32), xp.swapaxes(keys.astype(xp.float32), -1, -2)) * alpha
    if softcap and softcap > 0:
        c = xp.float32(softcap)
        scores = mlas_tanh(xp, scores / c) * c
    probs = xp.zeros(scores.shape, dtype=xp.float32)
    soft = _smooth_window_softmax if smooth_softmax else _window_softmax
    for i in range(b):
        for j in range(s):
            hi = int(past_lens[i]) + j + 1
            lo = max(0, hi - local_window_size) if local_window_size > 0 else 0
            probs[i, :, j] = soft(xp, scores[i, :, j], lo, hi)
    out = matmul(xp, probs, vals.astype(xp.float32)).astype(query.dtype)
    out = out.transpose(0, 2, 1, 3).reshape(b, s, -1)
    if qk_output:
        return out, present_k, present_v, (scores if qk_output == 1 else probs).astype(query.dtype)
    return out, present_k, present_v


@register("MultiHeadAttention", 1, domain=MS)
def MultiHeadAttention(xp, query, key=None, value=None, bias=None, key_padding_mask=None, attention_bias=None,
                       past_key=None, past_value=None, past_sequence_length=None, cache_indirection=None, *,
                       mask_filter_value=-10000.0, num_heads, scale=0.0, unidirectional=0):
    """ORT contrib: present key/value bit for bit; output within 1e-6 of its largest value (measured 2.0e-7, up to 2.8e3 ulps near zero)."""
    if key is None or query.ndim != 3 or cache_indirection is not None or past_sequence_length is not None:
        raise ValueError("MultiHeadAttention: packed QKV, cache_indirection and past_sequence_length are not "
                         "supported (give query, key and value as 3-D or 4-D tensors)")
    b, s, hidden = query.shape
    if bias is not None:
        query = query + bias[:hidden]
        if key.ndim == 3:
            key = key + bias[hidden:2 * hidden]
            value = value + bias[2 * hidden:]
    q = _bnsh(query, num_heads)
    k = key if key.ndim == 4 else _bnsh(key, num_heads)
    v = value if value.ndim == 4 else _bnsh(value, num_heads)
    if past_key is not None:
        k = xp.concatenate((past_key, k), axis=2)
        v = xp.concatenate((past_value, v), axis=2)
    head = q.shape[3]
    total = k.shape[2]
    past = total - s
    alpha = xp.float32(scale) if scale else xp.float32(1) / xp.sqrt(xp.float32(head))
    scores = matmul(xp, q, xp.swapaxes(k, -1, -2)) * alpha
    mask = None
    fill = xp.float32(mask_filter_value)
    if key_padding_mask is not None:
        m = key_padding_mask
        if m.ndim == 1:  # key lengths per batch
            m = xp.arange(total).reshape(1, total) < m.reshape(-1, 1)
        keep = (m > 0).reshape((b, 1, 1, total) if m.ndim == 2 else (b, 1, s, total))
        mask = xp.where(keep, xp.float32(0), fill)
    if unidirectional:
        causal = xp.arange(total).reshape(1, total) > (xp.arange(s).reshape(s, 1) + past)
        cm = xp.where(causal, fill, xp.float32(0))
        mask = cm if mask is None else xp.where(causal, fill, mask)
    if mask is not None:
        scores = scores + mask
    if attention_bias is not None:
        scores = scores + attention_bias.astype(xp.float32)
    probs = _mlas_softmax_rows(xp, scores.reshape(-1, total).astype(xp.float32), False).reshape(scores.shape)
    out = matmul(xp, probs.astype(v.dtype), v).transpose(0, 2, 1, 3).reshape(b, s, -1).astype(query.dtype)
    return out, k, v
