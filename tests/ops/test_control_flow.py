"""If, Loop, Scan and SequenceMap: bodies read outer-scope values, only the taken branch runs, encodings apply
inside bodies, and body tensors cannot be requested by name."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import ops
from simulator.encodings import parse_encodings
from simulator.errors import ParameterError
from simulator.interpreter import Interpreter
from simulator.session import InferenceSession

F = TensorProto.FLOAT


def _vi(name, t=F, shape=None):
    return helper.make_tensor_value_info(name, t, shape)


def _loop_model():
    # y = x; for i in range(M): y = y * w + i   (w read from the outer scope); scan output: y per iteration
    body = helper.make_graph(
        [helper.make_node("Mul", ["y_in", "w"], ["t"], "mul_in_body"),
         helper.make_node("Cast", ["i"], ["i_f"], to=F),
         helper.make_node("Add", ["t", "i_f"], ["y_out"]),
         helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Identity", ["y_out"], ["scan"])],
        "body", [_vi("i", TensorProto.INT64, []), _vi("cond_in", TensorProto.BOOL, []), _vi("y_in")],
        [_vi("cond_out", TensorProto.BOOL, []), _vi("y_out"), _vi("scan")])
    w = helper.make_tensor("w", F, [3], [2.0, 0.5, -1.0])
    node = helper.make_node("Loop", ["M", "", "x"], ["y", "ys"], "loop", body=body)
    graph = helper.make_graph([node], "g", [_vi("M", TensorProto.INT64, []), _vi("x", F, [3])],
                              [_vi("y"), _vi("ys")], [w])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_loop_reads_outer_scope_and_stacks_scan_outputs():
    interp = Interpreter(_loop_model())
    x = np.array([1.0, 2.0, 3.0], np.float32)
    values, _ = interp.run({"M": np.array(3, np.int64), "x": x}, {"y", "ys"})
    w = np.array([2.0, 0.5, -1.0], np.float32)
    expect, per_iter = x.copy(), []
    for i in range(3):
        expect = expect * w + i
        per_iter.append(expect)
    np.testing.assert_allclose(values["y"], expect)
    np.testing.assert_allclose(values["ys"], np.stack(per_iter))


def test_encodings_apply_inside_bodies():
    enc = parse_encodings({"version": "1.0.0", "param_encodings": [], "activation_encodings": [
        {"name": "t", "bw": 8, "dtype": "INT", "enc_type": "PER_TENSOR", "is_sym": False, "scale": [0.5],
         "offset": [-128]}]})
    interp = Interpreter(_loop_model(), enc)
    x = np.array([0.3, 0.8, 1.3], np.float32)
    values, _ = interp.run({"M": np.array(1, np.int64), "x": x}, {"y"})
    t = np.round(x * np.array([2.0, 0.5, -1.0], np.float32) / 0.5) * 0.5
    np.testing.assert_allclose(values["y"], t)  # i = 0 on the first iteration


def test_body_tensor_by_name_is_a_clear_error(tmp_path):
    path = tmp_path / "loop.onnx"
    onnx.save(_loop_model(), path)
    sess = InferenceSession(str(path))
    feed = {"M": np.array(2, np.int64), "x": np.ones(3, np.float32)}
    assert len(sess.run(None, feed)) == 2
    with pytest.raises(ParameterError, match="inside the body of node 'loop'"):
        sess.run(["t"], feed)


def test_if_runs_only_the_taken_branch():
    calls = []

    def then_branch():
        calls.append("then")
        return (np.float32(1),)

    def else_branch():
        calls.append("else")
        return (np.float32(2),)

    If = ops.resolve("If", "", 17).fn
    assert If(np, np.array(False), then_branch=then_branch, else_branch=else_branch) == (np.float32(2),)
    assert calls == ["else"]


def test_loop_without_cond_input_ignores_the_body_cond():
    Loop = ops.resolve("Loop", "", 17).fn
    out = Loop(np, np.array(4), None, np.float32(0),
               body=lambda i, c, v: (np.array(False), v + np.float32(1)))
    assert out == (np.float32(4),)


def test_loop_cond_stops_early():
    Loop = ops.resolve("Loop", "", 17).fn
    out = Loop(np, None, np.array(True), np.int64(0),
               body=lambda i, c, v: (np.array(v + 1 < 5), v + 1))
    assert out == (5,)


def test_scan_axes_and_directions():
    Scan = ops.resolve("Scan", "", 17).fn
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    body = lambda s, col: (s + col, s + col)  # noqa: E731
    state, outs = Scan(np, np.zeros(2, np.float32), x, body=body, num_scan_inputs=1, scan_input_axes=[1],
                       scan_input_directions=[1], scan_output_axes=[1])
    np.testing.assert_allclose(state, x.sum(axis=1))
    np.testing.assert_allclose(outs, np.cumsum(x[:, ::-1], axis=1))


def test_sequence_map_calls_the_body_per_element():
    SequenceMap = ops.resolve("SequenceMap", "", 17).fn
    seq = [np.ones(2, np.float32), np.ones(3, np.float32)]
    (out,) = SequenceMap(np, seq, np.float32(2), body=lambda a, b: (a * b,))
    assert [o.tolist() for o in out] == [[2, 2], [2, 2, 2]]
