"""Determinism and concurrency: the same inputs give the same bits, run after run, thread after thread,
process after process; and the NaN/inf policy of docs/errors.md.

* one session's run() called from 8 threads at once gives the bits of sequential runs;
* runs share no mutable state: the session's constants and the caller's arrays are untouched;
* two sessions, and two processes with different hash seeds, give the same bits;
* NaN and inf in the data propagate as in the reference (ONNX Runtime, float), and comparisons report them.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from simulator.api import Simulator
from simulator.schema.base import InferenceCheckerParameters, InferenceRunnerParameters
from simulator.session import InferenceSession
from tests.conftest import ROOT

EXAMPLE = os.path.join(ROOT, "examples", "tiny_cnn")
MODEL = os.path.join(EXAMPLE, "model.onnx")
ENCODINGS = os.path.join(EXAMPLE, "model.encodings")
DATA = os.path.join(EXAMPLE, "data")
NAMES = ["logits", "probabilities", "/relu1/Relu_output_0", "/Add_output_0", "/Add_output_0::pre_quant",
         "conv1.weight", "logits_updated"]


def _digest(arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str(a.dtype).encode() + str(a.shape).encode() + a.tobytes())
    return h.hexdigest()


def _inputs(n=8, seed=11):
    rng = np.random.default_rng(seed)
    return [rng.normal(0, 1.5, (1, 3, 16, 16)).astype(np.float32) for _ in range(n)]


@pytest.fixture(scope="module")
def session():
    return InferenceSession(MODEL, ENCODINGS)


def test_eight_threads_at_once_give_the_bits_of_sequential_runs(session):
    xs = _inputs()
    expected = [_digest(session.run(NAMES, {"input": x})) for x in xs]
    rounds = 4
    got = [[None] * rounds for _ in xs]
    errors = []
    barrier = threading.Barrier(len(xs))

    def work(i):
        try:
            barrier.wait()
            for r in range(rounds):
                got[i][r] = _digest(session.run(NAMES, {"input": xs[(i + r) % len(xs)]}))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    for i in range(len(xs)):
        for r in range(rounds):
            assert got[i][r] == expected[(i + r) % len(xs)], (i, r)


def _per_channel_activation_model(tmp_path):
    """x[1,3,4,4] -> Relu -> a (per-channel activation encoding, bound lazily at first run) -> Sigmoid -> y."""
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["a"], "relu"), helper.make_node("Sigmoid", ["a"], ["y"], "sig")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 4, 4])])
    model = tmp_path / "pc.onnx"
    model.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    enc = tmp_path / "pc.encodings"
    enc.write_text(json.dumps({"version": "2.0.0", "encodings": [
        {"name": "a", "output_dtype": "uint8", "y_scale": [0.01, 0.02, 0.03], "axis": 1},
        {"name": "y", "output_dtype": "uint8", "y_scale": 0.004}]}))
    return str(model), str(enc)


def test_first_runs_racing_on_lazily_bound_quantizers(tmp_path):
    model, enc = _per_channel_activation_model(tmp_path)
    xs = [np.random.default_rng(i).normal(0, 2, (1, 3, 4, 4)).astype(np.float32) for i in range(8)]
    reference = InferenceSession(model, enc)
    expected = [_digest(reference.run(["a", "y"], {"x": x})) for x in xs]
    for _ in range(3):  # a fresh session each time: the threads race on its first run
        sess = InferenceSession(model, enc)
        got = [None] * len(xs)
        barrier = threading.Barrier(len(xs))

        def work(i):
            barrier.wait()
            got[i] = _digest(sess.run(["a", "y"], {"x": xs[i]}))

        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(xs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert got == expected


def test_runs_share_no_mutable_state(session):
    constants = {k: np.array(v, copy=True) for k, v in session.interpreter.constants.items()}
    x = _inputs(1)[0]
    x_before = x.copy()
    first = session.run(NAMES, {"input": x})
    first[0][...] = 123.0  # the caller owns what run() returned
    again = session.run(NAMES, {"input": x})
    assert not np.array_equal(first[0], again[0])
    np.testing.assert_array_equal(x, x_before)  # the feed is not modified
    for k, v in session.interpreter.constants.items():  # nor the weights
        np.testing.assert_array_equal(np.asarray(v), constants[k], err_msg=k)
    assert _digest(session.run(NAMES, {"input": x})) == _digest(again)


def test_two_sessions_give_the_same_bits(session):
    other = InferenceSession(MODEL, ENCODINGS)
    for x in _inputs(3, seed=5):
        assert _digest(session.run(NAMES, {"input": x})) == _digest(other.run(NAMES, {"input": x}))


_CHILD = """
import hashlib, json, sys
import numpy as np
from simulator.api import Simulator
from simulator.schema.base import InferenceRunnerParameters
p = InferenceRunnerParameters(input_model_path=sys.argv[1], input_encodings_path=sys.argv[2],
                              input_data_path=sys.argv[3], layerwise_check_name=json.loads(sys.argv[4]))
out = {}
for sample, arrays in Simulator.run_inference(p).items():
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str(a.dtype).encode() + str(a.shape).encode() + a.tobytes())
    out[sample] = h.hexdigest()
print(json.dumps(out))
"""


def test_the_same_bits_across_processes():
    layers = NAMES[2:]
    here = {s: _digest(a) for s, a in Simulator.run_inference(InferenceRunnerParameters(
        input_model_path=MODEL, input_encodings_path=ENCODINGS, input_data_path=DATA,
        layerwise_check_name=layers)).items()}
    for seed in ("0", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed, OMP_NUM_THREADS="1" if seed == "0" else "2")
        r = subprocess.run([sys.executable, "-c", _CHILD, MODEL, ENCODINGS, DATA, json.dumps(layers)],
                           capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout) == here


def test_the_cli_writes_the_same_bits_twice(tmp_path):
    digests = []
    for out in ("a", "b"):
        r = subprocess.run([sys.executable, "-m", "simulator", "run", MODEL, "-e", ENCODINGS, "-d", DATA, "-o",
                            str(tmp_path / out), "-q", "--layer", "/Add_output_0"], capture_output=True, text=True,
                           cwd=ROOT, timeout=120)
        assert r.returncode == 0, r.stderr
        files = sorted(os.listdir(tmp_path / out))
        arrays = []
        for f in files:
            with np.load(tmp_path / out / f) as z:
                arrays += [z[k] for k in sorted(z.files)]
        digests.append((files, _digest(arrays)))
    assert digests[0] == digests[1]


# -- NaN and inf -------------------------------------------------------------------------------------

def _with_nan_and_inf(x):
    x = x.copy()
    x[0, 0, 0, 0] = np.nan
    x[0, 1, 5, 5] = np.inf
    x[0, 2, 9, 9] = -np.inf
    return x


def test_nan_and_inf_propagate_like_the_reference_in_float():
    ort = pytest.importorskip("onnxruntime")
    ref = ort.InferenceSession(MODEL, providers=["CPUExecutionProvider"])
    sess = InferenceSession(MODEL)  # float: no encodings
    x = _with_nan_and_inf(_inputs(1)[0])
    names = [o.name for o in ref.get_outputs()]
    for want, got in zip(ref.run(names, {"input": x}), sess.run(names, {"input": x})):
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
        finite = np.isfinite(want)
        np.testing.assert_allclose(got[finite], want[finite], rtol=1e-4, atol=1e-5)


def test_quantizers_keep_nan_and_saturate_inf(session):
    enc = session.encodings.encodings["input"]
    lo = np.float32(enc.scale[0] * np.float32(enc.offset[0]))
    hi = np.float32(enc.scale[0] * np.float32(2 ** enc.bitwidth - 1 + enc.offset[0]))
    x = _with_nan_and_inf(_inputs(1)[0])
    q, = session.run(["input"], {"input": x})  # the graph input after its encoding
    assert np.isnan(q[0, 0, 0, 0]) and q[0, 1, 5, 5] == hi and q[0, 2, 9, 9] == lo
    assert np.isnan(q).sum() == 1
    out = session.run(None, {"input": x})  # and the run goes on: NaN reaches the outputs, no error
    assert np.isnan(out[0]).any()
    assert _digest(out) == _digest(session.run(None, {"input": x}))  # NaN runs are deterministic too


def test_comparisons_report_nan_and_fail(tmp_path):
    folder = tmp_path / "data"
    (folder / "images").mkdir(parents=True)
    (folder / "input_folder_mapping.json").write_text(json.dumps({"input": "images"}))
    x = _inputs(2)
    np.save(folder / "images" / "clean.npy", x[0])
    np.save(folder / "images" / "dirty.npy", _with_nan_and_inf(x[1]))
    res = Simulator.compare_model_by_inference(InferenceCheckerParameters(
        input_model_path_0=MODEL, input_model_path_1=MODEL, input_encodings_path_1=ENCODINGS,
        input_data_path=str(folder), metric="snr", threshold=0))
    clean_passed, clean = res["clean"]
    dirty_passed, dirty = res["dirty"]
    assert clean_passed and all(np.isfinite(v) for v in clean.values())
    assert not dirty_passed and all(np.isnan(v) for v in dirty.values())
    assert "nan" in str(res).lower()


__all__ = ["numpy_helper"]
