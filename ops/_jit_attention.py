"""Compiled twins (Numba) of the attention's MLAS-order sums: ops/_mlas_products.py's sgemm, sgemm_m1, gemv_qk and
gemv_sv, ops/softmax.py's MLAS softmax rows (mlas_sum_exp, _mlas_softmax_rows, with ops/elementwise.mlas_exp_reduced
and glibc_logf inside), and ops/_libm's tanhf and expf; and contrib_attention's MultiHeadAttention token step as
one call (multi_head_token, the node's inputs to its outputs).

Each loop computes exactly what its NumPy twin computes, operation for operation (tests hold them to identical
bytes): float32 values, a fused multiply-add as float32(float64(a) * float64(b) + float64(c)) (the product of
two float32 values is exact in float64), float32 adds and multiplies where the twin has them. Constants are
the twins' own, rounded to float32 where the twin rounds them. Arrays come from the caller, outputs included.
"""
from __future__ import annotations

import math
import struct

from numba import float32, float64, int32, int64, njit, types
from numba.extending import intrinsic, overload

from ._compiled import JIT_OPTIONS
from ._mlas_constants import (EXP_LOWER, EXP_POLY, LOG2_HIGH, LOG2_LOW, LOG2_RECIPROCAL, LOGF_A, LOGF_INVC, LOGF_LN2,
                              LOGF_LOGC, ROUNDING_BIAS)


def _f32(c) -> float:
    """c rounded to float32 (to nearest, as np.float32), held as a Python float: Numba freezes it as a float64."""
    return struct.unpack("f", struct.pack("f", c))[0]


_LOWER32 = _f32(EXP_LOWER)
_BIAS32 = _f32(ROUNDING_BIAS)
_L2R32, _L2H32, _L2L32 = _f32(LOG2_RECIPROCAL), _f32(LOG2_HIGH), _f32(LOG2_LOW)
_P0, _P1, _P2, _P3, _P4, _P5 = (_f32(c) for c in EXP_POLY)
_A0, _A1, _A2 = LOGF_A


@intrinsic
def _bitcast(typingctx, value, to):
    """The bits of value reinterpreted as the type `to` (of the same width): a float's bit pattern, or back."""
    target = to.instance_type if isinstance(to, types.NumberClass) else to.dtype

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(target))
    return target(value, to), codegen


# A NaN operand is returned as it is, the first one where two meet (x86's rule, which NumPy's loops follow):
# left to LLVM, a commutative operation may swap its operands and x + (-y) may become x - y, either of which
# changes which NaN (sign, payload) comes out.

@njit(**JIT_OPTIONS)
def _add(a, b):
    return a if a != a else b if b != b else a + b


@njit(**JIT_OPTIONS)
def _mul(a, b):
    return a if a != a else b if b != b else a * b


@njit(**JIT_OPTIONS)
def _sub(a, b):
    return a if a != a else b if b != b else a - b


@njit(**JIT_OPTIONS)
def _fma(a, b, c):
    """fma32: the float64 product (exact), the add in float64, rounded to float32."""
    wa, wb, wc = float64(a), float64(b), float64(c)
    product = wa if wa != wa else wb if wb != wb else wa * wb
    return float32(product if product != product else wc if wc != wc else product + wc)


@njit(**JIT_OPTIONS)
def _fma_one_nan(a, b, c):
    """fma32 where any NaN operands are the same NaN (so no order to keep): branch-free, so loops vectorize."""
    return float32(float64(a) * float64(b) + float64(c))


@njit(**JIT_OPTIONS)
def exp_reduced(x):
    """mlas_exp_reduced of one float32 value (already clamped below). A NaN x is the only NaN in play."""
    biased = _fma_one_nan(x, _L2R32, _BIAS32)
    m = biased - float32(_BIAS32)
    r = _fma_one_nan(m, _L2H32, x)
    r = _fma_one_nan(m, _L2L32, r)
    p = float32(_P0)
    p = _fma_one_nan(p, r, _P1)
    p = _fma_one_nan(p, r, _P2)
    p = _fma_one_nan(p, r, _P3)
    p = _fma_one_nan(p, r, _P4)
    p = _fma_one_nan(p, r, _P5)
    p = _fma_one_nan(p, r, _P5)
    e = 0 if m != m else int(min(max(m, float32(-300)), float32(300)))
    scaled = float32(float64(p) * _bitcast(int64(e + 1023) << 52, float64))  # exact 2^e: one rounding (vscalefps)
    return p if p != p else scaled


@njit(**JIT_OPTIONS)
def _exp(x):
    """mlas_exp: np.maximum(x, lower) (NaN stays NaN), then exp_reduced."""
    lower = float32(_LOWER32)
    return exp_reduced(x if (x != x or x >= lower) else lower)


@njit(**JIT_OPTIONS)
def exp_reduced_all(x, out):
    """out[i] = mlas_exp_reduced(x[i]), 1-D."""
    for i in range(x.shape[0]):
        out[i] = exp_reduced(x[i])


@njit(**JIT_OPTIONS)
def tanhf_all(x, out):
    """out[i] = tanhf(x[i]), 1-D float32: Numba's math.tanh of a float32 calls the C library's tanhf."""
    for i in range(x.shape[0]):
        out[i] = math.tanh(x[i])


@njit(**JIT_OPTIONS)
def expf_all(x, out):
    """out[i] = expf(x[i]), 1-D float32: Numba's math.exp of a float32 calls the C library's expf."""
    for i in range(x.shape[0]):
        out[i] = math.exp(x[i])


@njit(**JIT_OPTIONS)
def _lane(e, lane):
    """Lane `lane` of MLAS's 16-wide accumulator over the row e: its elements e[lane + 16 c] in order, the
    masked tail as +0 (the twin's zero padding)."""
    d = e.shape[0]
    acc = e[lane] if lane < d else float32(0)
    for c0 in range(16, d + 15 - (d + 15) % 16, 16):
        j = c0 + lane
        acc = _add(acc, e[j] if j < d else float32(0))
    return acc


@njit(**JIT_OPTIONS)
def _sum16(e):
    """mlas_sum_exp's row sum of e: 16 lanes, upper 8 onto lower 8, then ((0+1)+(2+3))+((4+5)+(6+7))."""
    a0 = _add(_lane(e, 8), _lane(e, 0))
    a1 = _add(_lane(e, 9), _lane(e, 1))
    a2 = _add(_lane(e, 10), _lane(e, 2))
    a3 = _add(_lane(e, 11), _lane(e, 3))
    a4 = _add(_lane(e, 12), _lane(e, 4))
    a5 = _add(_lane(e, 13), _lane(e, 5))
    a6 = _add(_lane(e, 14), _lane(e, 6))
    a7 = _add(_lane(e, 15), _lane(e, 7))
    return _add(_add(_add(a0, a1), _add(a2, a3)), _add(_add(a4, a5), _add(a6, a7)))


@njit(**JIT_OPTIONS)
def sum_exp_rows(shifted, e, sums):
    """mlas_sum_exp: e = mlas_exp(shifted) (n, d), sums (n, 1) its MLAS row sums."""
    for i in range(shifted.shape[0]):
        row = e[i]
        for j in range(shifted.shape[1]):
            row[j] = _exp(shifted[i, j])
        sums[i, 0] = _sum16(row)


@njit(**JIT_OPTIONS)
def _logf(x):
    """glibc_logf of one float32 value: the table and polynomial for positive normal finite x, else log in
    double."""
    if not (x >= float32(1.1754943508222875e-38) and x < math.inf):
        return float32(math.log(float64(x)))
    ix = int64(_bitcast(x, int32))
    tmp = ix - 0x3F330000
    i = (tmp >> 19) & 15
    k = float64(tmp >> 23)
    z = float64(_bitcast(int32(ix - (tmp & -0x800000)), float32))
    r = z * LOGF_INVC[i] - 1.0
    y0 = LOGF_LOGC[i] + k * LOGF_LN2
    r2 = r * r
    y = _A1 * r + _A2
    y = _A0 * r2 + y
    y = y * r2 + (y0 + r)
    return float32(y)


@njit(**JIT_OPTIONS)
def _negative(x):
    """-x with its sign bit flipped, NaN included, as np.negative (Numba's -x leaves a NaN's sign)."""
    return float32(math.copysign(float64(x), -math.copysign(1.0, float64(x))))


@njit(**JIT_OPTIONS)
def _row_max(row):
    """np.max of a non-empty float32 row: the first NaN wins."""
    top = row[0]
    for j in range(1, row.shape[0]):
        v = row[j]
        if top != top:
            break
        if v != v or v > top:
            top = v
    return top


@njit(**JIT_OPTIONS)
def softmax_rows(x, out, log):
    """_mlas_softmax_rows of float32 rows x (n, d) into out: shifted = x + (-max), e = mlas_exp(shifted) with
    its MLAS sum s, then e * (1 / s), or shifted - glibc_logf(s) for LogSoftmax."""
    n, d = x.shape
    for i in range(n):
        if d == 0:
            continue
        neg_max = _negative(_row_max(x[i]))
        row = out[i]
        for j in range(d):
            row[j] = _add(x[i, j], neg_max)
        for j in range(d):  # branch-free: vectorized
            row[j] = _exp(row[j])
        s = _sum16(row)
        if log:
            ls = _logf(s)
            for j in range(d):
                shifted = _add(x[i, j], neg_max)
                row[j] = shifted if shifted != shifted else shifted - ls
        else:
            inv = float32(1) / s
            for j in range(d):
                row[j] = _mul(row[j], inv)


@njit(**JIT_OPTIONS)
def sgemm(a, b, alpha, scaled, c, has_c, block, out):
    """_mlas_products.sgemm over a flat batch: a (P, M, K), b (P, K, N), c (P, M, N) when has_c, out (P, M, N).
    Each K block a chain of fused multiply-adds from +0, scaled by alpha (when scaled), added to what the
    earlier blocks or C left."""
    p_n, m_n, k_n = a.shape
    n_n = b.shape[2]
    for p in range(p_n):
        for m in range(m_n):
            for n in range(n_n):
                total = c[p, m, n] if has_c else float32(0)
                started = has_c
                for k0 in range(0, k_n, block):
                    acc = float32(0)
                    for k in range(k0, min(k_n, k0 + block)):
                        acc = _fma(a[p, m, k], b[p, k, n], acc)
                    if scaled:
                        acc = _mul(acc, alpha)
                    total = _add(total, acc) if started else acc
                    started = True
                out[p, m, n] = total


@njit(**JIT_OPTIONS)
def sgemm_m1(a, b, c, has_c, out):
    """_mlas_products.sgemm_m1 over a flat batch: a (P, 1, K), b (P, K, N), c and out (P, 1, N)."""
    p_n, k_n, n_n = b.shape
    for p in range(p_n):
        for n in range(n_n):
            acc = c[p, 0, n] if has_c else float32(0)
            r = 0
            while k_n - r >= 4:
                block = _add(_add(_add(_mul(a[p, 0, r], b[p, r, n]), _mul(a[p, 0, r + 1], b[p, r + 1, n])),
                                  _mul(a[p, 0, r + 2], b[p, r + 2, n])), _mul(a[p, 0, r + 3], b[p, r + 3, n]))
                acc = _add(block, acc)
                r += 4
            if k_n - r >= 2:
                acc = _add(_add(_mul(a[p, 0, r], b[p, r, n]), _mul(a[p, 0, r + 1], b[p, r + 1, n])), acc)
                r += 2
            if k_n - r == 1:
                acc = _add(_mul(a[p, 0, r], b[p, r, n]), acc)
            out[p, 0, n] = acc


def _at(x, b, n, t, j, head):
    """x's element of batch b, head n, position t, feature j: x (B, S, N * head) as the node gets it, or (B, N, S,
    head) (the compiled function below is typed per layout)."""


@overload(_at, jit_options=JIT_OPTIONS)
def _at_typed(x, b, n, t, j, head):
    if x.ndim == 3:
        return lambda x, b, n, t, j, head: x[b, t, n * head + j]
    return lambda x, b, n, t, j, head: x[b, n, t, j]


def _kept(mask, b, t):
    """Whether MultiHeadAttention's key_padding_mask keeps key t of batch b: lengths (B,) or flags (B, T)."""


@overload(_kept, jit_options=JIT_OPTIONS)
def _kept_typed(mask, b, t):
    if mask.ndim == 1:
        return lambda mask, b, t: t < mask[b]
    return lambda mask, b, t: mask[b, t] > 0


@njit(**JIT_OPTIONS)
def _scores_row(q, keys_t, alpha, c, has_c, block, acc, out):
    """sgemm's arithmetic for one query row, q (K,) against keys_t (K, T), into out (T,): each K block's chain of
    fused multiply-adds from +0, times alpha, added to C (when has_c) or the earlier blocks. Branch-free over the T
    columns (vectorized), so right where no NaN arises (a NaN anywhere reaches its column); the caller redoes a
    row holding a NaN with sgemm, whose NaN rules pick which NaN. acc (T,) is scratch."""
    k_n, t_n = keys_t.shape
    for t in range(t_n):
        out[t] = c[t] if has_c else float32(0)
    started = has_c
    for k0 in range(0, k_n, block):
        for t in range(t_n):
            acc[t] = float32(0)
        for k in range(k0, min(k_n, k0 + block)):
            a = float64(q[k])
            for t in range(t_n):
                acc[t] = float32(a * float64(keys_t[k, t]) + float64(acc[t]))
        for t in range(t_n):
            x = acc[t] * alpha
            out[t] = out[t] + x if started else x
        started = True


@njit(**JIT_OPTIONS)
def _weighted_row(probs, values, out):
    """sgemm_m1's arithmetic for one row, probs (T,) @ values (T, H) into out (H,): rows in blocks of 4, 2, 1, each
    block's products summed in order, then added to the sum so far (from +0). Branch-free over H, so right where
    no NaN arises; the caller redoes a row holding a NaN with sgemm_m1."""
    t_n, h = values.shape
    for j in range(h):
        out[j] = float32(0)
    r = 0
    while t_n - r >= 4:
        a0, a1, a2, a3 = probs[r], probs[r + 1], probs[r + 2], probs[r + 3]
        for j in range(h):
            out[j] = (((a0 * values[r, j] + a1 * values[r + 1, j]) + a2 * values[r + 2, j])
                      + a3 * values[r + 3, j]) + out[j]
        r += 4
    if t_n - r >= 2:
        a0, a1 = probs[r], probs[r + 1]
        for j in range(h):
            out[j] = (a0 * values[r, j] + a1 * values[r + 1, j]) + out[j]
        r += 2
    if t_n - r == 1:
        a0 = probs[r]
        for j in range(h):
            out[j] = a0 * values[r, j] + out[j]


@njit(**JIT_OPTIONS)
def _has_nan(x):
    for i in range(x.shape[0]):
        if x[i] != x[i]:
            return True
    return False


@njit(**JIT_OPTIONS)
def _attend_rows(scratch, present_key, present_value, alpha, has_c, block, out):
    """multi_head_token's attention per head, from scratch's biased queries and mask rows (one typed case for all
    of multi_head_token's): scores = sgemm(q, K^T, alpha, C), their MLAS softmax, out = sgemm_m1(probs, V)."""
    batch, heads, total, head = present_key.shape
    head_v = present_value.shape[3]
    width = head + head * total + 3 * total
    for p in range(batch * heads):
        keys, values = present_key[p // heads, p % heads], present_value[p // heads, p % heads]
        base = p * width
        q = scratch[base:base + head]
        keys_t = scratch[base + head:base + head + head * total].reshape((head, total))
        c = scratch[base + head + head * total:base + width - 2 * total]
        scores = scratch[base + width - 2 * total:base + width - total]
        acc = scratch[base + width - total:base + width]
        for t in range(total):
            for j in range(head):
                keys_t[j, t] = keys[t, j]
        _scores_row(q, keys_t, alpha, c, has_c, block, acc, scores)
        if _has_nan(scores):
            sgemm(q.reshape((1, 1, head)), keys_t.reshape((1, head, total)), alpha, True, c.reshape((1, 1, total)),
                  has_c, block, scores.reshape((1, 1, total)))
        softmax_rows(scores.reshape((1, total)), scores.reshape((1, total)), False)
        row = out[p]
        _weighted_row(scores, values, row)
        if _has_nan(row):
            sgemm_m1(scores.reshape((1, 1, total)), values.reshape((1, total, head_v)), row.reshape((1, 1, head_v)),
                     False, row.reshape((1, 1, head_v)))


@njit(**JIT_OPTIONS)
def multi_head_token(query, key, value, bias, mask, past_key, past_value, alpha, fill, block, scratch, out,
                     present_key, present_value):
    """contrib_attention.MultiHeadAttention's token step (one query row, float32, no attention bias) in one call,
    the general path's arithmetic from the node's inputs: query (B, 1, N * H) plus its bias; the keys and values,
    3-D (plus their bias) or 4-D, after the past ones into present_key (B, N, T, H) and present_value (B, N, T,
    Hv); the padding mask as 0 or fill (rounded to float32) per key (C, when there is a mask); then per head
    scores = sgemm(q, K^T, alpha, C), their MLAS softmax, sgemm_m1(probs, V) into out (B, 1, N * Hv), laid out as
    (B N, Hv). bias, mask, past_key and past_value may be None (the function is typed per case). scratch: B N (H +
    H T + 3 T) floats. The products run branch-free (_scores_row, _weighted_row) and a row whose result holds a
    NaN is redone with sgemm / sgemm_m1, so every bit is theirs (tests hold the whole call to the NumPy path's
    bytes)."""
    batch, heads, total, head = present_key.shape
    head_v = present_value.shape[3]
    past = 0 if past_key is None else past_key.shape[2]
    hidden = heads * head
    width = head + head * total + 3 * total
    for b in range(batch):
        for n in range(heads):
            base = (b * heads + n) * width
            for j in range(head):
                x = query[b, 0, n * head + j]
                if bias is not None:
                    x = _add(x, bias[n * head + j])
                scratch[base + j] = x
            if past_key is not None:
                for t in range(past):
                    for j in range(head):
                        present_key[b, n, t, j] = past_key[b, n, t, j]
                    for j in range(head_v):
                        present_value[b, n, t, j] = past_value[b, n, t, j]
            for t in range(total - past):
                for j in range(head):
                    x = _at(key, b, n, t, j, head)
                    if bias is not None:
                        if key.ndim == 3:  # (a 4-D key and value take no bias)
                            x = _add(x, bias[hidden + n * head + j])
                    present_key[b, n, past + t, j] = x
                for j in range(head_v):
                    x = _at(value, b, n, t, j, head_v)
                    if bias is not None:
                        if key.ndim == 3:
                            x = _add(x, bias[2 * hidden + n * head_v + j])
                    present_value[b, n, past + t, j] = x
            if mask is not None:
                c = base + head + head * total
                for t in range(total):
                    scratch[c + t] = float32(0) if _kept(mask, b, t) else float32(fill)
    _attend_rows(scratch, present_key, present_value, alpha, mask is not None, block,
                 out.reshape((batch * heads, head_v)))


@njit(**JIT_OPTIONS)
def decode_attention(q, keys, values, alpha, scores, sums, out):
    """contrib_attention._flash_gqa's single query row without a window or bias, in one call: scores =
    gemv_qk(q, keys) * alpha, minus the row's max (np.max: the first NaN wins), e = mlas_exp with its MLAS sum l
    (sum_exp_rows, in place), out = gemv_sv(e, values) * (1 / l). q (P, H), keys (P, T, H), values (P, T, Hv),
    scores (P, T), sums (P, 1), out (P, Hv)."""
    gemv_qk(q, keys, scores)
    p_n, t_n = scores.shape
    for p in range(p_n):
        row = scores[p]
        for t in range(t_n):
            row[t] = _mul(row[t], alpha)
        if t_n == 0:
            continue
        top = _row_max(row)
        for t in range(t_n):
            row[t] = _sub(row[t], top)
    sum_exp_rows(scores, scores, sums)  # each element read, then overwritten by its exp
    gemv_sv(scores, values, out)
    for p in range(p_n):
        inv = float32(1) / sums[p, 0]
        for j in range(out.shape[1]):
            out[p, j] = _mul(out[p, j], inv)


@njit(**JIT_OPTIONS)
def gqa_token_step(query, key, value, past_key, past_value, seqlens, positions, cos, sin, rotary, interleaved, plain,
                   alpha, total, out, present_k, present_v, scratch):
    """contrib_attention.GroupQueryAttention's flash token step (one query row per sequence, float32, no window
    within the cache, bias, softcap, smooth softmax or qk_output) in one call; False, with nothing written, where
    a sequence's length or rotary position is outside what the general path accepts (the caller then runs it).
    query (B, 1, N H), key (B, 1, N_kv H), value (B, 1, N_kv Hv), past_key (B, N_kv, L, H), past_value (B, N_kv,
    L, Hv), seqlens and positions (B,) int, cos and sin (P, >= H / 2) when rotary; out (B, 1, N Hv), present_k
    and present_v (B, N_kv, max(L, total), H or Hv), scratch (N H + max(L, total) + 1). Each sequence i with
    p = seqlens[i] past positions: its query and key rotated at positions[i] (rotate's pairs), present = the
    past's first p positions, the new key and value at p, zeros after; then each query head's decode_attention
    over its KV head's p + 1 positions. (The small decoder's node, 2 query heads, 1 KV head, head 16, a cache of
    32: 6.9 us a GroupQueryAttention call, from 28 us with the Python around rotate and decode_attention.)"""
    b, kv_heads, buffer_len, head = past_key.shape
    hv, present_len, num_heads = past_value.shape[3], present_k.shape[2], query.shape[2] // head
    for i in range(b):
        p = seqlens[i]
        if p < 0 or p > buffer_len or p >= total or (rotary and not 0 <= positions[i] < cos.shape[0]):
            return False
    group = num_heads // kv_heads
    q = scratch[:num_heads * head].reshape((num_heads, head))
    scores = scratch[num_heads * head:num_heads * head + present_len].reshape((1, present_len))
    sums = scratch[num_heads * head + present_len:].reshape((1, 1))
    heads_out = out.reshape((b, num_heads, hv))
    for i in range(b):
        p = seqlens[i]
        present_k[i, :, :p] = past_key[i, :, :p]
        present_v[i, :, :p] = past_value[i, :, :p]
        present_k[i, :, p + 1:] = 0
        present_v[i, :, p + 1:] = 0
        for j in range(kv_heads * hv):
            present_v[i, j // hv, p, j % hv] = value[i, 0, j]
        for n in range(num_heads + kv_heads):  # the query heads into q, then the key heads into present_k
            x = query[i, 0, n * head:(n + 1) * head] if n < num_heads else \
                key[i, 0, (n - num_heads) * head:(n - num_heads + 1) * head]
            row = q[n] if n < num_heads else present_k[i, n - num_heads, p]
            if not rotary:
                row[:] = x
                continue
            for j in range(head // 2):
                i1, i2 = (2 * j, 2 * j + 1) if interleaved else (j, head // 2 + j)
                row[i1], row[i2] = _rotate_pair(x[i1], x[i2], cos[positions[i], j], sin[positions[i], j],
                                                not (interleaved and j >= plain))
        for n in range(num_heads):  # query head n reads KV head n // group (the general path's np.repeat)
            g = n // group
            decode_attention(q[n:n + 1], present_k[i, g:g + 1, :p + 1], present_v[i, g:g + 1, :p + 1], alpha,
                             scores[:, :p + 1], sums, heads_out[i, n:n + 1])
    return True


@njit(**JIT_OPTIONS)
def rotate(x, cos, sin, interleaved, plain, out):
    """contrib_attention._rotate of float32 x (B, S, N, D), D even, with cos and sin (B, S, D / 2), into out: for
    each pair (x1, x2) real = fma32(x1, cos, -(x2 sin)), imag = fma32(x1, sin, x2 cos); interleaved pairs from
    index `plain` on real = x1 cos - x2 sin, imag = x1 sin + x2 cos (plain products and adds)."""
    b_n, s_n, n_n, d = x.shape
    half = d // 2
    for b in range(b_n):
        for s in range(s_n):
            for n in range(n_n):
                for j in range(half):
                    i1, i2 = (2 * j, 2 * j + 1) if interleaved else (j, half + j)
                    out[b, s, n, i1], out[b, s, n, i2] = _rotate_pair(
                        x[b, s, n, i1], x[b, s, n, i2], cos[b, s, j], sin[b, s, j], not (interleaved and j >= plain))


@njit(**JIT_OPTIONS)
def _rotate_pair(x1, x2, c, si, fused):
    """One rotary pair as rotate computes it: (real, imag), fused (fma32) or with plain products and adds."""
    if fused:
        return _fma(x1, c, _negative(_mul(x2, si))), _fma(x1, si, _mul(x2, c))
    return _sub(_mul(x1, c), _mul(x2, si)), _add(_mul(x1, si), _mul(x2, c))


@njit(**JIT_OPTIONS)
def gemv_qk(q, keys, out):
    """_mlas_products.gemv_qk over a flat batch: q (P, H), keys (P, T, H), out (P, T)."""
    p_n, t_n, h = keys.shape
    full = h // 8 * 8
    for p in range(p_n):
        for t in range(t_n):
            a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = float32(0)
            for i in range(0, full, 8):
                a0 = _add(a0, _mul(q[p, i], keys[p, t, i]))
                a1 = _add(a1, _mul(q[p, i + 1], keys[p, t, i + 1]))
                a2 = _add(a2, _mul(q[p, i + 2], keys[p, t, i + 2]))
                a3 = _add(a3, _mul(q[p, i + 3], keys[p, t, i + 3]))
                a4 = _add(a4, _mul(q[p, i + 4], keys[p, t, i + 4]))
                a5 = _add(a5, _mul(q[p, i + 5], keys[p, t, i + 5]))
                a6 = _add(a6, _mul(q[p, i + 6], keys[p, t, i + 6]))
                a7 = _add(a7, _mul(q[p, i + 7], keys[p, t, i + 7]))
            total = _add(_add(_add(a0, a1), _add(a2, a3)), _add(_add(a4, a5), _add(a6, a7)))
            for i in range(full, h):
                total = _add(total, _mul(q[p, i], keys[p, t, i]))
            out[p, t] = total


@njit(**JIT_OPTIONS)
def gemv_sv(probs, values, out):
    """_mlas_products.gemv_sv over a flat batch: probs (P, T), values (P, T, H), out (P, H): a running float32
    sum over t from the first product, then + 0."""
    p_n, t_n, h = values.shape
    for p in range(p_n):
        for j in range(h):
            acc = float32(0)
            if t_n:
                acc = _mul(probs[p, 0], values[p, 0, j])
                for t in range(1, t_n):
                    acc = _add(acc, _mul(probs[p, t], values[p, t, j]))
            out[p, j] = _add(acc, float32(0))
