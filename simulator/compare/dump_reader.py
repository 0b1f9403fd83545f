"""Reading a folder of featuremaps dumped by another tool or a device (.npy, .npz, AIMET layer-output .raw):
its samples and files, which file is which tensor of the model (by name, a name-map file or suffix), a dumped
sample's graph inputs, and one dumped tensor in the simulator's layout (`read_aligned`, `read_input`: what
verify_dumps and bisect_dumps read, with the layout and grid findings of simulator.dumps recorded on the result)."""
from __future__ import annotations

import os
import re
from collections import OrderedDict
from typing import Iterable, Optional

import numpy as np

from .. import data as _data
from .. import dumps as _dumps
from .. import safe_io
from ..errors import DataError, ParameterError
from ..names import without_updated
from .quantizers import quantizer_of


def sanitize(name: str) -> str:
    """A tensor name as dump tools write it into file names (non-word characters to '_')."""
    return re.sub(r"\W+", "_", name).strip("_")


class Dump:
    """A folder of dumped featuremaps: samples -> {file key: locator}."""

    def __init__(self, path: str):
        self.path = os.fspath(path)
        self.kind = ""
        self.samples: "OrderedDict[str, dict[str, tuple]]" = OrderedDict()
        self.inputs: "OrderedDict[str, list]" = OrderedDict()  # AIMET: sample -> raw input files by position
        self._scan()
        self._check_files()

    def _scan(self):
        p = self.path
        outputs = os.path.join(p, "outputs")
        aimet_root = outputs if os.path.isdir(outputs) else p
        aimet = sorted((d for d in os.listdir(aimet_root) if re.fullmatch(r"layer_outputs_\d+", d)
                        and os.path.isdir(os.path.join(aimet_root, d))), key=lambda d: int(d.rsplit("_", 1)[1]))
        if aimet:
            self.kind = "aimet"
            for d in aimet:
                folder = os.path.join(aimet_root, d)
                self.samples[d] = {os.path.splitext(f)[0]: ("raw", os.path.join(folder, f))
                                   for f in sorted(os.listdir(folder)) if f.endswith(".raw")}
                n = d.rsplit("_", 1)[1]
                single = os.path.join(p, "inputs", f"input_{n}.raw")
                multi = os.path.join(p, "inputs", f"input_{n}")
                if os.path.isfile(single):
                    self.inputs[d] = [single]
                elif os.path.isdir(multi):
                    files = sorted((f for f in os.listdir(multi) if f.endswith(".raw")),
                                   key=lambda f: int(f[:-4]) if f[:-4].isdigit() else 1 << 30)
                    self.inputs[d] = [os.path.join(multi, f) for f in files]
            return
        entries = sorted(os.listdir(p))
        npz = [e for e in entries if e.endswith(".npz") and os.path.isfile(os.path.join(p, e))]
        if npz:
            self.kind = "npz"
            for e in npz:
                full = os.path.join(p, e)
                keys = safe_io.npz_keys(full, "dump file", DataError, inside=p)
                self.samples[e[:-4]] = {k: ("npz", full, k) for k in keys}
            return
        subdirs = [e for e in entries if os.path.isdir(os.path.join(p, e))]
        loose = self._tensor_files(p, recursive=False)
        if subdirs and not loose:
            self.kind = "npy"
            for d in subdirs:
                files = self._tensor_files(os.path.join(p, d), recursive=True)
                if files:
                    self.samples[d] = files
        elif loose:
            self.kind = "npy"
            self.samples[os.path.basename(os.path.normpath(p))] = self._tensor_files(p, recursive=True)
        if not self.samples:
            raise DataError(f"dump folder {p!r} holds no featuremaps: expected .npy files (one sub-folder per sample, "
                            f"or directly in the folder for one sample), .npz files (one per sample), or AIMET's "
                            f"layer-output dump (outputs/layer_outputs_N/*.raw)")

    def _check_files(self):
        """Every dump file is a regular file inside the dump folder (no symbolic link out of it, no FIFO)."""
        for files in self.samples.values():
            for loc in files.values():
                safe_io.check_regular(loc[1], "dump file", DataError, inside=self.path)
        for files in self.inputs.values():
            for f in files:
                safe_io.check_regular(f, "dump file", DataError, inside=self.path)

    @staticmethod
    def _tensor_files(folder, recursive) -> dict:
        out = {}
        for root, dirs, files in os.walk(folder):
            dirs.sort()
            for f in sorted(files):
                stem, ext = os.path.splitext(f)
                if ext.lower() in (".npy", ".pb", _dumps.BIN_EXTENSION):
                    rel = os.path.relpath(os.path.join(root, stem), folder).replace(os.sep, "/")
                    out[rel] = (ext.lower()[1:], os.path.join(root, f))
            if not recursive:
                break
        return out

    @staticmethod
    def load(loc, shape=None, dtype=np.float32):
        kind = loc[0]
        if kind == "npz":
            return safe_io.read_npz_member(loc[1], loc[2], "dump file", DataError)
        if kind in ("npy", "pb"):
            return _data.read_array(loc[1])
        # AIMET writes the bare buffer in the tensor's own dtype (bool: one byte each), C order. Its size is
        # checked first: a file far larger than the tensor is never read.
        size = safe_io.check_regular(loc[1], "dump file", DataError).st_size
        itemsize = np.dtype(dtype).itemsize
        if shape is not None and size != int(np.prod(shape)) * itemsize:
            raise DataError(f"dump file {loc[1]!r} holds {size} bytes; the tensor has shape {tuple(shape)} "
                            f"({int(np.prod(shape))} values of {np.dtype(dtype).name}, "
                            f"{int(np.prod(shape)) * itemsize} bytes)")
        raw = np.fromfile(loc[1], dtype=np.uint8 if dtype == np.bool_ else dtype)
        raw = raw != 0 if dtype == np.bool_ else raw
        if shape is not None:
            if raw.size != int(np.prod(shape)):
                raise DataError(f"dump file {loc[1]!r} holds {raw.size} values of {np.dtype(dtype).name}; the tensor "
                                f"has shape {tuple(shape)} ({int(np.prod(shape))} values)")
            raw = raw.reshape(shape)
        return raw


def match_dump_names(keys: Iterable[str], names: list[str]) -> tuple[dict, list]:
    """{file key: tensor name} and the keys that name no tensor."""
    exact = set(names)
    by_sanitized: dict[str, list] = {}
    for n in names:
        by_sanitized.setdefault(sanitize(n), []).append(n)
    out, unmatched = {}, []
    for key in keys:
        cands = [key, key.replace("\\", "/")]
        if without_updated(key) is not None:
            cands.append(without_updated(key))
        hit = next((c for c in cands if c in exact), None)
        if hit is None:
            for c in cands:
                found = by_sanitized.get(sanitize(c), [])
                if len(found) == 1:
                    hit = found[0]
                    break
        if hit is None:
            unmatched.append(key)
        else:
            out[key] = hit
    return out, unmatched


def load_name_map(path) -> dict[str, str]:
    """A JSON file {dump file name (without extension): tensor name} or [[dump name, tensor name], ...]."""
    loaded = safe_io.read_json(path, "name map", ParameterError)  # regular file, size limit, depth
    try:
        items = loaded.items() if isinstance(loaded, dict) else loaded
        return {str(a): str(b) for a, b in items}
    except (ValueError, TypeError) as exc:
        raise ParameterError(f"name map {os.fspath(path)!r} must be a JSON file {{dump name: tensor name}} or "
                             f"[[dump name, tensor name], ...]: {exc}") from None


def extend_mapping(mapping: dict, unmatched: list, names: list[str], name_map_path=None) -> tuple[dict, list]:
    """The dump-to-tensor mapping with the name-map file applied first (it overrides), then the unmatched keys
    matched by suffix: a key that ends with exactly one tensor's sanitized name, or whose sanitized form is the
    end of exactly one tensor's sanitized name."""
    mapping = dict(mapping)
    known = set(names)
    if name_map_path is not None:
        for key, tensor in load_name_map(name_map_path).items():
            if tensor not in known:
                raise ParameterError(f"name map {os.fspath(name_map_path)!r}: tensor {tensor!r} (for dump {key!r}) is "
                                     f"not a tensor of the model")
            if key in mapping or key in unmatched:
                mapping[key] = tensor
    sanitized = {n: sanitize(n) for n in names}
    still = []
    for key in unmatched:
        if key in mapping:
            continue
        s = sanitize(key)
        hits = [n for n, sn in sanitized.items() if sn and (s.endswith("_" + sn) or sn.endswith("_" + s))]
        if len(hits) == 1:
            mapping[key] = hits[0]
        else:
            still.append(key)
    return mapping, still


def dump_inputs(dump: Dump, sample: str, mapping: dict, specs: dict, model_path) -> dict:
    """The graph inputs of one dumped sample: dumped as tensors, or AIMET's inputs/ folder."""
    files = {mapping[k]: loc for k, loc in dump.samples[sample].items() if k in mapping}
    feed = {}
    raw_inputs = dump.inputs.get(sample, [])
    for pos, (name, spec) in enumerate(specs.items()):
        shape = spec.shape if spec.shape and all(isinstance(d, int) and d > 0 for d in spec.shape) else None
        dtype = spec.dtype or np.float32
        if name in files:
            value = Dump.load(files[name], shape, dtype)
        elif pos < len(raw_inputs):
            value = Dump.load(("raw", raw_inputs[pos]), shape, dtype)
        else:
            raise DataError(f"dump sample {sample!r} in {dump.path!r} holds no value of model input {name!r}; give "
                            f"input_data_path (the data folder the dump was made from)")
        feed[name] = value.reshape(shape) if shape is not None and value.size == int(np.prod(shape)) else value
    return feed


# -- one dumped tensor as verification and bisection read it (its diagnosis: simulator.dumps) ----------

def _load_tensor(loc, shape, dtype):
    flat = None if shape is None else (int(np.prod(shape)),)  # the size is checked before the file is read
    if loc[0] == "bin":
        return _dumps.read_bin(loc[1], flat, dtype)
    if loc[0] == "raw":
        return Dump.load(loc, flat, dtype)  # flat: the layout is decided by align
    return Dump.load(loc, shape, dtype)


def read_aligned(result, rec, loc, name, host, raw, interp, params=None) -> Optional[np.ndarray]:
    """The dumped value of tensor `name` in the simulator's layout (`host`), its diagnosis recorded on `result`;
    None (with rec.note set) when it cannot be read or fitted."""
    diag = _dumps.diagnosis_of(result, params)
    t = diag.tensor(name)
    try:
        dumped = _load_tensor(loc, host.shape, host.dtype)
        aligned, perm = _dumps.align(host, np.asarray(dumped), t.permutation)
    except DataError as exc:
        rec.note = str(exc)
        return None
    t.permutation, t.layout = perm, _dumps.layout_name(perm, host.ndim)
    quantizer = _quantizer(interp, name, host)
    if quantizer is not None and host.dtype.kind == "f":
        _dumps.grid_compare(t, quantizer, host, raw, aligned, diag.tie_tolerance)
    return aligned.astype(host.dtype, copy=False) if aligned.dtype != host.dtype else aligned


def read_input(result, loc, name, shape, dtype) -> np.ndarray:
    """A dumped input of an isolated re-run, in the layout found when that tensor was compared."""
    t = _dumps.diagnosis_of(result).tensors.get(name)
    value = np.asarray(_load_tensor(loc, shape, dtype or np.float32))
    if shape is None:
        return value
    perm = t.permutation if t is not None and t.permutation is not None else tuple(range(len(shape)))
    if value.size != int(np.prod(shape)):
        raise DataError(f"dump of tensor {name!r} holds {value.size} values; the tensor has shape {tuple(shape)}")
    value = value.reshape(tuple(shape[a] for a in perm)).transpose(np.argsort(perm))
    return value.astype(dtype) if dtype is not None and value.dtype != dtype else value


def _quantizer(interp, name, value):
    q = quantizer_of(interp, name, value)
    return q if q is not None and q.encoding.bitwidth <= 24 else None  # wider grids: no float32 step count
