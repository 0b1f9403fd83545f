"""Signal processing: DFT (17, 20), STFT, HannWindow, HammingWindow, BlackmanWindow, MelWeightMatrix.

Complex values are carried as a trailing axis of size 2 (real, imaginary); a real signal has a trailing axis of 1.
Transforms run through xp.fft in the input's precision (complex64 for float32 and narrower, complex128 for
double) and are rounded once to the input's type.
"""
from __future__ import annotations

import math

from .dtypes import dtype_of
from .registry import register


def _complex(xp, x):
    # Single precision stays single (NumPy's FFT keeps complex64), double stays double.
    f, c = (xp.float32, xp.complex64) if x.dtype.itemsize <= 4 else (xp.float64, xp.complex128)
    real = x[..., 0].astype(f)
    if x.shape[-1] == 1:
        return real
    out = real.astype(c)
    out.imag = x[..., 1].astype(f)
    return out


def _dft(xp, x, dft_length, axis, inverse, onesided):
    axis = axis % x.ndim
    if axis == x.ndim - 1:
        raise ValueError("DFT: the axis cannot be the last (complex) axis")
    n = dft_length
    if n is None:
        n = 2 * (x.shape[axis] - 1) if inverse and onesided else x.shape[axis]
    sig = _complex(xp, x)
    if inverse:
        if onesided:
            return xp.fft.irfft(sig, n=n, axis=axis)[..., None].astype(x.dtype)
        y = xp.fft.ifft(sig, n=n, axis=axis)
    else:
        y = xp.fft.fft(sig, n=n, axis=axis)
        if onesided:
            index = [slice(None)] * y.ndim
            index[axis] = slice(0, n // 2 + 1)
            y = y[tuple(index)]
    return xp.stack([y.real, y.imag], axis=-1).astype(x.dtype)


@register("DFT", 17, host_inputs=(1,))
def DFT_17(xp, input, dft_length=None, *, axis=1, inverse=0, onesided=0):
    n = None if dft_length is None else int(dft_length.reshape(-1)[0])
    return _dft(xp, input, n, axis, inverse, onesided)


@register("DFT", 20, host_inputs=(1, 2))
def DFT(xp, input, dft_length=None, axis=None, *, inverse=0, onesided=0):
    n = None if dft_length is None else int(dft_length.reshape(-1)[0])
    a = -2 if axis is None else int(axis.reshape(-1)[0])
    return _dft(xp, input, n, a, inverse, onesided)


@register("STFT", 17, host_inputs=(1, 3))
def STFT(xp, signal, frame_step, window=None, frame_length=None, *, onesided=1):
    step = int(frame_step.reshape(-1)[0])
    if frame_length is not None:
        length = int(frame_length.reshape(-1)[0])
    elif window is not None:
        length = window.shape[0]
    else:
        length = signal.shape[-2]
    n_frames = 1 + (signal.shape[-2] - length) // step
    frames = xp.stack([signal[:, f * step:f * step + length] for f in range(n_frames)], axis=1)  # (B, F, L, c)
    if window is not None:
        frames = frames * window.reshape(1, 1, -1, 1).astype(frames.dtype)
    return _dft(xp, frames, length, 2, 0, onesided)


def _window(xp, size, periodic, output_datatype, coeffs):
    n = int(size.reshape(-1)[0])
    N = n if periodic else n - 1
    i = xp.arange(n, dtype=xp.float64)
    out = xp.zeros(n, dtype=xp.float64)
    for k, c in enumerate(coeffs):
        out = out + c * xp.cos(2 * math.pi * k * i / N) if k else out + c
    return out.astype(dtype_of(output_datatype))


@register("HannWindow", 17, host_inputs=(0,))
def HannWindow(xp, size, *, output_datatype=1, periodic=1):
    return _window(xp, size, periodic, output_datatype, (0.5, -0.5))


@register("HammingWindow", 17, host_inputs=(0,))
def HammingWindow(xp, size, *, output_datatype=1, periodic=1):
    a = 25.0 / 46.0
    return _window(xp, size, periodic, output_datatype, (a, -(1 - a)))


@register("BlackmanWindow", 17, host_inputs=(0,))
def BlackmanWindow(xp, size, *, output_datatype=1, periodic=1):
    return _window(xp, size, periodic, output_datatype, (0.42, -0.5, 0.08))


@register("MelWeightMatrix", 17, host_inputs=(0, 1, 2, 3, 4))
def MelWeightMatrix(xp, num_mel_bins, dft_length, sample_rate, lower_edge_hertz, upper_edge_hertz, *,
                    output_datatype=1):
    bins = int(num_mel_bins.reshape(-1)[0])
    n = int(dft_length.reshape(-1)[0])
    rate = int(sample_rate.reshape(-1)[0])
    lo = float(lower_edge_hertz.reshape(-1)[0])
    hi = float(upper_edge_hertz.reshape(-1)[0])
    n_spec = n // 2 + 1
    lo_mel = 2595 * math.log1p(lo / 700) / math.log(10)
    hi_mel = 2595 * math.log1p(hi / 700) / math.log(10)
    step = (hi_mel - lo_mel) / (bins + 2)
    points = []
    for k in range(bins + 2):
        hz = 700 * math.expm1((k * step + lo_mel) / 2595 * math.log(10))
        points.append(int(((n + 1) * hz) // rate))
    out = [[0.0] * bins for _ in range(n_spec)]
    for i in range(bins):
        left, center, right = points[i], points[i + 1], points[i + 2]
        if center == left:
            out[center][i] = 1.0
        else:
            for j in range(left, center + 1):
                out[j][i] = (j - left) / (center - left)
        if right > center:
            for j in range(center, right):
                out[j][i] = (right - j) / (right - center)
    return xp.asarray(out, dtype=xp.float64).astype(dtype_of(output_datatype))
