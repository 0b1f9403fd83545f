"""Plan -> fold -> execute: the plan is immutable, bodies are plans, the executor's public methods (run_prefix
with injected values), the option-honouring factory the tools use, and the single owners of the name and
consumer rules."""
import dataclasses
from types import SimpleNamespace

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from simulator import graph, names
from simulator.backend import Float64Accumulation
from simulator.encodings import parse_encodings
from simulator.errors import ParameterError
from simulator.executor import Executor
from simulator.interpreter import Interpreter
from simulator.plan import Plan
from simulator.tools import consumers as model_consumers
from simulator.tools import observe


def _model(nodes, inits=(), inputs=("x",), outputs=("y",)):
    graph_ = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info(i, TensorProto.FLOAT, [2, 3]) for i in inputs],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs], list(inits))
    return helper.make_model(graph_, opset_imports=[helper.make_opsetid("", 17)])


CHAIN = [helper.make_node("Relu", ["x"], ["a"], "r"), helper.make_node("Add", ["a", "x"], ["b"], "add"),
         helper.make_node("Mul", ["b", "b"], ["y"], "mul")]
ENC = {"version": "1.0.0", "param_encodings": [], "activation_encodings": [
    {"name": "a", "bw": 8, "dtype": "INT", "enc_type": "PER_TENSOR", "is_sym": False, "scale": [0.5], "offset": [0]}]}


def test_the_plan_and_its_steps_cannot_be_changed():
    plan = Interpreter(_model(CHAIN)).plan
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.steps = ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.steps[0].free = ("x",)
    assert isinstance(plan.steps, tuple) and [sorted(s.free) for s in plan.steps] == [[], ["a", "x"], ["b", "y"]]


def test_a_body_is_a_plan_run_by_its_own_executor():
    then = helper.make_graph([helper.make_node("Relu", ["x"], ["t"], "relu")], "then", [],
                             [helper.make_tensor_value_info("t", TensorProto.FLOAT, None)])
    other = helper.make_graph([helper.make_node("Neg", ["x"], ["e"], "neg")], "else", [],
                              [helper.make_tensor_value_info("e", TensorProto.FLOAT, None)])
    m = helper.make_model(helper.make_graph(
        [helper.make_node("If", ["c"], ["y"], "if", then_branch=then, else_branch=other)], "g",
        [helper.make_tensor_value_info("c", TensorProto.BOOL, []),
         helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]), opset_imports=[helper.make_opsetid("", 17)])
    interp = Interpreter(m)
    (step,) = interp.steps
    assert all(isinstance(b, Plan) and b.outer_scope >= {"x"} for b in step.subgraphs.values())
    assert interp.body_names == {"t": "node 'if' (If)", "e": "node 'if' (If)"}
    x = np.array([-1.0, 2.0], np.float32)
    assert interp.run({"c": np.array(False), "x": x}, {"y"})[0]["y"].tolist() == [1.0, -2.0]


def test_run_prefix_runs_only_the_first_steps_and_later_steps_read_the_injected_values():
    interp = Interpreter(_model(CHAIN), parse_encodings(ENC))
    x = np.array([[-1.0, 0.3, 1.0], [2.0, 0.7, -0.2]], np.float32)
    seen = []

    def inject(name, value):
        seen.append(name)
        return np.full_like(value, 10.0) if name == "a" else value

    values = interp.run_prefix({"x": x}, 2, inject)
    assert seen == ["a", "b"]  # Mul (step 2) did not run
    np.testing.assert_array_equal(values["b"], 10.0 + x)  # Add read the injected a, not relu(x)
    # what is passed on is each output after its encoding
    got = {}
    interp.run_prefix({"x": x}, 1, lambda n, v: got.setdefault(n, v))
    np.testing.assert_array_equal(got["a"], interp.run({"x": x}, {"a"})[0]["a"])


def test_an_executor_over_a_changed_copy_of_the_plan_leaves_the_original_alone():
    interp = Interpreter(_model(CHAIN))
    negate = dataclasses.replace(interp.steps[0].kernel, fn=lambda xp, x: -x)
    plan = dataclasses.replace(interp.plan, steps=(dataclasses.replace(interp.steps[0], kernel=negate),)
                               + interp.steps[1:])
    x = np.ones((2, 3), np.float32)
    assert Executor(plan).run({"x": x}, {"y"})[0]["y"][0, 0] == 0.0
    assert interp.run({"x": x}, {"y"})[0]["y"][0, 0] == 4.0


def test_the_factory_honours_the_options_the_tools_pass():
    model = _model(CHAIN)
    assert isinstance(Interpreter.from_options(model, None, SimpleNamespace(deterministic=True)).xp,
                      Float64Accumulation)
    interp = Interpreter.from_options(model, None, SimpleNamespace(rounding="half_to_even", use_cuda=False))
    assert interp.rounding == "half_to_even" and interp.kernels == "numpy"
    with pytest.raises(ParameterError, match="kernels='bogus'"):
        observe(model, "unused", options=SimpleNamespace(kernels="bogus"))


def test_the_updated_alias_is_spelled_in_one_place():
    known = {"a", "b_updated"}
    assert names.resolve_updated("a_updated", known) == "a"
    assert names.resolve_updated("b_updated", known) == "b_updated"  # a tensor literally so called wins
    assert names.resolve_updated("c_updated", known) is None
    assert names.updated_spellings("y_updated") == ["y_updated", "y_updated_updated", "y"]
    assert names.split_pre_quant("a::pre_quant", known) == ("a", True)
    assert names.split_pre_quant("a", known) == ("a", False)


def test_one_consumer_walk_for_the_plan_and_the_tools():
    w = numpy_helper.from_array(np.ones((3, 4), np.float32), "w")
    nodes = [helper.make_node("Identity", ["w"], ["wi"], "id"), helper.make_node("Transpose", ["wi"], ["wt"], "t"),
             helper.make_node("MatMul", ["x", "wt"], ["y"], "mm")]
    m = _model(nodes, [w])
    expected = [("Transpose->MatMul", 1, {})]
    assert model_consumers(m, "w") == expected
    readers = [(s.node.op_type, s.inputs, s.outputs, {}) for s in Interpreter(m).plan.producer.values()]
    assert graph.consumers(readers, "w") == expected


def test_topological_order_lives_in_the_graph_module():
    order = graph.topological_order(_model(list(reversed(CHAIN))).graph, {"x"})
    assert [n.name for n in order] == ["r", "add", "mul"]
    assert isinstance(order[0], onnx.NodeProto)
