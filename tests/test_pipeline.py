"""Pipelines of parts: discovery (layer_NN, _i_of_n, JSON), chaining by name with `_updated`, intermediates of
any part, hostile spec files."""
import importlib.util
import json
import os
import shutil

import numpy as np
import pytest

from simulator.errors import ModelError, ParameterError
from simulator.pipeline import Pipeline
from simulator.session import InferenceSession

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _maker():
    spec = importlib.util.spec_from_file_location("make_small_decoder",
                                                  os.path.join(ROOT, "examples", "make_small_decoder.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def decoder(tmp_path_factory):
    return _maker().make(str(tmp_path_factory.mktemp("dec") / "fixed"), "fixed")


def _token_feed(rng):
    return {"input_ids": np.array([[7]], np.int64), "position_ids": np.array([[3]], np.int64),
            "attention_mask": np.ones((1, 33), np.int32),
            **{f"past_{kv}_{i}_in": rng.standard_normal((1, 2, 16, 32) if kv == "key" else (1, 2, 32, 16))
               .astype(np.float32) for i in range(2) for kv in ("key", "value")}}


def test_folder_of_layers_chains_by_updated_names(decoder):
    pipe = Pipeline.load(os.path.join(decoder, "token"))
    assert len(pipe.parts) == 4
    assert {a.name for a in pipe.get_inputs()} == {"input_ids", "position_ids", "attention_mask",
                                                  "past_key_0_in", "past_value_0_in", "past_key_1_in", "past_value_1_in"}
    outputs = [o.name for o in pipe.get_outputs()]
    assert outputs[0] == "past_key_0_out" and "logits" in outputs
    assert not any(o.endswith("_updated") for o in outputs)  # consumed by the next part
    feed = _token_feed(np.random.default_rng(0))
    logits, hidden = pipe.run(["logits", "/model/layers.0/Add_output_0"], feed)
    # The same chain by hand: each part's "<name>_updated" output feeds the next part's "<name>" input.
    env = dict(feed)
    for i in range(4):
        part = InferenceSession(os.path.join(decoder, "token", f"layer_{i:02d}.onnx"),
                                os.path.join(decoder, "token", f"layer_{i:02d}.encodings"))
        names = [o.name for o in part.get_outputs()]
        inputs = {a.name: env.get(a.name, env.get(a.name + "_updated")) for a in part.get_inputs()}
        env.update(zip(names, part.run(names, inputs)))
        if i == 1:
            np.testing.assert_array_equal(part.run(["/model/layers.0/Add_output_0"], inputs)[0], hidden)
    np.testing.assert_array_equal(env["logits"], logits)
    assert pipe.part_of("/model/layers.1/q") == 2


def test_i_of_n_parts_and_json_spec(decoder, tmp_path):
    src = os.path.join(decoder, "token")
    for i in range(4):
        for ext in ("onnx", "encodings"):
            shutil.copy(os.path.join(src, f"layer_{i:02d}.{ext}"), tmp_path / f"decoder_{i + 1}_of_4.{ext}")
    feed = _token_feed(np.random.default_rng(1))
    ref = Pipeline.load(src).run(["logits"], feed)[0]
    np.testing.assert_array_equal(Pipeline.load(str(tmp_path)).run(["logits"], feed)[0], ref)
    spec = tmp_path / "pipeline.json"
    spec.write_text(json.dumps({"parts": [{"model": f"decoder_{i}_of_4.onnx", "encodings": f"decoder_{i}_of_4.encodings"}
                                          for i in range(1, 5)]}))
    np.testing.assert_array_equal(Pipeline.load(str(spec)).run(["logits"], feed)[0], ref)
    float_logits = Pipeline.load(str(spec), quantized=False).run(["logits"], feed)[0]
    assert not np.array_equal(float_logits, ref)


def test_bad_specs_are_clear_errors(decoder, tmp_path):
    (tmp_path / "a_1_of_3.onnx").write_bytes(b"")
    (tmp_path / "a_2_of_3.onnx").write_bytes(b"")
    with pytest.raises(ModelError, match="number 1..n"):
        Pipeline.load(str(tmp_path))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelError, match="holds no parts"):
        Pipeline.load(str(empty))
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps({"parts": [{"model": "../../etc/passwd"}]}))
    with pytest.raises(ModelError, match="outside the file's folder"):
        Pipeline.load(str(outside))
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(ModelError, match="cannot be read as JSON"):
        Pipeline.load(str(broken))
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    with pytest.raises(ModelError, match="not a regular file"):
        Pipeline.load(str(fifo))
    pipe = Pipeline.load(os.path.join(decoder, "token"))
    with pytest.raises(ParameterError, match="exists in none"):
        pipe.run(["no_such_tensor"], _token_feed(np.random.default_rng(0)))
    with pytest.raises(ParameterError, match="unknown input"):
        pipe.run(None, {"bogus": np.zeros(1)})


def test_onnxruntime_sessions_as_parts(decoder):
    ort = pytest.importorskip("onnxruntime")
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    folder = os.path.join(decoder, "token")
    parts = [ort.InferenceSession(os.path.join(folder, f"layer_{i:02d}.onnx"), so, providers=["CPUExecutionProvider"])
             for i in range(4)]
    feed = _token_feed(np.random.default_rng(2))
    ref = Pipeline(parts).run(["logits"], feed)[0]
    ours = Pipeline.load(folder, quantized=False).run(["logits"], feed)[0]
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)


def test_results_are_fresh_arrays_while_parts_pass_values_on(tmp_path):
    """A pipeline returns ONNX Runtime's fresh arrays (never a part's constant, feed or a value another result
    shares), although parts hand each other their values uncopied (InferenceSession.run_chained)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def save(name, nodes, inputs, outputs, inits=()):
        graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2, 3])
                                               for n in inputs],
                                  [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2, 3]) for n in outputs],
                                  list(inits))
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(tmp_path / name))

    w = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3), "w")
    save("layer_00.onnx", [helper.make_node("Identity", ["w"], ["w_out"]),
                           helper.make_node("Add", ["x", "w"], ["h_updated"]),
                           helper.make_node("Identity", ["x"], ["x_out"])], ["x"], ["w_out", "h_updated", "x_out"], [w])
    save("layer_01.onnx", [helper.make_node("Identity", ["h"], ["y"]), helper.make_node("Identity", ["h"], ["z"])],
         ["h"], ["y", "z"])
    pipe = Pipeline.load(str(tmp_path), quantized=False)
    x = np.ones((2, 3), np.float32)
    names = ["w_out", "x_out", "y", "z", "h_updated"]
    first = pipe.run(names, {"x": x})
    expected = [r.copy() for r in first]
    assert len({id(r) for r in first}) == len(first)  # no two results share an array
    assert all(r.flags.c_contiguous and r.flags.owndata for r in first) and first[1] is not x
    for r in first:
        r[...] = -7  # a caller writing into its results changes nothing the pipeline holds
    for got, want in zip(pipe.run(names, {"x": x}), expected):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(expected[2], x + np.arange(6, dtype=np.float32).reshape(2, 3))


def test_inf_and_nan_are_values_not_warnings_and_the_error_state_is_restored(tmp_path):
    import warnings

    import onnx
    from onnx import TensorProto, helper

    for i, op in enumerate(("Div", "Log")):
        names = (["x", "zero"], "h_updated") if i == 0 else (["h"], "y")
        graph = helper.make_graph([helper.make_node(op, names[0], [names[1]])], op,
                                  [helper.make_tensor_value_info(n, TensorProto.FLOAT, [3]) for n in names[0]],
                                  [helper.make_tensor_value_info(names[1], TensorProto.FLOAT, [3])])
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
                  str(tmp_path / f"layer_{i:02d}.onnx"))
    before = np.geterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning from a kernel would fail the run
        y, = Pipeline.load(str(tmp_path), quantized=False).run(["y"], {"x": np.array([1, -1, 0], np.float32),
                                                                       "zero": np.zeros(3, np.float32)})
    assert np.isinf(y[0]) and np.isnan(y[1]) and np.isnan(y[2])
    assert np.geterr() == before


def test_a_thread_limit_of_a_part_holds_during_its_run_only(decoder):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from simulator.session_meta import SessionOptions

    folder = os.path.join(decoder, "token")
    options = SessionOptions()
    options.intra_op_num_threads = 1
    parts = [InferenceSession(os.path.join(folder, f"layer_{i:02d}.onnx"), options) for i in range(4)]
    before = [p["num_threads"] for p in threadpoolctl.threadpool_info()]
    feed = _token_feed(np.random.default_rng(3))
    limited = Pipeline(parts).run(["logits"], feed)[0]
    assert [p["num_threads"] for p in threadpoolctl.threadpool_info()] == before
    np.testing.assert_array_equal(limited, Pipeline.load(folder, quantized=False).run(["logits"], feed)[0])


def test_a_part_fed_a_wrong_value_or_nothing_is_refused_as_a_session_refuses_it(decoder):
    from simulator.errors import InvalidFeedError

    pipe = Pipeline.load(os.path.join(decoder, "token"))
    feed = _token_feed(np.random.default_rng(4))
    feed["past_key_1_in"] = feed["past_key_1_in"].astype(np.float64)  # read by part 2, after two parts ran
    with pytest.raises(InvalidFeedError, match="past_key_1_in.*float64"):
        pipe.run(["logits"], feed)
    del feed["past_key_1_in"]
    with pytest.raises(ParameterError, match=r"missing input 'past_key_1_in' of pipeline part 2 \(.*layer_02.onnx"):
        pipe.run(["logits"], feed)


def test_values_before_their_encoding_and_updated_names_of_any_part(decoder):
    folder = os.path.join(decoder, "token")
    pipe = Pipeline.load(folder)
    feed = _token_feed(np.random.default_rng(5))
    name = "/model/layers.1/Add_output_0"  # an encoded intermediate of part 2
    logits, after, before, updated = pipe.run(["logits", name, name + "::pre_quant", name + "_updated"], feed)
    part = InferenceSession(os.path.join(folder, "layer_02.onnx"), os.path.join(folder, "layer_02.encodings"))
    hidden = pipe.run(["/model/layers.0/Add_1_output_0_updated"], feed)[0]  # part 2's input, from part 1
    inputs = {**{a.name: feed[a.name] for a in part.get_inputs() if a.name in feed},
              "/model/layers.0/Add_1_output_0": hidden}
    want_after, want_before = part.run([name, name + "::pre_quant"], inputs)
    np.testing.assert_array_equal(after, want_after)
    np.testing.assert_array_equal(updated, want_after)
    np.testing.assert_array_equal(before, want_before)
    assert not np.array_equal(after, before)  # a 16-bit encoding moved it
    assert hidden.shape == (1, 1, 32)
    np.testing.assert_array_equal(logits, pipe.run(["logits"], feed)[0])


def test_a_part_planned_again_runs_its_new_plan(decoder):
    folder = os.path.join(decoder, "token")
    pipe = Pipeline.load(folder, quantized=False)
    feed = _token_feed(np.random.default_rng(6))
    first = pipe.run(["logits"], feed)[0]
    part = pipe.parts[3]
    part.set_providers(["CPUExecutionProvider"])  # a new plan (ONNX Runtime re-creates the session)
    replanned = part._interp.executor
    assert pipe.run(["logits"], feed)[0].tobytes() == first.tobytes()
    calls = []
    original = part._interp.executor.run_steps
    part._interp.executor.run_steps = lambda *a, **k: (calls.append(1), original(*a, **k))[1]
    pipe.run(["logits"], feed)
    assert calls and part._interp.executor is replanned  # the new plan's executor ran
