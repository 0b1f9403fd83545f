"""All quantization math: AIMET-exact fake quantization (quantize-dequantize) in float32.

The numeric contract (docs/quantization.md) reproduces AIMET QuantSim's CPU kernel bit for bit:

    v = x / scale - offset        # float32 true division, then subtraction (offset <= 0, unsigned grid)
    q = round(v)                  # half away from zero (AIMET) or half to even (ONNX QuantizeLinear)
                                  # (mode "onnxruntime_qdq": q = rint(x / scale) - offset, ONNX Runtime's order)
    q = clip(q, 0, 2**bw - 1)     # same as AIMET's clamp of x to [min, max] for every AIMET encoding
    y = scale * (q + offset)      # float32

Every step stays float32; the offset is subtracted before rounding (that matters for 16-bit grids).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from functools import partial

import numpy as np

from .backend import compiled_enabled, elementwise_kernel, unwrap

HALF_AWAY_FROM_ZERO = "half_away_from_zero"
HALF_TO_EVEN = "half_to_even"
# ONNX Runtime's QuantizeLinear/DequantizeLinear pair (MLAS, CPU): q = saturate(rint(x / scale) + zero_point),
# y = (q - zero_point) * scale, all float32. Ties go to even and rounding comes BEFORE the zero point is added
# (AIMET subtracts its offset first); NaN saturates to the grid's low end as MLAS's max/min do.
ONNXRUNTIME_QDQ = "onnxruntime_qdq"
ROUNDING_MODES = (HALF_AWAY_FROM_ZERO, HALF_TO_EVEN, ONNXRUNTIME_QDQ)


class Granularity(str, Enum):
    PER_TENSOR = "per_tensor"
    PER_CHANNEL = "per_channel"
    PER_BLOCK = "per_block"  # LPBQ is per-block once its two scales are multiplied


@dataclass(frozen=True)
class Encoding:
    """One tensor's encoding as a file states it, independent of the file's version.

    scale and offset are float32 arrays in AIMET's unsigned convention (q in [0, 2**bw-1], offset <= 0).
    Per-channel: 1-D, one entry per channel along `axis` (None: decided by the consumer op).
    Per-block: the scale's full-rank shape (the tensor's shape with the block axis divided by
    block_size), or flat with `block_axis`/`axis` to be laid out once the tensor's shape is known.
    """

    name: str
    dtype: str  # "int" or "float"
    bitwidth: int
    scale: np.ndarray | None = None
    offset: np.ndarray | None = None
    symmetric: bool = False
    granularity: Granularity = Granularity.PER_TENSOR
    axis: int | None = None
    block_axis: int | None = None
    block_size: int | None = None
    float_format: str = "float16"  # for dtype "float": float16 or bfloat16
    version: str = ""
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def is_float(self) -> bool:
        return self.dtype == "float"


def round_half_away_from_zero(xp, v):
    """C roundf(): ties away from zero. floor(|v|) + (frac >= 0.5) is exact; trunc(v + 0.5) is not."""
    a = xp.abs(v)
    r = xp.floor(a)
    r += (a - r) >= 0.5
    return xp.copysign(r, v)


# The float32 just below one half. floor(v + JUST_BELOW_HALF) rounds every float32 v in [0, 2^24] half
# up, exactly: v = k + 0.5 reaches k + 1 (the sum rounds up), and no v below k + 0.5 does (checked
# on every float32 of that range). floor(v + 0.5) is not exact: it sends 0.49999997 to 1.
JUST_BELOW_HALF = np.nextafter(np.float32(0.5), np.float32(0))


def _round_grid(xp, v, rounding: str):
    """Round, in place, values that are clipped to [0, qmax] (qmax < 2^24) right after.

    For v >= 0, half-up equals half away from zero; for v < 0 both end at 0 after the clip, so the
    cheaper half-up serves (and keeps NaN as NaN, +inf as +inf).
    """
    if rounding == HALF_TO_EVEN:
        return xp.rint(v, out=v)
    v += JUST_BELOW_HALF
    return xp.floor(v, out=v)


@dataclass(frozen=True)
class Quantizer:
    """An encoding bound to a tensor: scale and offset already shaped to broadcast against it."""

    encoding: Encoding
    scale: np.ndarray | None
    offset: np.ndarray | None
    qmax: float
    rounding: str = HALF_AWAY_FROM_ZERO

    def __call__(self, xp, x):
        return fake_quantize(xp, x, self)

    def to(self, xp) -> "Quantizer":
        """The same quantizer with its arrays on xp's device."""
        if self.scale is None or isinstance(self.scale, xp.ndarray):
            return self
        return Quantizer(self.encoding, xp.asarray(self.scale), xp.asarray(self.offset), self.qmax, self.rounding)


def fake_quantize(xp, x, quantizer: Quantizer):
    """Quantize-dequantize x with the bound quantizer; returns a new float32 array."""
    enc = quantizer.encoding
    if enc.is_float:
        if enc.bitwidth >= 32:
            return x
        if enc.float_format == "bfloat16":
            import ml_dtypes  # noqa: PLC0415 - only for bfloat16 encodings

            return xp.asarray(x).astype(ml_dtypes.bfloat16).astype(x.dtype)
        # A plain float32 -> float16 (round to nearest even) -> float32 round trip, as AIMET does.
        return x.astype(xp.float16).astype(x.dtype)
    if enc.bitwidth > 24:
        return _fake_quantize_wide(xp, x, quantizer)
    scale, offset = quantizer.scale, quantizer.offset
    if x.dtype != xp.float32:  # e.g. a float16 tensor on an integer grid: compute in float32, keep its type
        return fake_quantize(xp, x.astype(xp.float32), quantizer).astype(x.dtype)
    if x.ndim == 0:  # ufuncs on 0-d arrays return scalars, which `out=` cannot take
        return fake_quantize(xp, x.reshape(1), quantizer).reshape(())
    xp = unwrap(xp)  # quantization is exact elementwise math: no accumulation wrapper needed
    if xp is not np and quantizer.rounding != ONNXRUNTIME_QDQ:
        return _cuda_kernel(xp, quantizer.rounding)(x, scale, offset, np.float32(quantizer.qmax))
    if scale.ndim == 0 and quantizer.rounding != ONNXRUNTIME_QDQ and compiled_enabled(xp):
        return _run_grid(x, *_grid_args(quantizer))
    if xp is np and scale.ndim == 0 and x.size > 2 * _CHUNK and x.flags.c_contiguous:
        # A large tensor a chunk at a time: the passes below then run in cache, not in memory.
        out = np.empty_like(x)
        src, dst = x.reshape(-1), out.reshape(-1)
        for start in range(0, src.size, _CHUNK):
            _fake_quantize_into(np, src[start:start + _CHUNK], quantizer, dst[start:start + _CHUNK])
        return out
    return _fake_quantize_into(xp, x, quantizer, None)


_CHUNK = 1 << 20  # elements (4 MiB of float32)
# np.clip's own ufunc, called without np.clip's Python wrapper (the same bits; a small tensor's quantizer is
# bound by calls, not by arithmetic).
_clip = getattr(np, "_core", getattr(np, "core", None)).umath.clip


def _fake_quantize_into(xp, x, quantizer: Quantizer, out):
    """The integer-grid steps on float32 x, into `out` (a new array when None), which is returned."""
    scale, offset = quantizer.scale, quantizer.offset
    v = xp.divide(x, scale, out=out)  # true float32 division: a reciprocal multiply differs in ties
    if quantizer.rounding == ONNXRUNTIME_QDQ:
        xp.rint(v, out=v)  # round x / scale first (to even), then shift by the zero point, as MLAS does
        v -= offset
        q = xp.fmax(v, 0, out=v)  # fmax: NaN -> 0, the low end, like MLAS's _mm_max_ps
        xp.minimum(q, quantizer.qmax, out=q)
        q += offset
        q *= scale
        return q
    v -= offset
    q = _round_grid(xp, v, quantizer.rounding)
    _clip(q, 0, quantizer.qmax, out=q)  # xp is NumPy here (the GPU runs its fused kernel)
    q += offset
    q *= scale
    return q


# The same steps as fake_quantize, fused into one CUDA kernel. No step can contract into a fused
# multiply-add (a division, then a subtraction; an addition, then a multiplication), and CuPy compiles
# with IEEE division, so the bits equal the NumPy path's. Comparisons keep NaN as NaN like np.clip.
_CUPY_SOURCE = """
float v = x / scale;
v = v - offset;
float q = %s;
q = (q < 0.0f) ? 0.0f : ((q > qmax) ? qmax : q);
y = (q + offset) * scale;
"""
_CUPY_ROUNDING = {HALF_AWAY_FROM_ZERO: f"floorf(v + {float(JUST_BELOW_HALF)!r}f)",  # half up, as _round_grid
                  HALF_TO_EVEN: "rintf(v)"}


def _grid_args(quantizer: Quantizer) -> tuple:
    """(the compiled grid pass, its float32 parameters, half up?) of a per-tensor integer grid
    (simulator/_jit_quantization.py: the same operations as _fake_quantize_into)."""
    from ._jit_quantization import grid  # noqa: PLC0415 - Numba: imported when first enabled

    params = np.array([quantizer.scale, quantizer.offset, quantizer.qmax, JUST_BELOW_HALF], np.float32)
    return grid, params, quantizer.rounding != HALF_TO_EVEN


def _run_grid(x, grid, params, half_up):
    """The compiled grid pass over float32 x of at least one dimension, into a new array NumPy allocates (so
    that it owns its data)."""
    x = np.ascontiguousarray(x)
    out = np.empty_like(x)
    grid(x, out, params, half_up)
    return out


def quantize_function(xp, quantizer: Quantizer):
    """fake_quantize(xp, ·, quantizer) as a function of x alone, with what depends only on the quantizer
    decided once: for a per-tensor integer grid on the host, a float32 tensor of at least one dimension and up
    to two chunks runs the seven passes of _fake_quantize_into directly (the same ufuncs on the same operands:
    the same bits); anything else goes through fake_quantize. A run quantizes many small activations, each
    of which would otherwise pay more for fake_quantize's checks than for its arithmetic."""
    enc = quantizer.encoding
    if (enc.is_float or enc.bitwidth > 24 or unwrap(xp) is not np or quantizer.rounding == ONNXRUNTIME_QDQ
            or quantizer.scale.ndim != 0):
        return partial(fake_quantize, xp, quantizer=quantizer)
    if compiled_enabled(xp):
        args, float32 = _grid_args(quantizer), np.dtype(np.float32)
        return lambda x: _run_grid(x, *args) if x.dtype is float32 and x.ndim else fake_quantize(xp, x, quantizer)
    # Ufunc operands as 0-d float32 arrays: positional `out` and 0-d operands are the cheapest calls (np.clip's
    # bounds as Python numbers cost three times as much); the values are those fake_quantize uses.
    scale, offset = quantizer.scale, quantizer.offset
    zero, qmax, below_half = (np.array(v, np.float32) for v in (0, quantizer.qmax, JUST_BELOW_HALF))
    half_up = quantizer.rounding != HALF_TO_EVEN
    divide, subtract, add, multiply, floor, rint = np.divide, np.subtract, np.add, np.multiply, np.floor, np.rint
    clip, float32, limit = _clip, np.dtype(np.float32), 2 * _CHUNK

    def quantize(x):
        if x.dtype is not float32 or not x.ndim or x.size > limit:
            return fake_quantize(xp, x, quantizer)
        v = divide(x, scale)
        subtract(v, offset, v)
        if half_up:  # _round_grid's two rules
            add(v, below_half, v)
            floor(v, v)
        else:
            rint(v, v)
        clip(v, zero, qmax, v)
        add(v, offset, v)
        multiply(v, scale, v)
        return v
    return quantize


def _cuda_kernel(xp, rounding: str):
    return elementwise_kernel(xp, "float32 x, float32 scale, float32 offset, float32 qmax", "float32 y",
                              _CUPY_SOURCE % _CUPY_ROUNDING[rounding], f"simulator_fake_quantize_{rounding}")


def quantize_linear(x, scale, zero_point, lo, hi) -> np.ndarray:
    """ONNX Runtime's QuantizeLinear (MLAS, CPU) on the host, as integer codes held in float64:
    saturate(rint(x / scale) + zero_point) with x / scale a float32 division, ties to even and NaN to the low
    end `lo`. `scale` and `zero_point` broadcast against x. Rounding mode ONNXRUNTIME_QDQ fake-quantizes with
    the same codes (_fake_quantize_into, in place on an unsigned grid); ops/quantized.py is the ONNX op itself,
    on any array module and target type."""
    v = np.rint(np.divide(np.asarray(x).astype(np.float32), np.asarray(scale, np.float32)))
    v = v.astype(np.float64) + zero_point
    return np.clip(np.nan_to_num(v, nan=lo), lo, hi)


def _fake_quantize_wide(xp, x, quantizer: Quantizer):
    """int32-style encodings (2.x bias): float32 cannot hold the grid, so compute in float64 as a
    QuantizeLinear/DequantizeLinear pair would, and round to float32 once at the end."""
    scale = quantizer.scale.astype(xp.float64)
    offset = quantizer.offset.astype(xp.float64)
    v = x.astype(xp.float64) / scale
    if quantizer.rounding == ONNXRUNTIME_QDQ:
        q = xp.fmax(xp.rint(v) - offset, 0)
    else:
        v = v - offset
        q = xp.rint(v) if quantizer.rounding == HALF_TO_EVEN else round_half_away_from_zero(xp, v)
    q = xp.clip(q, 0, quantizer.qmax)
    return ((q + offset) * scale).astype(x.dtype)


def bind(encoding: Encoding, shape: tuple[int, ...], axis: int | None = None,
         rounding: str = HALF_AWAY_FROM_ZERO) -> Quantizer:
    """Shape the encoding's scale/offset to broadcast against a tensor of `shape`.

    `axis` is the channel axis for per-channel encodings whose file does not state it.
    Raises ValueError with the reason when the encoding does not fit the tensor.
    """
    if rounding not in ROUNDING_MODES:
        raise ValueError(f"rounding must be one of {ROUNDING_MODES}, got {rounding!r}")
    if encoding.is_float:
        return Quantizer(encoding, None, None, 0.0, rounding)
    scale = np.asarray(encoding.scale, dtype=np.float32)
    offset = np.asarray(encoding.offset, dtype=np.float32)
    qmax = float(2 ** encoding.bitwidth - 1)
    rank = len(shape)
    if encoding.granularity == Granularity.PER_TENSOR:
        if scale.size != 1:
            raise ValueError(f"per-tensor encoding has {scale.size} scales")
        return Quantizer(encoding, scale.reshape(()), offset.reshape(()), qmax, rounding)
    if encoding.granularity == Granularity.PER_CHANNEL:
        ax = encoding.axis if encoding.axis is not None else axis
        if ax is None:
            raise ValueError("per-channel encoding without an axis, and none can be derived from its consumer")
        if not -rank <= ax < rank:
            raise ValueError(f"channel axis {ax} is out of range for a tensor of shape {tuple(shape)}")
        ax %= rank
        if scale.size != shape[ax] and encoding.extra.get("flat_blocks"):
            return bind(flat_blocks_as_per_block(encoding, shape, ax), shape, ax, rounding)
        if scale.size != shape[ax]:
            raise ValueError(
                f"{scale.size} per-channel scales do not match dimension {ax} (size {shape[ax]}) of shape {tuple(shape)}")
        bshape = [1] * rank
        bshape[ax] = shape[ax]
        return Quantizer(encoding, scale.reshape(bshape), offset.reshape(bshape), qmax, rounding)
    return _bind_per_block(encoding, scale, offset, tuple(shape), axis, qmax, rounding)


def flat_blocks_as_per_block(encoding: Encoding, shape: tuple[int, ...], channel_axis: int) -> Encoding:
    """A 0.6.1 list of n_blocks x n_channels entries as the per-block encoding it is.

    0.6.1 writes a blockwise weight as one flat list in the weight's own axis order: [in/block, out] for
    a MatMul weight [in, out], [out, in/block, 1, 1] for a Conv weight [out, in, kh, kw]. The file states
    no block size: it follows from the weight's shape (the blocks run along the input-channel axis).
    Raises ValueError when the list fits no whole number of blocks.
    """
    rank = len(shape)
    ch = channel_axis % rank
    block_axis = 1 if ch == 0 else ch - 1
    n = np.asarray(encoding.scale).size
    n_blocks = n // shape[ch] if rank >= 2 and n % shape[ch] == 0 else 0
    if not n_blocks or shape[block_axis] % n_blocks:
        raise ValueError(f"{n} scales are neither one per channel (dimension {ch}, size {shape[ch]}) nor whole "
                         f"blocks along dimension {block_axis} (size {shape[block_axis] if rank >= 2 else '-'}) "
                         f"for each channel, for shape {tuple(shape)}")
    block_shape = [1] * rank
    block_shape[ch], block_shape[block_axis] = shape[ch], n_blocks
    scale = np.asarray(encoding.scale, np.float32).reshape(block_shape)
    offset = np.broadcast_to(np.asarray(encoding.offset, np.float32).reshape(-1), (n,)).reshape(block_shape)
    return replace(encoding, granularity=Granularity.PER_BLOCK, scale=scale, offset=offset, axis=None,
                   block_axis=block_axis, block_size=shape[block_axis] // n_blocks,
                   extra={k: v for k, v in encoding.extra.items() if k != "flat_blocks"})


def _bind_per_block(encoding, scale, offset, shape, channel_axis, qmax, rounding) -> Quantizer:
    """Per-block (and LPBQ): lay the block scales out at full rank, then repeat them along each axis
    that holds several blocks (once, at load: per-block encodings are for weights)."""
    rank = len(shape)
    bs = encoding.block_size
    if not bs or bs < 1:
        raise ValueError("per-block encoding without a positive block_size")
    if scale.ndim != rank:
        ch = encoding.axis if encoding.axis is not None else channel_axis
        if ch is None or rank < 2:
            raise ValueError("per-block encoding: cannot tell the channel axis (no consumer op that sets it)")
        ch %= rank
        block_axis = encoding.block_axis
        if block_axis is None:  # the weight's input-channel axis: Conv (O, I, ...) -> 1, (K, N) -> 0
            block_axis = 1 if ch == 0 else ch - 1
        block_axis %= rank
        if shape[block_axis] % bs:
            raise ValueError(f"dimension {block_axis} (size {shape[block_axis]}) is not a multiple of block_size {bs}")
        block_shape = [1] * rank
        block_shape[ch] = shape[ch]
        block_shape[block_axis] = shape[block_axis] // bs
        if scale.size != int(np.prod(block_shape)):
            raise ValueError(f"{scale.size} block scales do not fit shape {shape} with block_size {bs}")

        def layout(a):
            if a.size == 1:
                return np.broadcast_to(a.reshape(()), block_shape)
            if encoding.extra.get("transposed_blocks") and block_axis < ch:
                # 1.0.0 writes Gemm/MatMul blocks in (out, in) order, the transpose of the weight's.
                return a.reshape(block_shape[ch], block_shape[block_axis]).T.reshape(block_shape)
            return a.reshape(block_shape)

        scale, offset = layout(scale), layout(offset)
    offset = np.broadcast_to(offset, scale.shape)
    for ax in range(rank):
        if scale.shape[ax] not in (1, shape[ax]):
            if shape[ax] % scale.shape[ax]:
                raise ValueError(f"block scales of shape {scale.shape} do not tile tensor shape {shape}")
            reps = shape[ax] // scale.shape[ax]
            scale, offset = np.repeat(scale, reps, axis=ax), np.repeat(offset, reps, axis=ax)
    return Quantizer(encoding, np.ascontiguousarray(scale, dtype=np.float32),
                     np.ascontiguousarray(offset, dtype=np.float32), qmax, rounding)
