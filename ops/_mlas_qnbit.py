"""MatMulNBits as ONNX Runtime 1.32 computes it on x86-64 with a prepacked (constant) B: MLAS SQNBitGemm's CompInt8
path at accuracy_level 4 (compint8_matmul), and its 4-bit float kernel for one row of A (compfp32_row).

A is quantized per row and block of block_size (QuantizeARow_CompInt8): scale sa = amax / 127, codes
round_half_even(a * (127 / amax)), 0 for an all-zero block. The weight's unsigned codes q (no zero point) are
multiplied with them in integers, each block's dot scaled by sa * sb; the zero point enters as a separate sum over
blocks of (sa * sum(codes)) * -(sb * zp) (ORT's AScaledBlkSum and QuantBBlkSum, added by MLAS's SGEMM kernel);
the bias is added in between:  Y = fold(lanes) + bias + sum_b fma(sa_b * sum(codes_b), -(sb_b * zp_b)).

4- and 8-bit weights: MLAS's AVX512-VNNI kernels, bit for bit. Every kernel accumulates 16 float lanes per output with
fused multiply-adds, each lane an exact integer partial dot of up to 8 codes of one block (the lane layout of
each block size below), for 128 values of K at a time; a tail of blocks shorter than 128 goes to 16 or 8 lanes of
consecutive codes; then the lanes are folded by the tree the output's kernel uses: outputs in tiles of two rows
and four columns, the remaining row and columns in their own kernels (see _fold).
2 bits run other kernels, not modelled: there the same terms are summed block by block (within 1e-6 of ORT's
largest output; measured 8.6e-7).
"""
from __future__ import annotations

from . import _compiled
from .xp import errstate


def _fma(xp, a, b, c):
    """float32 a * b + c rounded once: the product exact in float64, one add (ops.elementwise.fma32's emulation;
    a shared helper may not import a kernel family)."""
    return xp.add(xp.multiply(a, b, dtype=xp.float64), c, dtype=xp.float64).astype(xp.float32)


def quantize_a_blocks(xp, A, blocks, block_size):
    """Codes (M, blocks, block_size) as exact float32 integers and the scales sa (M, blocks), float32."""
    f = xp.float32
    M, K = A.shape
    padded = xp.zeros((M, blocks * block_size), dtype=f)
    padded[:, :K] = A
    padded = padded.reshape(M, blocks, block_size)
    amax = xp.max(xp.abs(padded), axis=2)
    scale_a = amax / f(127)
    with errstate(xp, over="ignore", invalid="ignore"):  # (a denormal amax: 127 / amax is inf)
        inverse = xp.where(amax != 0, f(127) / xp.where(amax != 0, amax, f(1)), f(0)).astype(f)
        codes = xp.rint(padded * inverse[:, :, None])
    # _mm512_cvtps_epi32 turns what is not finite into 0x80000000, whose low byte (the int8 code) is 0.
    return xp.where(xp.isfinite(codes), codes, f(0)), scale_a


def _four(start):
    return [start, start + 1, start + 2, start + 3]


def _group_lanes(block_size):
    """(blocks per 128 values of K, the 16 lanes' offsets within those 128 (16, 8), each lane's block) of the
    4-bit kernel for this block size (sqnbitgemm_kernel_avx512_int8_blklen{16,32,64,128}.h)."""
    lanes, blocks_of = [], []
    for half in range(4):  # each 128-bit quarter of the register: lanes 4 * half + i
        for i in range(4):
            if block_size == 16:  # blocks 0 0 4 4 1 1 5 5 ...: 16-bit pair sums of two 64-value halves
                base = 16 * half + 4 * i if i < 2 else 64 + 16 * half + 4 * (i - 2)
                offsets = _four(base) + _four(base + 8)
            elif block_size == 32:  # blocks 0 0 2 2 0 0 2 2 1 1 3 3 ...
                word = 4 * half + i % 2
                base = 0 if i < 2 else 64
                offsets = _four(base + 4 * word) + _four(base + 4 * (word + 2))
            elif block_size == 64:  # blocks 0 1 0 1 ...
                word = 4 * half + i // 2
                offsets = _four(64 * (i % 2) + 4 * word) + _four(64 * (i % 2) + 4 * (word + 2))
            else:  # 128 and more: one block per 128, lane j = codes 4j.. and 64 + 4j..
                offsets = _four(16 * half + 4 * i) + _four(64 + 16 * half + 4 * i)
            lanes.append(offsets)
            blocks_of.append(offsets[0] // block_size if block_size < 128 else 0)
    return max(1, 128 // block_size), lanes, blocks_of


def _fold(xp, acc, M, N, pairs_reduce=True):
    """The lanes (16 or 8, M, N) folded as each output's kernel does: 8 lanes, columns in fours
    (((l0+l1)+l2)+l3) + (((l4+l5)+l6)+l7), other columns ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)); 16 lanes,
    columns in fours of the last odd row (of every row where not `pairs_reduce`) FoldAccumulators' (s0+s2)+(s1+s3)
    with s_h = ((l4h+l4h+1)+l4h+2)+l4h+3, all others _mm512_reduce_add_ps' halving tree."""
    fours, pairs = N - N % 4, (M - M % 2 if pairs_reduce else 0)
    if acc.shape[0] == 8:
        y = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]))
        a = acc[:, :, :fours]
        y[:, :fours] = (((a[0] + a[1]) + a[2]) + a[3]) + (((a[4] + a[5]) + a[6]) + a[7])
        return y
    h = acc[:8] + acc[8:]
    q = h[:4] + h[4:]
    y = (q[0] + q[2]) + (q[1] + q[3])
    if pairs < M:
        a = acc[:, pairs:, :fours]
        s = [((a[4 * i] + a[4 * i + 1]) + a[4 * i + 2]) + a[4 * i + 3] for i in range(4)]
        y[pairs:, :fours] = (s[0] + s[2]) + (s[1] + s[3])
    return y


def _steps(xp, blocks, block_size):
    """The kernel's fused multiply-add steps in order: (offsets of each lane's codes in K (lanes, e), each lane's
    block (lanes,)). 128 values of K at a time in 16 lanes, then a tail of blocks in 16 or 8 lanes of consecutive
    codes (8: the 16 accumulators are first added in halves, MLAS's h_add_512)."""
    per_group, lanes, lane_block = _group_lanes(block_size)
    lanes, lane_block = xp.asarray(lanes), xp.asarray(lane_block)
    if block_size >= 128:  # every 128 values of a block, all lanes scaled by that block's sa * sb
        per_block = block_size // 128
        return [(lanes + 128 * chunk, xp.full(16, chunk // per_block)) for chunk in range(blocks * per_block)]
    groups = blocks // per_group
    steps = [(lanes + 128 * g, g * per_group + lane_block) for g in range(groups)]
    tail_lanes = 16 if block_size == 64 else 8
    width = block_size // tail_lanes
    consecutive = xp.arange(tail_lanes)[:, None] * width + xp.arange(width)[None, :]
    return steps + [(consecutive + block_size * b, xp.full(tail_lanes, b)) for b in range(groups * per_group, blocks)]


def _lanes(xp, codes_a, scale_a, q, scale_b, bits, block_size):
    """The folded lanes (M, N) of the 4- and 8-bit kernels (the same lanes; 8-bit blocks of 64 fold their tiles of
    two rows as the single row's)."""
    f = xp.float32
    M, blocks, _ = codes_a.shape
    N = q.shape[0]
    steps = _steps(xp, blocks, block_size)
    order = xp.concatenate([offsets.reshape(-1) for offsets, _ in steps])
    halve_at_end, pairs_reduce = block_size in (16, 32), not (bits == 8 and block_size == 64)
    if _compiled.enabled(xp) and M <= 4:  # (a few rows: the loop; more: NumPy's batched products are faster)
        y = xp.empty((M, N), dtype=f)
        lane_blocks = xp.zeros((len(steps), 16), dtype=xp.int64)
        for s, (_, blk) in enumerate(steps):
            lane_blocks[s, :blk.shape[0]] = blk
        _compiled.loops("matmul").int8_lanes(
            xp.ascontiguousarray(codes_a.reshape(M, -1)), xp.ascontiguousarray(q.reshape(N, -1)),
            order.astype(xp.int64), xp.ascontiguousarray(scale_a), xp.ascontiguousarray(scale_b),
            xp.asarray([o.shape[0] for o, _ in steps], dtype=xp.int64),
            xp.asarray([o.shape[1] for o, _ in steps], dtype=xp.int64), lane_blocks, halve_at_end, pairs_reduce,
            xp.empty(16, dtype=f), y)
        return y
    # The codes gathered once in the steps' order, K first, so each step reads one contiguous slice.
    a_t = codes_a.reshape(M, -1)[:, order].T
    b_t = xp.ascontiguousarray(q.reshape(N, -1)[:, order].T)
    acc = xp.zeros((16, M, N), dtype=f)
    start = 0
    for offsets, lane_blocks in steps:
        lanes, width = offsets.shape
        if lanes < acc.shape[0]:  # the tail's 8 lanes
            acc = acc[:8] + acc[8:]
        a = a_t[start:start + lanes * width].reshape(lanes, width, M).transpose(0, 2, 1)
        b = b_t[start:start + lanes * width].reshape(lanes, width, N).astype(f)
        start += lanes * width
        combined = scale_b[:, lane_blocks].T[:, None, :] * scale_a[:, lane_blocks].T[:, :, None]
        acc = _fma(xp, xp.matmul(a, b), combined, acc)  # the dots: exact integers
    if halve_at_end and acc.shape[0] == 16:  # (the halves are added even without a tail)
        acc = acc[:8] + acc[8:]
    return _fold(xp, acc, M, N, pairs_reduce=pairs_reduce)


def _blockwise(xp, codes_a, scale_a, codes_b, scale_b):
    """The scaled integer dots summed block by block (the 2- and 8-bit kernels' terms, not their order)."""
    f = xp.float32
    M, blocks, _ = codes_a.shape
    y = xp.zeros((M, codes_b.shape[0]), dtype=f)
    for b in range(blocks):
        y += (scale_a[:, b, None] * scale_b[None, :, b]) * (codes_a[:, b, :] @ codes_b[:, b, :].T)
    return y


def compint8_matmul(xp, A, q, scale_b, zp, bias, bits, block_size):
    """Y (M, N) float32 from A (M, K) float32, the unsigned codes q (N, blocks, block_size), scales (N, blocks)
    float32, integer zero points (N, blocks) and an optional float32 bias (N,)."""
    f = xp.float32
    blocks = q.shape[1]
    codes_a, scale_a = quantize_a_blocks(xp, A, blocks, block_size)
    # Exact in float32: |codes| <= 127, q <= 255, and a block's or a lane's dot stays below 2^24 for blocks up
    # to 512 (larger blocks: the 4-bit lanes hold at most 8 codes; the block-by-block sum is then a bound).
    if bits in (4, 8):
        y = _lanes(xp, codes_a, scale_a, q, scale_b, bits, block_size)
    else:
        y = _blockwise(xp, codes_a, scale_a, q.astype(f), scale_b)
    if bias is not None:
        y = y + bias.astype(f, copy=False)
    a_block_sum = scale_a * codes_a.sum(axis=2, dtype=f)
    b_block_sum = -(scale_b * zp.astype(f))
    zero_point_term = xp.zeros_like(y)
    for b in range(blocks):  # MLAS's SGEMM kernel: one fused multiply-add per block, in order
        zero_point_term = _fma(xp, a_block_sum[:, b, None], b_block_sum[None, :, b], zero_point_term)
    return y + zero_point_term


def compfp32_row(xp, a, W):
    """One row a (K,) @ W (N, K)^T as ORT 1.32's prepacked 4-bit float kernel (SQ4BitGemmM1Kernel_CompFp32,
    AVX-512): per output 16 lanes, lane j a chain of fused multiply-adds of W[n, k] * a[k] over k = j, j + 16, ...
    (K padded with zeros), folded as _fold folds a single row (columns in fours FoldAccumulators', the rest
    _mm512_reduce_add_ps'). W is the dequantized weight, float32."""
    f = xp.float32
    N, K = W.shape
    if _compiled.enabled(xp):
        y = xp.empty(N, dtype=f)
        _compiled.loops("matmul").compfp32_row(xp.ascontiguousarray(a, dtype=f), xp.ascontiguousarray(W, dtype=f),
                                               xp.empty(16, dtype=f), y)
        return y
    padded = -(-K // 16) * 16
    w = xp.zeros((N, padded), dtype=f)
    w[:, :K] = W
    x = xp.zeros(padded, dtype=f)
    x[:K] = a
    w = xp.ascontiguousarray(w.reshape(N, padded // 16, 16).transpose(1, 2, 0))  # (chunks, lane, N)
    x = x.reshape(padded // 16, 16)
    acc = xp.zeros((16, 1, N), dtype=f)
    for c in range(padded // 16):
        acc = _fma(xp, w[c][:, None, :], x[c][:, None, None], acc)
    return _fold(xp, acc, 1, N)[0]
