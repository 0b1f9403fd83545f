"""The compiled (Numba) norm and activation loops give the same bytes as their NumPy twins, which stay the reference.

Each kernel runs twice on the same inputs, compiled and under _compiled.disabled(); the outputs must be
identical byte for byte (shape and dtype too), over many random shapes and over edge values: infinities,
NaN, huge and denormal values, zeros, all-zero rows, and random float32 bit patterns.
"""
import contextlib

import numpy as np
import pytest

pytest.importorskip("numba")

from ops import _compiled  # noqa: E402
from ops.activation import Gelu as Gelu20  # noqa: E402
from ops.activation import Mish, Sigmoid, Tanh  # noqa: E402
from ops.contrib_activation import BiasGelu, FastGelu, Gelu, QuickGelu  # noqa: E402
from ops.contrib_norm import (SimplifiedLayerNormalization, SkipLayerNormalization,  # noqa: E402
                              SkipSimplifiedLayerNormalization)
from ops.elementwise import Erf  # noqa: E402

RNG = np.random.default_rng(1717)
f32 = np.float32
EDGES = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 3.4e38, -3.4e38, 1e30, -1e30, 1e-40, -1e-40,
                  1.4e-45, -1.4e-45, 1.17549435e-38, 0.5, -0.5, 0.921875, -0.921875, 3.925, -3.925, 9.0, -9.0,
                  18.0, -18.0, 88.0, -88.0, 1.0, -1.0], dtype=f32)

pytestmark = [pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning"),  # float16 cases on purpose
              pytest.mark.skipif(not _compiled.enabled(np), reason="compiled loops switched off (SIMULATOR_JIT=0)")]


def both(kernel, *args, **attrs):
    with np.errstate(all="ignore"):  # as the executor runs kernels: inf and NaN are values here
        fast = kernel(np, *args, **attrs)
        with _compiled.disabled():
            ref = kernel(np, *args, **attrs)
    return fast, ref


def assert_same_bytes(fast, ref):
    fast, ref = (fast, ref) if isinstance(fast, tuple) else ((fast,), (ref,))
    assert len(fast) == len(ref)
    for a, b in zip(fast, ref):
        a, b = np.asarray(a), np.asarray(b)
        assert (a.shape, a.dtype) == (b.shape, b.dtype)
        if a.tobytes() != b.tobytes():
            bad = np.flatnonzero(a.reshape(-1).view(np.uint8 if a.dtype.itemsize == 1 else f"u{a.dtype.itemsize}")
                                 != b.reshape(-1).view(f"u{b.dtype.itemsize}"))
            raise AssertionError(f"{bad.size} elements differ, first at {bad[:5]}: {a.reshape(-1)[bad[:5]]} vs "
                                 f"{b.reshape(-1)[bad[:5]]}")


def values(*shape):
    """Random float32 values of many magnitudes, the edge values, and random bit patterns (NaNs included)."""
    n = int(np.prod(shape))
    x = (RNG.standard_normal(n) * RNG.choice([1e-3, 0.3, 1, 3, 10, 100], n)).astype(f32)
    bits = RNG.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32).view(f32)
    pick = RNG.random(n)
    x = np.where(pick < 0.1, bits, x)
    x = np.where(pick > 0.9, RNG.choice(EDGES, n), x)
    return x.reshape(shape)


@pytest.mark.parametrize("kernel,attrs", [(Tanh, {}), (Sigmoid, {}), (Erf, {}), (Mish, {}), (Gelu, {}),
                                          (FastGelu, {}), (QuickGelu, {}), (QuickGelu, {"alpha": -0.75}),
                                          (Gelu20, {"approximate": "none"}), (Gelu20, {"approximate": "tanh"})])
def test_activations_match_numpy_twins(kernel, attrs):
    for shape in [(), (1,), (7,), (3, 5), (2, 3, 257), (4096,)]:
        assert_same_bytes(*both(kernel, values(*shape), **attrs))
    assert_same_bytes(*both(kernel, EDGES, **attrs))
    assert_same_bytes(*both(kernel, values(6, 40)[:, ::3], **attrs))  # a strided view


def test_activations_every_exponent():
    # Every float32 exponent, both signs, with random mantissas: the polynomials' clamps and splits.
    bits = (np.arange(512, dtype=np.uint32).repeat(64) << np.uint32(23)) | RNG.integers(0, 2**23, 512 * 64,
                                                                                       dtype=np.uint32)
    x = bits.view(f32)
    for kernel in (Tanh, Sigmoid, Erf, Gelu, FastGelu, QuickGelu):
        assert_same_bytes(*both(kernel, x))


def test_biased_gelus_match_numpy_twins():
    x, bias = values(3, 9, 64), values(64)
    assert_same_bytes(*both(BiasGelu, x, bias))
    assert_same_bytes(*both(FastGelu, x, bias))


def one_nan(x):
    """x with every NaN the one quiet NaN: where two different NaNs meet in a sum, which one comes out is the
    compiler's choice of operand order (IEEE 754 leaves it open), in NumPy's loops as in Numba's."""
    return np.where(np.isnan(x), f32(np.nan), x)


def _norm_inputs(rows, n):
    x = (RNG.standard_normal((rows, n)) * RNG.choice([1e-20, 0.01, 1, 50, 1e18], (rows, 1))).astype(f32)
    if rows > 2:
        x[0] = 0  # an all-zero row: rms = sqrt(eps)
        x[1, RNG.integers(0, n)] = RNG.choice(EDGES)  # one edge value in a row
    return x


def test_simplified_layer_norm_matches_numpy_twin():
    for n in list(range(1, 71)) + [128, 301, 1024]:
        for rows in (1, 3, 9):
            x, scale = _norm_inputs(rows, n), RNG.standard_normal(n).astype(f32)
            for eps in (1e-6, 1e-5, 0.0):
                assert_same_bytes(*both(SimplifiedLayerNormalization, x, scale, epsilon=eps))
    x = one_nan(values(2, 3, 4, 20))  # edge values anywhere; normalised over the last two axes
    assert_same_bytes(*both(SimplifiedLayerNormalization, x, values(4, 20), axis=-2))
    assert_same_bytes(*both(SimplifiedLayerNormalization, x.astype(np.float16), np.ones(20, np.float16)))


def test_simplified_layer_norm_any_rank_and_layout():
    # The float32 last-axis call (a token step's [1, 1, hidden]): every rank, strided and reversed views, a
    # strided scale, and the shapes it leaves to the general path (a (1, n) scale).
    x = one_nan(values(2, 3, 5, 40))
    scale = one_nan(values(80))[::2]
    for X in (x[0, 0, 0], x[0, :1, :1], x, x[:, ::2, ::-1], x.transpose(1, 0, 2, 3), x[..., ::-1]):
        for s in (scale, np.ascontiguousarray(scale), scale.reshape(1, 40)):
            fast, ref = both(SimplifiedLayerNormalization, X, s, epsilon=1e-5)
            assert_same_bytes(fast, ref)
            assert fast[0].shape == X.shape and fast[1].shape == X.shape[:-1] + (1,)
    assert_same_bytes(*both(SimplifiedLayerNormalization, x, scale, epsilon=0))  # an int epsilon


@pytest.mark.parametrize("kernel", [SkipSimplifiedLayerNormalization, SkipLayerNormalization])
def test_skip_norms_outputs_are_new_arrays(kernel):
    # input + skip (+ bias) is returned as the last output: its own array, never one of the inputs.
    x, skip, gamma = (one_nan(values(*shape)) for shape in ((2, 24), (2, 24), (24,)))
    for compiled in (True, False):
        with _compiled.disabled() if not compiled else contextlib.nullcontext(), np.errstate(all="ignore"):
            outs = kernel(np, x, skip, gamma)  # (values near the float32 limits: as a run, without warnings)
        assert not any(np.shares_memory(o, a) for o in outs for a in (x, skip, gamma))
        assert len({id(o) for o in outs}) == len(outs)


@pytest.mark.parametrize("kernel", [SkipSimplifiedLayerNormalization, SkipLayerNormalization])
def test_skip_norms_match_numpy_twins(kernel):
    beta_first = kernel is SkipLayerNormalization  # SkipLayerNormalization takes beta before bias
    for n in list(range(1, 41)) + [64, 301, 1024]:
        x, skip = _norm_inputs(6, n).reshape(2, 3, n), RNG.standard_normal((3, n)).astype(f32)  # skip broadcasts
        gamma, beta, bias = (RNG.standard_normal(n).astype(f32) for _ in range(3))
        extras = [[], [beta, bias] if beta_first else [bias], [None, bias] if beta_first else []]
        if beta_first:
            extras.append([beta])
        for extra in extras:
            for eps in (1e-12, 1e-5):
                assert_same_bytes(*both(kernel, x, skip, gamma, *extra, epsilon=eps))
    x = one_nan(values(4, 24))
    assert_same_bytes(*both(kernel, x, one_nan(values(4, 24)), one_nan(values(24))))
    h = np.float16
    assert_same_bytes(*both(kernel, x.astype(h), values(4, 24).astype(h), np.ones(24, h)))
