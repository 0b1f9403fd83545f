"""`simulator compare`, `simulator layerwise` and `simulator verify`: tables, reports, exit status 0 / 1 / 2."""
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np

from simulator.cli import main
from tests.conftest import GOLDEN, ROOT, require_golden

EXAMPLE = os.path.join(ROOT, "examples", "tiny_cnn")
MODEL, ENC, DATA = f"{EXAMPLE}/model.onnx", f"{EXAMPLE}/model.encodings", f"{EXAMPLE}/data"


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "simulator", *args], capture_output=True, text=True, cwd=ROOT)


def test_compare_exit_status_follows_the_threshold(tmp_path):
    r = _cli("compare", MODEL, MODEL, "-e1", ENC, "--data", DATA, "--threshold", "30", "--json",
             str(tmp_path / "r.json"), "--csv", str(tmp_path / "r.csv"), "--html", str(tmp_path / "r.html"))
    assert r.returncode == 0, r.stderr
    assert "RESULT: PASS - 4/4 sample(s) pass" in r.stdout and "logits" in r.stdout
    assert json.loads((tmp_path / "r.json").read_text())["passed"] is True
    assert (tmp_path / "r.csv").read_text().startswith("sample,output")
    page = (tmp_path / "r.html").read_text()
    svg = page[page.index("<svg"): page.index("</svg>") + 6]
    ET.fromstring(svg)  # well-formed inline SVG
    r = _cli("compare", MODEL, MODEL, "-e1", ENC, "--data", DATA, "--metric", "rmse", "--threshold", "1e-6", "-q")
    assert r.returncode == 1 and "RESULT: FAIL" in r.stdout


def test_input_errors_exit_2(tmp_path):
    assert main(["compare", MODEL, EXAMPLE, "--data", DATA, "-q"]) == 2  # a folder, not a model file
    r = _cli("compare", MODEL, MODEL, "--data", str(tmp_path / "missing"), "-q")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "does not exist" in r.stderr
    assert main(["layerwise", MODEL, MODEL, "--data", DATA, "--match", "nope", "logits", "-q"]) == 2


def test_layerwise_table_match_and_export(tmp_path, capsys):
    rc = main(["layerwise", MODEL, MODEL, "-e1", ENC, "--data", DATA, "--threshold", "20", "-q",
               "--export-featuremap", str(tmp_path / "fm"), "--json", str(tmp_path / "l.json"), "--html",
               str(tmp_path / "l.html"), "--csv", str(tmp_path / "l.csv")])
    out = capsys.readouterr().out
    assert rc == 0 and "first failing layer: none" in out and "isolated worst" in out
    d = json.loads((tmp_path / "l.json").read_text())
    assert d["verdict"] == "pass" and len(d["layers"]) == 10
    assert os.path.isfile(tmp_path / "fm" / "index.json")
    assert len((tmp_path / "l.csv").read_text().splitlines()) == 11
    rc = main(["layerwise", MODEL, MODEL, "-e1", ENC, "--data", DATA, "--threshold", "40", "-q"])
    out = capsys.readouterr().out
    assert rc == 1 and "first failing layer: /conv2/Conv_output_0" in out
    (tmp_path / "m.json").write_text(json.dumps({"logits": "logits"}))
    rc = main(["layerwise", MODEL, MODEL, "-e1", ENC, "--data", DATA, "--match-file", str(tmp_path / "m.json"),
               "--no-isolated", "-q"])
    out = capsys.readouterr().out
    assert rc == 0 and "logits" in out and "isolated worst" not in out


def test_verify_command(tmp_path, capsys):
    require_golden()
    d = os.path.join(GOLDEN, "cnn_residual__w8a8__v1.0.0")
    # a dump of the graph outputs and one featuremap: `simulator run`'s .npz files
    assert main(["run", f"{d}/model.onnx", "-e", f"{d}/model.encodings", "--data", f"{d}/data", "-o",
                 str(tmp_path / "dump"), "--layer", "/Relu_1_output_0", "--quiet"]) == 0
    capsys.readouterr()
    rc = main(["verify", f"{d}/model.onnx", "-e", f"{d}/model.encodings", "--dumps", str(tmp_path / "dump"),
               "--data", f"{d}/data", "-q", "--html", str(tmp_path / "v.html")])
    out = capsys.readouterr().out
    assert rc == 0 and "diagnosis (pass)" in out and "/Relu_1_output_0" in out
    assert "Featuremap verification" in (tmp_path / "v.html").read_text()
    # a tampered dump: the layer is reported, exit status 1
    path = tmp_path / "dump" / "sample_001.npz"
    with np.load(path) as z:
        arrays = dict(z)
    arrays["/Relu_1_output_0"] = arrays["/Relu_1_output_0"] * 1.5
    np.savez(path, **arrays)
    rc = main(["verify", f"{d}/model.onnx", "-e", f"{d}/model.encodings", "--dumps", str(tmp_path / "dump"),
               "--data", f"{d}/data", "-q"])
    out = capsys.readouterr().out
    assert rc == 1 and "first failing layer: /Relu_1_output_0" in out
