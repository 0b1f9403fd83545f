"""Random generators: RandomUniform, RandomNormal, their *Like forms, Bernoulli, Multinomial.

Outputs are random by definition: a `seed` attribute seeds a Mersenne Twister (the array module's legacy
RandomState) so that a run is reproducible on one device; without a seed each call draws fresh values."""
from __future__ import annotations

from .dtypes import dtype_of
from .registry import register


def _rng(xp, seed):
    return xp.random.RandomState(None if seed is None else int(seed) & 0xFFFFFFFF)


@register("RandomUniform", 1, 22)
def RandomUniform(xp, *, dtype=1, high=1.0, low=0.0, seed=None, shape):
    return _rng(xp, seed).uniform(low, high, tuple(shape)).astype(dtype_of(dtype))


@register("RandomNormal", 1, 22)
def RandomNormal(xp, *, dtype=1, mean=0.0, scale=1.0, seed=None, shape):
    return _rng(xp, seed).normal(mean, scale, tuple(shape)).astype(dtype_of(dtype))


@register("RandomUniformLike", 1, 22)
def RandomUniformLike(xp, input, *, dtype=None, high=1.0, low=0.0, seed=None):
    out = dtype_of(dtype) if dtype is not None else input.dtype
    return _rng(xp, seed).uniform(low, high, input.shape).astype(out)


@register("RandomNormalLike", 1, 22)
def RandomNormalLike(xp, input, *, dtype=None, mean=0.0, scale=1.0, seed=None):
    out = dtype_of(dtype) if dtype is not None else input.dtype
    return _rng(xp, seed).normal(mean, scale, input.shape).astype(out)


@register("Bernoulli", 15, 22)
def Bernoulli(xp, input, *, dtype=None, seed=None):
    out = dtype_of(dtype) if dtype is not None else input.dtype
    return (_rng(xp, seed).uniform(0.0, 1.0, input.shape) < input).astype(out)


@register("Multinomial", 7, 22)
def Multinomial(xp, input, *, dtype=6, sample_size=1, seed=None):
    rng = _rng(xp, seed)
    logits = input.astype(xp.float64)
    p = xp.exp(logits - logits.max(axis=1, keepdims=True))
    cdf = xp.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    u = rng.uniform(0.0, 1.0, (input.shape[0], sample_size))
    out = (u[:, :, None] > cdf[:, None, :]).sum(axis=2)
    return xp.minimum(out, input.shape[1] - 1).astype(dtype_of(dtype))
