"""A corpus of hostile and half-broken inputs, at every entry point (API and CLI).

Each case builds its bad input in a temporary folder, calls one entry point, and asserts the error's
class and that its message names the problem (the file, tensor, op or field, and what was expected).
The CLI cases run `python -m simulator` in a subprocess: one line on stderr, no traceback, exit 2.
docs/errors.md states the rules these cases check.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from typing import Callable

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from simulator.api import Simulator
from simulator.data import load_input_data
from simulator.encodings import load_encodings
from simulator.errors import (DataError, EncodingsError, KernelError, ModelError, ParameterError, SimulatorError,
                              UnsupportedOpError)
from simulator.interpreter import Interpreter
from simulator.schema.base import (InferenceCheckerParameters, InferenceRunnerParameters,
                                   LayerwiseCheckerParameters)
from simulator.session import InferenceSession
from tests.conftest import ROOT

EXAMPLE = os.path.join(ROOT, "examples", "tiny_cnn")
EX_MODEL = os.path.join(EXAMPLE, "model.onnx")
EX_ENC = os.path.join(EXAMPLE, "model.encodings")
EX_DATA = os.path.join(EXAMPLE, "data")


# -- builders ------------------------------------------------------------------------------------

def _graph_model(nodes, inits=(), inputs=(("x", TensorProto.FLOAT, [1, 4]),), outputs=("y",), opset=17,
                 extra_opsets=()):
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
                              list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]
                             + [helper.make_opsetid(d, v) for d, v in extra_opsets])


def _w():
    return numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(4, 3) / 10, "w")


def good_model():
    """x[1,4] -> MatMul(w[4,3]) -> m -> Relu -> y."""
    return _graph_model([helper.make_node("MatMul", ["x", "w"], ["m"], "mm"),
                         helper.make_node("Relu", ["m"], ["y"], "relu")], [_w()])


def _save_model(tmp, model, name="model.onnx") -> str:
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    return path


def _enc100(*entries, params=()):
    return {"version": "1.0.0", "activation_encodings": list(entries), "param_encodings": list(params)}


def _e100(name, scale=(0.1,), offset=(0,), bw=8, enc_type="PER_TENSOR", **kw):
    return {"name": name, "bw": bw, "dtype": "INT", "enc_type": enc_type, "is_sym": False, "scale": list(scale),
            "offset": list(offset), **kw}


def _e200(name, **kw):
    return {"name": name, "output_dtype": "uint8", "y_scale": 0.1, **kw}


def _write(tmp, name, content) -> str:
    path = os.path.join(tmp, name)
    mode = "wb" if isinstance(content, bytes) else "w"
    with open(path, mode) as f:
        f.write(content if isinstance(content, (str, bytes)) else json.dumps(content))
    return path


def _data(tmp, arrays: dict[str, np.ndarray], folder="data", mapping=True) -> str:
    """A toolchain data folder: mapping + one sub-folder per input with sample s0."""
    root = os.path.join(tmp, folder)
    os.makedirs(root, exist_ok=True)
    if mapping:
        _write(root, "input_folder_mapping.json", {k: k + "_dir" for k in arrays})
    for k, v in arrays.items():
        os.makedirs(os.path.join(root, k + "_dir"), exist_ok=True)
        np.save(os.path.join(root, k + "_dir", "s0.npy"), v)
    return root


X = np.ones((1, 4), np.float32)


# -- the entry points ----------------------------------------------------------------------------

def session_with(tmp, model=None, enc=None):
    """InferenceSession on `model` (a ModelProto, or a path) with `enc` (a dict/str written to a file, or a path)."""
    model_path = model if isinstance(model, str) else _save_model(tmp, model or good_model())
    enc_path = None
    if enc is not None:
        enc_path = enc if isinstance(enc, str) and os.path.exists(enc) else _write(tmp, "model.encodings", enc)
    return InferenceSession(model_path, enc_path)


def run_session(tmp, model=None, enc=None, feed=None):
    sess = session_with(tmp, model, enc)
    return sess.run(None, {"x": X} if feed is None else feed)


def parse(tmp, content):
    return load_encodings(_write(tmp, "model.encodings", content))


def run_data(tmp, arrays=None, model=None, **kw):
    """run_inference on a data folder made from `arrays` (or a folder made by a callable)."""
    model_path = _save_model(tmp, model or good_model())
    folder = arrays(tmp) if callable(arrays) else _data(tmp, arrays, **kw)
    return Simulator.run_inference(InferenceRunnerParameters(input_model_path=model_path, input_data_path=folder))


def load_data(tmp, make):
    return Simulator.load_input_data(make(tmp), model_path=_save_model(tmp, good_model()))


# -- hostile files ---------------------------------------------------------------------------------

def _external(tmp, location, offset=None, data=True, length=None):
    w = numpy_helper.from_array(np.ones((4, 3), np.float32), "w")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", offset), ("length", length)):
        if v is not None:
            e = w.external_data.add()
            e.key, e.value = k, str(v)
    if data:
        with open(os.path.join(tmp, "weights.bin"), "wb") as f:
            f.write(np.ones((4, 3), np.float32).tobytes())
    m = _graph_model([helper.make_node("MatMul", ["x", "w"], ["y"], "mm")], [w])
    return _save_model(tmp, m)


def _truncated(tmp):
    data = good_model().SerializeToString()
    return _write(tmp, "model.onnx", data[: len(data) // 2])


def _cycle():
    return _graph_model([helper.make_node("Relu", ["c"], ["a"], "r1"), helper.make_node("Relu", ["a"], ["c"], "r2"),
                         helper.make_node("Relu", ["x"], ["y"], "r3")])


def _bad_utf8_attribute():
    node = helper.make_node("Relu", ["x"], ["y"], "r")
    attr = node.attribute.add()
    attr.name, attr.type, attr.s = "mode", onnx.AttributeProto.STRING, b"\xff\xfe"
    return _graph_model([node])


def _bad_raw_data():
    w = _w()
    w.raw_data = w.raw_data[:10]
    return _graph_model([helper.make_node("MatMul", ["x", "w"], ["y"], "mm")], [w])


def _unknown_elem_type():
    m = good_model()
    m.graph.input[0].type.tensor_type.elem_type = 999
    return m


def _pickled(tmp, marker):
    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    root = os.path.join(tmp, "data")
    os.makedirs(root)
    np.save(os.path.join(root, "s0.npy"), np.array([Evil()], dtype=object), allow_pickle=True)
    return root


def _huge_header(tmp):
    """A .npy whose header claims 2**40 float32 elements, with 16 bytes of data."""
    root = os.path.join(tmp, "data")
    os.makedirs(root)
    path = os.path.join(root, "s0.npy")
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (1, 2 ** 40)})
        f.write(b"\0" * 16)
    return root


def _garbage_test_set(tmp):
    root = os.path.join(tmp, "data", "test_data_set_0")
    os.makedirs(root)
    _write(root, "input_0.pb", b"\xff\xff\xff\xff garbage")
    return os.path.dirname(root)


def _deep_json():
    return "[" * 100_000 + "]" * 100_000


# -- the corpus ----------------------------------------------------------------------------------

@dataclass
class Case:
    id: str
    call: Callable  # (tmp_path as str) -> anything; must raise
    error: type
    match: str  # a regex the message must contain (names the problem)


def P(**kw):
    args = dict(input_model_path=EX_MODEL, input_encodings_path=EX_ENC, input_data_path=EX_DATA)
    args.update(kw)
    return InferenceRunnerParameters(**args)


def C(cls=InferenceCheckerParameters, **kw):
    args = dict(input_model_path_0=EX_MODEL, input_model_path_1=EX_MODEL, input_data_path=EX_DATA)
    args.update(kw)
    return cls(**args)


CASES = [
    # paths
    Case("param-model-is-folder", lambda t: P(input_model_path=t), ParameterError, r"input_model_path.*is a folder"),
    Case("param-model-missing", lambda t: P(input_model_path=os.path.join(t, "no.onnx")), ParameterError,
         r"input_model_path.*no\.onnx' does not exist"),
    Case("param-encodings-is-folder", lambda t: P(input_encodings_path=t), ParameterError,
         r"input_encodings_path.*is a folder"),
    Case("param-data-is-file", lambda t: P(input_data_path=EX_MODEL), ParameterError, r"input_data_path.*is a file"),
    Case("param-data-missing", lambda t: P(input_data_path=os.path.join(t, "nodata")), ParameterError,
         r"data folder .*nodata' does not exist"),
    Case("param-model-not-a-path", lambda t: P(input_model_path=123), ParameterError,
         r"input_model_path.*expected a path"),
    Case("session-model-is-folder", lambda t: InferenceSession(t), ModelError, r"is a folder; expected the model file"),
    Case("session-model-missing", lambda t: InferenceSession(os.path.join(t, "m.onnx")), ModelError,
         r"m\.onnx' does not exist"),
    Case("session-model-none", lambda t: InferenceSession(None), ModelError, r"model file.*None.*expected a path"),
    Case("encodings-is-folder", lambda t: load_encodings(t), EncodingsError, r"is a folder"),
    Case("encodings-missing", lambda t: load_encodings(os.path.join(t, "e.json")), EncodingsError,
         r"e\.json' does not exist"),
    Case("data-missing", lambda t: load_input_data(os.path.join(t, "nodata")), DataError, r"nodata' does not exist"),
    Case("data-is-file", lambda t: load_input_data(EX_MODEL), DataError, r"is a file; expected a folder"),
    Case("data-path-none", lambda t: Simulator.load_input_data(None), DataError, r"expected a path"),

    # models
    Case("model-not-onnx", lambda t: session_with(t, _write(t, "m.onnx", "this is not a model\n" * 20)), ModelError,
         r"m\.onnx'.*(not a valid ONNX model|holds no graph)"),
    Case("model-empty-file", lambda t: session_with(t, _write(t, "m.onnx", b"")), ModelError, r"holds no graph"),
    Case("model-truncated", lambda t: session_with(t, _truncated(t)), ModelError,
         r"model\.onnx'.*(not a valid ONNX model|holds no graph)"),
    Case("model-cycle", lambda t: session_with(t, _cycle()), ModelError, r"cycle.*'r1'"),
    Case("model-undefined-name", lambda t: session_with(t, _graph_model([helper.make_node("Add", ["x", "ghost"], ["y"],
                                                                                          "add")])),
         ModelError, r"'add' \(Add\) reads tensor 'ghost'"),
    Case("model-produced-twice", lambda t: session_with(t, _graph_model([helper.make_node("Relu", ["x"], ["y"], "a"),
                                                                         helper.make_node("Relu", ["x"], ["y"], "b")])),
         ModelError, r"'y' is produced twice"),
    Case("model-unsupported-op", lambda t: session_with(t, _graph_model([helper.make_node("FancyOp", ["x"], ["y"],
                                                                                          "f")])),
         UnsupportedOpError, r"'FancyOp'.*node 'f'"),
    Case("model-custom-op", lambda t: session_with(t, _graph_model(
        [helper.make_node("MyOp", ["x"], ["y"], "c", domain="com.vendor")], extra_opsets=[("com.vendor", 1)])),
         UnsupportedOpError, r"'MyOp'.*'com\.vendor'"),
    Case("model-domain-not-imported", lambda t: session_with(t, _graph_model(
        [helper.make_node("MyOp", ["x"], ["y"], "c", domain="com.other")])), ModelError,
         r"'c' \(MyOp\) uses domain 'com\.other'.*does not import"),
    Case("model-opset-absurd", lambda t: session_with(t, _graph_model([helper.make_node("Relu", ["x"], ["y"], "r")],
                                                                       opset=2 ** 62)),
         ModelError, r"imports opset 4611686018427387904 of domain 'ai\.onnx'; expected a version from 1"),
    Case("model-external-missing", lambda t: session_with(t, _external(t, "nothere.bin")), ModelError,
         r"external data file 'nothere\.bin' of tensor 'w' is missing"),
    Case("model-external-outside", lambda t: session_with(t, _external(t, "../weights.bin")), ModelError,
         r"tensor 'w'.*'\.\./weights\.bin' outside the model's folder"),
    Case("model-external-absolute", lambda t: session_with(t, _external(t, "/etc/passwd")), ModelError,
         r"'/etc/passwd' outside the model's folder"),
    Case("model-external-too-short", lambda t: session_with(t, _external(t, "weights.bin", offset=40)), ModelError,
         r"'weights\.bin' is too short for tensor 'w'"),
    Case("model-external-nul-byte", lambda t: session_with(t, _external(t, "weights\0.bin")), ModelError,
         r"tensor 'w'.*external data"),
    Case("model-external-bad-offset", lambda t: session_with(t, _external(t, "weights.bin", offset="abc")), ModelError,
         r"tensor 'w'.*external data"),
    Case("model-bad-raw-data", lambda t: session_with(t, _bad_raw_data()), ModelError, r"initializer 'w'"),
    Case("model-unknown-elem-type", lambda t: session_with(t, _unknown_elem_type()), ModelError,
         r"'x'.*element type 999"),
    Case("model-bad-utf8-attribute", lambda t: session_with(t, _bad_utf8_attribute()), ModelError,
         r"node 'r' \(Relu\).*attribute 'mode'"),
    Case("model-incompatible-shapes", lambda t: run_session(t, _graph_model(
        [helper.make_node("Add", ["x", "k"], ["y"], "add")], [numpy_helper.from_array(np.ones(3, np.float32), "k")])),
         KernelError, r"node 'add' \(Add\) failed on inputs \(x: float32\[1, 4\], k: float32\[3\]\)"),
    Case("model-wrong-rank", lambda t: run_session(t, _graph_model(
        [helper.make_node("Conv", ["x", "k"], ["y"], "conv")], [numpy_helper.from_array(np.ones((1, 1, 1, 1), np.float32),
                                                                                        "k")])),
         KernelError, r"node 'conv' \(Conv\)"),

    # encodings
    Case("enc-not-json", lambda t: parse(t, "{not json"), EncodingsError, r"model\.encodings' is not valid JSON"),
    Case("enc-binary", lambda t: parse(t, b"\x80\x81\xfe"), EncodingsError, r"is not valid JSON"),
    Case("enc-top-level-list", lambda t: parse(t, [1, 2]), EncodingsError, r"expected a JSON object.*got list"),
    Case("enc-unknown-version", lambda t: parse(t, {"version": "3.0.0"}), EncodingsError,
         r"unsupported encodings version '3\.0\.0'; supported: 0\.6\.1"),
    Case("enc-version-wrong-type", lambda t: parse(t, {"version": [1, 0, 0]}), EncodingsError,
         r"'version' must be a string.*got list"),
    Case("enc-version-number", lambda t: parse(t, {"version": 1.0}), EncodingsError,
         r"'version' must be a string.*got float"),
    Case("enc-wrong-schema-section", lambda t: parse(t, {"version": "1.0.0", "activation_encodings": {"a": 1}}),
         EncodingsError, r"'activation_encodings' must be a JSON list, got dict"),
    Case("enc-entry-not-object-100", lambda t: parse(t, _enc100("abc")), EncodingsError,
         r"'<not an object>' is malformed"),
    Case("enc-entry-not-object-061", lambda t: parse(t, {"version": "0.6.1", "activation_encodings": {"a": "x"}}),
         EncodingsError, r"tensor 'a' is malformed"),
    Case("enc-entry-not-object-2x", lambda t: parse(t, {"version": "2.0.0", "encodings": [7]}), EncodingsError,
         r"'<not an object>' is malformed"),
    Case("enc-missing-field", lambda t: parse(t, {"version": "2.0.0", "encodings": [{"name": "a"}]}), EncodingsError,
         r"tensor 'a' is malformed: output_dtype: Field required"),
    Case("enc-bitwidth-0", lambda t: parse(t, _enc100(_e100("a", bw=0))), EncodingsError,
         r"tensor 'a': bitwidth 0 is out of range \(1 to 32\)"),
    Case("enc-bitwidth-64", lambda t: parse(t, _enc100(_e100("a", bw=64))), EncodingsError,
         r"tensor 'a': bitwidth 64 is out of range"),
    Case("enc-bitwidth-64-2x", lambda t: parse(t, {"version": "2.0.0", "encodings": [_e200("a", output_dtype="int64")]}),
         EncodingsError, r"tensor 'a': bitwidth 64 is out of range"),
    Case("enc-scale-zero", lambda t: parse(t, _enc100(_e100("a", scale=[0.0]))), EncodingsError,
         r"tensor 'a': scale 0\.0 .*never calibrated"),
    Case("enc-scale-negative", lambda t: parse(t, {"version": "0.6.1", "activation_encodings": {
        "a": [{"bitwidth": 8, "scale": -0.5, "offset": 0}]}}), EncodingsError, r"tensor 'a': scale -0\.5 is not a "
                                                                              r"positive finite"),
    Case("enc-scale-nan", lambda t: parse(t, '{"version": "2.0.0", "encodings": [{"name": "a", "output_dtype": '
                                             '"uint8", "y_scale": NaN}]}'), EncodingsError,
         r"tensor 'a': scale nan is not a positive finite"),
    Case("enc-scale-inf", lambda t: parse(t, _enc100(_e100("a", scale=[float("inf")]))), EncodingsError,
         r"tensor 'a': scale inf"),
    Case("enc-scale-underflows-float32", lambda t: parse(t, _enc100(_e100("a", scale=[1e-50]))), EncodingsError,
         r"tensor 'a': scale 1e-50 .*float32"),
    Case("enc-scale-overflows-float32", lambda t: parse(t, _enc100(_e100("a", scale=[1e300]))), EncodingsError,
         r"tensor 'a': scale 1e\+300 .*float32"),
    Case("enc-offset-nan", lambda t: parse(t, '{"version": "1.0.0", "activation_encodings": [{"name": "a", "bw": 8, '
                                              '"scale": [0.1], "offset": [NaN]}]}'), EncodingsError,
         r"tensor 'a': offset nan is not a finite number"),
    Case("enc-ragged-y-scale", lambda t: parse(t, {"version": "2.0.0", "encodings": [_e200("a", y_scale=[[1.0], 2.0])]}),
         EncodingsError, r"tensor 'a'.*y_scale"),
    Case("enc-string-in-y-scale", lambda t: parse(t, {"version": "2.0.0", "encodings": [_e200("a", y_scale=["big"])]}),
         EncodingsError, r"tensor 'a'.*y_scale"),
    Case("enc-lpbq-mismatch-2x", lambda t: parse(t, {"version": "2.0.0", "encodings": [
        _e200("a", output_dtype="int4", y_scale=None, per_block_int_scale=[1, 2, 3], per_channel_float_scale=[0.1, 0.2],
              block_size=2, axis=1)]}), EncodingsError, r"tensor 'a'.*per_block_int_scale"),
    Case("enc-lpbq-empty-scale-100", lambda t: parse(t, _enc100(params=[_e100(
        "w", scale=[], offset=[], enc_type="LPBQ", compressed_bw=4, per_block_int_scale=[1, 2], block_size=2)])),
         EncodingsError, r"tensor 'w'"),
    Case("enc-lpbq-huge-compressed-bw", lambda t: parse(t, _enc100(params=[_e100(
        "w", scale=[0.1], offset=[0], enc_type="LPBQ", compressed_bw=5000, per_block_int_scale=[1, 2], block_size=2)])),
         EncodingsError, r"tensor 'w': bitwidth 5000 is out of range"),
    Case("enc-zero-point-shift-mismatch", lambda t: parse(t, _enc100(_e100("a", scale=[0.1, 0.2], offset=[0, 0],
                                                                           enc_type="PER_CHANNEL",
                                                                           zero_point_shift=[1, 2, 3]))),
         EncodingsError, r"tensor 'a': 3 zero_point_shift values for 2 offsets"),
    Case("enc-deeply-nested", lambda t: parse(t, _deep_json()), EncodingsError, r"nested too deeply"),
    Case("enc-huge-integer", lambda t: parse(t, '{"version": "1.0.0", "activation_encodings": [{"name": "a", "bw": '
                                                + "9" * 5000 + "}]}"), EncodingsError, r"is not valid JSON"),
    Case("enc-unknown-tensor", lambda t: session_with(t, enc=_enc100(_e100("nope"))), EncodingsError,
         r"model\.encodings: 1 encoded tensor\(s\) do not exist in model .*'nope'"),
    Case("enc-per-channel-count", lambda t: session_with(t, enc=_enc100(params=[_e100(
        "w", scale=[0.1, 0.2], offset=[0, 0], enc_type="PER_CHANNEL")])), EncodingsError,
         r"tensor 'w' \(shape \(4, 3\)\).*2 per-channel scales do not match dimension 1 \(size 3\)"),
    Case("enc-per-channel-count-2x-axis", lambda t: session_with(t, enc={"version": "2.0.0", "encodings": [
        _e200("w", output_dtype="int8", y_scale=[0.1] * 5, axis=0)]}), EncodingsError,
         r"tensor 'w'.*5 per-channel scales do not match dimension 0 \(size 4\)"),
    Case("enc-axis-out-of-range", lambda t: session_with(t, enc={"version": "2.0.0", "encodings": [
        _e200("w", output_dtype="int8", y_scale=[0.1] * 3, axis=7)]}), EncodingsError,
         r"tensor 'w'.*channel axis 7 is out of range"),
    Case("enc-int-initializer", lambda t: session_with(t, _graph_model(
        [helper.make_node("Reshape", ["x", "s"], ["y"], "r")], [numpy_helper.from_array(np.array([4, 1]), "s")]),
        enc=_enc100(params=[_e100("s")])), EncodingsError, r"tensor 's' is an initializer of type int64"),
    Case("enc-per-block-activation", lambda t: session_with(t, enc=_enc100(_e100("m", enc_type="PER_BLOCK",
                                                                                 block_size=2))),
         EncodingsError, r"tensor 'm' is an activation; per-block encodings are for weights"),
    Case("enc-activation-per-channel-count", lambda t: run_session(t, enc={"version": "2.0.0", "encodings": [
        _e200("m", y_scale=[0.1, 0.2], axis=1)]}), EncodingsError,
         r"activation 'm'.*2 per-channel scales do not match dimension 1 \(size 3\)"),

    # data
    Case("data-empty-folder", lambda t: run_data(t, lambda t: os.path.join(t, "")), DataError, r"holds no samples"),
    Case("data-mapping-unknown-input", lambda t: run_data(t, lambda t: (_data(t, {"x": X}), _write(
        os.path.join(t, "data"), "input_folder_mapping.json", {"x": "x_dir", "z": "x_dir"}))[0]), DataError,
         r"names input\(s\) \['z'\] that the model does not have"),
    Case("data-mapping-not-json", lambda t: run_data(t, lambda t: (_data(t, {"x": X}), _write(
        os.path.join(t, "data"), "input_folder_mapping.json", "{oops"))[0]), DataError,
         r"input_folder_mapping\.json' is not valid JSON"),
    Case("data-mapping-outside", lambda t: run_data(t, lambda t: (_data(t, {"x": X}), _write(
        os.path.join(t, "data"), "input_folder_mapping.json", {"x": "../.."}))[0]), DataError,
         r"folder '\.\./\.\.' of input 'x' is outside the data folder"),
    Case("data-mapping-nul-byte", lambda t: run_data(t, lambda t: (_data(t, {"x": X}), _write(
        os.path.join(t, "data"), "input_folder_mapping.json", {"x": "x\0dir"}))[0]), DataError,
         r"folder 'x\\x00dir' of input 'x'"),
    Case("data-missing-sample", lambda t: run_data(t, lambda t: (_data(t, {"x": X}), _data(t, {"z": X}, "other"),
                                                                  np.save(os.path.join(t, "data", "x_dir", "s1.npy"), X))[0],
                                                   model=_graph_model([helper.make_node("Add", ["x", "z"], ["y"], "a")],
                                                                      inputs=(("x", 1, [1, 4]), ("z", 1, [1, 4])))),
         DataError, r"gives no folder for model input\(s\) \['z'\]"),
    Case("data-missing-sample-file", lambda t: load_input_data(
        (_data(t, {"x": X, "z": X}), np.save(os.path.join(t, "data", "x_dir", "s1.npy"), X))[0],
        [Interpreter(_graph_model([helper.make_node("Add", ["x", "z"], ["y"], "a")],
                                  inputs=(("x", 1, [1, 4]), ("z", 1, [1, 4])))).inputs][0]), DataError,
         r"input 'z'.*no file for sample\(s\) \['s1'\]"),
    Case("data-wrong-shape", lambda t: run_data(t, {"x": np.ones((2, 4), np.float32)}), DataError,
         r"s0\.npy' \(input 'x'\) has shape \(2, 4\), the model expects \(1, 4\)"),
    Case("data-wrong-dtype", lambda t: run_data(t, {"x": np.ones((1, 4), np.float64)}), DataError,
         r"s0\.npy' \(input 'x'\) has dtype float64, the model expects float32"),
    Case("data-wrong-rank", lambda t: run_data(t, {"x": np.ones(4, np.float32)}), DataError,
         r"has shape \(4,\), the model expects \(1, 4\)"),
    Case("data-not-npy", lambda t: load_data(t, lambda t: os.path.dirname(_write(os.makedirs(os.path.join(t, "d")) or
                                                                                 os.path.join(t, "d"), "s.npy", "hi"))),
         DataError, r"s\.npy' is not a valid \.npy file"),
    Case("data-huge-header", lambda t: load_data(t, _huge_header), DataError,
         r"s0\.npy' is truncated: its header declares 1x1099511627776 float32"),
    Case("data-garbage-test-set", lambda t: load_input_data(_garbage_test_set(t)), DataError,
         r"input_0\.pb' cannot be read"),
    Case("data-feed-ragged", lambda t: run_session(t, feed={"x": [[1.0, 2.0], [3.0]]}), DataError,
         r"input 'x' cannot be read as an array"),
    Case("data-feed-unknown-input", lambda t: run_session(t, feed={"x": X, "q": X}), DataError,
         r"unknown input name\(s\) 'q'"),
    Case("data-feed-wrong-dtype", lambda t: run_session(t, feed={"x": X.astype(np.float16)}), DataError,
         r"input 'x' has dtype float16"),

    # parameters
    Case("param-unknown-metric", lambda t: C(metric="snrr"), ParameterError,
         r"field 'metric'.*unknown metric 'snrr'; valid metrics: snr"),
    Case("param-nan-threshold", lambda t: C(threshold=float("nan")), ParameterError,
         r"field 'threshold'.*finite number"),
    Case("param-inf-threshold-layerwise", lambda t: C(LayerwiseCheckerParameters, isolated_threshold=float("inf")),
         ParameterError, r"field 'isolated_threshold'.*finite number"),
    Case("param-threshold-text", lambda t: C(threshold="high"), ParameterError, r"field 'threshold'"),
    Case("param-unknown-layer-name", lambda t: Simulator.run_inference(P(layerwise_check_name=["/nope"])),
         ParameterError, r"tensor '/nope' does not exist in model"),
    Case("param-unknown-layerwise-match", lambda t: Simulator.compare_model_by_layer(C(
        LayerwiseCheckerParameters, layer_match_info=[("/Add_output_0", "nope")])), ParameterError,
         r"tensor 'nope' does not exist in model"),
    Case("param-layer-name-not-text", lambda t: P(layerwise_check_name=[3]), ParameterError,
         r"field 'layerwise_check_name\.0'"),
    Case("param-unknown-field", lambda t: P(bogus=1), ParameterError, r"unknown field 'bogus'"),
    Case("param-run-output-not-text", lambda t: session_with(t).run([1], {"x": X}), ParameterError,
         r"output names must be strings, got 1"),
    Case("param-wrong-params-class", lambda t: Simulator.run_inference({"input_model_path": EX_MODEL}),
         ParameterError, r"expected InferenceRunnerParameters, got dict"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_a_clear_project_error(tmp_path, case):
    with pytest.raises(SimulatorError) as info:
        case.call(str(tmp_path))
    assert isinstance(info.value, case.error), f"{type(info.value).__name__}: {info.value}"
    assert info.match(case.match)
    assert "\n" not in str(info.value).strip() or case.error is KernelError


def test_the_corpus_is_large_enough():
    assert len(CASES) + len(CLI_CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)


def test_pickled_npy_is_never_loaded(tmp_path):
    marker = tmp_path / "pwned"
    for call in (lambda: load_input_data(_pickled(str(tmp_path), marker)),
                 lambda: Simulator.run_inference(InferenceRunnerParameters(
                     input_model_path=_save_model(str(tmp_path), good_model()),
                     input_data_path=str(tmp_path / "data")))):
        with pytest.raises(DataError, match=r"s0\.npy' holds a pickled \(object\) array; pickles are never loaded"):
            call()
        assert not marker.exists()


def test_external_data_outside_is_never_read(tmp_path):
    """The refusal comes before any read: a secret next to (not inside) the model's folder stays unread."""
    inner = tmp_path / "model"
    inner.mkdir()
    (tmp_path / "weights.bin").write_bytes(np.ones((4, 3), np.float32).tobytes())
    path = _external(str(inner), "../weights.bin", data=False)
    with pytest.raises(ModelError, match="outside the model's folder"):
        InferenceSession(path)
    # the same tensor inside the folder loads
    os.replace(tmp_path / "weights.bin", inner / "weights.bin")
    path = _external(str(inner), "weights.bin", data=False)
    out, = InferenceSession(path).run(None, {"x": X})
    np.testing.assert_array_equal(out, np.full((1, 3), 4, np.float32))


# -- the command line ----------------------------------------------------------------------------

def _cli(*args):
    return subprocess.run([sys.executable, "-m", "simulator", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


def _bad_model(t):
    return _write(t, "m.onnx", "not a model")


def _bad_enc(t):
    return _write(t, "e.encodings", _enc100(_e100("input", bw=0)))


def _empty_data(t):
    os.makedirs(os.path.join(t, "empty"))
    return os.path.join(t, "empty")


CLI_CASES = [
    ("cli-model-is-folder", lambda t: ["run", EXAMPLE, "-d", EX_DATA, "-o", t], r"is a folder"),
    ("cli-model-missing", lambda t: ["run", os.path.join(t, "no.onnx"), "-d", EX_DATA, "-o", t], r"does not exist"),
    ("cli-model-not-onnx", lambda t: ["run", _bad_model(t), "-d", EX_DATA, "-o", t],
     r"m\.onnx'.*(not a valid ONNX model|holds no graph)"),
    ("cli-encodings-bitwidth-0", lambda t: ["run", EX_MODEL, "-e", _bad_enc(t), "-d", EX_DATA, "-o", t],
     r"tensor 'input': bitwidth 0 is out of range"),
    ("cli-data-empty", lambda t: ["run", EX_MODEL, "-d", _empty_data(t), "-o", t], r"holds no samples"),
    ("cli-pickled-data", lambda t: ["run", EX_MODEL, "-d", (os.makedirs(os.path.join(t, "d")), np.save(
        os.path.join(t, "d", "a.npy"), np.array([{}], dtype=object), allow_pickle=True),
        os.path.join(t, "d"))[2], "-o", t], r"a\.npy' holds a pickled \(object\) array; pickles are never loaded"),
    ("cli-unknown-layer", lambda t: ["run", EX_MODEL, "-d", EX_DATA, "-o", t, "--layer", "/nope"],
     r"'/nope' does not exist"),
    ("cli-output-dir-is-a-file", lambda t: ["run", EX_MODEL, "-d", EX_DATA, "-o", EX_MODEL], r"model\.onnx"),
    ("cli-unknown-metric", lambda t: ["compare", EX_MODEL, EX_MODEL, "-d", EX_DATA, "--metric", "snrr"],
     r"invalid choice: 'snrr'"),
    ("cli-nan-threshold", lambda t: ["compare", EX_MODEL, EX_MODEL, "-d", EX_DATA, "--threshold", "nan"],
     r"threshold.*finite number"),
    ("cli-usage-error", lambda t: ["run"], r"usage:"),
    ("cli-layerwise-unknown-name", lambda t: ["layerwise", EX_MODEL, EX_MODEL, "-d", EX_DATA, "-q", "--match",
                                              "/Add_output_0", "nope"], r"tensor 'nope' does not exist"),
    ("cli-compare-model-not-onnx", lambda t: ["compare", EX_MODEL, _bad_model(t), "-d", EX_DATA, "-q"],
     r"m\.onnx'.*(not a valid ONNX model|holds no graph)"),
    ("cli-inspect-encodings-not-json", lambda t: ["inspect", EX_MODEL, "-e", _write(t, "e.json", "{bad")],
     r"e\.json' is not valid JSON"),
]


@pytest.mark.parametrize("case", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_prints_one_line_and_exits_2(tmp_path, case):
    _, args, match = case
    r = _cli(*args(str(tmp_path)))
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    assert re.search(match, r.stderr, re.S), r.stderr
