"""The README's examples, run as pasted: its python blocks in order in one interpreter (as a user following
the README does), its bash blocks' `simulator ...` commands, in a scratch folder where the README's paths
(relative to the project root) resolve and where whatever they write lands."""
import os
import re
import shlex
import subprocess
import sys

import pytest

from tests.conftest import ROOT

README = os.path.join(ROOT, "README.md")
BLOCK = re.compile(r"^```(\w*)[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)


def blocks(language: str) -> list[str]:
    with open(README, encoding="utf-8") as f:
        text = f.read()
    return [body for lang, body in BLOCK.findall(text) if lang == language]


def simulator_commands() -> list[str]:
    """Every `simulator ...` command of the bash blocks (also those chained after `&&`)."""
    out = []
    for body in blocks("bash"):
        for line in body.replace("\\\n", " ").splitlines():
            out += [part.strip() for part in line.split("&&") if part.strip().startswith("simulator ")]
    return out


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    os.symlink(os.path.join(ROOT, "examples"), tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_readme_has_examples():
    assert len(blocks("python")) >= 3 and len(simulator_commands()) >= 2


def test_python_blocks_run_as_pasted(scratch):
    namespace = {"__name__": "__readme__"}
    for i, body in enumerate(blocks("python")):
        code = compile(body, f"README.md python block {i + 1}", "exec")
        try:
            exec(code, namespace)  # noqa: S102 - the project's own README
        except Exception as exc:
            raise AssertionError(f"README python block {i + 1} fails as pasted: {exc!r}\n{body}") from exc
    assert os.path.isfile(scratch / "layers.html")


@pytest.mark.parametrize("command", simulator_commands())
def test_simulator_commands_run_as_pasted(command, scratch):
    r = subprocess.run([sys.executable, "-m", "simulator", *shlex.split(command, comments=True)[1:]],
                       capture_output=True, text=True, cwd=scratch)
    assert r.returncode == 0, f"{command}\nexit {r.returncode}\n{r.stderr[-2000:]}"
