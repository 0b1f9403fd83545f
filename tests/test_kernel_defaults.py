"""Every registered kernel's keyword defaults equal its ONNX schema's defaults, and it takes every attribute the
schema defines (walks the registry: one check per (domain, op, since_version))."""
from __future__ import annotations

import inspect
import math

import onnx
import onnx.defs
import pytest
from onnx import helper

import ops



def _has_schema(key):
    try:
        onnx.defs.get_schema(key[1], key[2], key[0])
        return True
    except onnx.defs.SchemaError:  # ONNX Runtime's contrib ops: checked against ORT in tests/ops/test_contrib.py
        return False


KERNELS = sorted(item for item in ops.registered().items() if _has_schema(item[0]))


def _schema_default(attr):
    d = attr.default_value
    if not d.name and d.type == 0:
        return inspect.Parameter.empty
    value = helper.get_attribute_value(d)
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list):
        return [v.decode() if isinstance(v, bytes) else v for v in value]
    if isinstance(value, onnx.TensorProto):
        return onnx.numpy_helper.to_array(value)
    return value


def _same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=0.0) or (math.isnan(a) and math.isnan(b))
        except (TypeError, ValueError):
            return False
    if hasattr(a, "tolist") or hasattr(b, "tolist"):
        return getattr(a, "tolist", lambda: a)() == getattr(b, "tolist", lambda: b)()
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return a == b


@pytest.mark.parametrize("key", [k for k, _ in KERNELS], ids=lambda k: f"{k[0] or 'ai.onnx'}:{k[1]}-{k[2]}")
def test_defaults_match_schema(key):
    domain, op, version = key
    kernel = ops.registered()[key]
    schema = onnx.defs.get_schema(op, version, domain)
    assert schema.since_version == version, f"{op}: since_version {version} is not one onnx defines"
    params = inspect.signature(kernel.fn).parameters
    keywords = {n: p for n, p in params.items() if p.kind == p.KEYWORD_ONLY}
    for name, attr in schema.attributes.items():
        assert name in keywords, f"{op}-{version}: the kernel takes no attribute {name!r}"
        expected = _schema_default(attr)
        got = keywords[name].default
        if expected is inspect.Parameter.empty:
            # Required (or optional without a default): the kernel may require it or default it to None.
            assert got is inspect.Parameter.empty or got is None or not attr.required, \
                f"{op}-{version}: required attribute {name!r} has a default {got!r}"
            continue
        assert _same(got, expected), f"{op}-{version}: attribute {name!r} defaults to {got!r}, schema says {expected!r}"


def test_operators_doc_is_current():
    import importlib.util
    import os

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    spec = importlib.util.spec_from_file_location("gen_operators_doc", os.path.join(root, "scripts",
                                                                                     "gen_operators_doc.py"))
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    with open(gen.OUT, encoding="utf-8") as f:
        assert f.read() == gen.render(), "docs/operators.md is stale: run python scripts/gen_operators_doc.py"
