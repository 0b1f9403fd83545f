"""The tap-slice paths (ops/_taps.py) against window views, over random geometries (hypothesis):
strides beyond the kernel, dilations, asymmetric and oversized pads, ceil_mode overhang, 1-3 spatial
dims, batches, channel multipliers. Equal bit for bit: each output combines the same input elements
in the same order."""
import itertools
from functools import partial

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ops import conv, pool

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=300)


@st.composite
def geometries(draw):
    n = draw(st.integers(1, 3))
    kernel = [draw(st.integers(1, 4)) for _ in range(n)]
    strides = [draw(st.integers(1, 4)) for _ in range(n)]
    dilations = [draw(st.integers(1, 3)) for _ in range(n)]
    sizes = [draw(st.integers((k - 1) * d + 1, (k - 1) * d + 9)) for k, d in zip(kernel, dilations)]
    pads = [draw(st.integers(0, k - 1)) for k in kernel] + [draw(st.integers(0, k - 1)) for k in kernel]
    return dict(n=n, kernel=kernel, strides=strides, dilations=dilations, sizes=sizes, pads=pads,
                ceil_mode=draw(st.integers(0, 1)), batch=draw(st.integers(1, 2)), channels=draw(st.integers(1, 5)),
                mult=draw(st.integers(1, 2)), seed=draw(st.integers(0, 2**16)))


def _bits(a):
    return a.view({2: np.uint16, 4: np.uint32, 8: np.uint64}[a.dtype.itemsize])


@settings(**SETTINGS)
@given(geometries())
def test_depthwise_conv_taps_equal_window_views(g):
    rng = np.random.default_rng(g["seed"])
    x = rng.standard_normal((g["batch"], g["channels"], *g["sizes"])).astype(np.float32)
    w = rng.standard_normal((g["channels"] * g["mult"], 1, *g["kernel"])).astype(np.float32)
    out, begin, end = conv._conv_pads(g["sizes"], g["kernel"], g["strides"], g["dilations"], g["pads"], "NOTSET")
    fast = conv._depthwise_taps(np, x, w, out, g["strides"], g["dilations"], begin)
    padded = np.pad(x, [(0, 0), (0, 0)] + list(zip(begin, end)))
    ext = [(k - 1) * d + 1 for k, d in zip(g["kernel"], g["dilations"])]
    win = np.lib.stride_tricks.sliding_window_view(padded, ext, axis=tuple(range(2, 2 + g["n"])))
    win = win[(slice(None), slice(None)) + tuple(slice(0, (o - 1) * s + 1, s) for o, s in zip(out, g["strides"]))
              + tuple(slice(None, None, d) for d in g["dilations"])]
    M, G = w.shape[0], g["channels"]
    wr = w.reshape((1, G, M // G) + tuple(g["kernel"]) + (1,) * g["n"])
    plain = None
    for tap in itertools.product(*(range(k) for k in g["kernel"])):
        term = win[(Ellipsis,) + tap][:, :, None] * wr[(slice(None),) * 3 + tap]
        plain = term if plain is None else plain + term
    plain = plain.reshape(g["batch"], M, *out)
    assert fast.shape == plain.shape
    np.testing.assert_array_equal(_bits(fast), _bits(plain))


@settings(**SETTINGS)
@given(geometries(), st.sampled_from([np.float32, np.float16, np.float64]))
def test_pool_taps_equal_window_views(g, dtype):
    rng = np.random.default_rng(g["seed"])
    x = (rng.integers(-64, 64, (g["batch"], g["channels"], *g["sizes"])) * 0.37).astype(dtype)
    attrs = dict(kernel_shape=g["kernel"], strides=g["strides"], pads=g["pads"], ceil_mode=g["ceil_mode"],
                 dilations=g["dilations"])
    out, begin, _ = pool.pool_geometry(g["sizes"], g["kernel"], g["strides"], g["pads"], g["dilations"], "NOTSET",
                                       g["ceil_mode"])
    assume(min(out) >= 1)
    # MaxPool, one output (tap slices) against the indices path (window views reduced by max).
    fast = pool.MaxPool(np, x, _n_outputs=1, **attrs)
    plain, _ = pool.MaxPool(np, x, _n_outputs=2, **attrs)
    np.testing.assert_array_equal(_bits(fast), _bits(plain))
    # AveragePool's window sums in each summation order, tap slices against window views.
    for route in ("generic", "vector") if g["n"] >= 2 else ("generic",):
        taps = pool.PhaseTaps(np, x, g["kernel"], g["strides"], g["dilations"], out, begin, 0)
        fast = taps.crop(pool._window_sum(taps.taps.__getitem__, g["kernel"], route))
        W = pool._windows(np, x, g["kernel"], g["strides"], g["dilations"], out, begin, 0)
        plain = pool._window_sum(partial(pool._window_tap, W), g["kernel"], route)
        np.testing.assert_array_equal(_bits(fast), _bits(np.ascontiguousarray(plain)))
