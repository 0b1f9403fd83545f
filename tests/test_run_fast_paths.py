"""The fast paths of a run give what the general ones give: the bound quantize function (bit for bit against
fake_quantize), the executor's bound steps (against a run with an observer, which goes through the general
store), the session's remembered output names and fed-as-declared feeds, the pipeline's remembered routes."""
import numpy as np
import pytest
from onnx import TensorProto, helper

from simulator.encodings import parse_encodings
from simulator.errors import ArgumentTypeError, InvalidFeedError, KernelError, UnknownNameError
from simulator.interpreter import Interpreter
from simulator.pipeline import Pipeline
from simulator.quantization import (HALF_AWAY_FROM_ZERO, HALF_TO_EVEN, ONNXRUNTIME_QDQ, Encoding, Granularity,
                                    bind, fake_quantize, quantize_function)
from simulator.session import InferenceSession

f32 = np.float32
SPECIALS = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-45, -1e-45, 3e38, -3e38]


def _values(shape, scale, seed=0):
    """Random values around the grid, exact ties (k + 0.5 steps) and special values."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(int(np.prod(shape))) * 200 * scale).astype(f32)
    ties = ((rng.integers(-300, 300, x.size) + 0.5) * scale).astype(f32)
    x[::3] = ties[::3]
    x[:len(SPECIALS)] = np.array(SPECIALS, f32)[:x.size]
    return x.reshape(shape)


def _encoding(bw=8, offset=-128.0, scale=0.05, **kw):
    return Encoding("t", "int", bw, np.array([scale], f32), np.array([offset], f32), **kw)


@pytest.mark.parametrize("rounding", [HALF_AWAY_FROM_ZERO, HALF_TO_EVEN, ONNXRUNTIME_QDQ])
@pytest.mark.parametrize("enc", [_encoding(), _encoding(16, -32768.0, 1e-3), _encoding(4, 0.0, 0.5),
                                 _encoding(32, -2.0 ** 31, 1e-6), Encoding("t", "float", 16)],
                         ids=["int8", "int16", "uint4", "int32", "float16"])
@pytest.mark.parametrize("shape", [(), (1,), (7,), (1, 4, 9), (2, 3, 5, 4)])
def test_the_bound_quantize_function_gives_fake_quantize_bits(enc, rounding, shape):
    x = _values(shape, 0.05)
    q = bind(enc, shape, rounding=rounding)
    with np.errstate(all="ignore"):  # as a run quantizes (3e38 overflows float16)
        expected = fake_quantize(np, x, q)
        got = quantize_function(np, q)(x)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    assert got.tobytes() == expected.tobytes()


def test_the_bound_quantize_function_takes_any_value_fake_quantize_takes():
    q = bind(_encoding(), (4, 6))
    fn = quantize_function(np, q)
    x = _values((6, 4), 0.05, seed=1)
    with np.errstate(all="ignore"):  # as a run quantizes (3e38 overflows float16)
        for value in (x.T, x.astype(np.float16).T, x.astype(np.float64).T, x.T.copy(order="F")):  # views, types
            assert fn(value).tobytes() == fake_quantize(np, value, q).tobytes()
    channels = Encoding("t", "int", 8, np.full(4, 0.05, f32), np.full(4, -128.0, f32),
                        granularity=Granularity.PER_CHANNEL, axis=0)
    qc = bind(channels, (4, 6))
    with np.errstate(all="ignore"):
        assert quantize_function(np, qc)(x.T).tobytes() == fake_quantize(np, x.T, qc).tobytes()


# -- the executor ------------------------------------------------------------------------------

def _model():
    """Split (two outputs, one encoded), Clip with an omitted input, a per-channel encoded output, Identity."""
    nodes = [helper.make_node("Relu", ["x"], ["r"], "relu"),
             helper.make_node("Split", ["r"], ["s0", "s1"], "split", axis=1, num_outputs=2),
             helper.make_node("Clip", ["s0", "", "hi"], ["c"], "clip"),
             helper.make_node("Mul", ["c", "s1"], ["m"], "mul"),
             helper.make_node("Identity", ["m"], ["y"], "id")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])],
                          [helper.make_tensor("hi", TensorProto.FLOAT, [], [0.7])])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])


ENC = {"version": "1.0.0", "param_encodings": [], "activation_encodings": [
    {"name": n, "bw": 8, "dtype": "INT", "enc_type": "PER_TENSOR", "is_sym": False, "scale": [0.01], "offset": [-100]}
    for n in ("x", "s1", "y")] + [
    {"name": "m", "bw": 8, "dtype": "INT", "enc_type": "PER_CHANNEL", "is_sym": False, "scale": [0.01, 0.02],
     "offset": [-100, -50]}]}


def test_bound_steps_give_the_values_of_the_observed_run():
    model = _model()
    interp = Interpreter(model, parse_encodings(ENC, "<test>"))
    x = _values((2, 4), 0.01)
    names = {"r", "s0", "s1", "c", "m", "y"}
    values, raw = interp.run({"x": x}, names, {"s1", "m"})
    seen = {}
    observed, raw_observed = interp.run({"x": x}, names, {"s1", "m"},
                                        observer=lambda n, v, r: seen.setdefault(n, (v, r)))
    for n in names:
        assert values[n].tobytes() == observed[n].tobytes() == seen[n][0].tobytes(), n
    assert {n: v.tobytes() for n, v in raw.items()} == {n: v.tobytes() for n, v in raw_observed.items()}
    assert raw["m"].tobytes() == seen["m"][1].tobytes()
    # each encoded output quantized once, by its own encoding (m per channel, along axis 1)
    assert values["s1"].tobytes() == interp.quantize("s1", values["r"][:, 2:]).tobytes()
    assert not np.array_equal(values["m"], raw["m"])
    assert values["m"].tobytes() == interp.quantize("m", raw["m"]).tobytes()
    np.testing.assert_array_equal(values["c"], np.minimum(values["s0"], f32(0.7)))  # Clip's omitted min: None


def test_a_kernel_failure_in_a_bound_step_names_its_node():
    g = helper.make_graph([helper.make_node("Add", ["x", "k"], ["y"], "add")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [helper.make_tensor("k", TensorProto.FLOAT, [3], [1, 2, 3])])
    interp = Interpreter(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    message = r"node 'add' \(Add\) failed on inputs \(x: float32\[1, 4\], k: float32\[3\]\)"
    with pytest.raises(KernelError, match=message):
        interp.run({"x": np.ones((1, 4), f32)}, {"y"})


# -- the session --------------------------------------------------------------------------------

@pytest.fixture()
def session(tmp_path):
    import json

    import onnx

    path, enc = tmp_path / "m.onnx", tmp_path / "m.encodings"
    onnx.save(_model(), path)
    enc.write_text(json.dumps(ENC))
    return InferenceSession(str(path), encodings_path=str(enc))


def test_output_names_remembered_resolve_as_the_first_time(session):
    x = _values((2, 4), 0.01)
    first = session.run(["m", "m::pre_quant", "y_updated"], {"x": x})
    for _ in range(2):
        again = session.run(["m", "m::pre_quant", "y_updated"], {"x": x})
        assert [a.tobytes() for a in again] == [a.tobytes() for a in first]
        assert all(a is not b for a, b in zip(again, first))  # fresh arrays every run
    assert session.run(("m",), {"x": x})[0].tobytes() == first[0].tobytes()
    assert session.run(None, {"x": x})[0].tobytes() == session.run([], {"x": x})[0].tobytes()
    for _ in range(2):  # an error is raised every time, never remembered as an answer
        with pytest.raises(UnknownNameError, match="'nope' does not exist"):
            session.run(["nope"], {"x": x})
    with pytest.raises(ArgumentTypeError, match="output names must be strings"):
        session.run([["m"]], {"x": x})
    session.set_providers(["CPUExecutionProvider"])
    assert session.run(["m"], {"x": x})[0].tobytes() == first[0].tobytes()


def test_a_feed_as_declared_is_used_as_given_and_never_returned(session):
    x = _values((2, 4), 0.01)
    (r,) = session.run(["x"], {"x": x})  # a feed asked back is a copy
    assert r is not x and not np.shares_memory(r, x)
    with pytest.raises(InvalidFeedError, match=r"dtype float64 .*expects float32"):
        session.run(None, {"x": x.astype(np.float64)})
    with pytest.raises(InvalidFeedError, match=r"invalid dimensions .*index 1: got 5, expected 4"):
        session.run(None, {"x": np.zeros((2, 5), f32)})
    with pytest.raises(InvalidFeedError, match="invalid rank"):
        session.run(None, {"x": np.zeros((2, 4, 1), f32)})


def test_a_pipeline_route_remembered_gives_what_a_fresh_one_gives(session, tmp_path):
    import onnx

    g = helper.make_graph([helper.make_node("Neg", ["y"], ["z"], "neg")], "tail",
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])],
                          [helper.make_tensor_value_info("z", TensorProto.FLOAT, [2, 2])])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "tail.onnx")
    pipe = Pipeline([session, InferenceSession(str(tmp_path / "tail.onnx"))])
    x = _values((2, 4), 0.01)
    (z,) = pipe.run(None, {"x": x})
    for names in (None, ["m", "z"], ["z"], None):
        out = pipe.run(names, {"x": x})
        assert out[-1].tobytes() == z.tobytes()
    m, z2 = pipe.run(["m", "z"], {"x": x})
    assert m.tobytes() == session.run(["m"], {"x": x})[0].tobytes() and z2.tobytes() == z.tobytes()
    assert z.tobytes() == (-session.run(["y"], {"x": x})[0]).tobytes()


def test_a_loop_body_binds_its_steps_once_for_all_iterations():
    """A body's run keeps its outputs: the steps without them in the free lists are made once, not per iteration."""
    body = helper.make_graph([helper.make_node("Identity", ["cond_in"], ["cond_out"]),
                              helper.make_node("Add", ["acc_in", "one"], ["acc_out"])], "body",
                             [helper.make_tensor_value_info("i", TensorProto.INT64, []),
                              helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
                              helper.make_tensor_value_info("acc_in", TensorProto.FLOAT, [1])],
                             [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
                              helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, [1])],
                             [helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])])
    loop = helper.make_node("Loop", ["n", "", "acc"], ["total"], body=body)
    graph = helper.make_graph([loop], "g", [helper.make_tensor_value_info("n", TensorProto.INT64, []),
                                            helper.make_tensor_value_info("acc", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("total", TensorProto.FLOAT, [1])])
    session = InferenceSession(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    total, = session.run(None, {"n": np.array(50, np.int64), "acc": np.zeros(1, f32)})
    assert total[0] == 50
    body_executor, = session._interp.executor._bodies.values()
    assert len(body_executor._keeping) == 1
