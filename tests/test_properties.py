"""Property-based tests (hypothesis) of the encodings parser, the data loader and the quantizer.

* No input makes the parser or the data loader raise anything but the project's own errors.
* The quantizer's output is always on its grid and within its range; NaN stays NaN, ±inf saturate.
* Encodings parsed, written back (simulator.tools.convert) and parsed again are the same encodings.
max_examples stay modest: the file runs in well under 30 s.
"""
from __future__ import annotations

import io
import json
import os
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, numpy_helper

from simulator.data import load_input_data
from simulator.encodings import SUPPORTED_VERSIONS, EncodingsFile, load_encodings, parse_encodings
from simulator.errors import DataError, EncodingsError
from simulator.interpreter import TensorInfo
from simulator.quantization import HALF_AWAY_FROM_ZERO, HALF_TO_EVEN, Encoding, Granularity, bind

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
f32 = np.float32

# -- strategies --------------------------------------------------------------------------------------

scalars = (st.none() | st.booleans() | st.integers(-(2 ** 70), 2 ** 70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=6)
           | st.sampled_from(["True", "False", "int", "float", "INT", "FLOAT", "PER_CHANNEL", "LPBQ", "uint8",
                              "int4", "float16", "0.6.1", "1.0.0", "2.0.0"]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=16)
numbers = st.integers(-5, 70) | st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0, 1e-50, 1e300])
number_lists = st.lists(numbers, max_size=4)
field_values = numbers | number_lists | st.lists(number_lists, max_size=3) | json_values

def _mostly(usual, rare, one_in=8):
    return st.integers(0, one_in - 1).flatmap(lambda i: rare if i == 0 else usual)


def plausible(*good):
    """Mostly a plausible value for the field, sometimes anything."""
    return _mostly(st.sampled_from(good), field_values, 6)


bits = plausible(1, 4, 8, 16, 32, 0, 33, 64) | st.integers(-3, 70)
scale_lists = st.lists(st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.1, 1e-50, 1e300, 0]),
                       max_size=4)
FIELDS_061 = {"bitwidth": bits, "dtype": plausible("int", "float", "INT"), "is_symmetric": plausible("True", "False"),
              "min": numbers, "max": numbers, "offset": plausible(0, -128, -255) | numbers,
              "scale": plausible(0.1, 1.0) | numbers}
FIELDS_100 = {"name": plausible("t", "u", "v"), "bw": bits, "dtype": plausible("INT", "FLOAT", "int", "FP"),
              "enc_type": plausible("PER_TENSOR", "PER_CHANNEL", "PER_BLOCK", "LPBQ"), "is_sym": st.booleans(),
              "scale": plausible([0.1], [0.1, 0.2]) | scale_lists, "offset": plausible([0], [-128, 0]) | scale_lists,
              "zero_point_shift": plausible([0.5]) | scale_lists, "block_size": plausible(2, 0, -1),
              "compressed_bw": bits, "per_block_int_scale": plausible([1, 2], [3]) | scale_lists}
FIELDS_2X = {"name": plausible("t", "u"), "output_dtype": plausible("uint8", "int8", "int4", "int16", "int32",
                                                                    "float16", "bfloat16", "int0", "int64", "uint"),
             "y_scale": plausible(0.1, [0.1, 0.2], [[0.1], [0.2]]) | scale_lists, "y_zero_point": plausible(0, [1, 2]),
             "axis": plausible(0, 1, -1, 9), "block_size": plausible(2, 0, -3),
             "per_block_int_scale": plausible([1, 2], [[1, 2]]) | scale_lists,
             "per_channel_float_scale": plausible([0.1], [0.1, 0.2]) | scale_lists}
REQUIRED = {"bitwidth", "name", "bw", "output_dtype", "scale", "offset", "y_scale"}


def entries(fields):
    """Entries with the version's field names (so that parsing goes past the schema) holding anything."""
    required = {k: v for k, v in fields.items() if k in REQUIRED}
    optional = {k: v for k, v in fields.items() if k not in REQUIRED}
    return _mostly(st.fixed_dictionaries(required, optional=optional),
                   st.dictionaries(st.sampled_from(sorted(fields)), field_values, max_size=4))



def _sections(section, names, kind):
    if kind == "dict":
        body = st.dictionaries(st.sampled_from(["t", "u", "v", "w"]), section | st.lists(section, max_size=3),
                               max_size=3)
    else:
        body = st.lists(section, max_size=4)
    return st.fixed_dictionaries({}, optional={n: _mostly(body, json_values) for n in names})


encodings_files = st.one_of(
    json_values,
    st.fixed_dictionaries({"version": st.sampled_from(["0.6.1", None])}).flatmap(
        lambda v: _sections(entries(FIELDS_061), ["activation_encodings", "param_encodings"], "dict").map(
            lambda d: {**v, **d})),
    *[_sections(entries(FIELDS_100), ["activation_encodings", "param_encodings"], "list").map(
        lambda d: {"version": "1.0.0", **d})] * 2,
    *[_sections(entries(FIELDS_2X), ["encodings"], "list").map(lambda d: {"version": "2.0.0", **d})] * 2,
    st.fixed_dictionaries({"version": json_values}),
)


# -- the encodings parser ----------------------------------------------------------------------------

@settings(max_examples=400, **SETTINGS)
@given(encodings_files)
def test_parser_raises_only_encodings_errors(data):
    try:
        parsed = parse_encodings(data)
    except EncodingsError as exc:
        assert str(exc)
        return
    assert isinstance(parsed, EncodingsFile) and parsed.version in SUPPORTED_VERSIONS
    for enc in list(parsed.encodings.values()) + list(parsed.int32_bias.values()):
        if enc.dtype == "int":  # every integer encoding that parses is usable: positive finite float32 scales
            assert 1 <= enc.bitwidth <= 32
            assert np.all(np.isfinite(enc.scale)) and np.all(enc.scale > 0) and np.all(np.isfinite(enc.offset))


@settings(max_examples=150, **SETTINGS)
@given(st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_encodings_files_of_any_bytes_raise_only_encodings_errors(content):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "x.encodings")
        with open(path, "wb") as f:
            f.write(content)
        try:
            load_encodings(path)
        except EncodingsError:
            pass


# -- the data loader -----------------------------------------------------------------------------------

def _npy_bytes(value) -> bytes:
    buf = io.BytesIO()
    np.save(buf, value, allow_pickle=True)
    return buf.getvalue()


arrays = st.one_of(
    st.sampled_from([np.zeros((1, 4), f32), np.zeros((2, 4), f32), np.zeros(4, f32), np.zeros((1, 4)),
                     np.zeros((1, 4), np.int64), np.array(3.0, f32), np.zeros((0, 4), f32),
                     np.zeros((1, 4), dtype=[("a", f32)]), np.array([None, 1], dtype=object)]),
)
file_contents = st.one_of(
    st.binary(max_size=64),
    arrays.map(_npy_bytes),
    arrays.map(_npy_bytes).flatmap(lambda b: st.integers(0, len(b)).map(lambda n: b[:n])),  # truncated
    arrays.map(lambda a: numpy_helper.from_array(np.asarray(a, dtype=f32), "x").SerializeToString()
               if a.dtype.kind == "f" and a.dtype.names is None else b"\x08"),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.sampled_from(["x", "y", ""]), st.sampled_from(["x", "xs", "..", "/", "a.npy", "nowhere", ""]),
                    max_size=2).map(lambda d: json.dumps(d).encode()),
)
file_names = st.sampled_from(["input_folder_mapping.json", "a.npy", "b.npy", "input_0.pb", "input_1.pb", "c.pb",
                              "x/a.npy", "xs/a.npy", "x/b.npy", "test_data_set_0/input_0.pb",
                              "test_data_set_1/input_0.pb", "x/input_folder_mapping.json", "x", "xs"])
folders = st.dictionaries(file_names, file_contents, max_size=5)

X = TensorInfo("x", TensorProto.FLOAT, (1, 4))


@settings(max_examples=200, **SETTINGS)
@given(folders, st.sampled_from([None, [X], [X, TensorInfo("y", TensorProto.INT64, ("n", 4))]]))
def test_data_loader_raises_only_data_errors(files, inputs):
    with tempfile.TemporaryDirectory() as d:
        root = os.path.join(d, "data")
        os.makedirs(root)
        for name, content in files.items():
            path = os.path.join(root, name)
            if os.path.isfile(os.path.dirname(path)) or os.path.isdir(path):
                continue  # a name already used as a file (or as a folder)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(content)
        try:
            samples = load_input_data(root, inputs)
        except DataError as exc:
            assert str(exc)
            return
        for arrays_of_sample in samples.values():
            for value in arrays_of_sample.values():
                assert isinstance(value, np.ndarray) and not value.dtype.hasobject
                if inputs is not None and value.dtype == f32:
                    assert value.shape == (1, 4)


# -- the quantizer -------------------------------------------------------------------------------------

@st.composite
def encodings_and_values(draw):
    bw = draw(st.integers(1, 16))
    qmax = 2 ** bw - 1
    scale = f32(draw(st.floats(2.0 ** -20, 1024.0, width=32)))
    offset = f32(-draw(st.integers(0, qmax)))
    enc = Encoding("t", "int", bw, np.array([scale], f32), np.array([offset], f32))
    x = draw(st.lists(st.floats(width=32, allow_nan=True, allow_infinity=True)
                      | st.floats(-float(f32(4.0 * float(scale) * qmax)), float(f32(4.0 * float(scale) * qmax)), width=32),
                      min_size=1, max_size=40))
    return enc, np.array(x, f32)


@settings(max_examples=300, **SETTINGS)
@given(encodings_and_values(), st.sampled_from([HALF_AWAY_FROM_ZERO, HALF_TO_EVEN]))
def test_quantizer_output_is_on_the_grid_and_within_range(case, rounding):
    enc, x = case
    scale, offset, qmax = enc.scale[0], enc.offset[0], 2 ** enc.bitwidth - 1
    y = bind(enc, x.shape, rounding=rounding)(np, x.copy())
    assert y.dtype == f32 and y.shape == x.shape
    nan = np.isnan(x)
    assert np.array_equal(np.isnan(y), nan)  # NaN stays NaN, nothing else becomes NaN
    lo, hi = f32(scale * f32(offset)), f32(scale * f32(qmax + offset))
    ok = y[~nan]
    assert np.all((ok >= lo) & (ok <= hi))
    # on the grid: y is scale * (q + offset) for an integer q in [0, qmax], computed in float32
    q = np.round(ok.astype(np.float64) / float(scale) - float(offset))
    assert np.all((q >= 0) & (q <= qmax))
    np.testing.assert_array_equal(ok, (scale * (q.astype(f32) + offset)).astype(f32))
    # +inf and -inf saturate to the grid's ends
    assert np.all(y[x == np.inf] == hi) and np.all(y[x == -np.inf] == lo)


@settings(max_examples=100, **SETTINGS)
@given(encodings_and_values())
def test_quantizer_does_not_modify_its_input(case):
    enc, x = case
    before = x.copy()
    bind(enc, x.shape)(np, x)
    np.testing.assert_array_equal(x, before)


# -- parse -> write -> parse ---------------------------------------------------------------------------

@st.composite
def valid_files(draw):
    """A valid 1.0.0 or 0.6.1 file of per-tensor and per-channel integer encodings (and float16)."""
    version = draw(st.sampled_from(["1.0.0", "0.6.1"]))
    names = draw(st.lists(st.text("abcxyz/_.0123456789", min_size=1, max_size=8), min_size=1, max_size=5,
                          unique=True))
    act, par = ([], []) if version == "1.0.0" else ({}, {})
    for i, name in enumerate(names):
        is_float = draw(st.booleans()) and draw(st.booleans())
        bw = 16 if is_float else draw(st.integers(1, 16))
        channels = draw(st.integers(1, 4))
        scales = [float(f32(draw(st.floats(2.0 ** -20, 1024.0, width=32)))) for _ in range(channels)]
        sym = draw(st.booleans())
        offsets = [float(-(2 ** (bw - 1)) if sym else -draw(st.integers(0, 2 ** bw - 1))) for _ in range(channels)]
        is_param = i % 2 == 1
        if version == "1.0.0":
            entry = ({"name": name, "bw": bw, "dtype": "FLOAT"} if is_float else
                     {"name": name, "bw": bw, "dtype": "INT", "is_sym": sym, "scale": scales, "offset": offsets,
                      "enc_type": "PER_TENSOR" if channels == 1 else "PER_CHANNEL"})
            (par if is_param else act).append(entry)
        else:
            entry = ([{"bitwidth": 16, "dtype": "float"}] if is_float else
                     [{"bitwidth": bw, "dtype": "int", "is_symmetric": str(sym), "scale": s, "offset": o}
                      for s, o in zip(scales, offsets)])
            (par if is_param else act)[name] = entry
    return {"version": version, "activation_encodings": act, "param_encodings": par}, names[1::2]


def _same_encodings(a: dict, b: dict, same_version: bool):
    assert a.keys() == b.keys()
    for name, ea in a.items():
        eb = b[name]
        assert (ea.dtype, ea.bitwidth) == (eb.dtype, eb.bitwidth), name
        if ea.is_float:
            assert ea.float_format == eb.float_format
            continue
        assert ea.granularity == eb.granularity, name
        np.testing.assert_array_equal(ea.scale, eb.scale)
        np.testing.assert_array_equal(np.broadcast_to(ea.offset, ea.scale.shape), np.broadcast_to(eb.offset,
                                                                                                  eb.scale.shape))
        if same_version:
            assert ea.symmetric == eb.symmetric, name


@settings(max_examples=80, **SETTINGS)
@given(valid_files(), st.sampled_from(["0.6.1", "1.0.0", "2.0.0"]))
def test_parse_write_parse_gives_the_same_encodings(case, target):
    from simulator.tools.convert import dump, write_encodings

    data, params = case
    first = parse_encodings(data)
    assume(target != "2.0.0" or not any(e.is_float for e in first.encodings.values()))  # 2.0.0 has no float16
    written = write_encodings(first.encodings, target, params=params)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "out.encodings")
        dump(written.data, path)
        second = load_encodings(path)
    assert second.version == target
    _same_encodings(first.encodings, second.encodings, same_version=target == first.version)
    # and once more: a file written from parsed encodings reads back to itself exactly
    again = parse_encodings(write_encodings(second.encodings, target, params=params).data)
    _same_encodings(second.encodings, again.encodings, same_version=True)


def test_granularity_enum_is_stable():
    assert {g.value for g in Granularity} == {"per_tensor", "per_channel", "per_block"}


pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
