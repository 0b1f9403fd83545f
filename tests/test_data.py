"""Data folders: every layout the runner reads, and the errors a user can cause."""
import json
import os
import pickle

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from simulator.data import iter_samples, load_input_data
from simulator.errors import DataError
from simulator.interpreter import TensorInfo

X = TensorInfo("x", TensorProto.FLOAT, (1, 4))
IDS = TensorInfo("ids", TensorProto.INT64, ("batch", 3))


def _save(folder, name, value):
    os.makedirs(folder, exist_ok=True)
    np.save(os.path.join(folder, name), value)


def test_toolchain_layout_with_mapping(tmp_path):
    (tmp_path / "input_folder_mapping.json").write_text(json.dumps({"x": "xs", "ids": "tokens"}))
    for i in (2, 1):
        _save(tmp_path / "xs", f"s{i}.npy", np.full((1, 4), i, np.float32))
        _save(tmp_path / "tokens", f"s{i}.npy", np.arange(3, dtype=np.int64)[None] + i)
    samples = load_input_data(tmp_path, [X, IDS])
    assert list(samples) == ["s1", "s2"]
    assert samples["s2"]["ids"].dtype == np.int64 and samples["s2"]["x"][0, 0] == 2


def test_subfolders_named_after_inputs(tmp_path):
    _save(tmp_path / "x", "a.npy", np.zeros((1, 4), np.float32))
    _save(tmp_path / "ids", "a.npy", np.zeros((2, 3), np.int64))
    assert list(load_input_data(tmp_path, [X, IDS])["a"]) == ["x", "ids"]


def test_loose_npy_files_for_a_one_input_model(tmp_path):
    for name in ("b", "a", "c"):
        _save(tmp_path, f"{name}.npy", np.zeros((1, 4), np.float32))
    assert list(load_input_data(tmp_path, [X])) == ["a", "b", "c"]


def test_onnx_test_sets(tmp_path):
    for k in range(2):
        d = tmp_path / f"test_data_set_{k}"
        d.mkdir()
        (d / "input_0.pb").write_bytes(numpy_helper.from_array(np.full((1, 4), k, np.float32), "x").SerializeToString())
    samples = load_input_data(tmp_path, [X])
    assert list(samples) == ["test_data_set_0", "test_data_set_1"] and samples["test_data_set_1"]["x"][0, 0] == 1


@pytest.mark.parametrize("setup,match", [
    (lambda p: None, "holds no samples"),
    (lambda p: _save(p, "a.npy", np.zeros((1, 4), np.float64)), "dtype float64"),
    (lambda p: _save(p, "a.npy", np.zeros((2, 4), np.float32)), "shape"),
    (lambda p: (p / "a.npy").write_bytes(b"not numpy"), "cannot be read|not a valid"),
    (lambda p: (p / "input_folder_mapping.json").write_text('{"y": "ys"}'), "does not have"),
    (lambda p: (p / "input_folder_mapping.json").write_text("{oops"), "not valid JSON"),
    (lambda p: (p / "input_folder_mapping.json").write_text('{"x": "nowhere"}'), "does not exist"),
    (lambda p: (p / "input_folder_mapping.json").write_text('{"x": "../.."}'), "outside the data folder"),
])
def test_data_errors_name_the_problem(tmp_path, setup, match):
    setup(tmp_path)
    with pytest.raises(DataError, match=match):
        load_input_data(tmp_path, [X])


def test_missing_sample_for_one_input(tmp_path):
    (tmp_path / "input_folder_mapping.json").write_text(json.dumps({"x": "xs", "ids": "tokens"}))
    _save(tmp_path / "xs", "s1.npy", np.zeros((1, 4), np.float32))
    _save(tmp_path / "xs", "s2.npy", np.zeros((1, 4), np.float32))
    _save(tmp_path / "tokens", "s1.npy", np.zeros((1, 3), np.int64))
    with pytest.raises(DataError, match=r"input 'ids'.*no file for sample\(s\) \['s2'\]"):
        load_input_data(tmp_path, [X, IDS])


def test_pickles_are_never_loaded(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    np.save(tmp_path / "a.npy", np.array([Evil()], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="pickle"):
        load_input_data(tmp_path, [X])
    assert not marker.exists()


def test_missing_and_file_paths(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_input_data(tmp_path / "nope")
    f = tmp_path / "f.npy"
    np.save(f, np.zeros(3))
    with pytest.raises(DataError, match="is a file"):
        load_input_data(f)


def test_samples_are_read_lazily(tmp_path):
    for name in ("a", "b"):
        _save(tmp_path, f"{name}.npy", np.zeros((1, 4), np.float32))
    it = iter_samples(tmp_path, [X])
    assert next(it)[0] == "a"
    os.remove(tmp_path / "b.npy")  # not read yet
    with pytest.raises(DataError):
        next(it)


__all__ = ["pickle", "onnx", "helper"]
