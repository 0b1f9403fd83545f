"""The compiled grid pass (simulator/_jit_quantization.py) gives fake_quantize's NumPy bits, value for value."""
import numpy as np
import pytest

from ops import _compiled
from simulator.quantization import (HALF_AWAY_FROM_ZERO, HALF_TO_EVEN, Encoding, bind, fake_quantize,
                                    quantize_function)

pytest.importorskip("numba")
if not _compiled.enabled(np):
    pytest.skip("compiled loops are switched off (SIMULATOR_JIT=0)", allow_module_level=True)
# x / scale overflows to inf for the largest values on purpose (a run enters errstate the same way)
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")

SPECIALS = np.array([0.0, -0.0, np.nan, -np.nan, np.inf, -np.inf, 1e-45, -1e-45, 1e-38, 3.4e38, -3.4e38, 0.5, -0.5,
                     1.5, -1.5, 2.5, -2.5], np.float32)


def _values(rng, scale, n):
    ties = (rng.integers(-70000, 70000, n).astype(np.float32) + np.float32(0.5)) * np.float32(scale)  # x/scale ties
    near = np.nextafter(ties, np.float32(np.inf) * rng.choice([-1, 1], n).astype(np.float32))
    wide = (rng.standard_normal(n) * rng.choice([1e-3, 1, 1e3, 1e6], n)).astype(np.float32)
    return np.concatenate([SPECIALS, ties, near, wide]).astype(np.float32)


@pytest.mark.parametrize("rounding", [HALF_AWAY_FROM_ZERO, HALF_TO_EVEN])
@pytest.mark.parametrize("bits,scale,offset", [(4, 0.37, -8), (8, 0.02, -128), (8, 0.05, 0), (16, 1e-4, -32768),
                                               (16, 3.1e-3, -17), (8, 1e-30, -3)])
def test_compiled_grid_is_numpys_bits(rounding, bits, scale, offset):
    rng = np.random.default_rng(bits * 1000 + int(-offset))
    enc = Encoding("t", "int", bits, np.array([scale], np.float32), np.array([offset], np.float32))
    x = _values(rng, scale, 3000)
    q = bind(enc, x.shape, rounding=rounding)
    with _compiled.disabled():
        ref = fake_quantize(np, x, q)
        bound_ref = quantize_function(np, q)(x)
    assert _compiled.enabled(np)
    got = fake_quantize(np, x, q)
    assert got.dtype == np.float32 and got.tobytes() == ref.tobytes() == bound_ref.tobytes()
    assert quantize_function(np, q)(x).tobytes() == ref.tobytes()
    # strided views, several dimensions, empty
    y = x[: 2 * (x.size // 2)].reshape(2, -1)[:, ::3]
    with _compiled.disabled():
        ref = fake_quantize(np, y, q)
    assert fake_quantize(np, y, q).tobytes() == ref.tobytes()
    assert fake_quantize(np, x[:0], q).shape == (0,)
    bound = quantize_function(np, q)  # what a run calls per activation: any rank, views, 0-d, empty
    for v in (y, x[:2400].reshape(2, 3, 4, 100), x[:2400].reshape(2, 3, 4, 100)[:, 1:, ::2], x[5], x[:0]):
        with _compiled.disabled():
            ref = fake_quantize(np, v, q)
        got = bound(v)
        assert got.shape == ref.shape and got.tobytes() == ref.tobytes()


def test_large_tensors_take_the_compiled_loop_with_the_chunked_passes_bits():
    enc = Encoding("t", "int", 8, np.array([0.013], np.float32), np.array([-101], np.float32))
    x = np.random.default_rng(0).standard_normal((3, 1 << 20)).astype(np.float32)
    q = bind(enc, x.shape)
    with _compiled.disabled():
        ref = fake_quantize(np, x, q)
    assert fake_quantize(np, x, q).tobytes() == ref.tobytes()
