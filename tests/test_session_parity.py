"""The session against onnxruntime.InferenceSession, call by call (no encodings: float models).

Each public method of ONNX Runtime's session is called the same way on both, on small models made here (dynamic
dimensions, an overridable initializer, outputs that are inputs or constants, Softmax over axis 1, integer and
bool tensors, sequence and optional inputs and outputs) and on the golden cases' float models; return types,
lengths, shapes, dtypes, contiguity, memory ownership, names, type strings, values and error classes must agree.
"""
from __future__ import annotations

import json
import os
import threading
import warnings

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper

import simulator
from simulator.errors import DeviceError, ParameterError, SimulatorError

ort = pytest.importorskip("onnxruntime")
C = ort.capi.onnxruntime_pybind11_state
ORT_ERRORS = tuple(getattr(C, n) for n in ("InvalidArgument", "Fail", "RuntimeException", "InvalidGraph", "NotImplemented"))
GOLDEN = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "conformance")


def _model(nodes, inputs, outputs, initializers=(), opset=18, **kw):
    graph = h.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    return h.make_model(graph, opset_imports=[h.make_opsetid("", opset)], ir_version=8, **kw)


def softmax_head():
    """Softmax over axis 1 of an NCHW tensor (the detection head whose output came back with odd strides)."""
    m = _model([h.make_node("Softmax", ["x"], ["probs"], axis=1), h.make_node("Transpose", ["x"], ["nhwc"], perm=[0, 2, 3, 1])],
               [h.make_tensor_value_info("x", T.FLOAT, [1, 4, 16, 16])],
               [h.make_tensor_value_info("probs", T.FLOAT, [1, 4, 16, 16]), h.make_tensor_value_info("nhwc", T.FLOAT, None)],
               producer_name="parity", doc_string="a head", model_version=3)
    m.metadata_props.add(key="author", value="tests")
    rng = np.random.default_rng(0)
    return m, {"x": rng.standard_normal((1, 4, 16, 16)).astype(np.float32)}


def dynamic_mixed():
    """Dynamic dimensions, an overridable initializer, an output that is an input and one that is a constant."""
    w = numpy_helper.from_array(np.arange(3, dtype=np.float32), "w")
    k = numpy_helper.from_array(np.full((2,), 7, np.int64), "k")
    m = _model([h.make_node("Add", ["x", "w"], ["sum"]), h.make_node("MatMul", ["sum", "y"], ["prod"]),
                h.make_node("Identity", ["x"], ["x_copy"]), h.make_node("Identity", ["k"], ["k_copy"]),
                h.make_node("Greater", ["sum", "w"], ["mask"]), h.make_node("Cast", ["mask"], ["mask_i"], to=T.INT32)],
               [h.make_tensor_value_info("x", T.FLOAT, ["batch", 3]), h.make_tensor_value_info("y", T.FLOAT, [3, None]),
                h.make_tensor_value_info("w", T.FLOAT, [3])],
               [h.make_tensor_value_info("prod", T.FLOAT, ["batch", None]), h.make_tensor_value_info("x_copy", T.FLOAT, ["batch", 3]),
                h.make_tensor_value_info("k_copy", T.INT64, [2]), h.make_tensor_value_info("mask", T.BOOL, ["batch", 3]),
                h.make_tensor_value_info("mask_i", T.INT32, ["batch", 3])],
               initializers=[w, k])
    rng = np.random.default_rng(1)
    return m, {"x": rng.standard_normal((2, 3)).astype(np.float32), "y": rng.standard_normal((3, 5)).astype(np.float32)}


def sequences_optionals():
    """A sequence input and output, uneven sequence elements, an optional input that may be omitted."""
    seq = h.make_sequence_type_proto(h.make_tensor_type_proto(T.FLOAT, None))
    opt = h.make_optional_type_proto(h.make_tensor_type_proto(T.FLOAT, [2]))
    split = numpy_helper.from_array(np.array([1, 2], np.int64), "split")
    m = _model([h.make_node("SequenceLength", ["s"], ["n"]), h.make_node("OptionalHasElement", ["o"], ["has"]),
                h.make_node("Identity", ["s"], ["s_copy"]), h.make_node("SplitToSequence", ["t", "split"], ["parts"]),
                h.make_node("Identity", ["o"], ["o_copy"])],
               [h.make_value_info("s", seq), h.make_value_info("o", opt), h.make_tensor_value_info("t", T.FLOAT, [3, 2])],
               [h.make_tensor_value_info("n", T.INT64, []), h.make_tensor_value_info("has", T.BOOL, []),
                h.make_value_info("s_copy", seq), h.make_value_info("parts", seq), h.make_value_info("o_copy", opt)],
               initializers=[split])
    x = np.ones(2, np.float32)
    return m, {"s": [x, np.arange(3, dtype=np.float32)], "o": x, "t": np.arange(6, dtype=np.float32).reshape(3, 2)}


def _golden_models():
    """(case, model path, one sample's feed) per distinct float model of the golden cases."""
    from simulator.data import iter_samples
    from simulator.interpreter import _tensor_info

    out, seen = [], set()
    for group in ("aimet", "aimet_deep"):
        root = os.path.join(GOLDEN, group)
        for case in sorted(os.listdir(root)) if os.path.isdir(root) else []:
            path = os.path.join(root, case, "model.onnx")
            if not os.path.exists(path):
                continue
            key = open(path, "rb").read()
            if key in seen:
                continue
            seen.add(key)
            model = onnx.load(path, load_external_data=False)
            inits = {t.name for t in model.graph.initializer}
            infos = [_tensor_info(vi) for vi in model.graph.input if vi.name not in inits]
            _, feed = next(iter_samples(os.path.join(root, case, "data"), infos))
            out.append((case, path, feed))
    return out


SMALL = {"softmax_head": softmax_head, "dynamic_mixed": dynamic_mixed, "sequences_optionals": sequences_optionals}
GOLDEN_MODELS = _golden_models() if os.path.isdir(GOLDEN) else []


def _pair(model_or_path):
    src = model_or_path if isinstance(model_or_path, str) else model_or_path.SerializeToString()
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(src, so, providers=["CPUExecutionProvider"]), simulator.InferenceSession(src)


@pytest.fixture(params=list(SMALL) + [c for c, _, _ in GOLDEN_MODELS])
def case(request):
    if request.param in SMALL:
        model, feed = SMALL[request.param]()
        return (*_pair(model), feed)
    _, path, feed = next(g for g in GOLDEN_MODELS if g[0] == request.param)
    return (*_pair(path), feed)


# ONNX Runtime's session methods the simulator does not provide (docs/session.md says why): its allocators'
# memory infos, plugin EP devices, graph assignment and the raw OrtValueVector entry point.
NOT_PROVIDED = {"get_input_memory_infos", "get_output_memory_infos", "get_input_epdevices",
                "get_provider_graph_assignment_info", "run_with_ortvaluevector"}


def test_every_public_method_of_ort_is_there():
    public = {n for n in dir(ort.InferenceSession) if not n.startswith("__")
              and (not n.startswith("_") or n in ("_inputs_meta", "_outputs_meta", "_model_meta"))
              and callable(getattr(ort.InferenceSession, n, None))}
    missing = sorted(n for n in public - NOT_PROVIDED if not n.startswith("_") and not hasattr(simulator.InferenceSession, n))
    assert not missing, missing
    model, _ = softmax_head()
    theirs, ours = _pair(model)
    for attr in ("_providers", "_provider_options", "_enable_fallback", "_model_path", "_profiling_start_time_ns"):
        assert type(getattr(ours, attr)) is type(getattr(theirs, attr)), attr
    assert _args(ours._overridable_initializers) == _args(theirs._overridable_initializers)
    assert ours.get_tuning_results() == theirs.get_tuning_results() == []
    for sess in (ours, theirs):
        assert sess.set_tuning_results([]) is None and sess.release_captured_graph(0) is None
        assert sess.set_ep_dynamic_options({"ep.dynamic.option": "1"}) is None
        v = sess.create_ortvalue_from_shape_and_type([2, 3], np.float32, "cpu")
        assert (v.shape(), v.data_type(), v.device_name()) == ([2, 3], "tensor(float)", "cpu")


def _args(node_args):
    return [(a.name, list(a.shape), a.type) for a in node_args]


def _assert_results_match(ours, theirs, feed, exact=True):
    assert type(ours) is list and len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert type(a) is type(b), (type(a), type(b))
        if isinstance(b, list):
            _assert_results_match(a, b, feed, exact)
        elif b is not None:
            assert a.dtype == b.dtype and a.shape == b.shape
            assert a.flags.c_contiguous, f"strides {a.strides} for shape {a.shape}"
            for v in feed.values():
                assert not isinstance(v, np.ndarray) or not np.shares_memory(a, v), "an output shares the feed's memory"
            if exact or a.dtype.kind not in "fc":
                np.testing.assert_array_equal(a, b)
            else:
                np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_metadata(case):
    theirs, ours, _ = case
    assert _args(ours.get_inputs()) == _args(theirs.get_inputs())
    assert _args(ours.get_outputs()) == _args(theirs.get_outputs())
    assert _args(ours.get_overridable_initializers()) == _args(theirs.get_overridable_initializers())
    assert _args(ours._inputs_meta) == _args(theirs._inputs_meta)
    assert _args(ours._outputs_meta) == _args(theirs._outputs_meta)
    for attr in ("producer_name", "graph_name", "domain", "description", "graph_description", "version",
                 "custom_metadata_map"):
        assert getattr(ours.get_modelmeta(), attr) == getattr(theirs.get_modelmeta(), attr), attr
        assert getattr(ours._model_meta, attr) == getattr(theirs._model_meta, attr), attr
    assert ours.get_providers() == theirs.get_providers() == ["CPUExecutionProvider"]
    assert ours.get_provider_options().keys() == theirs.get_provider_options().keys()
    for attr in ("intra_op_num_threads", "inter_op_num_threads", "enable_profiling", "profile_file_prefix"):
        assert type(getattr(ours.get_session_options(), attr)) is type(getattr(theirs.get_session_options(), attr))
    assert ours.end_profiling() == theirs.end_profiling() == ""
    assert ours.get_profiling_start_time_ns() == theirs.get_profiling_start_time_ns() == 0


def test_run(case):
    theirs, ours, feed = case
    exact = not isinstance(theirs._model_path, str)  # golden models: BLAS sums may differ by an ulp
    for names in (None, []):
        _assert_results_match(ours.run(names, feed), theirs.run(names, feed), feed, exact)
    names = [o.name for o in theirs.get_outputs()][::-1]
    _assert_results_match(ours.run(names, feed), theirs.run(names, feed), feed, exact)
    list_feed = {k: v.tolist() if isinstance(v, np.ndarray) and v.dtype.kind in "fib" else v for k, v in feed.items()}
    _assert_results_match(ours.run(None, list_feed), theirs.run(None, list_feed), feed, exact)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours.set_providers(["CPUExecutionProvider"])
        theirs.set_providers(["CPUExecutionProvider"])
    ours.disable_fallback()
    ours.enable_fallback()
    _assert_results_match(ours.run(None, feed), theirs.run(None, feed), feed, exact)


def test_run_async(case):
    theirs, ours, feed = case
    got = {}
    done = {"ours": threading.Event(), "theirs": threading.Event()}

    def callback(results, user_data, err):
        got[user_data] = (results, err)
        done[user_data].set()

    ours.run_async(None, feed, callback, "ours")
    theirs.run_async(None, feed, callback, "theirs")
    assert done["ours"].wait(30) and done["theirs"].wait(30)
    assert got["ours"][1] == got["theirs"][1] == ""
    _assert_results_match(got["ours"][0], got["theirs"][0], feed, exact=False)


def _tensor_io(sess):
    return all(a.type.startswith("tensor(") for a in sess.get_inputs() + sess.get_outputs())


def test_ort_values_and_io_binding(case):
    theirs, ours, feed = case
    if not _tensor_io(theirs):
        pytest.skip("OrtValues hold tensors here; this model has sequence or optional I/O")
    ov = {k: ort.OrtValue.ortvalue_from_numpy(v) for k, v in feed.items()}
    a, b = ours.run_with_ort_values(None, ov), theirs.run_with_ort_values(None, ov)
    assert [type(x) for x in a] == [type(x) for x in b]
    assert [(x.shape(), x.data_type(), x.device_name()) for x in a] == [(x.shape(), x.data_type(), x.device_name()) for x in b]
    _assert_results_match(ours.run(None, ov), theirs.run(None, ov), feed, exact=False)

    results = []
    for sess in (ours, theirs):
        binding = sess.io_binding()
        for k, v in feed.items():
            binding.bind_cpu_input(k, v)
        for o in sess.get_outputs():
            binding.bind_output(o.name, "cpu")
        sess.run_with_iobinding(binding)
        binding.synchronize_outputs()
        outs = binding.get_outputs()
        assert all(isinstance(o, ort.OrtValue) for o in outs)
        results.append(binding.copy_outputs_to_cpu())
    _assert_results_match(results[0], results[1], feed, exact=False)


def _bad_calls(sess, feed):
    """(label, callable) per refused call; the same calls are made on both sessions."""
    first = sess.get_inputs()[0]
    name = first.name
    value = feed[name]
    out = [("missing input", lambda: sess.run(None, {k: v for k, v in feed.items() if k != name})),
           ("unknown input", lambda: sess.run(None, {**feed, "no_such_input": value})),
           ("unknown output", lambda: sess.run(["no_such_output"], feed)),
           ("output name not a string", lambda: sess.run([1], feed)),
           ("Python scalar", lambda: sess.run(None, {**feed, name: 1.0})),
           ("NumPy scalar", lambda: sess.run(None, {**feed, name: np.float32(1.0)})),
           ("string for a tensor", lambda: sess.run(None, {**feed, name: "abc"})),
           ("an object", lambda: sess.run(None, {**feed, name: object()}))]
    if first.type.startswith("tensor("):
        out += [("wrong dtype", lambda: sess.run(None, {**feed, name: value.astype(np.float64 if value.dtype != np.float64 else np.float32)})),
                ("wrong rank", lambda: sess.run(None, {**feed, name: value[None]})),
                ("ragged list", lambda: sess.run(None, {**feed, name: [[1.0, 2.0], [3.0]]}))]
        fixed = [i for i, d in enumerate(first.shape) if isinstance(d, int)]
        if fixed:
            shape = list(value.shape)
            shape[fixed[-1]] += 1
            out.append(("wrong dimension", lambda: sess.run(None, {**feed, name: np.zeros(shape, value.dtype)})))
    if first.type.startswith("seq("):
        out += [("array for a sequence", lambda: sess.run(None, {**feed, name: np.ones((2, 2), np.float32)})),
                ("tuple for a sequence", lambda: sess.run(None, {**feed, name: tuple(value)})),
                ("list element not a tensor", lambda: sess.run(None, {**feed, name: [[1.0, 2.0]]}))]
    return out


def test_refusals_are_ort_kinds(case):
    theirs, ours, feed = case
    for (label, call_ours), (_, call_theirs) in zip(_bad_calls(ours, feed), _bad_calls(theirs, feed)):
        with pytest.raises(Exception) as ort_info:
            call_theirs()
        with pytest.raises(SimulatorError) as our_info:
            call_ours()
        ort_exc, our_exc = ort_info.value, our_info.value
        if isinstance(ort_exc, ORT_ERRORS):  # ONNX Runtime's own classes derive from Exception only
            expected = RuntimeError
        else:
            expected = type(ort_exc)
        assert isinstance(our_exc, expected), f"{label}: ONNX Runtime raised {type(ort_exc).__name__}: {ort_exc}; " \
                                              f"the simulator {type(our_exc).__name__}: {our_exc}"


def test_optional_input_may_be_omitted_or_none():
    model, feed = sequences_optionals()
    theirs, ours = _pair(model)
    for f in ({k: v for k, v in feed.items() if k != "o"}, {**feed, "o": None}, {**feed, "s": []}):
        _assert_results_match(ours.run(None, f), theirs.run(None, f), f)


def test_constructor_takes_what_ort_takes(tmp_path):
    model, feed = softmax_head()
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    expected = ort.InferenceSession(str(path)).run(None, feed)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    for sess in (simulator.InferenceSession(str(path)), simulator.InferenceSession(path),
                 simulator.InferenceSession(model.SerializeToString()), simulator.InferenceSession(model),
                 simulator.InferenceSession(str(path), so), simulator.InferenceSession(str(path), sess_options=so),
                 simulator.InferenceSession(str(path), simulator.SessionOptions(intra_op_num_threads=2)),
                 simulator.InferenceSession(str(path), so, ["CPUExecutionProvider"], [{}]),
                 simulator.InferenceSession(str(path), providers=[("CPUExecutionProvider", {})], enable_fallback=0)):
        _assert_results_match(sess.run(None, feed), expected, feed)
    assert simulator.InferenceSession(str(path), so).get_session_options() is so
    with pytest.raises(SimulatorError, match="not a valid ONNX model"):
        simulator.InferenceSession(b"garbage")


def test_providers():
    model, feed = softmax_head()
    src = model.SerializeToString()
    with pytest.warns(UserWarning, match="TensorrtExecutionProvider"):
        sess = simulator.InferenceSession(src, providers=["TensorrtExecutionProvider", "CPUExecutionProvider"])
    assert sess.get_providers() == ["CPUExecutionProvider"]
    with pytest.raises(ParameterError, match="CPUExecutionProvider.*CUDAExecutionProvider"):
        simulator.InferenceSession(src, providers=["OpenVINOExecutionProvider"])
    with pytest.raises(ValueError, match="same length"):  # as ONNX Runtime's check
        simulator.InferenceSession(src, providers=["CPUExecutionProvider"], provider_options=[{}, {}])
    with pytest.raises(ValueError, match="should be a sequence"):
        simulator.InferenceSession(src, providers="CPUExecutionProvider")
    if "CUDAExecutionProvider" not in simulator.get_available_providers():
        with pytest.raises(DeviceError, match="no usable GPU"):
            simulator.InferenceSession(src, providers=["CUDAExecutionProvider"])
        with pytest.warns(UserWarning):
            sess = simulator.InferenceSession(src, providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
        assert sess.get_providers() == ["CPUExecutionProvider"] and simulator.get_device() == "CPU"


def test_profiling_writes_a_chrome_trace_of_each_node(tmp_path):
    model, feed = dynamic_mixed()
    so = simulator.SessionOptions(enable_profiling=True, profile_file_prefix=str(tmp_path / "prof"))
    sess = simulator.InferenceSession(model, so)
    assert sess.get_profiling_start_time_ns() > 0
    sess.run(None, feed)
    path = sess.end_profiling()
    assert path.startswith(str(tmp_path / "prof_")) and path.endswith(".json")
    assert sess.end_profiling() == ""
    events = json.load(open(path))
    ort_so = ort.SessionOptions()
    ort_so.enable_profiling, ort_so.profile_file_prefix = True, str(tmp_path / "ort")
    ort_so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    theirs = ort.InferenceSession(model.SerializeToString(), ort_so, providers=["CPUExecutionProvider"])
    theirs.run(None, feed)
    ort_events = json.load(open(theirs.end_profiling()))
    keys = {"cat", "pid", "tid", "dur", "ts", "ph", "name", "args"}
    assert all(set(e) == keys and e["ph"] == "X" for e in events)
    nodes = [e for e in events if e["cat"] == "Node"]
    ort_nodes = [e for e in ort_events if e["cat"] == "Node" and e["name"].endswith("_kernel_time")]
    # Nodes whose inputs are all constants ran once at load (constant folding, as ONNX Runtime's default does).
    folded = [step.node.op_type for step in {id(s): s for s in sess.interpreter.folded.values()}.values()]
    assert folded == ["Identity"]
    assert sorted([e["args"]["op_name"] for e in nodes] + folded) == sorted(e["args"]["op_name"] for e in ort_nodes)
    assert all(e["name"].endswith("_kernel_time") and e["args"]["provider"] == "CPUExecutionProvider" for e in nodes)
    assert {"model_loading_array", "session_initialization", "model_run"} == {e["name"] for e in events
                                                                              if e["cat"] == "Session"}
    add = next(e for e in nodes if e["args"]["op_name"] == "Add")
    assert add["args"]["input_type_shape"] == [{"float": [2, 3]}, {"float": [3]}]
    assert add["args"]["output_type_shape"] == [{"float": [2, 3]}]


def test_io_binding_into_bound_buffers():
    model, feed = softmax_head()
    sess = simulator.InferenceSession(model)
    expected = sess.run(["probs"], feed)[0]
    x = feed["x"]
    out = np.zeros_like(expected)
    binding = sess.io_binding()
    binding.bind_input("x", "cpu", 0, np.float32, list(x.shape), x.ctypes.data)
    binding.bind_output("probs", "cpu", 0, np.float32, list(out.shape), out.ctypes.data)
    sess.run_with_iobinding(binding)
    np.testing.assert_array_equal(out, expected)
    target = ort.OrtValue.ortvalue_from_numpy(np.zeros_like(expected))
    binding = sess.io_binding()
    binding.bind_ortvalue_input("x", ort.OrtValue.ortvalue_from_numpy(x))
    binding.bind_ortvalue_output("probs", target)
    sess.run_with_iobinding(binding)
    np.testing.assert_array_equal(target.numpy(), expected)
    with pytest.raises(ValueError, match="session that created it"):
        simulator.InferenceSession(model).run_with_iobinding(binding)


def test_import_simulator_as_ort():
    """Code written for onnxruntime, with the module swapped."""
    import simulator as ort_like

    model, feed = softmax_head()
    so = ort_like.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort_like.InferenceSession(model.SerializeToString(), so, providers=ort_like.get_available_providers())
    input_name = sess.get_inputs()[0].name
    assert sess.get_inputs()[0].type == "tensor(float)"
    probs = sess.run(None, {input_name: feed["x"]}, ort_like.RunOptions())[0]
    assert probs.flags.c_contiguous and probs.shape == (1, 4, 16, 16)


def test_cli_run_and_compare_take_uneven_sequence_outputs(tmp_path):
    """`simulator run` on a model with a sequence output of uneven elements saves each element as NAME[i];
    `simulator compare` compares them."""
    from simulator.cli import main

    seq = h.make_sequence_type_proto(h.make_tensor_type_proto(T.FLOAT, None))
    split = numpy_helper.from_array(np.array([1, 2], np.int64), "split")
    model = _model([h.make_node("SplitToSequence", ["x", "split"], ["parts"])],
                   [h.make_tensor_value_info("x", T.FLOAT, [3, 2])], [h.make_value_info("parts", seq)], [split])
    onnx.save(model, str(tmp_path / "m.onnx"))
    (tmp_path / "data").mkdir()
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    np.save(tmp_path / "data" / "input_00001.npy", x)
    assert main(["run", str(tmp_path / "m.onnx"), "-d", str(tmp_path / "data"), "-o", str(tmp_path / "out"), "-q"]) == 0
    saved = np.load(tmp_path / "out" / "input_00001.npz")
    assert sorted(saved) == ["parts[0]", "parts[1]"]
    np.testing.assert_array_equal(saved["parts[1]"], x[1:])
    # compare: a sequence output compared element by element, its elements end to end
    assert main(["compare", str(tmp_path / "m.onnx"), str(tmp_path / "m.onnx"), "-d", str(tmp_path / "data"), "-q"]) == 0


def test_intra_op_num_threads_limits_the_blas_threads_of_a_run():
    from threadpoolctl import threadpool_info

    if not any(i["user_api"] == "blas" for i in threadpool_info()):
        pytest.skip("threadpoolctl finds no BLAS library in this NumPy build")
    model, feed = dynamic_mixed()
    sess = simulator.InferenceSession(model, simulator.SessionOptions(intra_op_num_threads=1))
    seen = []
    run = sess.interpreter.run

    def spy(*args, **kwargs):
        seen.append({i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"})
        return run(*args, **kwargs)

    sess.interpreter.run = spy
    sess.run(None, feed)
    assert seen == [{1}]


def test_onnxruntime_kernels_through_the_ort_interface():
    """kernels="onnxruntime" with ONNX Runtime's constructor arguments: intra_op_num_threads becomes the thread
    count of ONNX Runtime's kernels. (Bit-identity is AIMET's, whose weights are fed unpacked: not that of a plain
    ONNX Runtime session, which pre-packs initializer weights; docs/quantization.md, "Kernel modes".)"""
    _, path, feed = GOLDEN_MODELS[0] if GOLDEN_MODELS else pytest.skip("golden cases not found")
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    ours = simulator.InferenceSession(path, so, providers=["CPUExecutionProvider"], kernels="onnxruntime")
    assert ours._simulation["ort_threads"] == 1
    theirs = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    _assert_results_match(ours.run(None, feed), theirs.run(None, feed), feed, exact=False)


def test_onnxruntime_docs_examples_with_the_module_swapped(tmp_path):
    """ONNX Runtime's Python API summary (session, metadata, run, IOBinding, OrtValue), with `import simulator as
    onnxruntime` in place of onnxruntime."""
    import simulator as onnxruntime

    model, feed = softmax_head()
    model_path = str(tmp_path / "model.onnx")
    onnx.save(model, model_path)
    X = feed["x"]
    sess_options = onnxruntime.SessionOptions()
    sess_options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess_options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    session = onnxruntime.InferenceSession(model_path, sess_options, providers=onnxruntime.get_available_providers())
    meta = session.get_modelmeta()
    assert meta.producer_name == "parity" and meta.custom_metadata_map == {"author": "tests"}
    first_input_name = session.get_inputs()[0].name
    first_output_name = session.get_outputs()[0].name
    results = session.run([first_output_name], {first_input_name: X})
    io_binding = session.io_binding()
    io_binding.bind_cpu_input(first_input_name, X)
    io_binding.bind_output(first_output_name)
    session.run_with_iobinding(io_binding)
    Y = io_binding.copy_outputs_to_cpu()[0]
    np.testing.assert_array_equal(Y, results[0])
    X_ortvalue = onnxruntime.OrtValue.ortvalue_from_numpy(X, "cpu", 0)
    Y_ortvalue = onnxruntime.OrtValue.ortvalue_from_shape_and_type(Y.shape, Y.dtype, "cpu", 0)
    io_binding = session.io_binding()
    io_binding.bind_input(name=first_input_name, device_type=X_ortvalue.device_name(), device_id=0,
                          element_type=np.float32, shape=X_ortvalue.shape(), buffer_ptr=X_ortvalue.data_ptr())
    io_binding.bind_output(name=first_output_name, device_type=Y_ortvalue.device_name(), device_id=0,
                           element_type=np.float32, shape=Y_ortvalue.shape(), buffer_ptr=Y_ortvalue.data_ptr())
    session.run_with_iobinding(io_binding)
    np.testing.assert_array_equal(Y_ortvalue.numpy(), results[0])
