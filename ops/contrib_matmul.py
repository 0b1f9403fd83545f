"""ONNX Runtime's com.microsoft MatMulNBits: A @ dequantize(B)^T (+ bias) with B block-quantized to
2, 4 or 8 bits along K (the int4 / LPBQ weights of LLM exports).

B is uint8 of shape (N, blocks, block_size * bits / 8), low bits first; scales (N * blocks) or (N, blocks);
zero points packed the same way as B (uint8, one row of ceil(blocks * bits / 8) bytes per n) or of the
scales' type; without them the zero point is 2^(bits - 1). W[n, k] = (q - zero_point) * scale, which is
DequantizeLinear with block_size along K: the integer subtraction is exact and the product rounds once.

The product, float32 (measured against ORT 1.32's CPU kernel): one row of A (a decoder's token step) is
multiplied, bit for bit, as ORT's prepacked 4-bit kernel does (ops/_mlas_qnbit.compfp32_row: ORT prepacks a
constant 4-bit B with uint8 or no zero points and no g_idx, as exports hold it), else as MLAS's single-row
transposed-B kernel (MlasSgemmKernelM1TransposeBAvx, which ORT runs on the dequantized weight); more rows use
NumPy's BLAS, a few ulps from ORT, whose MlasSgemm cuts K into blocks sized by the columns
each of its threads takes, so its bits depend on its thread count.

accuracy_level 4 (int8 compute, what ORT/Olive int4 exports set) is ORT's SQNBitGemm CompInt8 path
(ops/_mlas_qnbit.py: A quantized to int8 per block, integer dots with the unsigned codes; 4 and 8 bits bit for
bit).
ORT 1.32 takes it where B is a constant initializer (prepacked) with uint8 or no zero points, no g_idx, and 4 or
8 bits, or 2 bits with block_size 32, 64 or 128; elsewhere, and at levels 0-3 (ORT's float levels), the product
is float.

g_idx maps each k to its group: W[n, k] = (q[n, k] - zp[n, g_idx[k]]) * scale[n, g_idx[k]], the documented
semantics. ORT 1.32's CPU g_idx path disagrees where it is wrong: it ignores uint8 zero points (always 8) and reads
2-bit B as 4-bit codes; with no or float zero points and 4 bits it computes q * s - s * zp (two roundings).
"""
from __future__ import annotations

from . import _compiled
from ._mlas_qnbit import compfp32_row, compint8_matmul
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


def codes_and_zero_points(xp, B, zero_points, K, N, bits, block_size):
    """B's unsigned codes (N, blocks * block_size) and the zero points (N, blocks): int16 from uint8 (or the
    default 2^(bits - 1)), else in the scales' type."""
    blocks = -(-K // block_size)
    if B.shape[0] != N or B.size != N * blocks * (block_size * bits // 8):
        raise ValueError(f"MatMulNBits: B has shape {tuple(B.shape)}, expected ({N}, {blocks}, "
                         f"{block_size * bits // 8}) for K={K}, N={N}, bits={bits}, block_size={block_size}")
    q = unpack_bits(xp, B.reshape(N, -1), bits, blocks * block_size)
    if zero_points is None:
        zp = xp.full((N, blocks), 1 << (bits - 1), dtype=xp.int16)
    elif zero_points.dtype == xp.uint8:
        zp = unpack_bits(xp, zero_points.reshape(N, -1), bits, blocks).astype(xp.int16)
    else:
        zp = zero_points.reshape(N, blocks)
    return q, zp


def dequantize_weight(xp, B, scales, zero_points, g_idx, K, N, bits, block_size, dtype):
    """W (N, K) in `dtype`."""
    blocks = -(-K // block_size)
    q, zp = codes_and_zero_points(xp, B, zero_points, K, N, bits, block_size)
    scale = scales.reshape(N, blocks).astype(dtype, copy=False)
    if zp.dtype.kind == "f":
        zp = zp.astype(dtype)
    if g_idx is not None:  # act-order: each k has its own block
        block_of_k = g_idx.reshape(-1).astype(xp.int64)
        if block_of_k.shape[0] != K or (K and (int(block_of_k.min()) < 0 or int(block_of_k.max()) >= blocks)):
            raise ValueError(f"MatMulNBits: g_idx must hold K={K} group indices in [0, {blocks}), "
                             f"got shape {tuple(g_idx.shape)}")
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


def _m1_transposed_b(xp, a, W):
    """a (K,) @ W (N, K)^T as MLAS's M1 transposed-B kernel (AVX, no fused multiply-add): per row of W eight
    lanes, lane j summing the rounded products of k = j, j + 8, ... in order (K padded with zeros to a multiple
    of 8); then the lanes folded: rows in fours ((l0+l1)+l2)+l3 + ((l4+l5)+l6)+l7, a remaining pair
    ((l0+l2)+(l4+l6)) + ((l1+l3)+(l5+l7)), a last single row ((l0+l1)+(l2+l3)) + ((l4+l5)+(l6+l7))."""
    f = xp.float32
    n, k = W.shape
    if _compiled.enabled(xp):
        y = xp.empty(n, dtype=f)
        _compiled.loops("matmul").m1_transposed_b(xp.ascontiguousarray(a, dtype=f), xp.ascontiguousarray(W, dtype=f), y)
        return y
    padded = -(-k // 8) * 8
    products = xp.zeros((n, padded), dtype=f)
    xp.multiply(W, a, out=products[:, :k])
    products[:, :8] += f(0)  # the lanes start at +0.0: a -0.0 product becomes +0.0
    lanes = xp.cumsum(products.reshape(n, padded // 8, 8), axis=1, dtype=f)[:, -1]  # sequential per lane
    y = xp.empty(n, dtype=f)
    fours = n // 4 * 4
    g = lanes[:fours]
    y[:fours] = (((g[:, 0] + g[:, 1]) + g[:, 2]) + g[:, 3]) + (((g[:, 4] + g[:, 5]) + g[:, 6]) + g[:, 7])
    if n - fours >= 2:
        g = lanes[fours:fours + 2]
        y[fours:fours + 2] = ((g[:, 0] + g[:, 2]) + (g[:, 4] + g[:, 6])) + ((g[:, 1] + g[:, 3]) + (g[:, 5] + g[:, 7]))
    if (n - fours) % 2:
        g = lanes[n - 1:]
        y[n - 1:] = ((g[:, 0] + g[:, 1]) + (g[:, 2] + g[:, 3])) + ((g[:, 4] + g[:, 5]) + (g[:, 6] + g[:, 7]))
    return y


def _sqnbit_layout(xp, zero_points, g_idx):
    """Whether ORT 1.32's SQNBitGemm kernels take a constant B at all: uint8 or no zero points, no g_idx."""
    return g_idx is None and (zero_points is None or zero_points.dtype == xp.uint8)


def _prepacked(xp, zero_points, g_idx, bits):
    """Whether ORT 1.32 prepacks a constant B for its float (levels 0-3) SQNBitGemm kernel: 4 bits of that layout
    (other weights it dequantizes and multiplies with MlasSgemm)."""
    return bits == 4 and _sqnbit_layout(xp, zero_points, g_idx)


def _uses_int8_compute(xp, A, zero_points, g_idx, bits, block_size, accuracy_level):
    """Where ORT 1.32 (x86-64, B a constant initializer) computes accuracy_level 4 in int8."""
    if accuracy_level != 4 or A.dtype != xp.float32 or not _sqnbit_layout(xp, zero_points, g_idx):
        return False
    return bits in (4, 8) or block_size in (32, 64, 128)


@register("MatMulNBits", 1, domain=MS)
def MatMulNBits(xp, A, B, scales, zero_points=None, g_idx=None, bias=None, *, K, N, bits=4, block_size,
                accuracy_level=0):
    """ORT contrib: its weight equals DequantizeLinear's (blocked along K; g_idx: each k in group g_idx[k]); levels 0-3 float32, one row of A (a token step) bit for bit with ORT 1.32 (B held as exports hold it); accuracy_level 4: ORT's int8 compute (A quantized per block), 4 and 8 bits bit for bit; elsewhere within 1e-6 of ORT's output's largest value (measured 8.6e-7)."""
    if A.shape[-1] != K:
        raise ValueError(f"MatMulNBits: A's last dimension is {A.shape[-1]}, the node's K is {K}")
    if _uses_int8_compute(xp, A, zero_points, g_idx, bits, block_size, accuracy_level):
        blocks = -(-K // block_size)
        q, zp = codes_and_zero_points(xp, B, zero_points, K, N, bits, block_size)
        q = q.reshape(N, blocks, block_size)
        Y = compint8_matmul(xp, A.reshape(-1, K), q, scales.reshape(N, blocks).astype(xp.float32), zp,
                            bias, bits, block_size)
        return Y.reshape(A.shape[:-1] + (N,))
    W = dequantize_weight(xp, B, scales, zero_points, g_idx, K, N, bits, block_size, A.dtype)
    if A.dtype == xp.float32 and A.size == K and _prepacked(xp, zero_points, g_idx, bits):
        Y = compfp32_row(xp, A.reshape(K), W).reshape(A.shape[:-1] + (N,))
    elif A.dtype == xp.float32 and A.size == K and g_idx is None:  # (ORT's g_idx path is another kernel)
        Y = _m1_transposed_b(xp, A.reshape(K), W).reshape(A.shape[:-1] + (N,))
    else:
        Y = matmul(xp, A, W.T)
    return Y if bias is None else Y + bias.astype(A.dtype, copy=False)
