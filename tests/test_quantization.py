"""The quantization function on hand-made vectors, and the encodings parsers agreeing across versions."""
import json
import os

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from simulator.encodings import load_encodings, parse_encodings
from simulator.errors import EncodingsError
from simulator.interpreter import Interpreter
from simulator.quantization import HALF_TO_EVEN, Encoding, Granularity, bind, round_half_away_from_zero
from tests.conftest import GOLDEN, golden_cases, require_golden

f32 = np.float32


def per_tensor(scale, offset, bw=8, **kw):
    return Encoding("t", "int", bw, np.array([scale], f32), np.array([offset], f32), **kw)


def fq(enc, x, rounding="half_away_from_zero", shape=None, axis=None):
    x = np.asarray(x, f32)
    return bind(enc, shape or x.shape, axis, rounding)(np, x)


def test_ties_round_half_away_from_zero_by_default():
    enc = per_tensor(1.0, 0.0)
    assert fq(enc, [0.5, 1.5, 2.5, 3.5]).tolist() == [1, 2, 3, 4]


def test_ties_round_half_to_even_on_request():
    enc = per_tensor(1.0, 0.0)
    assert fq(enc, [0.5, 1.5, 2.5, 3.5], HALF_TO_EVEN).tolist() == [0, 2, 2, 4]


def test_signed_ties_round_away_from_zero_on_the_unsigned_grid():
    # Symmetric int8: offset -128. -2.5/1 + 128 = 125.5 -> 126 -> -2 (AIMET); signed half-away would give -3.
    enc = per_tensor(1.0, -128.0)
    assert fq(enc, [-2.5, 2.5, -0.5]).tolist() == [-2, 3, 0]


def test_round_half_away_from_zero_exact_below_half():
    v = np.array([0.49999997, -0.49999997, 2.5, -2.5, 1e8], f32)
    assert round_half_away_from_zero(np, v).tolist() == [0, 0, 3, -3, 1e8]


def test_16bit_offset_is_subtracted_before_rounding():
    scale = f32(6.582019755964507e-05)
    enc = per_tensor(scale, -32768.0, bw=16, symmetric=True)
    k = 1000
    x = f32((k + 0.499) * float(scale))
    v = x / scale  # about k + 0.499 in float32
    assert abs(float(v) - (k + 0.499)) < 1e-3
    # On the unsigned grid v + 32768 loses resolution and lands on the tie k + 32768.5, which rounds up.
    assert v + f32(32768) == f32(k + 32768.5)
    assert fq(enc, [x])[0] == f32(scale * f32(k + 1))
    # Rounding before subtracting the offset would give k.
    assert f32(np.round(v)) == k


def test_saturation_clips_to_the_grid():
    enc = per_tensor(0.1, -128.0)  # int8 symmetric: [-12.8, 12.7]
    out = fq(enc, [100.0, -100.0, np.inf, -np.inf, 12.74])
    assert out.tolist() == [f32(12.7), f32(-12.8), f32(12.7), f32(-12.8), f32(12.7)]
    assert np.isnan(fq(enc, [np.nan])[0])


def test_output_is_float32_and_on_the_grid():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(10000).astype(f32) * 3
    enc = per_tensor(0.0123, -100.0)
    y = fq(enc, x)
    assert y.dtype == np.float32
    q = y / f32(0.0123) + 100
    assert np.allclose(q, np.round(q), atol=1e-3) and q.min() >= -1e-3 and q.max() <= 255 + 1e-3


def test_float16_encoding_is_a_cast_round_trip():
    enc = Encoding("t", "float", 16)
    x = np.array([1.0001, 65519.0, 1e-8, 3.14159265], f32)
    assert fq(enc, x).tolist() == x.astype(np.float16).astype(f32).tolist()
    assert fq(enc, x)[1] == 65504.0


def test_per_channel_broadcasts_along_the_axis():
    enc = Encoding("w", "int", 8, np.array([1.0, 0.5], f32), np.array([-128.0, -128.0], f32), True,
                   Granularity.PER_CHANNEL)
    x = np.array([[0.7, 0.7], [0.7, 0.7]], f32)
    assert fq(enc, x, axis=0).tolist() == [[1.0, 1.0], [0.5, 0.5]]
    assert fq(enc, x, axis=1).tolist() == [[1.0, 0.5], [1.0, 0.5]]
    with pytest.raises(ValueError, match="per-channel scales do not match"):
        bind(enc, (3, 3), 0)


# -- per-channel axes chosen from the consumer op, end to end through the interpreter ---------------

def _one_node_model(op_type, weight, inputs, **attrs):
    x_shape = inputs[0][1]
    node = helper.make_node(op_type, ["x", "w"], ["y"], name="n", **attrs)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(weight, "w")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("op_type,w_shape,x_shape,attrs,axis", [
    ("Conv", (4, 3, 3, 3), (1, 3, 8, 8), {}, 0),
    ("ConvTranspose", (3, 4, 3, 3), (1, 3, 8, 8), {}, 1),
    ("Gemm", (5, 6), (2, 6), {"transB": 1}, 0),
    ("Gemm", (6, 5), (2, 6), {}, 1),
    ("MatMul", (6, 5), (2, 6), {}, 1),
])
def test_per_channel_axis_follows_the_consumer(op_type, w_shape, x_shape, attrs, axis):
    rng = np.random.default_rng(1)
    weight = rng.standard_normal(w_shape).astype(f32)
    channels = w_shape[axis]
    scales = (np.arange(1, channels + 1) * 0.01).astype(f32)
    enc_file = parse_encodings({"version": "1.0.0", "activation_encodings": [], "param_encodings": [
        {"name": "w", "bw": 4, "dtype": "INT", "enc_type": "PER_CHANNEL", "is_sym": True,
         "scale": scales.tolist(), "offset": [-8.0] * channels}]})
    interp = Interpreter(_one_node_model(op_type, weight, [("x", x_shape)], **attrs), enc_file)
    shape = [1] * weight.ndim
    shape[axis] = channels
    s = scales.reshape(shape)
    expected = s * (np.clip(np.floor(weight / s + 8 + f32(0.5)), 0, 15) - 8)
    np.testing.assert_array_equal(interp.constants["w"], expected.astype(f32))


# -- every encodings version parsed into the same result --------------------------------------------

FAMILIES = sorted({c.rsplit("__v", 1)[0] for c in golden_cases()}) or ["<no golden cases>"]


@pytest.mark.parametrize("family", FAMILIES)
def test_versions_parse_to_the_same_encodings(family):
    require_golden()
    parsed = {}
    for version in ("0.6.1", "1.0.0", "2.0.0"):
        path = os.path.join(GOLDEN, f"{family}__v{version}", "model.encodings")
        if os.path.exists(path):
            parsed[version] = load_encodings(path).encodings
    base = parsed["0.6.1"]
    for version, encs in parsed.items():
        if version == "2.0.0":
            # 2.0.0 adds derived data-movement encodings and cannot express float16 ones.
            assert set(n for n, e in base.items() if not e.is_float) <= set(encs)
        else:
            assert set(encs) == set(base)
        for name, e in base.items():
            if name not in encs:
                continue
            o = encs[name]
            assert (o.dtype, o.bitwidth) == (e.dtype, e.bitwidth), name
            if not e.is_float:
                np.testing.assert_array_equal(o.scale.reshape(-1), e.scale, err_msg=name)
                np.testing.assert_array_equal(o.offset.reshape(-1), e.offset, err_msg=name)


def test_061_toolchain_quirks(tmp_path):
    path = tmp_path / "m.encodings"
    path.write_text(json.dumps({
        "version": None, "modules": {"whatever": 1},
        "quantizer_args": {"is_symmetric": True, "activation_bitwidth": 8},
        "activation_encodings": {"a": [{"bitwidth": 8, "dtype": "int", "is_symmetric": "False", "min": -1.0,
                                        "max": 1.0, "offset": -128, "scale": 0.0078431}]},
        "param_encodings": {"w": [{"bitwidth": 8, "dtype": "int", "is_symmetric": "True", "min": -1, "max": 1,
                                   "offset": -128, "scale": 0.01, "extra_key": 1}]}}))
    f = load_encodings(path)
    assert f.version == "0.6.1"
    assert f.encodings["a"].symmetric is False and f.encodings["w"].symmetric is True


@pytest.mark.parametrize("entry,match", [
    ({"bitwidth": 0, "dtype": "int", "offset": 0, "scale": 0.1}, "bitwidth 0"),
    ({"bitwidth": 64, "dtype": "int", "offset": 0, "scale": 0.1}, "bitwidth 64"),
    ({"bitwidth": 8, "dtype": "int", "offset": 0, "scale": 0.0}, "placeholder"),
    ({"bitwidth": 8, "dtype": "int", "offset": 0, "scale": -1.0}, "not a positive"),
    ({"bitwidth": 8, "dtype": "int", "offset": 0}, "needs 'scale'"),
])
def test_bad_encodings_name_the_tensor(entry, match):
    with pytest.raises(EncodingsError, match=match) as info:
        parse_encodings({"version": "0.6.1", "activation_encodings": {"act": [entry]}, "param_encodings": {}})
    assert "'act'" in str(info.value)


def test_2x_int32_bias_is_kept_aside_unless_asked():
    f = parse_encodings({"version": "2.0.0", "encodings": [
        {"name": "b", "output_dtype": "int32", "y_scale": [1e-6, 2e-6], "axis": 0},
        {"name": "a", "output_dtype": "uint16", "y_scale": 0.001, "y_zero_point": 32768}]})
    assert set(f.encodings) == {"a"} and set(f.int32_bias) == {"b"}
    assert f.encodings["a"].offset.reshape(-1).tolist() == [-32768.0] and f.encodings["a"].bitwidth == 16


def test_1_0_0_lpbq_scales_multiply():
    f = parse_encodings({"version": "1.0.0", "activation_encodings": [], "param_encodings": [
        {"name": "w", "bw": 8, "compressed_bw": 4, "dtype": "INT", "enc_type": "LPBQ", "is_sym": True,
         "block_size": 2, "scale": [0.5, 0.25], "offset": [-128.0, -128.0], "per_block_int_scale": [1, 2, 3, 4]}]})
    e = f.encodings["w"]
    assert e.bitwidth == 4 and e.scale.tolist() == [0.5, 1.0, 0.75, 1.0] and e.offset.tolist() == [-8.0] * 4
    # A Conv weight (2 out channels, 4 in channels): blocks of 2 along axis 1.
    q = bind(e, (2, 4, 1, 1), axis=0)
    assert q.scale.reshape(2, 4).tolist() == [[0.5, 0.5, 1.0, 1.0], [0.75, 0.75, 1.0, 1.0]]


def _reference_fake_quantize(x, scale, offset, bw):
    """The contract's formula, step by step in float32, with half-up written out (floor + frac >= 0.5)."""
    v = (x / np.float32(scale)).astype(np.float32) - np.float32(offset)
    f = np.floor(v)
    q = np.clip(f + ((v - f) >= 0.5), 0, 2 ** bw - 1).astype(np.float32)
    return (q + np.float32(offset)) * np.float32(scale)


@pytest.mark.parametrize("bw,scale,offset", [(8, 0.0123, -128), (16, 6.582019755964507e-05, -32768), (4, 0.3, -3),
                                             (8, 1.0, 0)])
@pytest.mark.parametrize("size", [1000, 2_500_000])  # below and above the chunked path's threshold
def test_fast_rounding_equals_the_reference_formula(bw, scale, offset, size):
    rng = np.random.default_rng(bw + size)
    x = (rng.standard_normal(size) * 2 ** (bw - 3) * scale).astype(f32)
    ties = (rng.integers(-2 ** bw, 2 ** bw, size) + 0.5).astype(f32) * f32(scale)
    x[: size // 3] = ties[: size // 3]
    x[:6] = [0.49999997 * scale, 0.5 * scale, -0.49999997 * scale, np.nan, np.inf, -np.inf]
    enc = per_tensor(scale, offset, bw)
    with np.errstate(invalid="ignore"):
        got, want = fq(enc, x), _reference_fake_quantize(x, scale, offset, bw)
    np.testing.assert_array_equal(got, want)
