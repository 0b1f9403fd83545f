"""ONNX Runtime's com.microsoft attention for LLMs: RotaryEmbedding, GroupQueryAttention, MultiHeadAttention.

RotaryEmbedding reproduces MLAS's rotary kernel (MlasRotaryEmbedOneRow): real = fma(x1, cos, -(x2 * sin)),
imag = fma(x1, sin, x2 * cos), except interleaved pairs after the 16-element blocks' first remaining pair
(ORT's scalar tail: plain products and adds, measured); bit for bit. The attentions follow ORT 1.32's CPU
paths, measured bit for bit: its flash attention where ORT takes it (GroupQueryAttention without qk_output,
softcap or smooth softmax; MultiHeadAttention without masks, bias, past or present outputs): e = exp(scores -
rowmax) over one KV block, then (e V) * (1 / l) (GroupQueryAttention) or (e V) / l (MultiHeadAttention);
elsewhere scores = alpha * Q K^T, MLAS's softmax over each row's allowed window, probs @ V. The products run
in MLAS's order (ops/_mlas_products.py), so they cost a Python step per element of the reduced dimension.
"""
from __future__ import annotations

import functools

from . import _compiled
from ._mlas_products import _stride_k, gemv_qk, gemv_sv, sgemm, sgemm_m1
from ._libm import expf, tanhf
from .elementwise import fma32
from .registry import register
from .softmax import _mlas_softmax_rows, mlas_sum_exp

MS = "com.microsoft"


def _first_plain_pair(d: int) -> int:
    """The first interleaved pair ORT rotates with plain products and adds: after MLAS's 16-element blocks, one
    fused pair, then plain ones."""
    return d // 16 * 8 + 1


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
        plain = _first_plain_pair(x.shape[-1])  # (ops/_jit_attention.rotate is this arithmetic as one loop)
        if interleaved and plain < x1.shape[-1]:
            a, b, c, s = x1[..., plain:], x2[..., plain:], cos[..., plain:], sin[..., plain:]
            real[..., plain:] = a * c - b * s
            imag[..., plain:] = a * s + b * c
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
    if x.dtype == xp.float32 and d % 2 == 0 and cos_cache.dtype == sin_cache.dtype == xp.float32 and \
            cos_cache.shape[-1] >= d // 2 and sin_cache.shape[-1] >= d // 2 and positions.shape == x.shape[:2] \
            and _compiled.enabled(xp):  # _rotate's arithmetic in one compiled call (which reads every index)
        rot = xp.empty(x.shape[:-1] + (d,), dtype=xp.float32)
        _compiled.loops("attention").rotate(x[..., :d], cos_cache[positions][:, :, : d // 2],
                                            sin_cache[positions][:, :, : d // 2], bool(interleaved),
                                            _first_plain_pair(d), rot)
        return rot if d == x.shape[-1] else xp.concatenate((rot, x[..., d:]), axis=-1)
    cos = cos_cache[positions][:, :, None, : d // 2].astype(x.dtype, copy=False)
    sin = sin_cache[positions][:, :, None, : d // 2].astype(x.dtype, copy=False)
    rot = _rotate(xp, x[..., :d], cos, sin, interleaved)
    return rot if d == x.shape[-1] else xp.concatenate((rot, x[..., d:]), axis=-1)


@register("RotaryEmbedding", 1, domain=MS)
def RotaryEmbedding(xp, input, position_ids, cos_cache, sin_cache, *, interleaved=0, is_packed_batching=0,
                    num_heads=0, rotary_embedding_dim=0, scale=1.0):
    """ORT contrib: bit for bit with ORT 1.32 (interleaved or not, any rotary dimension)."""
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
    """Softmax with an extra zero logit in the denominator (smooth_softmax=1), as MLAS's: m = max(rowmax, 0),
    e = exp(x - m) (MLAS), e * (1 / (sum(e) + exp(-m))) with the C library's expf for the extra term."""
    f = xp.float32
    out = xp.zeros(scores.shape, dtype=f)
    x = scores[..., lo:hi].astype(f).reshape(-1, hi - lo)
    m = xp.maximum(x.max(axis=1, keepdims=True), f(0))
    e, total = mlas_sum_exp(xp, x - m)
    total = total + expf(xp, -m)  # std::exp: the C library's expf
    out[..., lo:hi] = (e * (f(1) / total)).reshape(scores[..., lo:hi].shape)
    return out


def _bnsh(x, heads):
    b, s, hidden = x.shape
    return x.reshape(b, s, heads, hidden // heads).transpose(0, 2, 1, 3)


@functools.lru_cache(maxsize=256)  # (bounded: a file's nodes choose the scales)
def _alpha(xp, scale, head):
    """The scores' scale: `scale`, else 1 / sqrt(head), in float32 (cached: NumPy's scalar arithmetic costs about
    a microsecond, a fifth of a token step's attention)."""
    return xp.float32(scale) if scale else xp.float32(1) / xp.sqrt(xp.float32(head))


@register("GroupQueryAttention", 1, domain=MS)
def GroupQueryAttention(xp, query, key=None, value=None, past_key=None, past_value=None, seqlens_k=None,
                        total_sequence_length=None, cos_cache=None, sin_cache=None, position_ids=None,
                        attention_bias=None, head_sink=None, *, do_rotary=0, kv_num_heads, local_window_size=-1,
                        num_heads, qk_output=0, rotary_interleaved=0, scale=0.0, smooth_softmax=0, softcap=0.0):
    """ORT contrib: bit for bit (prompt, token, rotary, local window, attention bias, smooth softmax, qk_output, softcap); no head_sink"""
    if head_sink is not None:
        raise ValueError("GroupQueryAttention: the head_sink input is not supported")
    b, s = query.shape[:2]
    if key is None:  # packed QKV: (B, S, (N + 2 * N_kv) * H)
        head = query.shape[2] // (num_heads + 2 * kv_num_heads)
        q_end, k_end = num_heads * head, (num_heads + kv_num_heads) * head
        query, key, value = query[..., :q_end], query[..., q_end:k_end], query[..., k_end:]
    head = query.shape[2] // num_heads
    total = int(total_sequence_length.reshape(-1)[0])
    if s == 1 and total != 1 and not (qk_output or softcap or smooth_softmax) and attention_bias is None and \
            _compiled.enabled(xp):  # a token step in one compiled call, where its inputs allow (the steps below)
        step = _gqa_token_step(xp, query, key, value, past_key, past_value, seqlens_k, total, cos_cache, sin_cache,
                               position_ids if do_rotary else None, do_rotary, rotary_interleaved, num_heads, scale,
                               local_window_size)
        if step is not None:
            return step
    seqlens = seqlens_k.reshape(-1).astype(xp.int64)
    if seqlens.size and not 0 <= int(seqlens.min()) <= int(seqlens.max()) < total:  # as ONNX Runtime checks
        raise ValueError(f"GroupQueryAttention: seqlens_k must lie in [0, {total}) (total_sequence_length), got "
                         f"{int(seqlens.min())}..{int(seqlens.max())}")
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
    alpha = _alpha(xp, scale, head)
    bias = None
    if attention_bias is not None:  # (B or 1, N or 1, S, total), added to the scaled scores
        bias = xp.broadcast_to(attention_bias.astype(xp.float32), (b, num_heads, s, attention_bias.shape[-1]))
    if not qk_output and not softcap and not smooth_softmax and query.dtype == xp.float32:
        out = _flash_gqa(xp, q, keys, vals, past_lens, alpha, local_window_size, bias)
        return out.transpose(0, 2, 1, 3).reshape(b, s, -1), present_k, present_v
    scores = sgemm(xp, q.astype(xp.float32), xp.swapaxes(keys.astype(xp.float32), -1, -2), alpha)
    if softcap and softcap > 0:  # MlasComputeSoftcap: x / cap, std::tanh (the C library's tanhf), * cap
        c = xp.float32(softcap)
        scores = tanhf(xp, scores / c) * c
    if bias is not None:  # after the softcap, as ORT adds it
        scores = scores.copy()
        scores[..., :bias.shape[-1]] += bias
    raw = scores
    probs = xp.zeros(scores.shape, dtype=xp.float32)
    soft = _smooth_window_softmax if smooth_softmax else _window_softmax
    for i in range(b):
        for j in range(s):
            hi = int(past_lens[i]) + j + 1
            lo = max(0, hi - local_window_size) if local_window_size > 0 else 0
            probs[i, :, j] = soft(xp, scores[i, :, j], lo, hi)
    # probs V per sequence over its own length (MlasGemm's single-row kernel for a token step, whose blocks of
    # 4, 2, 1 rows depend on that length)
    product = sgemm_m1 if s == 1 else sgemm
    out = xp.zeros(probs.shape[:3] + (vals.shape[3],), dtype=xp.float32)
    for i in range(b):
        length = int(past_lens[i]) + s
        out[i] = product(xp, probs[i, :, :, :length], vals[i, :, :length].astype(xp.float32))
    out = out.astype(query.dtype)
    out = out.transpose(0, 2, 1, 3).reshape(b, s, -1)
    if qk_output:
        qk = xp.where(probs > 0, raw, xp.float32(0)) if qk_output == 1 else probs  # ORT leaves masked scores 0
        return out, present_k, present_v, qk[..., :total].astype(query.dtype)
    return out, present_k, present_v


def _gqa_token_step(xp, query, key, value, past_key, past_value, seqlens_k, total, cos_cache, sin_cache, position_ids,
                    do_rotary, interleaved, num_heads, scale, window):
    """GroupQueryAttention's flash token step, everything below for one query row per sequence, in one compiled
    call (ops/_jit_attention.gqa_token_step: rotate's pairs, the present buffers, decode_attention per head), or
    None where the inputs leave that path (the general path then runs, and raises what it raises): float32
    tensors of the shapes it reads, a past buffer, a window covering the whole cache, rotary over whole even heads
    with a long enough cos/sin table, positions one per sequence."""
    f = xp.float32
    b = query.shape[0]
    kv_heads, buffer_len = past_key.shape[1:3] if past_key is not None and past_key.ndim == 4 else (0, 0)
    head = query.shape[2] // num_heads
    if not (value is not None and past_value is not None and kv_heads and num_heads % kv_heads == 0
            and query.shape[2] == num_heads * head
            and query.dtype == key.dtype == value.dtype == past_key.dtype == past_value.dtype == f
            and key.shape == (b, 1, kv_heads * head) and value.shape[:2] == (b, 1)
            and past_key.shape == (b, kv_heads, buffer_len, head)
            and past_value.shape == (b, kv_heads, buffer_len, value.shape[2] // kv_heads)
            and value.shape[2] % kv_heads == 0 and seqlens_k.shape == (b,) and seqlens_k.dtype.kind == "i"
            and (window < 0 or window >= max(buffer_len, total))):
        return None
    positions = seqlens_k
    if do_rotary:
        if cos_cache is None or sin_cache is None or not (
                head % 2 == 0 and cos_cache.dtype == sin_cache.dtype == f and cos_cache.ndim == 2
                and cos_cache.shape == sin_cache.shape and cos_cache.shape[1] >= head // 2):
            return None
        if position_ids is not None:
            if position_ids.shape != (b, 1) or position_ids.dtype.kind != "i":
                return None
            positions = position_ids.reshape(b)
    else:
        cos_cache = sin_cache = xp.empty((0, 0), dtype=f)
    present_len, head_v = max(buffer_len, total), past_value.shape[3]
    out = xp.empty((b, 1, num_heads * head_v), dtype=f)
    present_k = xp.empty((b, kv_heads, present_len, head), dtype=f)
    present_v = xp.empty((b, kv_heads, present_len, head_v), dtype=f)
    scratch = xp.empty(num_heads * head + present_len + 1, dtype=f)  # the rotated queries, a score row, its sum
    if not _compiled.loops("attention").gqa_token_step(
            query, key, value, past_key, past_value, seqlens_k, positions, cos_cache, sin_cache, bool(do_rotary),
            bool(interleaved), _first_plain_pair(head), _alpha(xp, scale, head), total, out, present_k, present_v,
            scratch):
        return None
    return out, present_k, present_v


def _flash_gqa(xp, q, keys, vals, past_lens, alpha, window, bias=None):
    """ORT's flash GroupQueryAttention (its path without qk_output, softcap or smooth softmax), one KV block:
    scores = alpha * Q K^T (SGEMM for a prompt, the decode GEMV for one token), masked positions set to the
    lowest float, e = exp(scores - rowmax) with its MLAS sum l, out = (e V) * (1 / l). Returns (B, N, S, H)."""
    f = xp.float32
    b, n, s, h = q.shape
    out = xp.zeros((b, n, s, vals.shape[3]), dtype=f)
    lowest = f(xp.finfo(f).min)
    for i in range(b):
        past = int(past_lens[i])
        total = past + s
        k_i, v_i = keys[i, :, :total].astype(f), vals[i, :, :total].astype(f)
        if s == 1 and bias is None and not 0 <= window < total and q.dtype == f and _compiled.enabled(xp):
            # the steps below for one row, in one compiled call (ops/_jit_attention.decode_attention)
            scores, sums = xp.empty((n, total), dtype=f), xp.empty((n, 1), dtype=f)
            row = xp.empty((n, v_i.shape[-1]), dtype=f)
            _compiled.loops("attention").decode_attention(q[i, :, 0], k_i, v_i, alpha, scores, sums, row)
            out[i] = row[:, None, :]
            continue
        if s == 1:
            scores = (gemv_qk(xp, q[i, :, 0].astype(f), k_i) * alpha)[:, None, :]
        else:
            scores = sgemm(xp, q[i].astype(f), xp.swapaxes(k_i, -1, -2), alpha)
        if bias is not None:
            scores = scores + bias[i, :, :, :total]
        if s > 1 or 0 <= window < total:  # (a single query row sees every position but for its window)
            limit = past + xp.arange(s).reshape(s, 1) + 1  # a query attends to positions [start, limit)
            col = xp.arange(total).reshape(1, total)
            masked = col >= limit
            if window >= 0:
                masked = masked | (col < limit - window)
            scores = xp.where(masked, lowest, scores)
        rows = scores.reshape(-1, total)
        e, l = mlas_sum_exp(xp, rows - rows.max(axis=1, keepdims=True))
        e = e.reshape(scores.shape)
        inv = (f(1) / l).reshape(n, s, 1)
        if s == 1:
            out[i] = (gemv_sv(xp, e[:, 0], v_i) * inv[:, 0])[:, None, :]
        else:
            out[i] = sgemm(xp, e, v_i) * inv
    return out


def _mha_token_step(xp, query, key, value, bias, mask, past_key, past_value, heads, scale, fill):
    """MultiHeadAttention's token step (one query row, float32, no attention bias) in one compiled call
    (ops/_jit_attention.multi_head_token): the general path's bias, heads, past + new keys and values, padding
    mask and attention, from the node's inputs as they come (any strides). None where the inputs are not that
    case's exact shapes and types (the general path then takes them, and raises what it raises).
    Measured on the small decoder's node inputs (2 heads of 16, 33 keys; fastest of 7 x 3000 calls, before and
    after alternately): 17.5 -> 7.6 us a call (fixed layout), 14.7 -> 6.6 us (growing); the compiled call itself
    is about 3 us of that (its 14 arguments about 0.8), these checks and the four allocations about 2."""
    f = xp.float32
    b, _, hidden = query.shape
    head = hidden // heads if heads > 0 else 0
    if not head or head * heads != hidden or query.dtype != f or key.dtype != f or value.dtype != f:
        return None
    if key.ndim == value.ndim == 3:
        new, head_v = key.shape[1], value.shape[2] // heads
        fits = key.shape == (b, new, hidden) and value.shape == (b, new, head_v * heads) and (
            bias is None or bias.shape == (2 * hidden + head_v * heads,))
    elif key.ndim == value.ndim == 4:
        new, head_v = key.shape[2], value.shape[3]
        fits = key.shape == (b, heads, new, head) and value.shape == (b, heads, new, head_v) and (
            bias is None or (bias.ndim == 1 and bias.shape[0] >= hidden))  # the query's bias only
    else:
        return None
    past = 0
    if past_key is not None or past_value is not None:
        if past_key is None or past_value is None or past_key.ndim != 4 or past_key.dtype != f or \
                past_value.dtype != f:
            return None
        past = past_key.shape[2]
        fits = fits and past_key.shape == (b, heads, past, head) and past_value.shape == (b, heads, past, head_v)
    total = past + new
    if mask is not None:
        fits = fits and mask.dtype.kind == "i" and mask.shape in ((b,), (b, total), (b, 1, total))
        if fits and mask.ndim == 3:  # (B, 1, T): one query row's flags, as (B, T)
            mask = mask.reshape(b, total)
    if not fits or not total or (bias is not None and bias.dtype != f):
        return None
    out = xp.empty((b, 1, heads * head_v), dtype=f)
    present_k, present_v = xp.empty((b, heads, total, head), dtype=f), xp.empty((b, heads, total, head_v), dtype=f)
    scratch = xp.empty(b * heads * (head + head * total + 3 * total), dtype=f)
    _compiled.loops("attention").multi_head_token(query, key, value, bias, mask, past_key, past_value,
                                                  _alpha(xp, scale, head), float(fill), _stride_k(total, head),
                                                  scratch, out, present_k, present_v)
    return out, present_k, present_v


@register("MultiHeadAttention", 1, domain=MS)
def MultiHeadAttention(xp, query, key=None, value=None, bias=None, key_padding_mask=None, attention_bias=None,
                       past_key=None, past_value=None, past_sequence_length=None, cache_indirection=None, *,
                       mask_filter_value=-10000.0, num_heads, scale=0.0, unidirectional=0, _n_outputs=1):
    """ORT contrib: bit for bit (flash and plain paths, bias, key padding mask, attention bias, past/present, causal)"""
    if key is None or query.ndim != 3 or cache_indirection is not None or past_sequence_length is not None:
        raise ValueError("MultiHeadAttention: packed QKV, cache_indirection and past_sequence_length are not "
                         "supported (give query, key and value as 3-D or 4-D tensors)")
    # ORT takes its flash attention (float32) without a causal flag, masks, attention bias, past or present outputs
    flash_case = (not unidirectional and key_padding_mask is None and attention_bias is None and past_key is None
                  and _n_outputs == 1)
    if query.shape[1] == 1 and not flash_case and attention_bias is None and _compiled.enabled(xp):
        step = _mha_token_step(xp, query, key, value, bias, key_padding_mask, past_key, past_value, num_heads, scale,
                               mask_filter_value)
        if step is not None:
            return step[:max(_n_outputs, 1)]
    f = xp.float32
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
    alpha = _alpha(xp, scale, head)
    if flash_case and query.dtype == f:  # ORT's flash attention (MlasFlashAttention), one KV block: (e V) / l
        scores = sgemm(xp, q, xp.swapaxes(k, -1, -2), alpha)
        rows = scores.reshape(-1, total)
        e, l = mlas_sum_exp(xp, rows - rows.max(axis=1, keepdims=True))
        out = sgemm(xp, e.reshape(scores.shape), v) / l.reshape(b, num_heads, s, 1)
        return (out.transpose(0, 2, 1, 3).reshape(b, s, -1).astype(query.dtype),)
    mask = None
    fill = f(mask_filter_value)
    if key_padding_mask is not None:
        m = key_padding_mask
        if m.ndim == 1:  # key lengths per batch
            m = xp.arange(total).reshape(1, total) < m.reshape(-1, 1)
        keep = (m > 0).reshape((b, 1, 1, total) if m.ndim == 2 else (b, 1, s, total))
        mask = xp.where(keep, f(0), fill)
    if unidirectional and s > 1:  # ORT builds no causal mask for a single query row
        causal = xp.arange(total).reshape(1, total) > (xp.arange(s).reshape(s, 1) + past)
        # ORT's causal mask is the lowest float, added to the padding mask: a row whose allowed keys are all
        # padded still attends to those only (a causal prompt with left padding)
        cm = xp.where(causal, f(xp.finfo(f).min), f(0))
        mask = cm if mask is None else mask + cm
    # ORT's GEMM output starts as the attention bias when there is one (the padding and causal mask are then
    # added to the scaled product), else as the mask: alpha Q K^T is added to it (measured on ORT 1.32's scores).
    if attention_bias is not None:
        bias = xp.broadcast_to(attention_bias.astype(f, copy=False), (b, num_heads, s, total))
        scores = sgemm(xp, q, xp.swapaxes(k, -1, -2), alpha, bias)
        if mask is not None:
            scores = scores + mask
    else:
        scores = sgemm(xp, q, xp.swapaxes(k, -1, -2), alpha, mask)
    probs = _mlas_softmax_rows(xp, scores.reshape(-1, total).astype(f, copy=False), False).reshape(scores.shape)
    product = sgemm_m1 if s == 1 else sgemm  # MlasGemm's single-row kernel for one query row
    out = product(xp, probs, v.astype(f, copy=False)).transpose(0, 2, 1, 3).reshape(b, s, -1).astype(query.dtype)
    return (out, k, v)[:max(_n_outputs, 1)]
