"""ai.onnx.ml ops exercised by onnx's node suite: LabelEncoder, Binarizer, ArrayFeatureExtractor, TreeEnsemble.

These run on the host with Python containers where the op is a lookup (string keys included)."""
from __future__ import annotations

import math

from .registry import register
from .xp import object_array

_ML = "ai.onnx.ml"


def _label_encoder(xp, X, keys, values, default, out_dtype):
    table = dict(zip(keys, values))
    flat = [table.get(k, default) for k in X.reshape(-1).tolist()]
    if out_dtype == object:
        return object_array(X, flat, X.shape)
    return xp.asarray(flat, dtype=out_dtype).reshape(X.shape)


def _tensor_list(t):
    return None if t is None else t.reshape(-1).tolist()


@register("LabelEncoder", 1, 2, 4, domain=_ML)
def LabelEncoder(xp, X, *, default_float=-0.0, default_int64=-1, default_string="_Unused", default_tensor=None,
                 keys_floats=None, keys_int64s=None, keys_strings=None, keys_tensor=None, values_floats=None,
                 values_int64s=None, values_strings=None, values_tensor=None, classes_strings=None):
    keys = keys_floats or keys_int64s or keys_strings or _tensor_list(keys_tensor)
    if values_tensor is not None:
        values, default = _tensor_list(values_tensor), default_tensor.reshape(-1).tolist()[0]
        dtype = values_tensor.dtype
        if dtype.kind in "OUS":
            dtype = object
    elif values_floats:
        values, default, dtype = values_floats, default_float, xp.float32
    elif values_int64s:
        values, default, dtype = values_int64s, default_int64, xp.int64
    else:
        values, default, dtype = values_strings, default_string, object
    return _label_encoder(xp, X, keys, values, default, dtype)


@register("Binarizer", 1, domain=_ML)
def Binarizer(xp, X, *, threshold=0.0):
    return (X > X.dtype.type(threshold)).astype(X.dtype)


@register("ArrayFeatureExtractor", 1, domain=_ML)
def ArrayFeatureExtractor(xp, X, Y):
    index = Y.reshape(-1).astype(xp.int64)
    out = xp.take(X, index, axis=-1)
    return out.reshape((1, index.size) if X.ndim == 1 else X.shape[:-1] + (index.size,))


_LEQ, _LT, _GTE, _GT, _EQ, _NEQ, _MEMBER = range(7)


@register("TreeEnsemble", 5, domain=_ML)
def TreeEnsemble(xp, X, *, aggregate_function=1, leaf_targetids, leaf_weights, membership_values=None,
                 n_targets=None, nodes_falseleafs, nodes_falsenodeids, nodes_featureids, nodes_hitrates=None,
                 nodes_missing_value_tracks_true=None, nodes_modes, nodes_splits, nodes_trueleafs,
                 nodes_truenodeids, post_transform=0, tree_roots):
    if post_transform != 0:
        raise NotImplementedError(f"TreeEnsemble: post_transform {post_transform} is not supported")
    modes = _tensor_list(nodes_modes)
    splits = _tensor_list(nodes_splits)
    weights = _tensor_list(leaf_weights)
    missing = list(nodes_missing_value_tracks_true or [0] * len(modes))
    members: dict[int, set] = {}
    it = iter(_tensor_list(membership_values) or [])
    for i, m in enumerate(modes):
        if m == _MEMBER:
            s = set()
            for v in it:
                if math.isnan(v):
                    break
                s.add(v)
            members[i] = s

    def goes_true(i, x):
        m = modes[i]
        if math.isnan(x):
            return bool(missing[i])
        s = splits[i]
        return (x <= s if m == _LEQ else x < s if m == _LT else x >= s if m == _GTE else x > s if m == _GT
                else x == s if m == _EQ else x != s if m == _NEQ else x in members[i])

    rows = X.reshape(X.shape[0], -1).astype(xp.float64).tolist()
    agg = {1: "sum", 2: "average", 3: "min", 4: "max"}.get(aggregate_function, aggregate_function)
    out = []
    for row in rows:
        acc = [None] * n_targets
        for root in tree_roots:
            i, leaf = root, bool(nodes_trueleafs[root] and nodes_falseleafs[root]
                                 and nodes_truenodeids[root] == nodes_falsenodeids[root])
            while not leaf:
                if goes_true(i, row[nodes_featureids[i]]):
                    i, leaf = nodes_truenodeids[i], bool(nodes_trueleafs[i])
                else:
                    i, leaf = nodes_falsenodeids[i], bool(nodes_falseleafs[i])
            t, w = leaf_targetids[i], weights[i]
            if agg in ("sum", "average"):
                acc[t] = (acc[t] or 0.0) + (w / len(tree_roots) if agg == "average" else w)
            elif agg == "min":
                acc[t] = w if acc[t] is None else min(acc[t], w)
            else:
                acc[t] = w if acc[t] is None else max(acc[t], w)
        out.append([0.0 if a is None else a for a in acc])
    return xp.asarray(out, dtype=X.dtype)
