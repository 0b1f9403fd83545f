"""ONNX Runtime's com.microsoft MatMulNBits: A @ dequantize(B)^T (+ bias) with B block-quantized to
2, 4 or 8 bits along K (the int4 / LPBQ weights of LLM exports).

B is uint8 of shape (N, blocks, block_size * bits / 8), low bits first; scales (N * blocks) or (N, blocks);
zero points packed the same way as B (uint8, one row of ceil(blocks * bits / 8) bytes per n) or of the
scales' type; without them the zero point is 2^(bits - 1). W[n, k] = (q - zero_point) * scale, which is
DequantizeLinear with block_size along K: the integer subtraction is exact and the product rounds once.
The product uses NumPy's BLAS, so it differs from ORT's MLAS kernel by a few ulps (measured in
tests/ops/test_contrib.py).
"""
from __future__ import annotations

from .gemm import matmul
from .registry import register

MS = "com.microsoft"


def unpack_bits(xp, packed, bits, count):
    """The first `count` unsigned `bits`-bit values of each row of uint8 `packed` (..., bytes), low bits first."""
    if bits not in (2, 4, 8):
        raise ValueError(f"MatMulNBits: bits must be 2, 4 or 8, not {bits}")
    if bits == 8:
        return packed[..., :count]
    mask = xp.uint8((1 << bits) - 1)
    fields = [(packed >> xp.uint8(shift)) & mask for shift in range(0, 8, bits)]
    return xp.stack(fields, axis=-1).reshape(packed.shape[:-1] + (-1,))[..., :count]


def dequantize_weight(xp, B, scales, zero_points, g_idx, K, N, bits, block_size, dtype):
    """W (N, K) in `dtype`."""
    blocks = -(-K // block_size)
    if B.shape[0] != N or B.size != N * blocks * (block_size * bits // 8):
        raise ValueError(f"MatMulNBits: B has shape {tuple(B.shape)}, expected ({N}, {blocks}, "
                         f"{block_size * bits // 8}) for K={K}, N={N}, bits={bits}, block_size={block_size}")
    q = unpack_bits(xp, B.reshape(N, -1), bits, blocks * block_size)
    scale = scales.reshape(N, blocks).astype(dtype, copy=False)
    if zero_points is None:
        zp = xp.full((N, blocks), 1 << (bits - 1), dtype=xp.int16)
    elif zero_points.dtype == xp.uint8:
        zp = unpack_bits(xp, zero_points.reshape(N, -1), bits, blocks).astype(xp.int16)
    else:
        zp = zero_points.reshape(N, blocks).astype(dtype)
    if g_idx is not None:  # act-order: each k has its own block
        block_of_k = g_idx.astype(xp.int64)
        q = q[:, :K]
        centred = q.astype(dtype) - zp[:, block_of_k].astype(dtype) if zp.dtype.kind == "f" else \
            (q.astype(xp.int16) - zp[:, block_of_k]).astype(dtype)
        return centred * scale[:, block_of_k]
    q = q.reshape(N, blocks, block_size)
    if zp.dtype.kind == "f":
        centred = q.astype(dtype) - zp[:, :, None]
    else:  # the integer subtraction is exact
        centred = (q.astype(xp.int16) - zp[:, :, None]).astype(dtype)
    return (centred * scale[:, :, None]).reshape(N, -1)[:, :K]


@register("MatMulNBits", 1, domain=MS)
def MatMulNBits(xp, A, B, scales, zero_points=None, g_idx=None, bias=None, *, K, N, bits=4, block_size,
                accuracy_level=0):
    """ORT contrib: equals DequantizeLinear (blocked along K) + MatMul bit for bit; within 1e-6 of ORT's output's largest value (MLAS GEMM order; measured 4.0e-7, up to 1.6e3 ulps near zero)."""
    if A.shape[-1] != K:
        raise ValueError(f"MatMulNBits: A's last dimension is {A.shape[-1]}, the node's K is {K}")
    W = dequantize_weight(xp, B, scales, zero_points, g_idx, K, N, bits, block_size, A.dtype)
    Y = matmul(xp, A, W.T)
    return Y if bias is None else Y + bias.astype(A.dtype, copy=False)
