"""External data is memory-mapped: the same bits as loading it, weights' float values left in their file until
`::pre_quant` asks, clear errors for data that does not fit."""
import json
import mmap

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from simulator.errors import ModelError
from simulator.interpreter import Interpreter
from simulator.model import load_model
from simulator.session import InferenceSession


def _model(tmp_path, size=64, offset_pad=False):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((size, size)).astype(np.float32)
    b = rng.standard_normal(size).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"]), helper.make_node("Add", ["y", "b"], ["z"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, size])],
                              [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, size])],
                              [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = str(tmp_path / "m.onnx")
    onnx.save(model, path, save_as_external_data=True, location="m.data", size_threshold=0)
    enc = {"version": "1.0.0", "activation_encodings": [],
           "param_encodings": [{"name": "w", "dtype": "INT", "enc_type": "PER_TENSOR", "bw": 8, "is_sym": True,
                                "scale": [float(np.abs(w).max() / 127)], "offset": [-128]}]}
    (tmp_path / "m.encodings").write_text(json.dumps(enc))
    return path, str(tmp_path / "m.encodings"), w


def _mapped(array) -> bool:
    base = array
    while base is not None and not isinstance(base, mmap.mmap):
        base = base.obj if isinstance(base, memoryview) else getattr(base, "base", None)
    return isinstance(base, mmap.mmap)


@pytest.mark.parametrize("quantized", [False, True])
def test_mapped_weights_give_the_loaded_bits(tmp_path, quantized):
    path, enc, w = _model(tmp_path)
    sess = InferenceSession(path, enc if quantized else None)
    loaded = Interpreter(load_model(path), sess.encodings, source=path)  # external data read into the model
    x = np.random.default_rng(1).standard_normal((1, 64)).astype(np.float32)
    np.testing.assert_array_equal(sess.run(None, {"x": x})[0], loaded.run({"x": x}, {"z"})[0]["z"])
    if quantized:
        assert _mapped(sess.interpreter.raw_params["w"])  # the float value stays in the file
        assert not _mapped(sess.interpreter.constants["w"])  # the quantized copy is the one held
        np.testing.assert_array_equal(sess.run(["w::pre_quant"], {"x": x})[0], w)
    else:
        assert _mapped(sess.interpreter.constants["w"])
        np.testing.assert_array_equal(sess.run(["w"], {"x": x})[0], w)


def test_external_data_of_the_wrong_length_is_a_clear_error(tmp_path):
    path, _, _ = _model(tmp_path)
    model = onnx.load(path, load_external_data=False)
    for entry in model.graph.initializer[0].external_data:
        if entry.key == "length":
            entry.value = "100"
    onnx.save(model, path)
    with pytest.raises(ModelError, match="initializer 'w' cannot be read.*length is 100 bytes"):
        InferenceSession(path)
