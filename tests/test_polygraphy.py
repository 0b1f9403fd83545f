"""Polygraphy's OnnxrtRunner and Comparator driving the simulator's session, as the first and as the second
runner beside ONNX Runtime, on every golden case's float model with the case's own samples, at Polygraphy's
default tolerances."""
from __future__ import annotations

import os

import pytest

pytest.importorskip("polygraphy")
ort = pytest.importorskip("onnxruntime")

from polygraphy.backend.onnxrt import OnnxrtRunner  # noqa: E402
from polygraphy.comparator import Comparator  # noqa: E402

import simulator  # noqa: E402
from simulator.data import iter_samples  # noqa: E402

GOLDEN = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "conformance")
CASES = sorted(os.path.join(group, c) for group in ("aimet", "aimet_deep")
               for c in (os.listdir(os.path.join(GOLDEN, group)) if os.path.isdir(os.path.join(GOLDEN, group)) else [])
               if os.path.exists(os.path.join(GOLDEN, group, c, "model.onnx")))


@pytest.mark.skipif(not CASES, reason=f"golden cases not found under {GOLDEN}")
@pytest.mark.parametrize("case", CASES)
def test_comparator_with_the_simulator_first_and_second(case):
    d = os.path.join(GOLDEN, case)
    model = os.path.join(d, "model.onnx")
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    ours = OnnxrtRunner(lambda: simulator.InferenceSession(model), name="simulator")
    theirs = OnnxrtRunner(lambda: ort.InferenceSession(model, so, providers=["CPUExecutionProvider"]), name="onnxrt")
    sim = simulator.InferenceSession(model)
    feeds = [feed for _, feed in iter_samples(os.path.join(d, "data"), sim.interpreter.inputs)]
    for runners in ([ours, theirs], [theirs, ours]):
        results = Comparator.run(runners, data_loader=feeds)
        assert len(results) == 2 and all(len(iters) == len(feeds) for _, iters in results)
        assert bool(Comparator.compare_accuracy(results)), f"{case}: {runners[0].name} first"


def test_comparator_on_a_softmax_head():
    """Softmax over axis 1 of NCHW: its output once came back with strides (4096, 4, 256, 16) and Polygraphy's
    Comparator refused it as first runner ("Input array to view() must be contiguous in memory")."""
    from tests.test_session_parity import softmax_head

    model, feed = softmax_head()
    src = model.SerializeToString()
    ours = OnnxrtRunner(lambda: simulator.InferenceSession(src), name="simulator")
    theirs = OnnxrtRunner(lambda: ort.InferenceSession(src, providers=["CPUExecutionProvider"]), name="onnxrt")
    for runners in ([ours, theirs], [theirs, ours]):
        assert bool(Comparator.compare_accuracy(Comparator.run(runners, data_loader=[feed])))
