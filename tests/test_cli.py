"""The command line: the README's main command, and errors without tracebacks."""
import os
import subprocess
import sys

import numpy as np

from tests.conftest import ROOT

EXAMPLE = os.path.join(ROOT, "examples", "tiny_cnn")


def _cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "simulator", *args], capture_output=True, text=True, cwd=cwd)


def test_run_saves_one_npz_per_sample(tmp_path):
    r = _cli("run", f"{EXAMPLE}/model.onnx", "--encodings", f"{EXAMPLE}/model.encodings", "--data", f"{EXAMPLE}/data",
             "--output-dir", str(tmp_path), "--layer", "/Add_output_0", "--layer", "/Add_output_0::pre_quant")
    assert r.returncode == 0, r.stderr
    assert "ran 4 sample(s)" in r.stdout
    files = sorted(os.listdir(tmp_path))
    assert files == [f"input_0000{i}.npz" for i in range(4)]
    with np.load(tmp_path / files[0]) as z:
        assert set(z.files) == {"logits", "probabilities", "/Add_output_0", "/Add_output_0::pre_quant"}
        assert z["logits"].shape == (1, 10)


def test_errors_print_one_line_and_exit_2(tmp_path):
    r = _cli("run", EXAMPLE, "--data", f"{EXAMPLE}/data", "--output-dir", str(tmp_path))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and "is a folder" in r.stderr
    bad = tmp_path / "bad.encodings"
    bad.write_text("{not json")
    r = _cli("run", f"{EXAMPLE}/model.onnx", "-e", str(bad), "--data", f"{EXAMPLE}/data", "-o", str(tmp_path))
    assert r.returncode == 2 and "Traceback" not in r.stderr and "not valid JSON" in r.stderr
    r = _cli("run", f"{EXAMPLE}/model.onnx", "--data", f"{EXAMPLE}/data", "-o", str(tmp_path), "--layer", "nope")
    assert r.returncode == 2 and "'nope' does not exist" in r.stderr
