"""Hostile inputs: every case of issue 13 and a further corpus (paths, bombs, malformed ONNX and encodings,
NaN data, interrupted writes), each with the error class and message it must give, or the result it must give.

`python -m tests.hostile_corpus OUT.json` runs the corpus in this process, each case in its own temporary
folder and current directory, under a per-case alarm, and writes one record per case: what happened and
whether it was handled clearly. tests/test_hostile_inputs.py runs it under a memory and a time limit, so that
a regression that hangs or allocates without bound fails instead of stalling CI. The runner only uses the
public API and the CLI, so it also measures an older checkout (PYTHONPATH=that checkout).
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import zipfile
import zlib
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

PER_CASE_SECONDS = int(os.environ.get("HOSTILE_CASE_SECONDS", "30"))


# -- builders --------------------------------------------------------------------------------------

def _model(nodes, inits=(), inputs=(("x", TensorProto.FLOAT, [1, 4]),), outputs=(("y", None),), opset=17):
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, s) for o, s in outputs], list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _w(name="w"):
    return numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(4, 3) / 10, name)


def matmul_model():
    """x[1,4] -> MatMul(w[4,3]) -> y[1,3]."""
    return _model([helper.make_node("MatMul", ["x", "w"], ["y"], "mm")], [_w()], outputs=(("y", [1, 3]),))


def save(folder, model, name="model.onnx") -> str:
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    return path


def write(folder, name, content) -> str:
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    with open(path, "wb" if isinstance(content, bytes) else "w") as f:
        f.write(content if isinstance(content, (str, bytes)) else json.dumps(content))
    return path


X = np.array([[0.1, 0.2, 0.9, 0.3]], np.float32)


def data_folder(t, arrays=None, name="data") -> str:
    """mapping + one sub-folder per input with sample s0."""
    arrays = arrays or {"x": X}
    root = os.path.join(t, name)
    write(root, "input_folder_mapping.json", {k: k + "_dir" for k in arrays})
    for k, v in arrays.items():
        os.makedirs(os.path.join(root, k + "_dir"), exist_ok=True)
        np.save(os.path.join(root, k + "_dir", "s0.npy"), v)
    return root


def fifo(t, name) -> str:
    os.makedirs(t, exist_ok=True)
    path = os.path.join(t, name)
    os.mkfifo(path)
    return path


def external(tensor: TensorProto, location: str) -> TensorProto:
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    e = tensor.external_data.add()
    e.key, e.value = "location", location
    return tensor


def enc100(*acts, params=()):
    return {"version": "1.0.0", "activation_encodings": list(acts), "param_encodings": list(params)}


def e100(name, **kw):
    return {"name": name, "bw": 8, "dtype": "INT", "enc_type": "PER_TENSOR", "is_sym": False, "scale": [0.1],
            "offset": [0], **kw}


def e2x(name, **kw):
    return {"name": name, "output_dtype": "uint8", "y_scale": 0.1, **kw}


# -- entry points ----------------------------------------------------------------------------------

def session(model_path, enc=None):
    from simulator.session import InferenceSession
    return InferenceSession(model_path, enc)


def run_data(model_path, data, enc=None):
    from simulator.api import Simulator
    from simulator.schema.base import InferenceRunnerParameters
    return Simulator.run_inference(InferenceRunnerParameters(input_model_path=model_path, input_data_path=data,
                                                             input_encodings_path=enc))


def load_encodings(path):
    from simulator.encodings import load_encodings as load
    return load(path)


def verify(model_path, dumps, data=None):
    from simulator.api import Simulator
    from simulator.schema.base import FeaturemapVerifierParameters
    return Simulator.verify_featuremaps(FeaturemapVerifierParameters(input_model_path=model_path,
                                                                     featuremap_path=dumps, input_data_path=data))


@dataclass
class Reported:
    """A problem verify_featuremaps reported in its result (a layer's note) instead of raising."""
    message: str


def verify_reported(model_path, dumps, data=None):
    result = verify(model_path, dumps, data)
    notes = [n for layer in result.to_dict()["layers"] for n in (layer.get("note"), layer.get("isolated_note")) if n]
    return Reported(notes[0] if notes else f"nothing reported (passed={result.passed})")


def with_inputs(t, dumps):
    """An AIMET dump's inputs/ folder (x of sample 0), next to its outputs/."""
    os.makedirs(os.path.join(dumps, "inputs"), exist_ok=True)
    X.tofile(os.path.join(dumps, "inputs", "input_0.raw"))
    return dumps


def compare(m0, m1, data, enc1=None, **kw):
    from simulator.api import Simulator
    from simulator.schema.base import InferenceCheckerParameters
    return Simulator.compare_model_by_inference(InferenceCheckerParameters(
        input_model_path_0=m0, input_model_path_1=m1, input_data_path=data, input_encodings_path_1=enc1, **kw))


@dataclass
class Cli:
    rc: int
    stdout: str
    stderr: str


def cli(*args, limits: Optional[Callable] = None, timeout=PER_CASE_SECONDS - 5) -> Cli:
    r = subprocess.run([sys.executable, "-m", "simulator", *map(str, args)], capture_output=True, text=True,
                       timeout=timeout, preexec_fn=limits)
    return Cli(r.returncode, r.stdout, r.stderr)


@contextlib.contextmanager
def env(**values):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update({k: str(v) for k, v in values.items()})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# -- the cases of the issue -------------------------------------------------------------------------

def pb_external_from_cwd(t):
    """input_0.pb with external data 'x.bin': a file of that name in the working directory must not be read."""
    np.ones((1, 4), np.float32).tofile("x.bin")  # the cwd
    tensor = external(numpy_helper.from_array(X, "x"), "x.bin")
    write(os.path.join(t, "data", "test_data_set_0"), "input_0.pb", tensor.SerializeToString())
    run_data(save(t, matmul_model()), os.path.join(t, "data"))


def pb_external_next_to_pb(t):
    folder = os.path.join(t, "data", "test_data_set_0")
    os.makedirs(folder)
    X.tofile(os.path.join(folder, "x.bin"))
    write(folder, "input_0.pb", external(numpy_helper.from_array(X, "x"), "x.bin").SerializeToString())
    (out,), = run_data(save(t, matmul_model()), os.path.join(t, "data")).values()
    np.testing.assert_allclose(out, X @ (np.arange(12, dtype=np.float32).reshape(4, 3) / 10), rtol=1e-6)


def sparse_external_from_cwd(t):
    np.ones(2, np.float32).tofile("vals.bin")  # the cwd
    values = external(numpy_helper.from_array(np.ones(2, np.float32), "w"), "vals.bin")
    sp = helper.make_sparse_tensor(values, numpy_helper.from_array(np.array([0, 5], np.int64), "w_idx"), [4, 3])
    m = _model([helper.make_node("MatMul", ["x", "w"], ["y"], "mm")])
    m.graph.sparse_initializer.append(sp)
    session(save(os.path.join(t, "model"), m))


def npy_symlink_outside(t):
    np.save(os.path.join(t, "secret.npy"), X)
    root = data_folder(t)
    os.remove(os.path.join(root, "x_dir", "s0.npy"))
    os.symlink(os.path.join(t, "secret.npy"), os.path.join(root, "x_dir", "s0.npy"))
    run_data(save(t, matmul_model()), root)


def mapping_symlink_outside(t):
    root = data_folder(t)
    write(t, "other.json", {"x": "x_dir"})
    os.remove(os.path.join(root, "input_folder_mapping.json"))
    os.symlink(os.path.join(t, "other.json"), os.path.join(root, "input_folder_mapping.json"))
    run_data(save(t, matmul_model()), root)


def subfolder_symlink_outside(t):
    os.makedirs(os.path.join(t, "elsewhere"))
    np.save(os.path.join(t, "elsewhere", "s0.npy"), X)
    os.makedirs(os.path.join(t, "data"))
    os.symlink(os.path.join(t, "elsewhere"), os.path.join(t, "data", "x"))
    run_data(save(t, matmul_model()), os.path.join(t, "data"))


def run_through_symlink(t):
    victim = write(t, "victim.txt", "keep me")
    out = os.path.join(t, "out")
    os.makedirs(out)
    os.symlink(victim, os.path.join(out, "s0.npz"))
    r = cli("run", save(t, matmul_model()), "-d", data_folder(t), "-o", out, "-q")
    assert open(victim).read() == "keep me", "the file behind the symlink was overwritten"
    return r


def fifo_model(t):
    session(fifo(t, "model.onnx"))


def fifo_encodings(t):
    session(save(t, matmul_model()), fifo(t, "model.encodings"))


def fifo_raw_dump(t):
    folder = os.path.join(t, "dump", "outputs", "layer_outputs_0")
    os.makedirs(folder)
    fifo(folder, "y.raw")
    return verify_reported(save(t, matmul_model()), with_inputs(t, os.path.join(t, "dump")))


def dev_zero_encodings(t):
    session(save(t, matmul_model()), "/dev/zero")


def dev_urandom_model(t):
    session("/dev/urandom")


def _loop_model(trip: Optional[int]):
    body = helper.make_graph(
        [helper.make_node("Identity", ["c_in"], ["c_out"]), helper.make_node("Add", ["v_in", "one"], ["v_out"])],
        "body", [helper.make_tensor_value_info("i", TensorProto.INT64, []),
                 helper.make_tensor_value_info("c_in", TensorProto.BOOL, []),
                 helper.make_tensor_value_info("v_in", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("c_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [1])],
        [numpy_helper.from_array(np.ones(1, np.float32), "one")])
    inits = [numpy_helper.from_array(np.array(True), "cond")]
    if trip is not None:
        inits.append(numpy_helper.from_array(np.array(trip, np.int64), "M"))
    return _model([helper.make_node("Loop", ["M" if trip is not None else "", "cond", "x"], ["y"], "loop", body=body)],
                  inits, inputs=(("x", TensorProto.FLOAT, [1]),))


def loop_trip_count(t, trip=10 ** 12):
    return session(save(t, _loop_model(trip))).run(None, {"x": np.zeros(1, np.float32)})


class _RepeatingDeflate:
    """A deflate 'compressor' that emits one precomputed block for every all-zero chunk: a bomb in a second."""

    def __init__(self, chunk):
        self.c, self.chunk, self.block = zlib.compressobj(9, zlib.DEFLATED, -15), chunk, None

    def compress(self, data):
        if len(data) == self.chunk:
            if self.block is None:
                self.block = self.c.compress(data) + self.c.flush(zlib.Z_FULL_FLUSH)
            return self.block
        return self.c.compress(data) + self.c.flush(zlib.Z_FULL_FLUSH)

    def flush(self):
        return self.c.flush()


def npz_bomb(path, nbytes=2_200_000_000, chunk=1 << 24):
    """An .npz whose member 'y' inflates to `nbytes` of float32 zeros (a few MB on disk)."""
    original = zipfile._get_compressor
    zipfile._get_compressor = lambda *a, **k: _RepeatingDeflate(chunk)
    try:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z, z.open("y.npy", "w", force_zip64=True) as m:
            header = {"descr": "<f4", "fortran_order": False, "shape": (nbytes // 4,)}
            np.lib.format.write_array_header_1_0(m, header)
            zeros, left = bytes(chunk), nbytes
            while left >= chunk:
                m.write(zeros)
                left -= chunk
            m.write(bytes(left))
    finally:
        zipfile._get_compressor = original
    return path


def npz_dump_bomb(t):
    os.makedirs(os.path.join(t, "dump"))
    npz_bomb(os.path.join(t, "dump", "s0.npz"))
    return verify_reported(save(t, matmul_model()), os.path.join(t, "dump"), data_folder(t))


def _npz_with_member(t, write_member):
    os.makedirs(os.path.join(t, "dump"))
    with zipfile.ZipFile(os.path.join(t, "dump", "s0.npz"), "w") as z, z.open("y.npy", "w") as m:
        write_member(m)
    return verify_reported(save(t, matmul_model()), os.path.join(t, "dump"), data_folder(t))


def npz_member_2_40(t):
    def member(m):
        np.lib.format.write_array_header_1_0(m, {"descr": "<f4", "fortran_order": False, "shape": (2 ** 40,)})
        m.write(b"\0" * 64)
    return _npz_with_member(t, member)


def npz_member_pickled(t):
    return _npz_with_member(t, lambda m: np.lib.format.write_array(m, np.array([{}], dtype=object),
                                                                   allow_pickle=True))


def million_entry_encodings(t):
    entry = '{"name": "t%d", "bw": 8, "dtype": "INT", "enc_type": "PER_TENSOR", "is_sym": false, "scale": [0.1], ' \
            '"offset": [0]}'
    text = '{"version": "1.0.0", "param_encodings": [], "activation_encodings": [' + \
        ", ".join(entry % i for i in range(10 ** 6)) + "]}"
    session(save(t, matmul_model()), write(t, "big.encodings", text))


def version_layout_mismatch(t):
    load_encodings(write(t, "e.json", dict(enc100(e100("y")), version="2.1.0")))


def inspect_version_layout_mismatch(t):
    return cli("inspect", save(t, matmul_model()), "-e", write(t, "e.json", dict(enc100(e100("y")), version="2.1.0")))


def empty_encodings_warn_cli(t):
    r = cli("run", save(t, matmul_model()), "-e", write(t, "e.json", {"version": "2.1.0", "encodings": []}), "-d",
            data_folder(t), "-o", os.path.join(t, "out"), "-q")
    assert r.rc == 0, r.stderr
    assert re.search(r"warning: encodings file .*e\.json' \(version 2\.1\.0\) holds no encodings: nothing is "
                     r"quantized", r.stderr), r.stderr


def empty_encodings_warn_result(t):
    m = save(t, matmul_model())
    result = compare(m, m, data_folder(t), enc1=write(t, "e.json", {"version": "2.1.0", "encodings": []}))
    assert any("holds no encodings" in w for w in getattr(result, "warnings", [])), "no warning in the result"
    assert any("holds no encodings" in w for w in result.to_dict().get("warnings", [])), "no warning in to_dict()"
    r = cli("inspect", m, "-e", os.path.join(t, "e.json"))
    assert "no-encodings" in r.stdout and "no warnings" not in r.stdout, r.stdout


def bitwidth_true(t):
    load_encodings(write(t, "e.json", {"version": "0.6.1", "activation_encodings": {
        "y": [{"bitwidth": True, "scale": 0.1, "offset": 0, "min": 0, "max": 1}]}}))


def zero_point_1000(t):
    load_encodings(write(t, "e.json", {"version": "2.0.0", "encodings": [e2x("y", y_zero_point=1000)]}))


def negative_dims(t):
    w = numpy_helper.from_array(np.ones((4, 3), np.float32), "w")
    w.dims[:] = [-4, 3]
    session(save(t, _model([helper.make_node("MatMul", ["x", "w"], ["y"], "mm")], [w])))


def _maxpool(x, **attrs):
    return _model([helper.make_node("MaxPool", ["x"], ["y"], "pool", **attrs)],
                  inputs=(("x", TensorProto.FLOAT, list(x.shape)),))


def _onnxruntime(model, feeds):
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1  # few threads: the corpus runs under RLIMIT_AS
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"]).run(
        None, feeds)[0]


def maxpool_nan_and_5(t):
    x = np.array([[[[np.nan, 5.0, 1.0, 2.0]]]], np.float32)
    m = _maxpool(x, kernel_shape=[1, 2], strides=[1, 2])
    (got,) = session(save(t, m)).run(None, {"x": x})
    np.testing.assert_array_equal(got, np.array([[[[5.0, 2.0]]]], np.float32))
    want = _onnxruntime(m, {"x": x})
    if want is not None:
        np.testing.assert_array_equal(got, want)


def topk_nan_fails(t):
    nan_k = numpy_helper.from_array(np.array([[1, np.nan, 1, 1]], np.float32), "k")
    m0 = save(t, _model([helper.make_node("Identity", ["x"], ["y"], "id")]), "m0.onnx")
    m1 = save(t, _model([helper.make_node("Mul", ["x", "k"], ["y"], "mul")], [nan_k]), "m1.onnx")
    result = compare(m0, m1, data_folder(t), metric="topk", threshold=0.5)
    assert not result.passed, "the topk metric passed although model 1's output holds NaN"


def npz_keyword_names(t):
    m = _model([helper.make_node("Relu", ["x"], ["allow_pickle"], "a"), helper.make_node("Neg", ["x"], ["file"], "b")],
               outputs=(("allow_pickle", None), ("file", None)))
    out = os.path.join(t, "out")
    r = cli("run", save(t, m), "-d", data_folder(t), "-o", out, "-q")
    assert r.rc == 0, r.stderr
    with np.load(os.path.join(out, "s0.npz"), allow_pickle=False) as z:
        assert sorted(z.files) == ["allow_pickle", "file"], z.files
        np.testing.assert_array_equal(z["file"], -X)


def interrupted_write(t):
    """Ctrl-C in the middle of writing an output: no truncated .npz (and no temporary file) is left behind."""
    from simulator.cli import main
    modules = [np.lib.format] + [m for m in (getattr(np.lib, "_format_impl", None),) if m is not None]
    originals = [m.write_array for m in modules]

    def half_then_interrupt(fp, array, *a, **k):
        fp.write(b"\x93NUMPY" + bytes(1000))
        raise KeyboardInterrupt

    out = os.path.join(t, "out")
    args = ["run", save(t, matmul_model()), "-d", data_folder(t), "-o", out, "-q"]
    os.makedirs(out)
    for m in modules:
        m.write_array = half_then_interrupt
    try:
        with contextlib.redirect_stdout(open(os.devnull, "w")), contextlib.redirect_stderr(open(os.devnull, "w")):
            with contextlib.suppress(KeyboardInterrupt):
                main(args)
    finally:
        for m, original in zip(modules, originals):
            m.write_array = original
    left = os.listdir(out) if os.path.isdir(out) else []
    assert not left, f"left behind after the interrupt: {left}"


def file_too_large(t):
    big = _model([helper.make_node("Tile", ["x", "reps"], ["y"], "tile")],
                 [numpy_helper.from_array(np.array([1, 4096], np.int64), "reps")])
    out = os.path.join(t, "out")
    os.makedirs(out)
    r = cli("run", save(t, big), "-d", data_folder(t), "-o", out, "-q",
            limits=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000)))
    assert not os.listdir(out), f"left behind: {os.listdir(out)}"
    return r


def deep_mapping(t):
    root = data_folder(t)
    write(root, "input_folder_mapping.json", "[" * 100_000 + "]" * 100_000)
    run_data(save(t, matmul_model()), root)


def deep_match_file(t):
    m = save(t, matmul_model())
    return cli("layerwise", m, m, "-d", data_folder(t), "-q", "--match-file",
               write(t, "match.json", "[" * 100_000 + "]" * 100_000))


def identity_chain(t, n=3000):
    nodes = [helper.make_node("Identity", ["w" if i == 0 else f"w{i}"], [f"w{i + 1}"], f"id{i}") for i in range(n)]
    nodes.append(helper.make_node("MatMul", ["x", f"w{n}"], ["y"], "mm"))
    enc = enc100(params=[e100("w", enc_type="PER_CHANNEL", scale=[0.01, 0.02, 0.03], offset=[0, 0, 0])])
    (out,) = session(save(t, _model(nodes, [_w()])), write(t, "e.json", enc)).run(None, {"x": X})
    assert out.shape == (1, 3)


def _external_model(t, location):
    folder = os.path.join(t, "model")
    os.makedirs(os.path.join(folder, "sub"))
    np.ones((4, 3), np.float32).tofile(os.path.join(folder, "weights.bin"))
    w = external(numpy_helper.from_array(np.ones((4, 3), np.float32), "w"), location)
    return save(folder, _model([helper.make_node("MatMul", ["x", "w"], ["y"], "mm")], [w]))


def external_dotdot_inside(t):
    """'../model/weights.bin' from inside 'model/' resolves inside the folder; onnx refuses the '..' anyway."""
    session(_external_model(t, "../model/weights.bin"))


def external_dotdot_within(t):
    (out,) = session(_external_model(t, "sub/../weights.bin")).run(None, {"x": X})
    np.testing.assert_allclose(out, X @ np.ones((4, 3), np.float32), rtol=1e-6)


# -- the further corpus ------------------------------------------------------------------------------

def fifo_data_npy(t):
    root = data_folder(t)
    os.remove(os.path.join(root, "x_dir", "s0.npy"))
    fifo(os.path.join(root, "x_dir"), "s0.npy")
    run_data(save(t, matmul_model()), root)


def fifo_mapping(t):
    root = data_folder(t)
    os.remove(os.path.join(root, "input_folder_mapping.json"))
    fifo(root, "input_folder_mapping.json")
    run_data(save(t, matmul_model()), root)


def fifo_match_file(t):
    m = save(t, matmul_model())
    return cli("layerwise", m, m, "-d", data_folder(t), "-q", "--match-file", fifo(t, "match.json"))


def fifo_external_data(t):
    fifo(t, "weights.bin")
    w = external(numpy_helper.from_array(np.ones((4, 3), np.float32), "w"), "weights.bin")
    session(save(t, _model([helper.make_node("MatMul", ["x", "w"], ["y"], "mm")], [w])))


def fifo_npy_dump(t):
    fifo(os.path.join(t, "dump", "s0"), "y.npy")
    return verify_reported(save(t, matmul_model()), os.path.join(t, "dump"), data_folder(t))


def encodings_link_to_dev_zero(t):
    os.symlink("/dev/zero", os.path.join(t, "model.encodings"))
    session(save(t, matmul_model()), os.path.join(t, "model.encodings"))


def data_link_to_dev_zero(t):
    root = data_folder(t)
    os.remove(os.path.join(root, "x_dir", "s0.npy"))
    os.symlink("/dev/zero", os.path.join(root, "x_dir", "s0.npy"))
    run_data(save(t, matmul_model()), root)


def external_symlink_outside(t):
    np.ones((4, 3), np.float32).tofile(os.path.join(t, "secret.bin"))
    folder = os.path.join(t, "model")
    os.makedirs(folder)
    os.symlink(os.path.join(t, "secret.bin"), os.path.join(folder, "weights.bin"))
    w = external(numpy_helper.from_array(np.ones((4, 3), np.float32), "w"), "weights.bin")
    session(save(folder, _model([helper.make_node("MatMul", ["x", "w"], ["y"], "mm")], [w])))


def pb_external_outside(t):
    X.tofile(os.path.join(t, "secret.bin"))
    tensor = external(numpy_helper.from_array(X, "x"), "../../secret.bin")
    write(os.path.join(t, "data", "test_data_set_0"), "input_0.pb", tensor.SerializeToString())
    run_data(save(t, matmul_model()), os.path.join(t, "data"))


def npz_dump_not_zip(t):
    write(os.path.join(t, "dump"), "s0.npz", b"PK\x03\x04 not really a zip" * 10)
    return verify_reported(save(t, matmul_model()), os.path.join(t, "dump"))


def npz_dump_corrupt(t):
    os.makedirs(os.path.join(t, "dump"))
    path = os.path.join(t, "dump", "s0.npz")
    np.savez(path, y=np.full((1, 3), 7, np.float32))
    data = bytearray(open(path, "rb").read())
    at = data.index(b"\x00\x00\xe0\x40")  # a 7.0f of the stored array
    data[at + 3] ^= 0xFF
    open(path, "wb").write(bytes(data))
    return verify_reported(save(t, matmul_model()), os.path.join(t, "dump"), data_folder(t))


def npz_dump_symlink_outside(t):
    np.savez(os.path.join(t, "secret.npz"), y=np.ones((1, 3), np.float32))
    os.makedirs(os.path.join(t, "dump"))
    os.symlink(os.path.join(t, "secret.npz"), os.path.join(t, "dump", "s0.npz"))
    return verify_reported(save(t, matmul_model()), os.path.join(t, "dump"), data_folder(t))


def npy_dump_symlink_outside(t):
    np.save(os.path.join(t, "secret.npy"), np.ones((1, 3), np.float32))
    os.makedirs(os.path.join(t, "dump", "s0"))
    os.symlink(os.path.join(t, "secret.npy"), os.path.join(t, "dump", "s0", "y.npy"))
    return verify_reported(save(t, matmul_model()), os.path.join(t, "dump"), data_folder(t))


def raw_dump_huge(t):
    folder = os.path.join(t, "dump", "outputs", "layer_outputs_0")
    os.makedirs(folder)
    with open(os.path.join(folder, "y.raw"), "wb") as f:
        f.truncate(1 << 32)  # sparse: 4 GB that take no disk
    return verify_reported(save(t, matmul_model()), with_inputs(t, os.path.join(t, "dump")))


def bw_true_100(t):
    load_encodings(write(t, "e.json", enc100(e100("y", bw=True))))


def compressed_bw_false(t):
    load_encodings(write(t, "e.json", enc100(params=[e100("w", enc_type="LPBQ", scale=[0.1, 0.1, 0.1],
                                                          offset=[0, 0, 0], compressed_bw=False, block_size=2,
                                                          per_block_int_scale=[1, 2, 1, 2, 1, 2])])))


def block_size_true(t):
    load_encodings(write(t, "e.json", {"version": "2.0.0", "encodings": [e2x("w", output_dtype="int4", y_scale=[[0.1]],
                                                                             axis=0, block_size=True)]}))


def int8_zero_point_low(t):
    load_encodings(write(t, "e.json", {"version": "2.0.0", "encodings": [e2x("y", output_dtype="int8",
                                                                             y_zero_point=-129)]}))


def zero_point_fraction(t):
    load_encodings(write(t, "e.json", {"version": "2.0.0", "encodings": [e2x("y", y_zero_point=1.5)]}))


def version_100_with_2x_layout(t):
    load_encodings(write(t, "e.json", {"version": "1.0.0", "encodings": [e2x("y")]}))


def encodings_over_limit(t):
    with env(SIMULATOR_MAX_JSON_BYTES=100):
        load_encodings(write(t, "e.json", enc100(e100("y"), e100("x"))))


def while_loop_unbounded(t):
    with env(SIMULATOR_MAX_LOOP_ITERATIONS=20_000):  # the default (100,000) takes a few seconds
        loop_trip_count(t, None)


def nested_loops_over_the_limit(t):
    """An outer Loop of 400 iterations whose body runs an inner Loop of 400: 160,000 in all."""
    inner = _loop_model(400).graph.node[0]
    body = helper.make_graph(
        [helper.make_node("Identity", ["oc_in"], ["oc_out"]),
         helper.make_node("Loop", ["M", "cond", "ov_in"], ["ov_out"], "inner", body=inner.attribute[0].g)],
        "outer_body", [helper.make_tensor_value_info("oi", TensorProto.INT64, []),
                       helper.make_tensor_value_info("oc_in", TensorProto.BOOL, []),
                       helper.make_tensor_value_info("ov_in", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("oc_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("ov_out", TensorProto.FLOAT, [1])])
    inits = [numpy_helper.from_array(np.array(True), "cond"), numpy_helper.from_array(np.array(400, np.int64), "M")]
    model = _model([helper.make_node("Loop", ["M", "cond", "x"], ["y"], "outer", body=body)], inits,
                   inputs=(("x", TensorProto.FLOAT, [1]),))
    with env(SIMULATOR_MAX_LOOP_ITERATIONS=20_000):
        session(save(t, model)).run(None, {"x": np.zeros(1, np.float32)})


def loop_trip_count_negative(t):
    (out,) = loop_trip_count(t, -5)
    np.testing.assert_array_equal(out, np.zeros(1, np.float32))


def initializer_huge_dims(t):
    w = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2 ** 40, 3])
    session(save(t, _model([helper.make_node("MatMul", ["x", "w"], ["y"], "mm")], [w])))


def pb_negative_dims(t):
    tensor = numpy_helper.from_array(X, "x")
    tensor.dims[:] = [-1, 4]
    write(os.path.join(t, "data", "test_data_set_0"), "input_0.pb", tensor.SerializeToString())
    run_data(save(t, matmul_model()), os.path.join(t, "data"))


def _link_to_victim(t, name):
    victim = write(t, "victim.txt", "keep me")
    link = os.path.join(t, name)
    os.symlink(victim, link)
    return victim, link


def report_through_symlink(t):
    victim, link = _link_to_victim(t, "report.json")
    m = save(t, matmul_model())
    r = cli("compare", m, m, "-d", data_folder(t), "-q", "--json", link)
    assert open(victim).read() == "keep me", "the file behind the symlink was overwritten"
    return r


def inspect_json_through_symlink(t):
    victim, link = _link_to_victim(t, "report.json")
    r = cli("inspect", save(t, matmul_model()), "--json", link)
    assert open(victim).read() == "keep me", "the file behind the symlink was overwritten"
    return r


def convert_through_symlink(t):
    victim, link = _link_to_victim(t, "out.encodings")
    r = cli("convert", write(t, "e.json", enc100(e100("y"))), "--to", "2.0.0", "-o", link)
    assert open(victim).read() == "keep me", "the file behind the symlink was overwritten"
    return r


def export_through_symlink(t):
    victim, link = _link_to_victim(t, "qdq.onnx")
    r = cli("export", save(t, matmul_model()), "-e", write(t, "e.json", enc100(e100("y"))), "-o", link)
    assert open(victim).read() == "keep me", "the file behind the symlink was overwritten"
    return r


def output_is_fifo(t):
    """A FIFO planted where an output goes is replaced, never opened (opening it for writing would block)."""
    out = os.path.join(t, "out")
    fifo(out, "s0.npz")
    r = cli("run", save(t, matmul_model()), "-d", data_folder(t), "-o", out, "-q")
    assert r.rc == 0, r.stderr
    with np.load(os.path.join(out, "s0.npz")) as z:
        assert z["y"].shape == (1, 3)


def nan_in_reference_fails(t):
    nan_k = numpy_helper.from_array(np.array([[1, np.nan, 1, 1]], np.float32), "k")
    m0 = save(t, _model([helper.make_node("Mul", ["x", "k"], ["y"], "mul")], [nan_k]), "m0.onnx")
    m1 = save(t, _model([helper.make_node("Identity", ["x"], ["y"], "id")]), "m1.onnx")
    for metric in ("snr", "cosine", "max_abs", "topk"):
        result = compare(m0, m1, data_folder(t), metric=metric, threshold=0.5)
        assert not result.passed, f"{metric} passed although model 0's output holds NaN"


def maxpool_nan_1d_matches_onnxruntime(t):
    x = np.array([[[np.nan, 5, np.nan, np.nan, 1, 2, np.nan, -np.inf]]], np.float32)
    m = _maxpool(x, kernel_shape=[2], strides=[1], pads=[1, 1])
    (got,) = session(save(t, m)).run(None, {"x": x})
    want = _onnxruntime(m, {"x": x})
    expected = np.array([[[np.finfo(np.float32).min, 5, 5, np.finfo(np.float32).min, 1, 2, 2,
                           np.finfo(np.float32).min, np.finfo(np.float32).min]]], np.float32)
    np.testing.assert_array_equal(got, expected if want is None else want)


def nan_input_runs(t):
    """NaN and inf in the data run through (no error, no warning) and stay NaN/inf as in ONNX Runtime."""
    root = data_folder(t, {"x": np.array([[np.nan, np.inf, -np.inf, 1]], np.float32)})
    (out,), = run_data(save(t, _model([helper.make_node("Relu", ["x"], ["y"], "r")])), root).values()
    np.testing.assert_array_equal(out, np.array([[np.nan, np.inf, 0, 1]], np.float32))


def mapping_nested_value(t):
    root = data_folder(t)
    write(root, "input_folder_mapping.json", {"x": {"a": [1, 2]}})
    run_data(save(t, matmul_model()), root)


def match_file_nested_pairs(t):
    m = save(t, matmul_model())
    return cli("layerwise", m, m, "-d", data_folder(t), "-q", "--match-file",
               write(t, "match.json", [[["y"]], "y"]))


def deep_encodings(t):
    session(save(t, matmul_model()), write(t, "e.json", '{"version": "1.0.0", "activation_encodings": '
                                           + "[" * 50_000 + "]" * 50_000 + "}"))


def unknown_tensors_061(t):
    entries = {f"t{i}": [{"bitwidth": 8, "scale": 0.1, "offset": 0, "min": 0, "max": 1}] for i in range(100_000)}
    session(save(t, matmul_model()), write(t, "e.json", {"version": "0.6.1", "activation_encodings": entries}))


def deep_subgraphs(t, depth=30):
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "leaf", [],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    for i in range(depth):
        leaf = helper.make_graph([helper.make_node("Identity", ["x"], [f"e{i}"])], f"e{i}", [],
                                 [helper.make_tensor_value_info(f"e{i}", TensorProto.FLOAT, [1, 4])])
        node = helper.make_node("If", ["c"], [f"y{i}"], f"if{i}", then_branch=graph, else_branch=leaf)
        graph = helper.make_graph([node], f"g{i}", [], [helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT,
                                                                                       [1, 4])])
    m = _model([helper.make_node("If", ["c"], ["y"], "top", then_branch=graph, else_branch=graph)],
               [numpy_helper.from_array(np.array(True), "c")])
    write(t, "model.onnx", m.SerializeToString())
    (out,) = session(os.path.join(t, "model.onnx")).run(None, {"x": X})
    np.testing.assert_array_equal(out, X)


def external_length_huge(t):
    np.ones((4, 3), np.float32).tofile(os.path.join(t, "weights.bin"))
    w = external(numpy_helper.from_array(np.ones((4, 3), np.float32), "w"), "weights.bin")
    e = w.external_data.add()
    e.key, e.value = "length", str(2 ** 62)
    session(save(t, _model([helper.make_node("MatMul", ["x", "w"], ["y"], "mm")], [w])))


def calibrate_through_symlink(t):
    victim, link = _link_to_victim(t, "cal.encodings")
    r = cli("calibrate", save(t, matmul_model()), "-d", data_folder(t), "-o", link)
    assert open(victim).read() == "keep me", "the file behind the symlink was overwritten"
    return r


def npy_huge_header_length(t):
    root = data_folder(t)
    with open(os.path.join(root, "x_dir", "s0.npy"), "wb") as f:
        f.write(b"\x93NUMPY\x02\x00" + (2 ** 31).to_bytes(4, "little") + b"{" * 64)
    run_data(save(t, matmul_model()), root)


def mapping_over_limit(t):
    root = data_folder(t)
    with env(SIMULATOR_MAX_JSON_BYTES=10):
        run_data(save(t, matmul_model()), root)


def range_1e12(t):
    m = _model([helper.make_node("Range", ["a", "b", "d"], ["r"], "range"),
                helper.make_node("Cast", ["r"], ["y"], "cast", to=TensorProto.FLOAT)],
               [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in (("a", 0), ("b", 10 ** 12), ("d", 1))])
    session(save(t, m)).run(None, {"x": X})


def constant_of_shape_huge(t):
    m = _model([helper.make_node("Shape", ["x"], ["s"], "shape"), helper.make_node("Mul", ["s", "k"], ["s2"], "mul"),
                helper.make_node("ConstantOfShape", ["s2"], ["y"], "cos")],
               [numpy_helper.from_array(np.array([10 ** 6, 10 ** 6], np.int64), "k")])
    session(save(t, m)).run(None, {"x": X})


def modelproto_external_not_loaded(t):
    """A ModelProto handed to the interpreter with its external data unloaded: never read from the cwd."""
    from simulator.interpreter import Interpreter
    np.ones((4, 3), np.float32).tofile("weights.bin")  # the cwd
    w = external(numpy_helper.from_array(np.ones((4, 3), np.float32), "w"), "weights.bin")
    Interpreter(_model([helper.make_node("MatMul", ["x", "w"], ["y"], "mm")], [w]))


# -- the corpus ------------------------------------------------------------------------------------------

@dataclass
class Case:
    id: str
    issue: bool  # listed in issue 13 (else: the further corpus)
    call: Callable
    error: Optional[str]  # the class name the error must be (or derive from); None: must return normally
    match: str = ""  # a regex the message (or the CLI's stderr) must contain


FIFO = r"is a FIFO \(named pipe\), not a regular file; refused"
LINK_REFUSED = r"is a symbolic link; refusing to write through it"

CASES = [
    Case("pb-external-data-not-from-cwd", True, pb_external_from_cwd, "DataError",
         r"external data file 'x\.bin' of tensor 'x' is missing"),
    Case("pb-external-data-next-to-pb", True, pb_external_next_to_pb, None),
    Case("sparse-initializer-external-not-from-cwd", True, sparse_external_from_cwd, "ModelError",
         r"external data file 'vals\.bin' of tensor 'w' is missing"),
    Case("data-npy-symlink-outside", True, npy_symlink_outside, "DataError",
         r"s0\.npy' resolves to .*secret\.npy', outside the folder"),
    Case("data-mapping-symlink-outside", True, mapping_symlink_outside, "DataError",
         r"input_folder_mapping\.json' resolves to .*other\.json', outside the folder"),
    Case("data-subfolder-symlink-outside", True, subfolder_symlink_outside, "DataError",
         r"data sub-folder .*/x' resolves to .*elsewhere', outside the folder"),
    Case("cli-run-npz-through-symlink", True, run_through_symlink, "cli", r"s0\.npz' " + LINK_REFUSED),
    Case("fifo-model", True, fifo_model, "ModelError", r"model file .*model\.onnx' " + FIFO),
    Case("fifo-encodings", True, fifo_encodings, "EncodingsError", r"encodings file .*model\.encodings' " + FIFO),
    Case("fifo-raw-dump", True, fifo_raw_dump, "DataError", r"dump file .*y\.raw' " + FIFO),
    Case("dev-zero-encodings", True, dev_zero_encodings, "EncodingsError",
         r"'/dev/zero' is a character device, not a regular file"),
    Case("dev-urandom-model", True, dev_urandom_model, "ModelError",
         r"'/dev/urandom' is a character device, not a regular file"),
    Case("loop-trip-count-1e12", True, loop_trip_count, "KernelError",
         r"node 'loop' \(Loop\): trip count M = 1000000000000 is over the limit of \d+ Loop iterations.*"
         r"SIMULATOR_MAX_LOOP_ITERATIONS"),
    Case("npz-dump-bomb-2.2GB", True, npz_dump_bomb, "DataError",
         r"s0\.npz' \(array 'y'\) declares 2200000000 bytes of data once inflated, over the limit of \d+ bytes "
         r"\(raise it with the environment variable SIMULATOR_MAX_INFLATED_BYTES\)"),
    Case("npz-dump-member-2^40-floats", True, npz_member_2_40, "DataError",
         r"s0\.npz' \(array 'y'\) is truncated: its header declares 1099511627776 float32"),
    Case("npz-dump-member-pickled", True, npz_member_pickled, "DataError",
         r"dump file .*s0\.npz' \(array 'y'\) holds a pickled \(object\) array; pickles are never loaded"),
    Case("encodings-1e6-unknown-entries", True, million_entry_encodings, "EncodingsError",
         r"big\.encodings: 1000000 encoded tensor\(s\) do not exist in model .*'t0'"),
    Case("encodings-2.1.0-with-1.0.0-layout", True, version_layout_mismatch, "EncodingsError",
         r"e\.json: the file says \"version\": '2\.1\.0' but has the layout of another version \(keys "
         r"'activation_encodings', 'param_encodings'"),
    Case("cli-inspect-2.1.0-with-1.0.0-layout", True, inspect_version_layout_mismatch, "cli",
         r"says \"version\": '2\.1\.0' but has the layout of another version"),
    Case("empty-encodings-warns-on-the-cli", True, empty_encodings_warn_cli, None),
    Case("empty-encodings-warns-in-results-and-inspect", True, empty_encodings_warn_result, None),
    Case("encodings-0.6.1-bitwidth-true", True, bitwidth_true, "EncodingsError",
         r"tensor 'y' is malformed: bitwidth: .*expected an integer, got the boolean true"),
    Case("encodings-uint8-zero-point-1000", True, zero_point_1000, "EncodingsError",
         r"tensor 'y': y_zero_point 1000 is not an integer in uint8's range \[0, 255\]"),
    Case("initializer-negative-dims", True, negative_dims, "ModelError",
         r"initializer 'w' has dims \[-4, 3\]: a negative size"),
    Case("maxpool-nan-and-5-gives-5", True, maxpool_nan_and_5, None),
    Case("topk-fails-on-nan-in-model-1", True, topk_nan_fails, None),
    Case("npz-outputs-named-allow_pickle-and-file", True, npz_keyword_names, None),
    Case("interrupted-write-leaves-nothing", True, interrupted_write, None),
    Case("file-too-large-names-the-path", True, file_too_large, "cli", r"cannot write output file .*s0\.npz': "
                                                                       r"File too large"),
    Case("deep-mapping-json", True, deep_mapping, "DataError",
         r"mapping file .*input_folder_mapping\.json' is not valid JSON for this purpose: it is nested too deeply"),
    Case("cli-deep-match-file", True, deep_match_file, "cli", r"--match-file .*match\.json' is not valid JSON for "
                                                              r"this purpose: it is nested too deeply"),
    Case("identity-chain-3000-before-per-channel-weight", True, identity_chain, None),
    Case("external-location-dotdot-inside", True, external_dotdot_inside, "ModelError",
         r"external data '\.\./model/weights\.bin' of tensor 'w' is refused by onnx's external-data checks: .*points "
         r"outside the directory"),

    Case("fifo-data-npy", False, fifo_data_npy, "DataError", r"data file .*s0\.npy' " + FIFO),
    Case("fifo-mapping-file", False, fifo_mapping, "DataError", r"mapping file .*input_folder_mapping\.json' " + FIFO),
    Case("cli-fifo-match-file", False, fifo_match_file, "cli", r"--match-file .*match\.json' " + FIFO),
    Case("fifo-external-data", False, fifo_external_data, "ModelError", r"weights\.bin' " + FIFO),
    Case("fifo-npy-dump", False, fifo_npy_dump, "DataError", r"dump file .*y\.npy' " + FIFO),
    Case("encodings-symlink-to-dev-zero", False, encodings_link_to_dev_zero, "EncodingsError",
         r"model\.encodings' is a character device, not a regular file"),
    Case("data-symlink-to-dev-zero", False, data_link_to_dev_zero, "DataError",
         r"s0\.npy' resolves to '/dev/zero', outside the folder"),
    Case("external-data-symlink-outside", False, external_symlink_outside, "ModelError",
         r"tensor 'w' points to external data 'weights\.bin' outside the model's folder"),
    Case("pb-external-data-outside", False, pb_external_outside, "DataError",
         r"tensor 'x' points to external data '\.\./\.\./secret\.bin' outside the data file's folder"),
    Case("npz-dump-not-a-zip", False, npz_dump_not_zip, "DataError", r"s0\.npz' is not a valid \.npz \(zip\) file"),
    Case("npz-dump-corrupt-member", False, npz_dump_corrupt, "DataError", r"s0\.npz' \(array 'y'\) (cannot be read|is not a valid \.npy file): Bad CRC-32"),
    Case("npz-dump-symlink-outside", False, npz_dump_symlink_outside, "DataError",
         r"s0\.npz' resolves to .*secret\.npz', outside the folder"),
    Case("npy-dump-symlink-outside", False, npy_dump_symlink_outside, "DataError",
         r"y\.npy' resolves to .*secret\.npy', outside the folder"),
    Case("raw-dump-4GB-for-3-floats", False, raw_dump_huge, "DataError",
         r"y\.raw' holds 4294967296 bytes; the tensor has shape \((1, 3|3,)\)"),
    Case("encodings-1.0.0-bw-true", False, bw_true_100, "EncodingsError", r"tensor 'y' is malformed: bw: .*boolean"),
    Case("encodings-lpbq-compressed-bw-false", False, compressed_bw_false, "EncodingsError",
         r"tensor 'w' is malformed: compressed_bw: .*boolean false"),
    Case("encodings-2x-block-size-true", False, block_size_true, "EncodingsError",
         r"tensor 'w' is malformed: block_size: .*boolean true"),
    Case("encodings-int8-zero-point-minus-129", False, int8_zero_point_low, "EncodingsError",
         r"tensor 'y': y_zero_point -129 is not an integer in int8's range \[-128, 127\]"),
    Case("encodings-zero-point-1.5", False, zero_point_fraction, "EncodingsError",
         r"tensor 'y': y_zero_point 1\.5 is not an integer"),
    Case("encodings-1.0.0-with-2x-layout", False, version_100_with_2x_layout, "EncodingsError",
         r"says \"version\": '1\.0\.0' but has the layout of another version \(keys 'encodings'"),
    Case("encodings-over-the-size-limit", False, encodings_over_limit, "EncodingsError",
         r"e\.json' is \d+ bytes, over the limit of 100 bytes \(raise it with the environment variable "
         r"SIMULATOR_MAX_JSON_BYTES\)"),
    Case("while-loop-that-never-ends", False, while_loop_unbounded, "KernelError",
         r"node 'loop' \(Loop\): the loop is still running after 20000 iterations .*SIMULATOR_MAX_LOOP_ITERATIONS"),
    Case("nested-loops-over-the-limit-in-all", False, nested_loops_over_the_limit, "KernelError",
         r"node 'inner' \(Loop\): nested Loops have run 20000 iterations in all.*SIMULATOR_MAX_LOOP_ITERATIONS"),
    Case("loop-negative-trip-count", False, loop_trip_count_negative, None),
    Case("initializer-2^40-dims-no-data", False, initializer_huge_dims, "ModelError", r"initializer 'w'"),
    Case("pb-negative-dims", False, pb_negative_dims, "DataError", r"input_0\.pb'.*negative"),
    Case("cli-report-through-symlink", False, report_through_symlink, "cli", r"report\.json' " + LINK_REFUSED),
    Case("cli-inspect-json-through-symlink", False, inspect_json_through_symlink, "cli",
         r"report\.json' " + LINK_REFUSED),
    Case("cli-convert-through-symlink", False, convert_through_symlink, "cli", r"out\.encodings' " + LINK_REFUSED),
    Case("cli-export-through-symlink", False, export_through_symlink, "cli", r"qdq\.onnx' " + LINK_REFUSED),
    Case("cli-calibrate-through-symlink", False, calibrate_through_symlink, "cli", r"cal\.encodings' " + LINK_REFUSED),
    Case("output-path-is-a-fifo", False, output_is_fifo, None),
    Case("nan-in-reference-fails-every-metric", False, nan_in_reference_fails, None),
    Case("maxpool-nan-1d-equals-onnxruntime", False, maxpool_nan_1d_matches_onnxruntime, None),
    Case("nan-inf-data-runs-through", False, nan_input_runs, None),
    Case("mapping-nested-value", False, mapping_nested_value, "DataError", r"must map each model input name"),
    Case("cli-match-file-nested-pairs", False, match_file_nested_pairs, "cli", r"--match-file .*must hold"),
    Case("encodings-deeply-nested-section", False, deep_encodings, "EncodingsError", r"nested too deeply"),
    Case("encodings-0.6.1-1e5-unknown-entries", False, unknown_tensors_061, "EncodingsError",
         r"100000 encoded tensor\(s\) do not exist in model"),
    Case("model-30-nested-if-bodies", False, deep_subgraphs, None),
    Case("npy-header-length-2^31", False, npy_huge_header_length, "DataError", r"s0\.npy' is not a valid \.npy file"),
    Case("mapping-over-the-size-limit", False, mapping_over_limit, "DataError",
         r"input_folder_mapping\.json' is \d+ bytes, over the limit of 10 bytes"),
    Case("range-of-10^12-elements", False, range_1e12, "KernelError", r"node 'range' \(Range\) failed .*(Memory|allocate)"),
    Case("constant-of-shape-10^12", False, constant_of_shape_huge, "KernelError",
         r"node 'cos' \(ConstantOfShape\) failed .*(Memory|allocate)"),
    Case("modelproto-external-data-not-loaded", False, modelproto_external_not_loaded, "ModelError",
         r"tensor 'w' keeps its data in an external file that was not loaded"),
    Case("external-location-dotdot-within-the-folder", False, external_dotdot_within, None),
    Case("external-data-length-2^62", False, external_length_huge, "ModelError",
         r"'weights\.bin' is too short for tensor 'w'"),
]


# -- the runner ----------------------------------------------------------------------------------------

class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout(f"still running after {PER_CASE_SECONDS} s")


def judge(case: Case, outcome) -> tuple[bool, str]:
    """(handled clearly, why not)."""
    kind, value = outcome
    if case.error == "cli":
        if kind != "returned" or not isinstance(value, Cli):
            return False, f"{kind}: {value}"
        if value.rc != 2 or "Traceback" in value.stderr:
            return False, f"exit {value.rc}: {value.stderr.strip()[-300:]}"
        return (bool(re.search(case.match, value.stderr, re.S)), f"stderr: {value.stderr.strip()[-300:]}")
    if case.error is None:
        return kind == "returned", f"{kind}: {value}"
    if kind == "returned" and isinstance(value, Reported):  # verify: a layer's note names the problem
        return bool(re.search(case.match, value.message)), f"reported: {value.message[:400]}"
    if kind != "raised":
        return False, f"returned normally: {str(value)[:200]}"
    names, message = value
    if case.error not in names or "SimulatorError" not in names:
        return False, f"{names[0]}: {message[:300]}"
    if "\n" in message.strip():
        return False, f"message of several lines: {message[:300]}"
    return bool(re.search(case.match, message)), f"{names[0]}: {message[:400]}"


def run_case(case: Case, root: str) -> dict:
    t = os.path.join(root, case.id)
    cwd = os.path.join(t, "cwd")
    os.makedirs(cwd)
    here = os.getcwd()
    os.chdir(cwd)
    start = time.perf_counter()
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(PER_CASE_SECONDS)
    try:
        outcome = ("returned", case.call(t))
    except AssertionError as exc:
        outcome = ("wrong result", str(exc)[:300])
    except _Timeout as exc:
        outcome = ("hung", str(exc))
    except MemoryError:
        outcome = ("raised", (["MemoryError"], "bare MemoryError"))
    except BaseException as exc:  # noqa: BLE001 - the corpus records whatever happens
        if isinstance(exc, (SystemExit, KeyboardInterrupt)) and not isinstance(exc, Exception):
            outcome = ("raised", ([type(exc).__name__], "escaped"))
        else:
            outcome = ("raised", ([c.__name__ for c in type(exc).__mro__], str(exc)))
            if "SimulatorError" not in outcome[1][0]:
                outcome = ("raised", (outcome[1][0], str(exc) + " | " + traceback.format_exc(limit=3)[-300:]))
    finally:
        signal.alarm(0)
        os.chdir(here)
    seconds = time.perf_counter() - start
    clear, why = judge(case, outcome)
    shutil.rmtree(t, ignore_errors=True)
    return {"id": case.id, "issue": case.issue, "clear": clear, "why": why, "seconds": round(seconds, 3),
            "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = argv[0]
    only = set(argv[1:])
    root = tempfile.mkdtemp(prefix="hostile-")
    records = []
    try:
        for case in CASES:
            if not only or case.id in only:
                records.append(run_case(case, root))
                with open(out, "w") as f:  # after each case: a crash keeps what ran
                    json.dump(records, f, indent=1)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for issue in (True, False):
        part = [r for r in records if r["issue"] == issue]
        print(f"{'issue 13' if issue else 'further'}: {sum(r['clear'] for r in part)}/{len(part)} handled clearly")
    return 0


if __name__ == "__main__":
    sys.exit(main())
