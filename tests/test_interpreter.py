"""The graph interpreter: ordering, errors on malformed graphs, external data, liveness."""
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from simulator.encodings import parse_encodings
from simulator.errors import EncodingsError, ModelError, UnsupportedOpError
from simulator.interpreter import Interpreter
from simulator.model import load_model
from simulator.session import InferenceSession


def _model(nodes, inits=(), inputs=("x",), outputs=("y",), opset=17):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info(i, TensorProto.FLOAT, [2, 3]) for i in inputs],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs], list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


CHAIN = [helper.make_node("Relu", ["x"], ["a"], "r"), helper.make_node("Add", ["a", "x"], ["b"], "add"),
         helper.make_node("Mul", ["b", "b"], ["y"], "mul")]


def test_nodes_out_of_order_are_sorted():
    interp = Interpreter(_model(list(reversed(CHAIN))))
    assert [s.node.name for s in interp.steps] == ["r", "add", "mul"]
    x = np.arange(6, dtype=np.float32).reshape(2, 3) - 2
    values, _ = interp.run({"x": x}, {"y"})
    b = np.maximum(x, 0) + x
    np.testing.assert_array_equal(values["y"], b * b)


def test_cycle_is_an_error():
    nodes = [helper.make_node("Relu", ["c"], ["a"], "r1"), helper.make_node("Relu", ["a"], ["c"], "r2"),
             helper.make_node("Relu", ["x"], ["y"], "r3")]
    with pytest.raises(ModelError, match="cycle.*r1"):
        Interpreter(_model(nodes))


def test_undefined_name_is_an_error():
    with pytest.raises(ModelError, match="'add' \\(Add\\) reads tensor 'ghost'"):
        Interpreter(_model([helper.make_node("Add", ["x", "ghost"], ["y"], "add")]))


def test_unknown_op_names_op_domain_node_and_opset():
    with pytest.raises(UnsupportedOpError, match="'FancyOp'.*'ai.onnx'.*node 'f'.*opset 17"):
        Interpreter(_model([helper.make_node("FancyOp", ["x"], ["y"], "f")]))
    m = _model([helper.make_node("Custom", ["x"], ["y"], "c", domain="com.vendor")])
    m.opset_import.append(helper.make_opsetid("com.vendor", 1))
    with pytest.raises(UnsupportedOpError, match="'Custom'.*'com.vendor'.*node 'c'"):
        Interpreter(m)


def test_values_are_freed_after_last_use_unless_kept():
    interp = Interpreter(_model(CHAIN))
    x = np.ones((2, 3), np.float32)
    values, _ = interp.run({"x": x}, {"y"})
    assert set(values) == {"y"}
    assert [sorted(s.free) for s in interp.steps] == [[], ["a", "x"], ["b", "y"]]
    values, _ = interp.run({"x": x}, {"a", "y"})
    assert set(values) == {"a", "y"}


def test_feeds_override_initializers_listed_as_inputs():
    init = numpy_helper.from_array(np.full((2, 3), 5, np.float32), "k")
    m = _model([helper.make_node("Add", ["x", "k"], ["y"], "add")], [init], inputs=("x", "k"))
    sess_inputs = Interpreter(m).inputs
    assert [i.name for i in sess_inputs] == ["x"]
    x = np.ones((2, 3), np.float32)
    assert Interpreter(m).run({"x": x}, {"y"})[0]["y"][0, 0] == 6
    assert Interpreter(m).run({"x": x, "k": x}, {"y"})[0]["y"][0, 0] == 2


def test_encodings_naming_unknown_tensors_list_them():
    enc = parse_encodings({"version": "1.0.0", "param_encodings": [], "activation_encodings": [
        {"name": n, "bw": 8, "dtype": "INT", "enc_type": "PER_TENSOR", "is_sym": False, "scale": [0.1],
         "offset": [0]} for n in ("a", "nope1", "nope2")]})
    with pytest.raises(EncodingsError, match="2 encoded tensor.*'nope1', 'nope2'"):
        Interpreter(_model(CHAIN), enc)


def test_activation_encoding_applies_as_produced_and_updated_names_resolve():
    enc = parse_encodings({"version": "1.0.0", "param_encodings": [], "activation_encodings": [
        {"name": "a_updated", "bw": 8, "dtype": "INT", "enc_type": "PER_TENSOR", "is_sym": False, "scale": [0.5],
         "offset": [0]}]})
    interp = Interpreter(_model(CHAIN), enc)
    x = np.array([[0.3, 0.8, 1.2], [-1, 2.6, 0.24]], np.float32)
    values, raw = interp.run({"x": x}, {"a", "b"}, {"a"})
    np.testing.assert_array_equal(values["a"], [[0.5, 1.0, 1.0], [0, 2.5, 0.0]])
    np.testing.assert_array_equal(raw["a"], np.maximum(x, 0))
    np.testing.assert_array_equal(values["b"], values["a"] + x)  # consumers see the quantized value


def _save_with_external(tmp_path, location):
    w = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3), "w")
    m = _model([helper.make_node("Add", ["x", "w"], ["y"], "add")], [w])
    onnx.external_data_helper.convert_model_to_external_data(m, all_tensors_to_one_file=True, location=location,
                                                             size_threshold=0)
    path = tmp_path / "model.onnx"
    onnx.save(m, path, save_as_external_data=False)
    return path, m


def test_external_data_loads(tmp_path):
    w = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3), "w")
    m = _model([helper.make_node("Add", ["x", "w"], ["y"], "add")], [w])
    onnx.save(m, tmp_path / "model.onnx", save_as_external_data=True, location="model.data", size_threshold=0)
    sess = InferenceSession(tmp_path / "model.onnx")
    (y,) = sess.run(None, {"x": np.zeros((2, 3), np.float32)})
    np.testing.assert_array_equal(y, np.arange(6).reshape(2, 3))


def test_external_data_outside_the_folder_is_refused(tmp_path):
    w = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3), "w")
    m = _model([helper.make_node("Add", ["x", "w"], ["y"], "add")], [w])
    sub = tmp_path / "m"
    sub.mkdir()
    onnx.save(m, sub / "model.onnx", save_as_external_data=True, location="w.data", size_threshold=0)
    (tmp_path / "w.data").write_bytes((sub / "w.data").read_bytes())
    loaded = onnx.load(sub / "model.onnx", load_external_data=False)

    def save_with_location(location):
        for entry in loaded.graph.initializer[0].external_data:
            if entry.key == "location":
                entry.value = location
        onnx.save(loaded, sub / "model.onnx")

    save_with_location("../w.data")
    with pytest.raises(ModelError, match="outside the model's folder"):
        load_model(sub / "model.onnx")
    os.remove(sub / "w.data")
    save_with_location("w.data")
    with pytest.raises(ModelError, match="external data file 'w.data'.*missing"):
        load_model(sub / "model.onnx")


@pytest.mark.parametrize("content,match", [(b"", "no graph|not a valid"), (b"\x08\x07garbage\xff\xff", "not a valid")])
def test_not_an_onnx_model(tmp_path, content, match):
    p = tmp_path / "bad.onnx"
    p.write_bytes(content)
    with pytest.raises(ModelError, match=match):
        load_model(p)


def test_truncated_model(tmp_path):
    p = tmp_path / "t.onnx"
    data = _model(CHAIN).SerializeToString()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError):
        load_model(p)


def test_constant_subgraphs_are_folded_with_their_encodings_and_pre_quant_recomputed():
    value = numpy_helper.from_array(np.array([[0.26, 0.74, 1.2]], np.float32), "v")
    nodes = [helper.make_node("Constant", [], ["c"], "const", value=value),
             helper.make_node("Mul", ["c", "c"], ["c2"], "sq"),
             helper.make_node("Add", ["x", "c2"], ["y"], "add")]
    m = _model(nodes)
    enc = parse_encodings({"version": "1.0.0", "param_encodings": [], "activation_encodings": [
        {"name": n, "bw": 8, "dtype": "INT", "enc_type": "PER_TENSOR", "is_sym": False, "scale": [0.5],
         "offset": [0]} for n in ("c", "c2")]})
    interp = Interpreter(m, enc)
    assert [s.node.name for s in interp.steps] == ["add"] and set(interp.folded) == {"c", "c2"}
    x = np.zeros((2, 3), np.float32)
    values, raw = interp.run({"x": x}, {"c", "c2", "y"}, {"c", "c2"})
    np.testing.assert_array_equal(values["c"], [[0.5, 0.5, 1.0]])
    np.testing.assert_array_equal(raw["c"], np.float32([[0.26, 0.74, 1.2]]))
    np.testing.assert_array_equal(raw["c2"], np.float32([[0.25, 0.25, 1.0]]))  # from the quantized c
    np.testing.assert_array_equal(values["y"], np.broadcast_to(values["c2"], (2, 3)))
    seen = {}
    interp.run({"x": x}, set(), observer=lambda n, v, r: seen.setdefault(n, (v, r)))
    np.testing.assert_array_equal(seen["c"][1], np.float32([[0.26, 0.74, 1.2]]))


def test_per_channel_encoding_of_a_computed_weight_follows_its_consumer():
    # A Conv weight made by a Constant node (not an initializer): the file's per-channel encoding still
    # runs along the output-channel axis 0, as for an initializer weight.
    w = np.arange(2 * 3 * 1 * 1, dtype=np.float32).reshape(2, 3, 1, 1) * np.float32(0.3)
    nodes = [helper.make_node("Constant", [], ["w"], "const", value=numpy_helper.from_array(w, "wv")),
             helper.make_node("Conv", ["x", "w"], ["y"], "conv")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 2, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    enc = parse_encodings({"version": "1.0.0", "param_encodings": [], "activation_encodings": [
        {"name": "w", "bw": 8, "dtype": "INT", "enc_type": "PER_CHANNEL", "is_sym": True, "scale": [0.5, 0.25],
         "offset": [-128.0, -128.0]}]})
    interp = Interpreter(m, enc)
    expected = np.stack([np.round(w[0] / 0.5) * 0.5, np.floor(w[1] / 0.25 + 0.5) * 0.25]).astype(np.float32)
    np.testing.assert_array_equal(interp.constants["w"], expected)


def test_fed_initializer_overrides_a_shape_input():
    # An initializer listed as a graph input is a default: a feed replaces it, shape inputs included.
    shape = numpy_helper.from_array(np.array([3, 2], np.int64), "shape")
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["x", "shape"], ["y"], "r")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3]),
         helper.make_tensor_value_info("shape", TensorProto.INT64, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [shape])
    interp = Interpreter(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert interp.run({"x": x}, {"y"})[0]["y"].shape == (3, 2)
    assert interp.run({"x": x, "shape": np.array([6, 1], np.int64)}, {"y"})[0]["y"].shape == (6, 1)
