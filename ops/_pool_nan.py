"""MaxPool over windows holding NaN, in the order ONNX Runtime's CPU kernels compare (docs/errors.md).

A NaN compares false, so which element a max keeps depends on the order and the form of each compare.
ONNX Runtime picks one of four kernels (onnxruntime/core/providers/cpu/nn/pool.cc, core/mlas/lib/pooling.cpp):
* MaxPool*DTask (dilations, the Indices output, storage_order 1, dtypes other than float32): the first
  element inside the input is taken whatever it is, then x replaces y only when x > y;
* MLAS's vectorised 2-D/3-D kernels (float32, last stride 1 or 2, kernels up to 32): a max down the
  window's leading axes per input column (SSE maxps, `y > x ? y : x`, on columns in groups of four;
  std::max, `y < x ? x : y`, on the remaining columns), then maxps across the kernel width;
* MLAS's generic kernels (the other float32 cases): std::max from the lowest float over the window;
* MLAS's global kernel (kernel = input, strides 1, no pads): not reproduced, the generic rule is used.
MaxPool calls these only when its np.maximum result holds a NaN: without one every order gives the same bits.
"""
from __future__ import annotations

import itertools

VECTOR_BUFFER = 2048 - 3  # MLAS's reduction buffer: input width plus pads must fit


def _maxps(xp, y, x):
    return xp.where(y > x, y, x)  # SSE maxps: x when either is NaN


def _std_max(xp, y, x):
    return xp.where(y < x, x, y)  # std::max: y when either is NaN


def max_over_taps(xp, views, valid, first_wins: bool, dtype):
    """(max, index of the tap kept) over taps in row-major kernel order; valid[k]: tap k is inside the input.
    first_wins: MaxPool*DTask (the first valid tap is taken, NaN or not); else the generic MLAS rule."""
    Y = xp.full(views[0].shape, xp.finfo(dtype).min, dtype=dtype)
    arg = xp.zeros(views[0].shape, dtype=xp.int64)
    started = xp.zeros(views[0].shape, dtype=xp.bool_)
    for k, (v, m) in enumerate(zip(views, valid)):
        take = m & (~started | (v > Y)) if first_wins else m & (v > Y)
        Y = xp.where(take, v, Y)
        arg = xp.where(take, xp.int64(k), arg)
        started = started | m
    return Y, arg


def uses_vector_kernel(X, kernel, strides, begin, end) -> bool:
    n = len(kernel)
    is_global = list(kernel) == list(X.shape[2:]) and all(s == 1 for s in strides) and not any(begin + end)
    return (n >= 2 and not is_global and strides[-1] <= 2 and all(k <= 32 for k in kernel)
            and begin[-1] + end[-1] + X.shape[-1] <= VECTOR_BUFFER)


def vector_kernel(xp, X, kernel, strides, begin, out):
    """MLAS's MlasPool2DVectorKernel / MlasPool3DVectorKernel for MaximumPooling, compare for compare."""
    n, dtype = len(kernel), X.dtype
    lowest = xp.finfo(dtype).min
    width = X.shape[-1]
    in_groups_of_four = (xp.arange(width) < 4 * (width // 4)).reshape((1,) * (n + 1) + (width,))
    # 1. Down the leading axes (planes, rows) of each window, per input column.
    rows = [xp.arange(out[d]) * strides[d] - begin[d] for d in range(n - 1)]
    R = xp.full(X.shape[:2] + tuple(out[:n - 1]) + (width,), lowest, dtype=dtype)
    started = xp.zeros((1, 1) + tuple(out[:n - 1]) + (1,), dtype=xp.bool_)
    for tap in itertools.product(*(range(k) for k in kernel[:n - 1])):  # row-major, as MLAS walks them
        index = [r + t for r, t in zip(rows, tap)]
        inside = [(i >= 0) & (i < X.shape[2 + d]) for d, i in enumerate(index)]
        grid = xp.ix_(*[xp.clip(i, 0, X.shape[2 + d] - 1) for d, i in enumerate(index)])
        v = X[(slice(None), slice(None)) + tuple(grid) + (slice(None),)]
        m = inside[0].reshape((1, 1, -1) + (1,) * (n - 1))
        for d in range(1, n - 1):
            m = m & inside[d].reshape((1, 1) + (1,) * d + (-1,) + (1,) * (n - 1 - d))
        combined = xp.where(in_groups_of_four, _maxps(xp, R, v), _std_max(xp, R, v))
        if n == 2:  # 2-D: the first row inside the input is loaded as it is
            combined = xp.where(started, combined, v)
        R = xp.where(m, combined, R)
        started = started | m
    # 2. Across the kernel width, on a buffer padded with the lowest float.
    right = max(0, (out[-1] - 1) * strides[-1] + kernel[-1] - begin[-1] - width) + 3
    pad = [(0, 0)] * (R.ndim - 1) + [(begin[-1], right)]
    B = xp.pad(R, pad, mode="constant", constant_values=lowest)
    starts = xp.arange(out[-1]) * strides[-1]
    Y = B[..., starts]
    for kw in range(1, kernel[-1]):
        Y = _maxps(xp, Y, B[..., starts + kw])
    return Y
