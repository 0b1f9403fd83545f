"""The import rules of ops/, checked on the source so that they hold without a GPU.

Kernels never touch NumPy (or CuPy) directly: the array module arrives as `xp`, so a GPU run cannot
silently fall back to the CPU inside a kernel. ops never imports the simulator (the simulator imports
ops: no package cycle); its errors are its own (ops.errors), raised by the interpreter as the
simulator.errors class of the same name. Modules inside ops import only what the table below allows.
"""
import ast
import pathlib
import subprocess
import sys

import pytest

import ops
import ops.errors
import simulator.errors

ROOT = pathlib.Path(__file__).resolve().parent.parent
OPS = ROOT / "ops"
FORBIDDEN = {"numpy", "cupy", "cupyx", "scipy", "simulator"}
# The outside libraries ops may import: onnx (schemas, dtypes) and the standard library.
ALLOWED_OUTSIDE = {"onnx", "PIL", "__future__"} | set(sys.stdlib_module_names)
# Inside ops: the shared helpers (the registry, dtypes, errors, xp and the "_" modules) import only
# each other, never a family; a family may import the helpers and reuse another family's kernels.
SHARED = {"registry", "dtypes", "errors", "xp"}


def _is_helper(name):
    return name in SHARED or (name.startswith("_") and name != "__init__")


def _modules():
    return sorted(OPS.glob("*.py"))


def _imports(tree):
    """(top-level package of each absolute import, name of each ops module imported relatively)."""
    outside, inside = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            outside |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                outside.add(node.module.split(".")[0])
            elif node.level == 1 and node.module:
                inside.add(node.module.split(".")[0])
            elif node.level == 1:  # from . import x
                inside |= {alias.name for alias in node.names}
    return outside, inside


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.name)
def test_kernels_do_not_import_array_libraries_or_the_simulator(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    outside, _ = _imports(tree)
    bad = sorted(outside & FORBIDDEN)
    assert not bad, f"{path.name} imports {bad}: kernels use the `xp` they are given and ops.errors"
    allowed = ALLOWED_OUTSIDE | ({"numba"} if path.stem.startswith("_jit_") else set())
    assert outside <= allowed, f"{path.name} imports {sorted(outside - allowed)}"
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert not names & {"np", "numpy", "cp", "cupy"}, f"{path.name} refers to an array library by name"


@pytest.mark.parametrize("path", [p for p in _modules() if _is_helper(p.stem)], ids=lambda p: p.name)
def test_shared_helpers_import_no_kernel_family(path):
    _, inside = _imports(ast.parse(path.read_text(), filename=str(path)))
    families = sorted(m for m in inside if not _is_helper(m))
    assert not families, f"ops/{path.name} is shared by the kernels and imports the families {families}"
    if path.stem != "registry":
        assert "registry" not in inside, f"ops/{path.name} imports the registry"


def test_kernels_ask_ops_xp_about_the_array_module():
    for path in _modules():
        text = path.read_text()
        if path.name != "xp.py":
            assert '"__name__", ' not in text and "hasattr(xp" not in text and "__array_namespace__" not in text, \
                f"ops/{path.name} inspects the array module itself; ask ops.xp (is_numpy, errstate, host_namespace)"


def test_importing_ops_imports_no_simulator_module_and_not_numba():
    code = "import sys, ops; print(sorted(m for m in sys.modules if m.split('.')[0] in ('simulator', 'numba')))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_every_op_error_has_a_simulator_error_of_the_same_name():
    kinds = [c for c in vars(ops.errors).values() if isinstance(c, type) and issubclass(c, ops.errors.OpError)]
    for kind in kinds:
        if kind is ops.errors.OpError:
            continue
        twin = getattr(simulator.errors, kind.__name__, None)
        assert isinstance(twin, type) and issubclass(twin, simulator.errors.SimulatorError), \
            f"ops.errors.{kind.__name__} has no simulator.errors class of that name for the interpreter to raise"


def test_the_interpreter_raises_op_errors_as_the_projects_class():
    from simulator.interpreter import _project_error

    exc = _project_error(ops.errors.UnsupportedOpError("unsupported operator 'X'"))
    assert type(exc) is simulator.errors.UnsupportedOpError and str(exc) == "unsupported operator 'X'"


def test_every_op_family_has_its_test_file():
    """tests/ops mirrors ops/: test_<family>.py (or test_<prefix>.py for families named <prefix>_<part>)."""
    families = [p.stem for p in _modules() if p.stem not in ops._NOT_KERNELS and not p.stem.startswith("_")]
    tests = ROOT / "tests" / "ops"
    missing = [f for f in families
               if not (tests / f"test_{f}.py").exists() and not (tests / f"test_{f.split('_')[0]}.py").exists()]
    assert not missing, f"op families without tests/ops/test_<family>.py: {missing}"


# -- the interpreter's modules and what they may import (docs/architecture.md) ---------------------------------

SIMULATOR = OPS.parent / "simulator"
# module -> the project modules it may import (the rule of docs/architecture.md, for the modules that plan and
# run a graph and the ones that own a single rule).
MAY_IMPORT = {
    "simulator.names": set(),
    "simulator.errors": set(),
    "simulator.backend": {"ops", "simulator.errors"},
    "simulator.quantization": {"simulator.backend", "simulator._jit_quantization"},
    "simulator._jit_quantization": {"ops"},
    "simulator.graph": {"simulator.encodings", "simulator.errors"},
    "simulator.plan": {"ops", "simulator.encodings", "simulator.errors", "simulator.graph", "simulator.quantization"},
    "simulator.executor": {"ops", "simulator.backend", "simulator.encodings", "simulator.errors", "simulator.plan",
                           "simulator.quantization"},
    "simulator.folding": {"simulator.executor", "simulator.plan"},
    "simulator.planner": {"ops", "simulator.attributes", "simulator.backend", "simulator.encodings",
                          "simulator.errors", "simulator.executor", "simulator.folding", "simulator.graph", "simulator.model",
                          "simulator.names", "simulator.ort_kernels", "simulator.plan", "simulator.quantization"},
    "simulator.interpreter": {"simulator.backend", "simulator.encodings", "simulator.errors", "simulator.executor",
                              "simulator.graph", "simulator.plan", "simulator.planner", "simulator.quantization"},
    # encodings files: the version table (sniff) over one module per version; versions never import each other
    "simulator.encodings": {"simulator.safe_io", "simulator.errors", "simulator.paths", "simulator.encodings.common",
                            "simulator.encodings.rules", "simulator.encodings.sniff", "simulator.encodings.v0_6_1",
                            "simulator.encodings.v1_0_0", "simulator.encodings.v2"},
    "simulator.encodings.common": {"simulator.errors", "simulator.quantization"},
    "simulator.encodings.rules": set(),
    "simulator.encodings.layout": {"simulator.errors", "simulator.quantization"},
    "simulator.encodings.sniff": {"simulator.errors", "simulator.names", "simulator.encodings.common",
                                  "simulator.encodings.v0_6_1", "simulator.encodings.v1_0_0", "simulator.encodings.v2"},
    **{f"simulator.encodings.{v}": {"simulator.errors", "simulator.quantization", "simulator.encodings.common",
                                    "simulator.encodings.layout"} for v in ("v0_6_1", "v1_0_0", "v2")},
    "simulator.tools.convert": {"simulator.safe_io", "simulator.encodings", "simulator.encodings.layout",
                                "simulator.encodings.v0_6_1", "simulator.encodings.v1_0_0", "simulator.encodings.v2",
                                "simulator.errors", "simulator.names", "simulator.quantization", "simulator.tools",
                                "simulator.model"},
    # the metric registry, and what derives from it
    "simulator.metrics": {"simulator.errors"},
    "simulator.schema.fields": {"simulator.errors", "simulator.paths"},
    "simulator.schema.options": {"simulator.metrics", "simulator.quantization", "simulator.schema.fields"},
    "simulator.schema.parameters": {"simulator.schema.fields", "simulator.schema.options"},
    "simulator.schema.base": {"simulator.schema.fields", "simulator.schema.options", "simulator.schema.parameters",
                              "simulator.schema.debugging"},
    "simulator.commands._options": {"simulator.metrics", "simulator.quantization", "simulator.runner"},
    # simulator.compare, one job per module; "simulator.compare.x" is a module of the package itself
    "simulator.compare": {"simulator.compare.dump_reader", "simulator.compare.inference", "simulator.compare.isolated",
                          "simulator.compare.layer_record", "simulator.compare.layerwise", "simulator.compare.pairing",
                          "simulator.compare.quantizers", "simulator.compare.results", "simulator.compare.store",
                          "simulator.compare.verify"},
    "simulator.compare.layer_record": {"simulator.accumulators", "simulator.metrics", "simulator.tensor_stats"},
    "simulator.compare.diagnosis": {"simulator.encodings", "simulator.metrics", "simulator.report"},
    "simulator.compare.results": {"simulator.accumulators", "simulator.dumps", "simulator.metrics", "simulator.report",
                                  "simulator.runner", "simulator.compare.diagnosis", "simulator.compare.layer_record"},
    "simulator.compare.reducer": {"simulator.accumulators", "simulator.metrics", "simulator.compare.layer_record",
                                  "simulator.compare.results"},
    "simulator.compare.pairing": {"simulator.encodings", "simulator.errors", "simulator.names", "simulator.session"},
    "simulator.compare.quantizers": {"simulator.backend", "simulator.errors", "simulator.tensor_stats"},
    "simulator.compare.isolated": {"simulator.backend", "simulator.encodings", "simulator.errors"},
    "simulator.compare.store": {"simulator.backend"},
    "simulator.compare.export": {"simulator.errors", "simulator.safe_io"},
    "simulator.compare.dump_reader": {"simulator.data", "simulator.dumps", "simulator.errors", "simulator.names",
                                      "simulator.safe_io", "simulator.compare.quantizers"},
    "simulator.compare.tasks": {"simulator.runner", "simulator.session"},
    "simulator.compare.inference": {"simulator.data", "simulator.metrics", "simulator.compare.pairing",
                                    "simulator.compare.reducer", "simulator.compare.results",
                                    "simulator.compare.tasks"},
    "simulator.compare.layerwise": {"simulator.accumulators", "simulator.backend", "simulator.data",
                                    "simulator.metrics", "simulator.names", "simulator.tensor_stats",
                                    "simulator.compare.export",
                                    "simulator.compare.isolated", "simulator.compare.layer_record",
                                    "simulator.compare.pairing", "simulator.compare.quantizers",
                                    "simulator.compare.reducer", "simulator.compare.results", "simulator.compare.store",
                                    "simulator.compare.tasks"},
    "simulator.compare.verify": {"simulator.accumulators", "simulator.backend", "simulator.data", "simulator.dumps",
                                 "simulator.encodings", "simulator.errors", "simulator.metrics", "simulator.session",
                                 "simulator.tensor_stats", "simulator.compare.dump_reader",
                                 "simulator.compare.isolated", "simulator.compare.pairing",
                                 "simulator.compare.quantizers", "simulator.compare.reducer",
                                 "simulator.compare.results", "simulator.compare.tasks"},
    # dumps as devices write them: below simulator.compare (which reads dump folders through it), never above it
    "simulator.dumps": {"simulator.debug_report", "simulator.errors", "simulator.metrics", "simulator.safe_io"},
    "simulator.bisect": {"simulator.backend", "simulator.compare.dump_reader", "simulator.debug_report",
                         "simulator.data", "simulator.errors", "simulator.metrics", "simulator.runner",
                         "simulator.session"},
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
                yield _module_of(name)


def _source(module: str) -> pathlib.Path:
    path = SIMULATOR.parent.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _module_of(name: str) -> str:
    """The longest prefix of a dotted name that is a module of the project (simulator.encodings.v2 for
    simulator.encodings.v2.Entry200; simulator.encodings for simulator.encodings.EncodingsFile)."""
    parts = name.split(".")
    for end in range(len(parts), 1, -1):
        if _source(".".join(parts[:end])).exists():
            return ".".join(parts[:end])
    return ".".join(parts[:2])


@pytest.mark.parametrize("module", sorted(MAY_IMPORT))
def test_modules_import_only_what_the_architecture_allows(module):
    path = _source(module)
    imported = set(_project_imports(path, module)) - {module}
    extra = sorted(imported - MAY_IMPORT[module])
    assert not extra, f"{module} imports {extra}; docs/architecture.md allows {sorted(MAY_IMPORT[module])}"


def test_every_encodings_version_module_is_in_the_version_table():
    """A new encodings version is one module simulator/encodings/v<version>.py, listed in sniff.FORMATS."""
    from simulator.encodings import sniff

    modules = sorted(p.stem for p in (SIMULATOR / "encodings").glob("v*.py"))
    assert modules == sorted(f.__name__.rsplit(".", 1)[1] for f in sniff.FORMATS)
    for f in sniff.FORMATS:
        assert all(callable(getattr(f, name, None)) for name in ("parse", "entry", "write", "source_layout",
                                                                 "replace_entries")), f.__name__


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
