"""Attribute and host-input values as the kernels use them: lists of Python ints, positive axes."""
from __future__ import annotations


def ints(v):
    """A host shape / axes input or an ints attribute as a list of Python ints (None stays None)."""
    if v is None:
        return None
    if hasattr(v, "tolist"):
        if getattr(v, "ndim", None) == 1 and v.dtype.kind in "iu":
            return v.tolist()  # Python ints already (a shape tensor: this runs on every Reshape)
        v = v.tolist()
    if isinstance(v, (int, float)):
        return [int(v)]
    return [int(a) for a in v]


def ints_or_default(v, n, default):
    """An ints attribute (strides, pads, dilations), or n times its default when absent or empty."""
    return [int(a) for a in v] if v else [default] * n


def positive_axis(axis, rank):
    """A possibly negative axis counted from 0."""
    return axis + rank if axis < 0 else axis
