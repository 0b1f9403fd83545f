"""Run one ONNX node through its registered kernel and through ONNX Runtime, for kernel tests.

    outs = run_kernel("Gemm", [A, B, C], transB=1, opset=13)
    refs = run_ort("Gemm", [A, B, C], transB=1, opset=13)

Inputs given as None are omitted optional inputs ("" in the node). The kernel is called directly
(NumPy as the array module), bypassing graph interpretation and quantization.
"""
from __future__ import annotations

import os

import numpy as np
import onnx
from onnx import helper, numpy_helper

import ops
from simulator.attributes import node_attributes


def make_node_model(op_type, inputs, n_outputs=1, opset=17, domain="", **attrs):
    in_names = [f"in{i}" if x is not None else "" for i, x in enumerate(inputs)]
    out_names = [f"out{i}" for i in range(n_outputs)]
    node = helper.make_node(op_type, in_names, out_names, domain=domain, **attrs)
    graph_inputs = [
        helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(np.asarray(x).dtype), np.asarray(x).shape)
        for n, x in zip(in_names, inputs) if x is not None
    ]
    graph_outputs = [helper.make_empty_tensor_value_info(n) for n in out_names]
    graph = helper.make_graph([node], "single_node", graph_inputs, graph_outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(domain, opset)])
    model.ir_version = min(model.ir_version, 10)
    return model, node


# SIMULATOR_TEST_XP=cupy runs the kernels on the GPU (inputs moved there, outputs brought back), to
# find kernels that do not run under CuPy; expect exact-equality assertions on transcendentals to fail.
TEST_XP = os.environ.get("SIMULATOR_TEST_XP", "numpy")


def run_kernel(op_type, inputs, n_outputs=1, opset=17, domain="", **attrs):
    """The outputs of the registered kernel, as a list of NumPy arrays."""
    _, node = make_node_model(op_type, inputs, n_outputs, opset, domain, **attrs)
    kernel = ops.resolve(op_type, domain, opset, node.name)
    attributes = node_attributes(node)
    if kernel.takes_output_count:
        attributes["_n_outputs"] = n_outputs
    if TEST_XP == "cupy":
        import cupy

        args = [x if x is None or i in kernel.host_inputs or not isinstance(x, np.ndarray) else cupy.asarray(x)
                for i, x in enumerate(inputs)]
        out = kernel.fn(cupy, *args, **attributes)
        out = out if isinstance(out, tuple) else (out,)
        return [o.get() if isinstance(o, cupy.ndarray) else o for o in out]
    out = kernel.fn(np, *inputs, **attributes)
    return list(out) if isinstance(out, tuple) else [out]


def run_ort(op_type, inputs, n_outputs=1, opset=17, domain="", **attrs):
    """The same node in ONNX Runtime with all graph optimisations off (the golden cases' setting)."""
    import onnxruntime as ort

    model, _ = make_node_model(op_type, inputs, n_outputs, opset, domain, **attrs)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    feed = {f"in{i}": x for i, x in enumerate(inputs) if x is not None}
    return sess.run(None, feed)


def run_reference(op_type, inputs, n_outputs=1, opset=17, domain="", **attrs):
    """The same node in onnx.reference.ReferenceEvaluator (for ops ONNX Runtime lacks)."""
    from onnx.reference import ReferenceEvaluator

    model, _ = make_node_model(op_type, inputs, n_outputs, opset, domain, **attrs)
    feed = {f"in{i}": x for i, x in enumerate(inputs) if x is not None}
    return ReferenceEvaluator(model).run(None, feed)


def assert_same(op_type, inputs, n_outputs=1, opset=17, ref=run_ort, domain="", **attrs):
    """The kernel's outputs equal the reference's (run_ort or run_reference) bit for bit, shape and dtype."""
    outs = run_kernel(op_type, inputs, n_outputs=n_outputs, opset=opset, domain=domain, **attrs)[:n_outputs]
    refs = ref(op_type, inputs, n_outputs=n_outputs, opset=opset, domain=domain, **attrs)
    assert len(outs) >= len(refs)
    for a, b in zip(outs, refs):
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), (a, b)


def max_ulp_diff(a, b) -> int:
    """The largest distance in float32 units in the last place between two float32 arrays."""
    a = np.ascontiguousarray(a, dtype=np.float32).view(np.int32).astype(np.int64)
    b = np.ascontiguousarray(b, dtype=np.float32).view(np.int32).astype(np.int64)
    a = np.where(a < 0, -(a & 0x7FFFFFFF), a)
    b = np.where(b < 0, -(b & 0x7FFFFFFF), b)
    return int(np.max(np.abs(a - b))) if a.size else 0


__all__ = ["make_node_model", "run_kernel", "run_ort", "run_reference", "assert_same", "max_ulp_diff", "onnx", "numpy_helper"]
