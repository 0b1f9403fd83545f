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


# -- the interpreter's modules and what they may import (docs/architecture.md) ---------------------------------

SIMULATOR = OPS.parent / "simulator"
# module -> the project modules it may import (the rule of docs/architecture.md, for the modules that plan and
# run a graph and the ones that own a single rule).
MAY_IMPORT = {
    "simulator.names": set(),
    "simulator.errors": set(),
    "simulator.backend": {"simulator.errors"},
    "simulator.quantization": {"simulator.backend"},
    "simulator.graph": {"simulator.encodings", "simulator.errors"},
    "simulator.plan": {"ops", "simulator.encodings", "simulator.errors", "simulator.graph", "simulator.quantization"},
    "simulator.executor": {"simulator.backend", "simulator.encodings", "simulator.errors", "simulator.plan",
                           "simulator.quantization"},
    "simulator.folding": {"simulator.executor", "simulator.plan"},
    "simulator.planner": {"ops", "simulator.attributes", "simulator.backend", "simulator.encodings",
                          "simulator.errors", "simulator.folding", "simulator.graph", "simulator.model",
                          "simulator.names", "simulator.ort_kernels", "simulator.plan", "simulator.quantization"},
    "simulator.interpreter": {"simulator.backend", "simulator.encodings", "simulator.errors", "simulator.executor",
                              "simulator.graph", "simulator.plan", "simulator.planner", "simulator.quantization"},
}


def _project_imports(path: pathlib.Path, module: str):
    """The project modules (ops, simulator.*) that the file imports, relative imports resolved."""
    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            names = [f"{base}.{alias.name}" for alias in node.names] if not node.module else [base]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top == "ops":
                yield "ops"
            elif top == "simulator" and name.count(".") >= 1:
                yield ".".join(name.split(".")[:2])


@pytest.mark.parametrize("module", sorted(MAY_IMPORT))
def test_modules_import_only_what_the_architecture_allows(module):
    path = SIMULATOR / f"{module.split('.', 1)[1]}.py"
    imported = set(_project_imports(path, module)) - {module}
    extra = sorted(imported - MAY_IMPORT[module])
    assert not extra, f"{module} imports {extra}; docs/architecture.md allows {sorted(MAY_IMPORT[module])}"


def _private_names(path: pathlib.Path) -> set[str]:
    """Private attributes and methods a class of the file defines (self._x = ..., def _x)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ClassDef):
            for sub in ast.walk(node):
                if isinstance(sub, ast.FunctionDef) and sub.name.startswith("_") and not sub.name.startswith("__"):
                    out.add(sub.name)
                elif (isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and sub.value.id == "self"
                      and sub.attr.startswith("_") and not sub.attr.startswith("__")):
                    out.add(sub.attr)
    return out


def test_no_module_reads_the_executors_internals():
    """Other modules read a plan's public fields and the executor's public methods, never their private ones."""
    owners = [SIMULATOR / f"{m}.py" for m in ("plan", "executor", "interpreter", "planner", "folding")]
    private = set().union(*(_private_names(p) for p in owners))
    offenders = []
    for path in sorted(SIMULATOR.rglob("*.py")):
        if path in owners:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if (isinstance(node, ast.Attribute) and node.attr in private
                    and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))):
                offenders.append(f"{path.relative_to(SIMULATOR)}:{node.lineno} .{node.attr}")
    assert not offenders, f"private interpreter state read from outside: {offenders}"
