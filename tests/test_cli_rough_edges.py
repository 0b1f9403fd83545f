"""The command line as a new user meets it: --version, examples in every --help that run as written, errors
that name the flag typed (never an API field), counts and report paths checked before a long run, summaries
that say what they cover."""
import os
import shlex

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from simulator.cli import build_parser, main
from simulator.commands import COMMANDS
from simulator.errors import ParameterError
from tests.conftest import GOLDEN, ROOT

EXAMPLE = os.path.join(ROOT, "examples", "tiny_cnn")
MODEL, ENC, DATA = f"{EXAMPLE}/model.onnx", f"{EXAMPLE}/model.encodings", f"{EXAMPLE}/data"


def _err(capsys):
    return capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("simulator ") and out.split()[1][0].isdigit() or "(not installed)" in out


@pytest.mark.parametrize("command", [c.NAME for c in COMMANDS])
def test_every_help_has_examples_and_the_shipped_ones_run(command, tmp_path, monkeypatch, capsys):
    """Two or three examples per command; those naming only shipped files run as pasted (in a scratch
    folder where examples/ resolves, so that they write nothing into the project)."""
    module = next(c for c in COMMANDS if c.NAME == command)
    assert 2 <= len(module.EXAMPLES) <= 3
    sub = build_parser()._subparsers._group_actions[0].choices[command]
    help_text = sub.format_help()
    assert "examples:" in help_text and all(e in help_text for e in module.EXAMPLES)
    os.symlink(os.path.join(ROOT, "examples"), tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    if command in ("verify", "bisect"):  # their first example checks what `simulator run` wrote
        assert main(["run", MODEL, "-e", ENC, "-d", DATA, "-o", "outputs", "-q"]) == 0
    ran = 0
    for example in module.EXAMPLES:
        words = shlex.split(example, comments=True)
        inputs = [w for prev, w in zip(words, words[1:]) if prev not in ("-o", "--output")
                  and (w.endswith((".onnx", ".encodings", "/")) or prev in ("-d", "--data", "--dumps"))]
        if not all(os.path.exists(w) for w in inputs):
            continue  # names the user's own files (fp32.onnx, device_dump/)
        capsys.readouterr()
        rc = main(words[1:] + (["-q"] if command in ("run", "compare", "layerwise", "verify", "bisect", "sensitivity", "mixed-precision") else []))
        assert rc == 0, f"{example}: exit {rc}: {capsys.readouterr().err}"
        ran += 1
    assert ran >= 1


def test_errors_name_the_flag_typed(tmp_path, capsys):
    assert main(["run", MODEL, "-e", ENC, "--data", str(tmp_path / "nope"), "-o", str(tmp_path), "-q"]) == 2
    err = _err(capsys)
    assert "--data: data folder" in err and "input_data_path" not in err and "Parameters" not in err
    assert main(["run", MODEL, "-e", ENC, "-d", str(tmp_path / "nope"), "-o", str(tmp_path), "-q"]) == 2
    assert "-d: data folder" in _err(capsys)
    assert main(["compare", MODEL, MODEL, "-e1", str(tmp_path / "none.encodings"), "-d", DATA, "-q"]) == 2
    err = _err(capsys)
    assert "-e1: encodings file" in err and "input_encodings_path_1" not in err
    assert main(["calibrate", MODEL, "-d", DATA, "-o", str(tmp_path / "c.enc"), "--op-bw", "Softmax=abc"]) == 2
    err = _err(capsys)
    assert "--op-bw Softmax: bitwidth" in err and "op_bitwidths" not in err
    assert main(["calibrate", MODEL, "-d", DATA, "-o", str(tmp_path / "c.enc"), "--act-bw", "40"]) == 2
    assert "--act-bw: bitwidth must be" in _err(capsys)


def test_verify_without_inputs_asks_for_the_data_flag(tmp_path, capsys):
    dump = tmp_path / "dump" / "s0"
    dump.mkdir(parents=True)
    np.save(dump / "logits.npy", np.zeros((1, 10), np.float32))
    assert main(["verify", MODEL, "-e", ENC, "--dumps", str(tmp_path / "dump"), "-q"]) == 2
    err = _err(capsys)
    assert "give --data" in err and "input_data_path" not in err


@pytest.mark.parametrize("count", ["0", "-3", "two"])
@pytest.mark.parametrize("command", ["inspect", "calibrate"])
def test_max_samples_must_be_positive(command, count, tmp_path, capsys):
    args = [command, MODEL, "-d", DATA, "--max-samples", count]
    args += ["-e", ENC] if command == "inspect" else ["-o", str(tmp_path / "c.enc")]
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    assert "--max-samples" in _err(capsys)
    assert not (tmp_path / "c.enc").exists()


def test_max_samples_api_check():
    from simulator.api import Simulator  # noqa: PLC0415

    with pytest.raises(ParameterError, match="max_samples"):
        Simulator.inspect_encodings(MODEL, ENC, DATA, max_samples=0)


@pytest.mark.parametrize("flag", ["--html", "--json", "--csv"])
def test_report_into_a_missing_folder_is_refused_before_running(flag, tmp_path, capsys):
    target = tmp_path / "no" / "such" / "report.html"
    with pytest.raises(SystemExit) as exc:
        main(["compare", MODEL, MODEL, "-e1", ENC, "-d", DATA, "-q", flag, str(target)])
    assert exc.value.code == 2
    err = _err(capsys)
    assert flag in err and "does not exist" in err
    assert not (tmp_path / "no").exists()


def test_inspect_json_into_a_missing_folder_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["inspect", MODEL, "-e", ENC, "--json", str(tmp_path / "no" / "r.json")])
    assert "--json" in _err(capsys) and not (tmp_path / "no").exists()


def test_run_summary_covers_every_sample(tmp_path, capsys):
    assert main(["run", MODEL, "-e", ENC, "-d", DATA, "-o", str(tmp_path), "-q"]) == 0
    out = capsys.readouterr().out
    assert "over all 4 sample(s):" in out
    values = [np.load(tmp_path / f)["logits"] for f in sorted(os.listdir(tmp_path))]
    line = next(x for x in out.splitlines() if x.strip().startswith("logits:"))
    lo, hi = float(line.split("min")[1].split()[0]), float(line.split("max")[1].split()[0])
    assert lo == pytest.approx(min(v.min() for v in values), rel=1e-5)
    assert hi == pytest.approx(max(v.max() for v in values), rel=1e-5)
    assert lo < min(values[-1].min(), values[0].min()) or lo == pytest.approx(min(values[-1].min(), values[0].min()))


def test_cosine_prints_enough_digits(capsys):
    from simulator.report import fmt  # noqa: PLC0415

    assert fmt(0.99996) == "0.99996" and fmt(0.9999999) == "0.9999999" and fmt(1.0) == "1"
    assert fmt(0.123456) == "0.1235" and fmt(45.678, "dB") == "45.68"
    main(["compare", MODEL, MODEL, "-e1", ENC, "-d", DATA, "-m", "cosine", "-t", "0.99", "-q"])
    table = capsys.readouterr().out.split("sample")[1]
    cells = [c for line in table.splitlines()[2:6] for c in line.split()[2:]]
    assert cells and all(c != "1" and c.startswith("0.9999") for c in cells), cells


def test_inspect_prints_unknown_dims_as_question_marks(tmp_path, capsys):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    shape = helper.make_tensor_value_info("shape", TensorProto.INT64, [2])
    graph = helper.make_graph([helper.make_node("Reshape", ["x", "shape"], ["y"])], "g", [x, shape], [y])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "unk__" not in out
    row = next(line for line in out.splitlines() if line.split()[1:2] == ["y"])
    assert "?x?" in row
    assert "Nx3" in next(line for line in out.splitlines() if line.split()[1:2] == ["x"])


def test_convert_with_another_models_file_says_so(tmp_path, capsys):
    case = os.path.join(GOLDEN, "cnn_residual__w8a8_pc__v1.0.0")
    other = os.path.join(GOLDEN, "transformer_block__w8a8__v1.0.0", "model.onnx")
    if not os.path.isfile(other):
        pytest.skip(f"golden cases not found: {GOLDEN}")
    assert main(["convert", f"{case}/model.encodings", "--to", "2.0.0", "-o", str(tmp_path / "c.enc"), "-m", other]) == 0
    err = _err(capsys)
    assert "give the model" not in err and "another model" in err


def test_session_parameters_errors_say_the_name_used():
    from simulator.schema.base import GetInferenceSessionParameters, InferenceSessionParameters  # noqa: PLC0415

    with pytest.raises(ParameterError, match=r"^invalid InferenceSessionParameters: field 'input_model_path'"):
        InferenceSessionParameters(input_model_path="nope.onnx")
    with pytest.raises(ParameterError, match=r"^invalid GetInferenceSessionParameters"):
        GetInferenceSessionParameters(input_model_path="nope.onnx")
    assert isinstance(InferenceSessionParameters(input_model_path=MODEL), GetInferenceSessionParameters)


def test_a_missing_dump_folder_is_called_a_dump_folder(tmp_path, capsys):
    assert main(["verify", MODEL, "--dumps", str(tmp_path / "none")]) == 2
    err = _err(capsys)
    assert "--dumps: dump folder" in err and "data folder" not in err
