"""The tools' sample loops through simulator.runner: runner.iter_samples is the data set's order and count,
and export's check gives the same numbers however its samples are sharded."""
import os

import pytest

from simulator import data, runner
from simulator.model import load_model
from simulator.interpreter import Interpreter
from simulator.tools.export_qdq import compare_with_simulator, export_qdq
from tests.conftest import GOLDEN, require_golden

CASE = "cnn_residual__w4a16_pc__v0.6.1"  # three samples; ONNX Runtime differs from the simulator in two elements


def _folder():
    require_golden()
    return os.path.join(GOLDEN, CASE)


def test_iter_samples_is_the_folders_order_and_stops_at_max_samples():
    folder = _folder()
    inputs = Interpreter(load_model(os.path.join(folder, "model.onnx"))).inputs
    every = list(data.iter_samples(os.path.join(folder, "data"), inputs))
    got = list(runner.iter_samples(os.path.join(folder, "data"), inputs))
    assert [s for s, _ in got] == [s for s, _ in every] and len(every) == 3
    assert all((a[k] == b[k]).all() for (_, a), (_, b) in zip(got, every) for k in a)
    assert [s for s, _ in runner.iter_samples(os.path.join(folder, "data"), inputs, 2)] == [s for s, _ in every[:2]]
    assert list(runner.iter_samples(os.path.join(folder, "data"), inputs, 0)) == []


def test_export_check_is_the_same_in_any_shards(tmp_path):
    pytest.importorskip("onnxruntime")
    folder = _folder()
    model, enc = os.path.join(folder, "model.onnx"), os.path.join(folder, "model.encodings")
    qdq = export_qdq(model, enc, tmp_path / "qdq.onnx").model
    whole = compare_with_simulator(model, enc, qdq, os.path.join(folder, "data"))
    assert whole["samples"] == 3 and 0 < whole["identical"] < whole["elements"]  # a finite SNR: sums carry bits
    one_by_one = compare_with_simulator(model, enc, qdq, os.path.join(folder, "data"),
                                        runner_options=runner.Options(shard_size=1))
    assert one_by_one == whole
    first_two = compare_with_simulator(model, enc, qdq, os.path.join(folder, "data"), max_samples=2,
                                       runner_options=runner.Options(shard_size=1))
    assert first_two["samples"] == 2 and first_two["elements"] == 2 * whole["elements"] // 3
