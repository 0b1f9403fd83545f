"""Losses: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (class axis 1, optional class weights,
ignore_index, reduction none / sum / mean; a weighted mean divides by the sum of the gathered weights)."""
from __future__ import annotations

from .registry import register


def _nll(xp, logp, target, weight, reduction, ignore_index):
    C = logp.shape[1]
    t = target.astype(xp.int64)
    ignored = (t == ignore_index) if ignore_index is not None else xp.zeros(t.shape, dtype=bool)
    safe = xp.where(ignored, 0, xp.clip(t, 0, C - 1))
    picked = xp.take_along_axis(logp, xp.expand_dims(safe, 1), axis=1).squeeze(1)
    loss = xp.where(ignored, logp.dtype.type(0), -picked)
    w = None
    if weight is not None:
        w = xp.where(ignored, weight.dtype.type(0), xp.take(weight, safe)).astype(logp.dtype)
    elif ignore_index is not None:
        w = (~ignored).astype(logp.dtype)
    if weight is not None:
        loss = loss * w
    if reduction == "none":
        return loss.astype(logp.dtype)
    if reduction == "sum":
        return xp.asarray(loss.sum(), dtype=logp.dtype)
    if reduction == "mean":
        if w is not None:
            return xp.asarray(loss.sum() / w.sum(), dtype=logp.dtype)
        return xp.asarray(loss.mean(), dtype=logp.dtype)
    raise ValueError(f"reduction must be none, sum or mean, not {reduction!r}")


@register("NegativeLogLikelihoodLoss", 12, 13, 22)
def NegativeLogLikelihoodLoss(xp, input, target, weight=None, *, ignore_index=None, reduction="mean"):
    return _nll(xp, input, target, weight, reduction, ignore_index)


@register("SoftmaxCrossEntropyLoss", 12, 13)
def SoftmaxCrossEntropyLoss(xp, scores, labels, weights=None, *, ignore_index=None, reduction="mean"):
    x = scores
    shifted = x - x.max(axis=1, keepdims=True)
    e = xp.exp(shifted)
    log_prob = xp.log(e / e.sum(axis=1, keepdims=True)).astype(x.dtype)
    return _nll(xp, log_prob, labels, weights, reduction, ignore_index), log_prob
