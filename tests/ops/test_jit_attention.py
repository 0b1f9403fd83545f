"""The attention's compiled loops (ops/_jit_attention.py) against their NumPy twins: identical bytes.

Each case runs the public function twice, once as shipped (compiled) and once under `_compiled.disabled()`
(the NumPy twin), over seeded random shapes and values: K past one StrideK block, single-row decode, broadcast
batches, alpha and C, masked -inf / lowest rows, NaN and subnormal exponents, zero-length dimensions.
"""
import contextlib

import numpy as np
import pytest

pytest.importorskip("numba")

from ops import _compiled, elementwise  # noqa: E402
from ops._mlas_products import gemv_qk, gemv_sv, sgemm, sgemm_m1  # noqa: E402
from ops.softmax import _mlas_softmax_rows, mlas_sum_exp  # noqa: E402

if not _compiled.enabled(np):
    pytest.skip("the compiled loops are switched off (SIMULATOR_JIT=0)", allow_module_level=True)

f32 = np.float32


def both(fn, *args, **kwargs):
    """fn's result compiled and as its NumPy twin (each a tuple of arrays)."""
    assert _compiled.enabled(np)
    with np.errstate(all="ignore"):  # NaN rows are part of the cases
        compiled = fn(*args, **kwargs)
        with _compiled.disabled():
            twin = fn(*args, **kwargs)
    return _arrays(compiled), _arrays(twin)


def _arrays(x):
    return [np.atleast_1d(a) for a in (x if isinstance(x, tuple) else (x,))]


def assert_same_bytes(fn, *args, **kwargs):
    compiled, twin = both(fn, *args, **kwargs)
    for c, t in zip(compiled, twin):
        assert c.dtype == t.dtype == np.float32 and c.shape == t.shape
        assert c.tobytes() == t.tobytes(), f"{int((c.view(np.uint32) != t.view(np.uint32)).sum())} elements differ"


def values(rng, shape, scale=None):
    scale = rng.choice([0.1, 1.0, 10.0, 1e3]) if scale is None else scale
    return (rng.standard_normal(shape) * scale).astype(f32)


@pytest.mark.parametrize("seed", range(40))
def test_sgemm_matches_its_twin(seed):
    rng = np.random.default_rng(seed)
    m = int(rng.choice([0, 1, 1, 2, 5, 9]))
    k = int(rng.choice([0, 1, 7, 16, 64, 129, 300]))  # 129 and 300: several StrideK blocks
    n = int(rng.choice([0, 1, 3, 16, 33, 200]))
    batch_a, batch_b = [((), ()), ((2,), (2,)), ((2, 3), (1, 3)), ((1,), (4,)), ((3, 1), (1, 2))][seed % 5]
    a, b = values(rng, batch_a + (m, k)), values(rng, batch_b + (k, n))
    alpha = None if seed % 3 == 0 else f32(rng.uniform(-2, 2))
    c = None
    if seed % 2:
        c = values(rng, (1,) * (len(batch_a) > 0) + (m if seed % 4 == 1 else 1, n))
        c[..., ::3] = f32(-10000.0) if seed % 8 == 1 else -np.inf
    assert_same_bytes(sgemm, np, a, b, alpha, c)


def test_sgemm_on_strided_float16_and_special_values():
    rng = np.random.default_rng(1)
    a = values(rng, (2, 3, 140), 3.0)
    a[0, 1, 5], a[1, 2, 7], a[1, 0, 9] = np.nan, np.inf, 1e-40
    b = values(rng, (2, 11, 140)).swapaxes(-1, -2)  # a transposed view, as Q K^T passes it
    assert_same_bytes(sgemm, np, a, b, f32(0.25))
    assert_same_bytes(sgemm, np, a.astype(np.float16), b.astype(np.float16))


@pytest.mark.parametrize("seed", range(20))
def test_single_row_sgemm_matches_its_twin(seed):
    rng = np.random.default_rng(400 + seed)
    k, n = int(rng.choice([0, 1, 2, 3, 4, 5, 7, 33, 130])), int(rng.choice([1, 16, 33]))
    batch_a, batch_b = [((), ()), ((2, 3), (2, 3)), ((1,), (4,))][seed % 3]
    a, b = np.abs(values(rng, batch_a + (1, k))), values(rng, batch_b + (k, n))
    c = values(rng, (1, n)) if seed % 2 else None
    assert_same_bytes(sgemm_m1, np, a, b, c)


@pytest.mark.parametrize("seed", range(20))
def test_decode_gemvs_match_their_twins(seed):
    rng = np.random.default_rng(100 + seed)
    heads, h, t = int(rng.integers(1, 5)), int(rng.choice([1, 7, 8, 16, 24, 67])), int(rng.choice([0, 1, 5, 33, 130]))
    q, keys = values(rng, (heads, h)), values(rng, (heads, t, h))
    assert_same_bytes(gemv_qk, np, q, keys)
    assert_same_bytes(gemv_qk, np, q[:1], keys)  # one query broadcast over the heads
    p = np.abs(values(rng, (heads, t)))
    assert_same_bytes(gemv_sv, np, p, values(rng, (heads, t, h)))


def rows(rng, n, d):
    x = values(rng, (n, d), rng.choice([1.0, 10.0, 60.0]))
    if n > 2 and d:
        x[0] = -np.inf  # a fully masked row: NaN out, as ORT's
        x[1, : d // 2] = np.finfo(f32).min  # the lowest float, as the flash paths mask
        x[2, d // 3] = np.nan
    return x


@pytest.mark.parametrize("seed", range(30))
@pytest.mark.parametrize("log", [False, True])
def test_softmax_rows_match_their_twin(seed, log):
    rng = np.random.default_rng(200 + seed)
    n, d = int(rng.choice([1, 3, 8, 40])), int(rng.choice([1, 2, 15, 16, 17, 33, 100, 257]))
    assert_same_bytes(_mlas_softmax_rows, np, rows(rng, n, d), log)


@pytest.mark.parametrize("seed", range(20))
def test_sum_exp_rows_match_their_twin(seed):
    rng = np.random.default_rng(300 + seed)
    x = rows(rng, int(rng.choice([1, 4, 9])), int(rng.choice([1, 16, 31, 65])))
    with np.errstate(invalid="ignore"):  # the -inf row
        shifted = x - x.max(axis=1, keepdims=True)
    assert_same_bytes(mlas_sum_exp, np, shifted)
    assert_same_bytes(mlas_sum_exp, np, shifted[:0])  # no rows


def test_softmax_of_a_strided_view_and_of_no_rows():
    x = values(np.random.default_rng(5), (6, 40))
    assert_same_bytes(_mlas_softmax_rows, np, x[::2, 3:], False)
    assert_same_bytes(_mlas_softmax_rows, np, x[:0], True)


def test_exp_over_its_whole_range_matches_its_twin():
    x = np.concatenate([np.linspace(-110, 90, 20001, dtype=f32), [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-42]])
    assert_same_bytes(elementwise.mlas_exp_reduced, np, np.maximum(x, f32(-103.9720840454)))


@pytest.mark.parametrize("name", ["tanhf", "expf"])
def test_c_library_functions_match_their_twins(name):
    from ops import _libm

    x = np.concatenate([np.random.default_rng(6).standard_normal(3000).astype(f32) * 30,
                        np.array([0.0, -0.0, 1e-40, 9.0, -30.0, 88.8, -104.0, np.inf, -np.inf, np.nan], f32)])
    assert_same_bytes(getattr(_libm, name), np, x.reshape(-1, 10))


@pytest.mark.parametrize("seed", range(12))
def test_a_token_steps_attention_in_one_compiled_call_is_the_numpy_paths_bytes(seed):
    """MultiHeadAttention with one query row (past keys, key padding mask or none, batches, heads): the compiled
    token step (_mha_token_step -> multi_head_token) against the NumPy twin of the general path."""
    from ops.contrib_attention import MultiHeadAttention  # noqa: PLC0415

    rng = np.random.default_rng(700 + seed)
    b, heads, head, past = int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(1, 20)), \
        int(rng.integers(0, 40))
    hidden = heads * head
    q, k, v = (rng.standard_normal((b, 1, hidden)).astype(f32) for _ in range(3))
    pk, pv = (rng.standard_normal((b, heads, past, head)).astype(f32) for _ in range(2))
    if seed % 4 == 3:
        q[0, 0, 0] = np.nan
    mask = None
    if seed % 3:
        mask = (rng.random((b, past + 1)) > 0.3).astype(np.int32)
        if seed % 5 == 0:
            mask[0] = 0  # every key padded
    assert_same_bytes(MultiHeadAttention, np, q, k, v, None, mask, None, pk, pv, num_heads=heads,
                      unidirectional=seed % 2, _n_outputs=3)


@pytest.fixture
def fused_calls(monkeypatch):
    """How many GroupQueryAttention calls ran the one-call compiled token step (ops/_jit_attention.gqa_token_step)
    and got its result."""
    loops, calls = _compiled.loops("attention"), []
    original = loops.gqa_token_step

    def counted(*args):
        result = original(*args)
        calls.append(result)
        return result
    monkeypatch.setattr(loops, "gqa_token_step", counted)
    return calls


def gqa_token_case(seed):
    """A token step's GroupQueryAttention inputs and attributes: 1-3 sequences of their own lengths in a cache
    buffer (one nearly full; sometimes the total past the buffer), 1-2 KV heads in groups of 1, 2 or 4, rotary
    (interleaved or not, position ids or not) or none, packed QKV, a scale, a window covering the cache, NaN, inf,
    NaN-payload and subnormal inputs, and past buffers given as strided views."""
    rng = np.random.default_rng(900 + seed)
    b, kv_heads, group = int(rng.integers(1, 4)), int(rng.integers(1, 3)), int(rng.choice([1, 2, 4]))
    heads, head, buffer = kv_heads * group, 2 * int(rng.integers(1, 20)), int(rng.integers(2, 40))
    head_v = head if seed % 5 else head + 3  # a value head of its own size
    q = values(rng, (b, 1, heads * head))
    k, v = values(rng, (b, 1, kv_heads * head)), values(rng, (b, 1, kv_heads * head_v))
    strided = seed % 3 == 0  # every other position of a buffer twice as long, every other head's feature
    pk = values(rng, (b, kv_heads, 2 * buffer, 2 * head))[:, :, ::2, ::2] if strided else \
        values(rng, (b, kv_heads, buffer, head))
    pv = values(rng, (b, kv_heads, 2 * buffer, head_v))[:, :, 1::2] if strided else \
        values(rng, (b, kv_heads, buffer, head_v))
    seqlens = rng.integers(0, buffer, b).astype(np.int32)  # each sequence's length - 1, the new token included
    seqlens[-1] = buffer - 1  # the cache nearly full: the new entry at its last position
    total = buffer
    if seed % 7 == 6:  # the total past the buffer: present grows, one sequence's past fills the whole buffer
        seqlens[-1], total = buffer, buffer + 1 + int(rng.integers(0, 3))
    if seed % 4 == 3:
        q[0, 0, 0], k[-1, 0, 1], v[0, 0, -1] = np.nan, np.inf, -np.inf
        pk[0, 0, 0, 0], pv[-1, -1, 0, 0] = np.float32(1e-40), np.uint32(0x7FC00001).view(np.float32)
    if seed % 4 == 2:  # a NaN with a payload and its sign (in a value: where two NaNs of different signs meet in
        v.view(np.uint32)[-1, 0, -1] = 0xFFC00123  # one sum, NumPy's own loops return either, by length)
    attrs = dict(kv_num_heads=kv_heads, num_heads=heads)
    cos = sin = position_ids = None
    if seed % 3:
        attrs.update(do_rotary=1, rotary_interleaved=seed % 2)
        positions = total + int(rng.integers(0, 6))
        cos, sin = values(rng, (positions, head // 2 + seed % 2), 1.0), values(rng, (positions, head // 2 + seed % 2), 1.0)
        sin[0, 0] = np.nan
        if seed % 5 == 1:
            position_ids = rng.integers(0, positions, (b, 1)).astype(np.int64)
    if seed % 6 == 1:
        attrs["scale"] = float(rng.uniform(0.05, 1.0))
    if seed % 8 == 5:
        attrs["local_window_size"] = max(buffer, total) + int(rng.integers(0, 3))
    query, key, value = q, k, v
    if seed % 9 == 4 and head_v == head:  # packed QKV: one (B, 1, (N + 2 N_kv) H) input
        query, key, value = np.concatenate((q, k, v), axis=-1), None, None
    inputs = [query, key, value, pk, pv, seqlens, np.array(total, np.int32), cos, sin, position_ids]
    return inputs, attrs


def _nan(bits):
    return np.array([bits], np.uint32).view(f32)[0]


def _token_step_case(seed):
    """A seeded MultiHeadAttention token step as a decoder's node gets it: batches, heads, head sizes (values of
    their own), 3-D keys and values (1-2 new positions) with or without the QKV bias, or 4-D ones, a past as it is
    or as a strided or transposed view, a padding mask (B, T) or (B, 1, T) with left padding or all zeros, or
    lengths (B,), or none; a NaN query (its rows NaN; meeting a NaN bias of another payload) and infinite values.
    (Not an infinite key: a score row holding a NaN among numbers takes, in the NumPy twin's broadcast
    x + (-max), a NaN sign that depends on NumPy's loop; the compiled softmax keeps x86's rule, as before.)
    seed % 12 picks one of the 12 typed cases the compiled call is compiled for (seed 12, read-only arrays, one
    more)."""
    rng = np.random.default_rng(1700 + seed)
    b, heads, head, head_v = int(rng.integers(1, 4)), int(rng.integers(1, 5)), int(rng.integers(1, 20)), \
        int(rng.integers(1, 20)) if seed % 5 == 4 else 0
    head_v, past, new = head_v or head, int(rng.integers(0, 40)), 1 + (seed % 7 == 6)
    layout, kind = seed % 4, seed // 4 % 3
    q = values(rng, (b, 1, heads * head))
    if layout % 2:
        k, v = values(rng, (b, heads, new, head)), values(rng, (b, heads, new, head_v))
    else:
        k, v = values(rng, (b, new, heads * head)), values(rng, (b, new, heads * head_v))
    bias = values(rng, (2 * heads * head + heads * head_v,)) if layout in (0, 3) else None
    pk, pv = values(rng, (b, heads, past, head)), values(rng, (b, heads, past, head_v))
    if layout == 1:  # a view into a longer cache, every other head
        pk = values(rng, (b, 2 * heads, past + 5, head))[:, ::2, 2:past + 2]
        pv = values(rng, (b, 2 * heads, past + 5, head_v))[:, ::2, 2:past + 2]
    elif layout == 2:  # a transposed buffer
        pk = values(rng, (b, heads, head, past)).swapaxes(2, 3)
    if seed % 6 == 5:
        q[0, 0, 0], v.reshape(-1)[-1], pv.reshape(-1)[:1] = _nan(0x7FC00001), np.inf, -np.inf
        if bias is not None:
            bias[0] = _nan(0xFFC00002)  # two NaNs meet in q + bias: the query's comes out
    total, mask = past + new, None
    if kind == 1:
        mask = (rng.random((b, total)) > 0.3).astype(np.int32)
        mask[0, : total // 2] = 0  # left padding
        if seed % 8 == 5:
            mask[-1] = 0  # every key padded
        if seed % 3 == 0:
            mask = mask[:, None]  # (B, 1, T)
    elif kind == 2:
        mask = rng.integers(0, total + 1, size=(b,)).astype(np.int32)  # key lengths
    inputs = (q, k, v, bias, mask, None, pk, pv)
    if seed == 12:  # read-only, as initializers (a constant bias) and cached feeds arrive
        for x in inputs:
            if x is not None:
                x.flags.writeable = False
    return inputs, dict(num_heads=heads, unidirectional=seed % 2, mask_filter_value=[-10000.0, -np.inf][seed % 2])


@pytest.mark.parametrize("seed", range(24))
def test_a_whole_token_step_in_one_compiled_call_is_the_numpy_paths_bytes(seed):
    """MultiHeadAttention's token step from the node's inputs (bias, heads, past + new keys, padding mask) in one
    compiled call (_mha_token_step -> multi_head_token) against the NumPy twin of the general path, its three
    outputs."""
    from ops import contrib_attention  # noqa: PLC0415

    inputs, attrs = _token_step_case(seed)
    q, k, v, bias, mask, _, pk, pv = inputs
    assert contrib_attention._mha_token_step(np, q, k, v, bias, mask, pk, pv, attrs["num_heads"], 0.0,
                                         attrs["mask_filter_value"]) is not None  # the case the compiled call takes
    assert_same_bytes(contrib_attention.MultiHeadAttention, np, *inputs, **attrs, _n_outputs=3)
    assert_same_bytes(contrib_attention.MultiHeadAttention, np, *inputs, **attrs, scale=0.3)


def test_token_steps_the_compiled_call_leaves_to_the_general_path_keep_its_results():
    """Inputs outside the compiled call's exact case (float64 past, a bool mask, a float16 bias; a mask of the
    wrong length, no past value, no mask and no past: ORT's flash path) come out as the general path computes or
    rejects them."""
    from ops import contrib_attention  # noqa: PLC0415

    rng = np.random.default_rng(3)
    q, k, v = (values(rng, (2, 1, 8)) for _ in range(3))
    pk, pv = values(rng, (2, 2, 5, 4)), values(rng, (2, 2, 5, 4))
    mask = np.ones((2, 6), np.int32)
    for case in [(q, k, v, None, mask, None, pk.astype(np.float64), pv),
                 (q, k, v, None, mask.astype(bool), None, pk, pv),
                 (q, k, v, values(rng, (24,)).astype(np.float16), mask, None, pk, pv)]:
        assert contrib_attention._mha_token_step(np, *case[:5], *case[6:], 2, 0.0, -1e4) is None
        assert_same_bytes(contrib_attention.MultiHeadAttention, np, *case, num_heads=2)
    assert_same_bytes(contrib_attention.MultiHeadAttention, np, q, k, v, num_heads=2)  # flash: (e V) / l
    with pytest.raises(ValueError):
        contrib_attention.MultiHeadAttention(np, q, k, v, None, mask[:, :5], None, pk, pv, num_heads=2)
    with pytest.raises(ValueError):
        contrib_attention.MultiHeadAttention(np, q, k, v, None, mask, None, pk, None, num_heads=2)
    with pytest.raises(ValueError):
        contrib_attention.MultiHeadAttention(np, q, k, v, values(rng, (8,)), mask, None, pk, pv, num_heads=2)


@pytest.mark.parametrize("seed", range(40))
def test_a_gqa_token_step_in_one_compiled_call_is_the_numpy_paths_bytes(seed, fused_calls):
    """GroupQueryAttention's flash token step in one compiled call (gqa_token_step) against the NumPy twin of the
    general path: identical output and present buffers."""
    from ops.contrib_attention import GroupQueryAttention  # noqa: PLC0415

    inputs, attrs = gqa_token_case(seed)
    assert_same_bytes(GroupQueryAttention, np, *inputs, **attrs)
    assert fused_calls == [True]


def test_a_gqa_token_step_outside_the_compiled_call_runs_the_general_path(fused_calls):
    """A window inside the cache, an odd rotary head, a sequence length at the total or a position past the
    cos/sin table: the general path's bytes, or its error, with or without the compiled loops."""
    from ops.contrib_attention import GroupQueryAttention  # noqa: PLC0415

    inputs, attrs = gqa_token_case(1)  # rotary, two sequences
    assert_same_bytes(GroupQueryAttention, np, *inputs, **dict(attrs, local_window_size=2))
    assert fused_calls == []
    rng = np.random.default_rng(3)
    odd = [values(rng, (1, 1, 6)), values(rng, (1, 1, 3)), values(rng, (1, 1, 3)), values(rng, (1, 1, 8, 3)),
           values(rng, (1, 1, 8, 3)), np.array([4], np.int32), np.array(8, np.int32), values(rng, (8, 1)),
           values(rng, (8, 1))]  # rotary over a head of 3
    even = odd[:5] + [np.array([8], np.int32)] + odd[6:]  # (no rotary) seqlens_k 8 with a total of 8
    table = [values(rng, (1, 1, 4)), values(rng, (1, 1, 2)), values(rng, (1, 1, 2)), values(rng, (1, 1, 8, 2)),
             values(rng, (1, 1, 8, 2)), np.array([5], np.int32), np.array(8, np.int32), values(rng, (4, 1)),
             values(rng, (4, 1))]  # position 5 of a 4-position cos/sin table
    for inputs, attrs in ((odd, dict(do_rotary=1, num_heads=2)), (even, dict(num_heads=2)),
                          (table, dict(do_rotary=1, num_heads=2))):
        for jit in (True, False):
            with pytest.raises(ValueError), np.errstate(all="ignore"), \
                    (contextlib.nullcontext() if jit else _compiled.disabled()):
                GroupQueryAttention(np, *inputs, kv_num_heads=1, **attrs)
    assert fused_calls == [False, False]  # the length and the position: the compiled call declined them


@pytest.mark.parametrize("interleaved", [0, 1])
@pytest.mark.parametrize("head,rotary_dim", [(2, 0), (6, 0), (16, 0), (34, 0), (64, 0), (64, 32), (40, 18)])
def test_rotary_embedding_in_one_compiled_call_is_the_numpy_paths_bytes(interleaved, head, rotary_dim):
    from ops.contrib_attention import RotaryEmbedding  # noqa: PLC0415

    rng = np.random.default_rng(head * 10 + rotary_dim + interleaved)
    b, s, n, positions = 2, 3, 2, 12
    x = rng.standard_normal((b, s, n * head)).astype(f32)
    x[0, 0, :3] = [np.nan, np.inf, -0.0]
    d = rotary_dim or head
    cos = rng.standard_normal((positions, d // 2)).astype(f32)
    sin = rng.standard_normal((positions, d // 2)).astype(f32)
    sin[1, 0] = np.nan
    pos = rng.integers(0, positions, (b, s)).astype(np.int64)
    assert_same_bytes(RotaryEmbedding, np, x, pos, cos, sin, interleaved=interleaved, num_heads=n,
                      rotary_embedding_dim=rotary_dim)
