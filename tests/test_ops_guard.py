"""Kernels never touch NumPy (or CuPy) directly: the array module arrives as `xp`, so a GPU run cannot
silently fall back to the CPU inside a kernel. Checked on the source, so it holds without a GPU."""
import ast
import pathlib

import pytest

OPS = pathlib.Path(__file__).resolve().parent.parent / "ops"
FORBIDDEN = {"numpy", "cupy", "cupyx", "scipy"}


def _imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0]


@pytest.mark.parametrize("path", sorted(OPS.glob("*.py")), ids=lambda p: p.name)
def test_kernels_do_not_import_array_libraries(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    bad = sorted(set(_imports(tree)) & FORBIDDEN)
    assert not bad, f"{path.name} imports {bad}: kernels must use the `xp` they are given"
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert not names & {"np", "numpy", "cp", "cupy"}, f"{path.name} refers to an array library by name"
