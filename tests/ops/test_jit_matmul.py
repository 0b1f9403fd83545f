"""The compiled single-row MatMulNBits products (ops._jit_matmul) give the same bytes as their NumPy twins
(contrib_matmul._m1_transposed_b under _compiled.disabled()), which stays the reference: every K % 8 tail,
every N % 4 remainder, and weights and activations holding infinities, NaN, huge, denormal values and zeros."""
import numpy as np
import pytest

pytest.importorskip("numba")

from ops import _compiled  # noqa: E402
from ops.contrib_matmul import _m1_transposed_b  # noqa: E402

RNG = np.random.default_rng(1718)
f32 = np.float32
EDGES = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 3.4e38, -3.4e38, 1e-40, -1e-45, 1.0, -1.0], dtype=f32)

pytestmark = pytest.mark.skipif(not _compiled.enabled(np), reason="compiled loops switched off (SIMULATOR_JIT=0)")


def _both(a, W):
    with np.errstate(all="ignore"):
        fast = _m1_transposed_b(np, a, W)
        with _compiled.disabled():
            ref = _m1_transposed_b(np, a, W)
    return fast, ref


def test_one_row_product_matches_numpy_twin():
    for k in list(range(1, 41)) + [255, 1024]:
        for n in (1, 2, 3, 4, 5, 6, 7, 8, 33):
            a = (RNG.standard_normal(k) * RNG.choice([1e-3, 1, 1e3])).astype(f32)
            W = RNG.standard_normal((n, k)).astype(f32)
            fast, ref = _both(a, W)
            assert fast.dtype == ref.dtype and fast.tobytes() == ref.tobytes(), (k, n)


def test_one_row_product_edge_values_match_numpy_twin():
    for k, n in [(8, 4), (13, 7), (64, 9)]:
        a = RNG.standard_normal(k).astype(f32)
        W = RNG.standard_normal((n, k)).astype(f32)
        a[RNG.integers(0, k)] = RNG.choice(EDGES)  # one edge value in A
        W[RNG.integers(0, n, 3), RNG.integers(0, k, 3)] = RNG.choice(EDGES[EDGES == EDGES], 3)  # finite or inf
        W[0] = 0  # a zero row (a zero product of a finite A is +-0)
        W[-1] = -0.0
        fast, ref = _both(a, W)
        assert fast.tobytes() == ref.tobytes(), (k, n)


def test_prepacked_4bit_row_matches_numpy_twin():
    # ops._mlas_qnbit.compfp32_row (ORT's prepacked 4-bit token step): every K % 16 tail, N % 4 remainder, edges.
    from ops._mlas_qnbit import compfp32_row

    for k in list(range(1, 35)) + [255, 1024]:
        for n in (1, 2, 3, 4, 5, 7, 33):
            a = (RNG.standard_normal(k) * RNG.choice([1e-3, 1, 1e3])).astype(f32)
            W = RNG.standard_normal((n, k)).astype(f32)
            if k > 3:
                a[RNG.integers(0, k)] = RNG.choice(EDGES)
                W[0] = -0.0
            with np.errstate(all="ignore"):
                fast = compfp32_row(np, a, W)
                with _compiled.disabled():
                    ref = compfp32_row(np, a, W)
            assert fast.dtype == ref.dtype and fast.tobytes() == ref.tobytes(), (k, n)


@pytest.mark.parametrize("bits", [4, 8])
def test_int8_compute_lanes_match_numpy_twin(bits):
    # ops._mlas_qnbit._lanes (ORT's CompInt8 kernels, accuracy_level 4): every block size, a tail of blocks,
    # rows in pairs and an odd one, columns in fours and a remainder.
    from ops._mlas_qnbit import _lanes, quantize_a_blocks

    for block_size in (16, 32, 64, 128, 256):
        for M, N, blocks in ((1, 7, 3), (2, 4, 9), (3, 9, 1), (4, 5, 5)):
            A = (RNG.standard_normal((M, blocks * block_size - 3)) * RNG.choice([1e-3, 1, 1e3])).astype(f32)
            codes, scale_a = quantize_a_blocks(np, A, blocks, block_size)
            q = RNG.integers(0, 1 << bits, (N, blocks, block_size), dtype=np.uint8)
            scale_b = (RNG.random((N, blocks)) * 0.1).astype(f32)
            fast = _lanes(np, codes, scale_a, q, scale_b, bits, block_size)
            with _compiled.disabled():
                ref = _lanes(np, codes, scale_a, q, scale_b, bits, block_size)
            assert fast.dtype == ref.dtype and fast.tobytes() == ref.tobytes(), (block_size, M, N, blocks)
