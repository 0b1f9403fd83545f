"""Debugging beyond a pass/fail: sensitivity ranking, mixed-precision search, bisection against dumps, and dumps
read as they come (other layouts, rounding ties, the vendor's .bin buffers)."""
import json
import os

import numpy as np
import pytest

from simulator import data
from simulator.api import Simulator
from simulator.cli import main
from simulator.dumps import align, layout_name, read_bin
from simulator.encodings import load_encodings
from simulator.errors import DataError, ParameterError
from simulator.mixed_precision import search
from simulator.precision import find_groups, to_bits
from simulator.quantization import Encoding, bind, fake_quantize
from simulator.schema.base import DumpVerifierParameters, MixedPrecisionParameters, SensitivityParameters
from simulator.sensitivity import Evaluator
from simulator.session import InferenceSession
from tests.conftest import GOLDEN, require_golden

CNN = os.path.join(GOLDEN, "cnn_residual__w8a8__v1.0.0")
TRANSFORMER = os.path.join(GOLDEN, "transformer_block__w8a8__v1.0.0")
BAD_LAYER = "/c2/Conv_output_0"  # its encoding is planted 20x too narrow: heavy clipping


@pytest.fixture(scope="module")
def bad_encodings(tmp_path_factory):
    require_golden()
    with open(os.path.join(CNN, "model.encodings"), encoding="utf-8") as f:
        enc = json.load(f)
    for e in enc["activation_encodings"]:
        if e["name"] == BAD_LAYER:
            e["scale"] = [e["scale"][0] * 0.05]
    path = tmp_path_factory.mktemp("bad") / "bad.encodings"
    path.write_text(json.dumps(enc))
    return str(path)


def _dump(folder, model, encodings, data_path, transform=lambda name, value, raw, interp: value, keep=None,
          ext=".npy"):
    """The simulator's own featuremaps as a dump folder <sample>/<tensor>.<ext>, each passed through transform."""
    session = InferenceSession(model, encodings)
    interp = session.interpreter
    names = [n for n in interp.producer if keep is None or n in keep]
    for sample, feed in data.iter_samples(data_path, interp.inputs):
        values = session.run(names, feed)
        raws = session.run([n + "::pre_quant" for n in names], feed)
        os.makedirs(os.path.join(folder, sample), exist_ok=True)
        for n, v, r in zip(names, values, raws):
            v = transform(n, v, r, interp)
            path = os.path.join(folder, sample, n.replace("/", "_").strip("_") + ext)
            np.save(path, v) if ext == ".npy" else v.tofile(path)
    return str(folder)


def _cnn():
    return os.path.join(CNN, "model.onnx"), os.path.join(CNN, "model.encodings"), os.path.join(CNN, "data")


# -- sensitivity and the planted bad layer ---------------------------------------------------------

def test_planted_bad_layer_ranks_first_and_is_the_first_isolated_failure(bad_encodings, tmp_path):
    model, data_path = os.path.join(CNN, "model.onnx"), os.path.join(CNN, "data")
    params = SensitivityParameters(input_model_path=model, input_encodings_path=bad_encodings,
                                   input_data_path=data_path)
    result = Simulator.analyze_sensitivity(params)
    top = result.ranking[0]
    assert top.group.tensors == (BAD_LAYER,) and top.group.kind == "output"
    assert top.group.node == "/c2/Conv" and top.group.op_type == "Conv"
    assert top.changed["float"] > result.baseline + 3  # keeping it in float repairs the model
    assert top.only_quantized < min(g.only_quantized for g in result.ranking[1:])  # the reverse check agrees
    d = result.to_dict()
    assert d["groups"][0]["node"] == "/c2/Conv" and d["num_groups"] == len(result.ranking) == 11

    # the device dump (the good encodings) against the simulator with the planted encoding
    dumps = _dump(tmp_path / "dumps", model, os.path.join(CNN, "model.encodings"), data_path)
    verify = DumpVerifierParameters(input_model_path=model, input_encodings_path=bad_encodings,
                                    featuremap_path=dumps, input_data_path=data_path)
    assert Simulator.verify_featuremaps(verify).first_isolated_failure == BAD_LAYER
    bisect = Simulator.bisect_dumps(verify)
    assert bisect.first_failure == BAD_LAYER and bisect.node == "/c2/Conv"
    assert len(bisect.probes) <= int(np.ceil(np.log2(len(bisect.candidates)))) + 2


def test_bisection_with_sparse_dumps_checks_segments(bad_encodings, tmp_path):
    """With only a few tensors dumped, a dumped layer's isolated value comes from the nearest dumped values."""
    model, data_path = os.path.join(CNN, "model.onnx"), os.path.join(CNN, "data")
    keep = {"/Relu_output_0", "/Relu_1_output_0", "/pool/MaxPool_output_0", "output"}  # BAD_LAYER not dumped
    dumps = _dump(tmp_path / "sparse", model, os.path.join(CNN, "model.encodings"), data_path, keep=keep)
    params = DumpVerifierParameters(input_model_path=model, input_encodings_path=bad_encodings,
                                    featuremap_path=dumps, input_data_path=data_path)
    result = Simulator.bisect_dumps(params)
    assert result.candidates == ["/Relu_output_0", "/Relu_1_output_0", "/pool/MaxPool_output_0", "output"]
    assert result.first_failure == "/Relu_1_output_0"  # the segment that holds the planted layer
    good = DumpVerifierParameters(input_model_path=model, input_encodings_path=os.path.join(CNN, "model.encodings"),
                                  featuremap_path=dumps, input_data_path=data_path)
    clean = Simulator.bisect_dumps(good)
    assert clean.first_failure is None and len(clean.probes) == 1
    argv = ["bisect", model, "--dumps", dumps, "--data", data_path, "-q", "--json", str(tmp_path / "b.json")]
    assert main([*argv, "-e", bad_encodings]) == 1
    assert json.loads((tmp_path / "b.json").read_text())["first_failure"] == "/Relu_1_output_0"
    assert main([*argv, "-e", os.path.join(CNN, "model.encodings")]) == 0


def test_bisection_finds_an_earlier_failure_on_a_later_sample(bad_encodings, tmp_path):
    """sample_000 first fails at the planted layer; sample_002's dump is corrupted at an earlier layer."""
    model, enc, data_path = _cnn()

    def corrupt(name, v, raw, interp):
        return v + 1.0 if name == "/Relu_output_0" else v

    dumps = _dump(tmp_path / "d", model, enc, data_path)
    _dump(tmp_path / "late", model, enc, data_path, corrupt)
    os.replace(tmp_path / "late" / "sample_002" / "Relu_output_0.npy",
               tmp_path / "d" / "sample_002" / "Relu_output_0.npy")
    params = DumpVerifierParameters(input_model_path=model, input_encodings_path=bad_encodings,
                                    featuremap_path=dumps, input_data_path=data_path)
    result = Simulator.bisect_dumps(params)
    assert result.first_failure == "/Relu_output_0" and result.sample == "sample_002"
    assert [p.failed for p in result.probes][0] is True and len(result.probes) <= 2 + int(
        np.ceil(np.log2(len(result.candidates))))
    assert Simulator.verify_featuremaps(params).first_isolated_failure == "/Relu_output_0"


# -- mixed precision ---------------------------------------------------------------------------------

def test_mixed_precision_reaches_the_target_with_fewer_changes_than_all_16_bits(tmp_path):
    require_golden()
    model = os.path.join(TRANSFORMER, "model.onnx")
    ev = Evaluator(model, os.path.join(TRANSFORMER, "model.encodings"), os.path.join(TRANSFORMER, "data"))
    target = 39.0
    result = search(ev, target)
    assert result.baseline < target <= result.achieved and result.reached
    assert result.all_int16 >= target  # everything at 16 bits would do too ...
    assert 0 < len(result.changes) < result.all_int16_changes  # ... with many more changes
    assert abs(sum(result.fractions.values()) - 1) < 1e-9 and result.fractions["int8"] > 0.8
    written = tmp_path / "out.encodings"
    result.write(written, tmp_path / "exclude.txt")
    back = load_encodings(written)
    assert back.version == "1.0.0"
    assert ev.score(back.encodings).value == result.achieved  # the file gives the reported SNR
    assert (tmp_path / "exclude.txt").read_text().split() == result.exclude_nodes
    # a session reading the file simulates it (the simulator reads what it writes)
    InferenceSession(model, str(written))


def test_to_bits_keeps_the_range():
    asym = Encoding("t", "int", 8, np.float32([0.1]), np.float32([-100.0]))
    wide = to_bits(asym, 16)
    assert wide.bitwidth == 16 and np.isclose(wide.scale[0] * 65535, 0.1 * 255, rtol=1e-6)
    assert wide.offset[0] == round(-100 * 65535 / 255)
    sym = Encoding("w", "int", 8, np.float32([0.02]), np.float32([-128.0]), symmetric=True)
    wide = to_bits(sym, 16)
    assert wide.offset[0] == -32768 and np.isclose(wide.scale[0] * 32767, 0.02 * 127, rtol=1e-6)
    x = np.linspace(-2.5, 2.5, 1001, dtype=np.float32)
    e8 = np.abs(fake_quantize(np, x, bind(sym, x.shape)) - x).max()
    e16 = np.abs(fake_quantize(np, x, bind(wide, x.shape)) - x).max()
    assert e16 < e8 / 100
    assert to_bits(wide, 16) is wide


def test_groups_name_nodes_and_op_types():
    require_golden()
    from simulator.model import load_model
    encodings = load_encodings(os.path.join(CNN, "model.encodings"))
    groups = find_groups(load_model(os.path.join(CNN, "model.onnx")), encodings)
    kinds = {g.key: g.kind for g in groups}
    assert kinds["input:input"] == "input" and kinds["/c1/Conv:weights"] == "weights"
    assert kinds["/fc/Gemm:output"] == "output"
    assert sum(len(g.tensors) for g in groups) == len(encodings.encodings)


# -- dumps read as they come ------------------------------------------------------------------------

def _verify(dumps, tmp_path, *extra):
    report = tmp_path / f"{os.path.basename(dumps)}.json"
    rc = main(["verify", os.path.join(CNN, "model.onnx"), "-e", os.path.join(CNN, "model.encodings"), "--dumps", dumps,
               "--data", os.path.join(CNN, "data"), "-q", "--json", str(report), *extra])
    return rc, json.loads(report.read_text())


def test_nhwc_dump_is_read_as_such(tmp_path, capsys):
    require_golden()
    nhwc = lambda n, v, r, i: v.transpose(0, 2, 3, 1) if v.ndim == 4 else v  # noqa: E731
    dumps = _dump(tmp_path / "nhwc", os.path.join(CNN, "model.onnx"), os.path.join(CNN, "model.encodings"),
                  os.path.join(CNN, "data"), nhwc)
    rc, d = _verify(dumps, tmp_path, "--csv", str(tmp_path / "v.csv"), "--html", str(tmp_path / "v.html"))
    assert rc == 0 and d["passed"]
    rows = (tmp_path / "v.csv").read_text().splitlines()
    assert "dump_layout,dump_verdict" in rows[0] and any(",NHWC," in r for r in rows[1:])
    assert "<h2>Dump diagnosis</h2>" in (tmp_path / "v.html").read_text()
    diag = d["dump_diagnosis"]
    assert BAD_LAYER in diag["relaid_tensors"] and "NHWC" in diag["summary"]
    layer = next(x for x in d["layers"] if x["name0"] == BAD_LAYER)
    assert layer["dump_layout"] == "NHWC" and layer["overall"] == "inf"
    assert "layout NHWC" in capsys.readouterr().out


def test_planted_one_step_ties_are_diagnosed_as_rounding_ties(tmp_path):
    require_golden()
    planted = {}

    def ties(name, v, raw, interp, at_ties=True):
        if name != BAD_LAYER:
            return v
        q = interp.quantizer_for(name, v)
        scale, offset = float(q.scale), float(q.offset)
        steps = raw.astype(np.float64) / scale - offset
        low = np.floor(steps)
        near = (np.abs(steps - low - 0.5) < 0.005) if at_ties else (np.abs(steps - low - 0.5) > 0.3)
        near &= (low >= 0) & (low + 1 <= 255)
        if not at_ties:
            near &= np.random.default_rng(0).random(v.shape) < 0.01
        grid = np.rint(v.astype(np.float64) / scale - offset)
        other = np.where(grid == low, low + 1, low)
        planted[at_ties] = planted.get(at_ties, 0) + int(near.sum())
        return np.where(near, ((other + offset) * scale), v).astype(np.float32)

    model, enc, data_path = _cnn()
    dumps = _dump(tmp_path / "ties", model, enc, data_path, ties)
    rc, d = _verify(dumps, tmp_path)
    t = next(x for x in d["dump_diagnosis"]["tensors"] if x["tensor"] == BAD_LAYER)
    assert planted[True] > 50 and t["differing"] == t["ties"] == planted[True] == t["steps_histogram"].get("1", 0) + \
        t["steps_histogram"].get("-1", 0)
    assert t["verdict"] == "rounding ties" and "rounding ties" in d["dump_diagnosis"]["summary"]
    assert BAD_LAYER in d["dump_diagnosis"]["tied_tensors"]
    # one-step differences away from half-way values are not excused as ties
    dumps = _dump(tmp_path / "offbyone", model, enc, data_path, lambda *a: ties(*a, at_ties=False))
    rc, d = _verify(dumps, tmp_path)
    t = next(x for x in d["dump_diagnosis"]["tensors"] if x["tensor"] == BAD_LAYER)
    assert planted[False] > 50 and t["ties"] == 0 and t["verdict"] == "off by one step"
    assert BAD_LAYER not in d["dump_diagnosis"]["tied_tensors"]


def test_bin_dumps_read_in_the_model_dtype_and_names_map_by_file_or_suffix(tmp_path):
    require_golden()
    model, enc, data_path = _cnn()
    dumps = _dump(tmp_path / "bin", model, enc, data_path, ext=".bin")
    rc, d = _verify(dumps, tmp_path)
    assert rc == 0 and d["passed"] and len(d["layers"]) == 10 and not d.get("unmatched_files")
    # device tools that prefix names: matched by suffix, or through a name map
    sample = os.path.join(dumps, "sample_000")
    for s in os.listdir(dumps):
        for f in os.listdir(os.path.join(dumps, s)):
            os.rename(os.path.join(dumps, s, f), os.path.join(dumps, s, "net_" + f))
    os.rename(os.path.join(dumps, "sample_000", "net_output.bin"), os.path.join(sample, "final.bin"))
    for s in ("sample_001", "sample_002"):
        os.rename(os.path.join(dumps, s, "net_output.bin"), os.path.join(dumps, s, "final.bin"))
    (tmp_path / "map.json").write_text(json.dumps({"final": "output"}))
    rc, d = _verify(dumps, tmp_path, "--name-map", str(tmp_path / "map.json"))
    assert rc == 0 and len(d["layers"]) == 10 and not d.get("unmatched_files")


def test_a_verify_that_could_read_no_dump_file_is_not_a_pass(tmp_path):
    require_golden()
    model, enc, data_path = _cnn()
    dumps = _dump(tmp_path / "bin", model, enc, data_path, ext=".bin")
    files = sorted(os.path.join(dumps, s, f) for s in os.listdir(dumps) for f in os.listdir(os.path.join(dumps, s)))
    for path in files:
        if not path.endswith("output.bin"):
            open(path, "wb").write(b"\0" * 7)  # truncated: refused with a note
    rc, d = _verify(dumps, tmp_path)
    assert rc == 0 and d["passed"] and d["verdict"] == "pass"
    assert "9 matched tensors were not compared" in d["diagnosis"] and "holds 7 bytes" in d["diagnosis"]
    for path in files:
        open(path, "wb").write(b"\0" * 7)
    rc, d = _verify(dumps, tmp_path)
    assert rc == 1 and not d["passed"] and d["verdict"] == "unchecked"
    assert d["diagnosis"].startswith("no layer was compared: none of the 10 matched tensors")


def test_read_bin_checks_sizes_and_refuses_what_is_not_a_file(tmp_path):
    x = np.arange(24, dtype=np.int64)
    x.tofile(tmp_path / "a.bin")
    assert np.array_equal(read_bin(str(tmp_path / "a.bin"), (2, 3, 4), np.int64).reshape(2, 3, 4), x.reshape(2, 3, 4))
    with pytest.raises(DataError, match="holds 192 bytes"):
        read_bin(str(tmp_path / "a.bin"), (2, 3, 4), np.float32)
    with pytest.raises(DataError, match="not a regular file"):
        read_bin(str(tmp_path), None, np.float32)


def test_align_finds_any_permutation():
    host = np.random.default_rng(1).standard_normal((1, 3, 5, 7)).astype(np.float32)
    for perm in [(0, 2, 3, 1), (0, 3, 2, 1), (0, 1, 2, 3)]:
        got, p = align(host, host.transpose(perm))
        assert p == perm and np.array_equal(got, host)
        got, p = align(host, np.ascontiguousarray(host.transpose(perm)).reshape(-1))  # a bare buffer
        assert p == perm and np.array_equal(got, host)
    assert layout_name((0, 2, 3, 1), 4) == "NHWC" and "permuted" in layout_name((0, 3, 2, 1), 4)
    with pytest.raises(DataError, match="does not fit"):
        align(host, host.reshape(-1)[:10])


# -- CLI ---------------------------------------------------------------------------------------------

def test_cli_sensitivity_and_mixed_precision(bad_encodings, tmp_path, capsys):
    model, data_path = os.path.join(CNN, "model.onnx"), os.path.join(CNN, "data")
    rc = main(["sensitivity", model, "-e", bad_encodings, "--data", data_path, "-q", "--json", str(tmp_path / "s.json"),
               "--csv", str(tmp_path / "s.csv"), "--html", str(tmp_path / "s.html")])
    out = capsys.readouterr().out
    assert rc == 0 and out.splitlines()[5].split()[:2] == ["1", "/c2/Conv:output"]
    d = json.loads((tmp_path / "s.json").read_text())
    assert d["groups"][0]["tensors"] == [BAD_LAYER]
    assert (tmp_path / "s.csv").read_text().splitlines()[1].startswith("1,/c2/Conv:output")
    assert "<table>" in (tmp_path / "s.html").read_text()
    out_enc = tmp_path / "fixed" / "out.encodings"
    rc = main(["mixed-precision", model, "-e", bad_encodings, "--data", data_path, "--target-snr", "20", "-o",
               str(out_enc), "-q", "--json", str(tmp_path / "m.json")])
    assert rc == 0, capsys.readouterr()
    d = json.loads((tmp_path / "m.json").read_text())
    assert d["reached"] and d["changes"][0]["tensors"] == [BAD_LAYER] and d["changes"][0]["move"] == "float"
    assert (tmp_path / "fixed" / "out.exclude.txt").read_text() == "/c2/Conv\n"
    back = Evaluator(model, str(out_enc), data_path)
    assert back.score(back.encodings).value == d["achieved"]
    # unreachable: exit 1, nothing written
    rc = main(["mixed-precision", model, "-e", bad_encodings, "--data", data_path, "--target-snr", "300", "-o",
               str(tmp_path / "never.encodings"), "-q"])
    assert rc == 1 and not (tmp_path / "never.encodings").exists()
    assert "nothing written" in capsys.readouterr().out


def test_cli_input_errors_are_one_line_exit_2(bad_encodings, tmp_path, capsys):
    model, data_path = os.path.join(CNN, "model.onnx"), os.path.join(CNN, "data")
    cases = [
        (["sensitivity", model, "-e", str(tmp_path / "missing.encodings"), "--data", data_path], "does not exist"),
        (["sensitivity", model, "-e", bad_encodings, "--data", data_path, "--moves", "int4"], "moves"),
        (["mixed-precision", model, "-e", bad_encodings, "--data", data_path, "--target-top1", "5", "-o",
          str(tmp_path / "o.encodings")], "between 0 and 1"),
        (["mixed-precision", model, "-e", bad_encodings, "--data", data_path, "--target-snr", "20", "--metric",
          "top1", "-o", str(tmp_path / "o.encodings")], "--target-snr needs --metric snr"),
        (["sensitivity", model, "-e", bad_encodings, "--data", str(tmp_path)], "holds no"),
    ]
    for argv, message in cases:
        assert main([*argv, "-q"]) == 2, argv
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and "Traceback" not in err, err


def test_schemas_refuse_bad_values(bad_encodings):
    base = dict(input_model_path=os.path.join(CNN, "model.onnx"), input_encodings_path=bad_encodings,
                input_data_path=os.path.join(CNN, "data"))
    with pytest.raises(ParameterError, match="encodings file is required"):
        SensitivityParameters(**{**base, "input_encodings_path": None})
    with pytest.raises(ParameterError, match="target"):
        MixedPrecisionParameters(**base)
    with pytest.raises(ParameterError, match="finite"):
        MixedPrecisionParameters(**base, target=float("inf"))
    with pytest.raises(ParameterError, match="metric"):
        SensitivityParameters(**base, metric="mse")


def test_worst_sample_scoring_makes_every_sample_pass_compare(tmp_path):
    require_golden()
    model, data_path = os.path.join(TRANSFORMER, "model.onnx"), os.path.join(TRANSFORMER, "data")
    params = MixedPrecisionParameters(input_model_path=model, input_encodings_path=os.path.join(TRANSFORMER,
                                      "model.encodings"), input_data_path=data_path, target=39, worst_sample=True,
                                      output_encodings_path=str(tmp_path / "w.encodings"))
    result = Simulator.search_mixed_precision(params)
    assert result.reached and result.to_dict()["scoring"] == "worst sample"
    from simulator.schema.base import InferenceCheckerParameters
    check = Simulator.compare_model_by_inference(InferenceCheckerParameters(
        input_model_path_0=model, input_model_path_1=model, input_encodings_path_1=str(tmp_path / "w.encodings"),
        input_data_path=data_path, threshold=39))
    assert check.passed and min(check.worst.values()) == result.achieved


@pytest.mark.parametrize("case", ["cnn_residual__w8a8_pc__v0.6.1", "cnn_residual__w4a16_pc__v2.0.0",
                                  "seq_model__w8a16_mixed_fp16__v1.0.0"])
def test_written_file_reads_back_to_the_changed_encodings_in_every_version(case, tmp_path):
    require_golden()
    g = os.path.join(GOLDEN, case)
    ev = Evaluator(os.path.join(g, "model.onnx"), os.path.join(g, "model.encodings"), os.path.join(g, "data"),
                   max_samples=1)
    result = search(ev, 1e9)  # unreachable: every ranked change is applied, float and 16-bit moves both
    assert set(result.changes.values()) == {"float", "int16"}
    result.write(tmp_path / "all.encodings")
    back = load_encodings(tmp_path / "all.encodings")
    assert back.version == ev.encodings_file.version and set(back.encodings) == set(result._changed)
    for name, enc in back.encodings.items():
        want = result._changed[name]
        assert (enc.dtype, enc.bitwidth) == (want.dtype, want.bitwidth), name
        if not enc.is_float:
            assert np.array_equal(enc.scale, want.scale) and np.array_equal(
                np.broadcast_to(enc.offset, enc.scale.shape), np.broadcast_to(want.offset, want.scale.shape)), name
    assert ev.score(back.encodings).value == result.achieved
