"""Input data folders, as the toolchain lays them out, read lazily one sample at a time.

Layouts, tried in this order:
1. input_folder_mapping.json {"<input name>": "<sub-folder>"} + one sub-folder per input;
2. sub-folders named after the model's inputs (no mapping file);
3. ONNX test sets: test_data_set_N/input_K.pb (or a single set's input_K.pb files in the folder);
4. .npy files directly in the folder, for a one-input model.
A sample is the set of files sharing a file name (without extension) across the inputs' folders;
samples are sorted by name. .npy files are read with allow_pickle=False: pickles are never loaded.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from typing import Iterator, Sequence

import numpy as np
import onnx
from onnx import external_data_helper, numpy_helper

from . import safe_io
from .errors import DataError
from .model import load_external_tensor
from .paths import checked_path
from .plan import TensorInfo
from .session import check_input

MAPPING_FILE = "input_folder_mapping.json"
SAMPLE_EXTENSIONS = (".npy", ".pb")
DEFAULT_INPUT_NAME = "input"


def _check_folder(path) -> str:
    return checked_path(path, "input data folder", DataError, folder=True)


def _sample_files(folder: str, root: str) -> dict[str, str]:
    """stem -> file of the sample files directly in `folder`; each must lie inside the data folder `root`
    (a symbolic link out of it is an error). A FIFO or device named like a sample is refused when read."""
    files = {}
    for entry in sorted(os.listdir(folder)):
        stem, ext = os.path.splitext(entry)
        full = os.path.join(folder, entry)
        if ext.lower() in SAMPLE_EXTENSIONS and not os.path.isdir(full):
            safe_io.check_inside(full, root, "data file", DataError)
            if stem in files:
                raise DataError(f"folder {folder!r} holds two files for sample {stem!r}")
            files[stem] = full
    return files


def read_array(path: str, inside: str | None = None) -> np.ndarray:
    """One tensor file (.npy without pickles, or a TensorProto .pb) as a NumPy array; `inside`: the folder
    the file must lie in. A .pb's external data is read from the .pb's own folder, through onnx's checks."""
    if path.lower().endswith(".pb"):
        tensor = _read_tensor_proto(path, inside)
        try:
            return numpy_helper.to_array(tensor)
        except Exception as exc:  # sizes that do not match, unknown element types
            raise DataError(f"data file {path!r} cannot be read: {type(exc).__name__}: {exc}") from None
    return safe_io.read_npy(path, "data file", DataError, inside=inside)


def _read_tensor_proto(path: str, inside: str | None) -> onnx.TensorProto:
    data = safe_io.read_bytes(path, "data file", DataError, inside=inside)
    tensor = onnx.TensorProto()
    try:
        tensor.ParseFromString(data)
    except Exception as exc:  # protobuf's DecodeError
        raise DataError(f"data file {path!r} cannot be read as an ONNX TensorProto: {type(exc).__name__}: "
                        f"{exc}") from None
    if any(d < 0 for d in tensor.dims):
        raise DataError(f"data file {path!r}: tensor dims {list(tensor.dims)} include a negative size")
    if external_data_helper.uses_external_data(tensor):
        load_external_tensor(tensor, os.path.dirname(os.path.abspath(path)), f"data file {path!r}",
                             "the data file's folder", DataError)
    return tensor


def _layout(path: str, input_names: Sequence[str] | None) -> "OrderedDict[str, dict[str, str]]":
    """sample name -> {input name -> file}, from whichever layout the folder uses."""
    mapping_path = os.path.join(path, MAPPING_FILE)
    if os.path.lexists(mapping_path):
        mapping = safe_io.read_json(mapping_path, "mapping file", DataError, inside=path)
        if not isinstance(mapping, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                    for k, v in mapping.items()):
            raise DataError(f"{mapping_path!r} must map each model input name to a sub-folder name")
        if input_names is not None:
            unknown = [k for k in mapping if k not in input_names]
            if unknown:
                raise DataError(f"{mapping_path!r} names input(s) {unknown} that the model does not have; "
                                f"model inputs: {list(input_names)}")
            missing = [n for n in input_names if n not in mapping]
            if missing:
                raise DataError(f"{mapping_path!r} gives no folder for model input(s) {missing}")
        folders = {}
        for name, sub in mapping.items():
            try:
                folder = os.path.realpath(os.path.join(path, sub))
            except ValueError as exc:  # a NUL byte in the name
                raise DataError(f"{mapping_path!r}: folder {sub!r} of input {name!r} is not a valid folder name: "
                                f"{exc}") from None
            if os.path.commonpath([os.path.realpath(path), folder]) != os.path.realpath(path):
                raise DataError(f"{mapping_path!r}: folder {sub!r} of input {name!r} is outside the data folder "
                                f"(it resolves to {folder!r})")
            if not os.path.isdir(folder):
                raise DataError(f"{mapping_path!r}: folder {sub!r} of input {name!r} does not exist in {path!r}")
            folders[name] = folder
        return _match(folders, path)
    subdirs = {d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d))}
    if input_names is not None and input_names and all(n in subdirs for n in input_names):
        return _match({n: _sub_folder(path, n) for n in input_names}, path)
    test_sets = sorted(d for d in subdirs if d.startswith("test_data_set"))
    if test_sets:
        return OrderedDict((d, _test_set(_sub_folder(path, d), input_names, path)) for d in test_sets)
    loose = _sample_files(path, path)
    if any(k.startswith("input_") and v.endswith(".pb") for k, v in loose.items()):
        return OrderedDict([(os.path.basename(os.path.normpath(path)), _test_set(path, input_names, path))])
    if loose:
        if input_names is not None and len(input_names) != 1:
            raise DataError(f"data folder {path!r} holds loose sample files, which only fit a one-input model; this "
                            f"model has inputs {list(input_names)}: add {MAPPING_FILE} and one sub-folder per input")
        name = input_names[0] if input_names else DEFAULT_INPUT_NAME
        return OrderedDict((stem, {name: f}) for stem, f in loose.items())
    raise DataError(f"data folder {path!r} holds no samples: expected {MAPPING_FILE} with one sub-folder per input, "
                    f"sub-folders named after the inputs, test_data_set_N folders, or .npy files")


def _sub_folder(root: str, name: str) -> str:
    """Sub-folder `name` of the data folder, which must not lead out of it (a symbolic link)."""
    full = os.path.join(root, name)
    safe_io.check_inside(full, root, "data sub-folder", DataError)
    return full


def _match(folders: dict[str, str], root: str) -> "OrderedDict[str, dict[str, str]]":
    per_input = {name: _sample_files(folder, root) for name, folder in folders.items()}
    all_samples = sorted(set().union(*per_input.values())) if per_input else []
    if not all_samples:
        raise DataError(f"no .npy sample files in the input folders {sorted(folders.values())}")
    for name, files in per_input.items():
        missing = [s for s in all_samples if s not in files]
        if missing:
            raise DataError(f"input {name!r}: folder {folders[name]!r} has no file for sample(s) {missing[:10]} that "
                            f"other inputs' folders have")
    return OrderedDict((s, {name: per_input[name][s] for name in folders}) for s in all_samples)


def _test_set(folder: str, input_names, root: str) -> dict[str, str]:
    files = sorted((f for f in os.listdir(folder) if f.startswith("input_") and f.endswith(".pb")),
                   key=lambda f: int(f[6:-3]) if f[6:-3].isdigit() else 1 << 30)
    if not files:
        raise DataError(f"test set folder {folder!r} holds no input_N.pb files")
    names = list(input_names) if input_names is not None else None
    if names is not None and len(files) != len(names):
        raise DataError(f"test set folder {folder!r} holds {len(files)} input files; the model has {len(names)} inputs")
    out = {}
    for i, f in enumerate(files):
        full = os.path.join(folder, f)
        safe_io.check_inside(full, root, "data file", DataError)
        if names is not None:
            out[names[i]] = full
        else:
            tensor = onnx.TensorProto()
            try:
                tensor.ParseFromString(safe_io.read_bytes(full, "data file", DataError))
            except Exception as exc:  # protobuf's DecodeError
                if isinstance(exc, DataError):
                    raise
                raise DataError(f"data file {full!r} cannot be read as an ONNX TensorProto: {type(exc).__name__}: "
                                f"{exc}") from None
            out[tensor.name or f"input_{i}"] = full
    return out


def iter_samples(path, inputs: Sequence[TensorInfo] | None = None) -> Iterator[tuple[str, dict[str, np.ndarray]]]:
    """Yield (sample name, {input name: array}) in sample-name order, one sample in memory at a time.

    With `inputs` (the model's input specs), each array is checked against its input's dtype and shape.
    """
    reader = SampleReader(path, inputs)
    for sample in reader.names:
        yield sample, reader.read(sample)


class SampleReader:
    """A data folder's samples read by name: the folder is scanned once, each sample read when asked for
    (what a worker of simulator.runner does with the names of its shard)."""

    def __init__(self, path, inputs: Sequence[TensorInfo] | None = None):
        self.path = _check_folder(path)
        self.specs = {i.name: i for i in inputs} if inputs is not None else {}
        self.files = _layout(self.path, [i.name for i in inputs] if inputs is not None else None)
        self.names = list(self.files)

    def read(self, sample: str) -> dict[str, np.ndarray]:
        files = self.files.get(sample)
        if files is None:
            raise DataError(f"data folder {self.path!r} has no sample {sample!r}")
        arrays = {}
        for name, file in files.items():
            value = read_array(file, inside=self.path)
            if name in self.specs:
                value = check_input(self.specs[name], value, f"data file {file!r} (input {name!r})")
            arrays[name] = value
        return arrays


def sample_names(path, inputs: Sequence[TensorInfo] | None = None) -> list[str]:
    """The sample names of a data folder, in the order they run (no file is read)."""
    names = [i.name for i in inputs] if inputs is not None else None
    return list(_layout(_check_folder(path), names))


def count_samples(path, inputs: Sequence[TensorInfo] | None = None) -> int:
    return len(sample_names(path, inputs))


def load_input_data(path, inputs: Sequence[TensorInfo] | None = None) -> "OrderedDict[str, dict[str, np.ndarray]]":
    """Every sample of a data folder: {sample name: {input name: array}}, ordered by sample name."""
    return OrderedDict(iter_samples(path, inputs))
