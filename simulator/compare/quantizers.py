"""The integer grid of a tensor as a comparison reads it: its quantizer, its scale (for errors in steps) and its
(lowest, highest) value."""
from __future__ import annotations

import numpy as np

from ..backend import to_host
from ..errors import SimulatorError
from ..tensor_stats import grid_of


def scale_of(interp, name: str, value):
    """The quantization scale of tensor `name` in `interp` (broadcasting against value), or None."""
    q = quantizer_of(interp, name, value)
    if q is None:
        return None
    scale = np.asarray(to_host(q.scale), np.float64)
    try:
        np.broadcast_shapes(scale.shape, np.shape(value))
    except ValueError:
        return None
    return scale


def tensor_grid(interp, name: str, value):
    """The (lowest, highest) value of tensor `name`'s grid in `interp`, broadcasting against value, or None."""
    return grid_of(_quantizer(interp, name, value), value)


def quantizer_of(interp, name: str, value):
    """The integer-grid quantizer of tensor `name` in `interp` for a value of this shape, or None."""
    q = _quantizer(interp, name, value)
    return None if q is None or q.scale is None else q


def _quantizer(interp, name: str, value):
    if name in getattr(interp, "param_quantizers", {}):
        q = interp.param_quantizers[name]
    elif name in interp.activation_encodings:
        if interp.activation_encodings[name].is_float:
            return None
        try:
            q = interp.quantizer_for(name, value)
        except SimulatorError:
            return None
    else:
        return None
    return q
