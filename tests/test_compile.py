"""How the kernels are compiled (simulation/kernels/jit.py).

Python calls only kernels compiled with numba's wrapper for calls from
Python (:func:`simulation.kernels.jit.entry`): a kernel compiled by
:func:`simulation.kernels.jit.kernel` has none, and a call from Python would
crash the interpreter rather than raise. Every reference from Python code
(the package, tests, benchmarks, docs) to a kernel module's dispatcher, and
every call from a Python function of a kernel module, is checked.

Every kernel's cache is stamped with all the kernels' sources (and the codes
and tables), so that editing a callee recompiles its callers (numba alone
checks only the caller's file)."""

import ast
import importlib
import shutil
from pathlib import Path

import pytest
from numba.core.registry import CPUDispatcher

ROOT = Path(__file__).resolve().parent.parent
KERNELS = ("binomial", "birth_death", "clones", "driver", "generations", "seeding", "world")
MODULES = {name: importlib.import_module(f"simulation.kernels.{name}") for name in KERNELS}


def wrapped(obj) -> bool:
    """Whether Python may call ``obj`` (not a dispatcher, or one with its wrapper)."""
    return not (isinstance(obj, CPUDispatcher)
                and obj.targetoptions.get("no_cpython_wrapper", False))


def jitted(function: ast.FunctionDef) -> bool:
    return bool(function.decorator_list)


def references(path: Path):
    """(kernel module, name, line) of each kernel-module attribute that the
    Python code of ``path`` uses."""
    tree = ast.parse(path.read_text())
    inside = path.parent == ROOT / "simulation" / "kernels"
    modules, names = {}, {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            for alias in node.names:
                local = alias.asname or alias.name
                if parts[-1] == "kernels" and alias.name in KERNELS:
                    modules[local] = alias.name
                elif parts[-1] in KERNELS and ("kernels" in parts or (inside and node.level)):
                    names[local] = (parts[-1], alias.name)
    if inside:  # a kernel module: only its Python functions, and its own names too
        if path.stem in MODULES:
            names.update({name: (path.stem, name) for name in vars(MODULES[path.stem])})
        scopes = [f for f in ast.walk(tree)
                  if isinstance(f, ast.FunctionDef) and not jitted(f)]
    else:
        scopes = [tree]
    for scope in scopes:
        for node in ast.walk(scope):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in modules):
                yield modules[node.value.id], node.attr, node.lineno
            elif isinstance(node, ast.Name) and node.id in names:
                yield *names[node.id], node.lineno


FILES = sorted(p for folder in ("simulation", "analysis", "substrate", "tests", "benchmarks",
                                "docs")
               for p in (ROOT / folder).rglob("*.py"))


def test_the_scan_sees_python_calls():
    found = {(m, n) for m, n, _ in references(ROOT / "simulation" / "engine.py")}
    assert {("driver", "advance"), ("driver", "tick_alone"), ("clones", "p_any_error")} <= found


def test_some_kernels_have_no_python_wrapper():
    assert not wrapped(MODULES["birth_death"].draw_events)
    assert wrapped(MODULES["driver"].advance)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_python_calls_only_wrapped_kernels(path):
    bad = [f"line {line}: {module}.{name}" for module, name, line in references(path)
           if not wrapped(getattr(MODULES[module], name, None))]
    assert not bad, f"{path.name} calls kernels without a Python wrapper: {bad}"


def test_every_kernel_is_stamped_with_all_the_sources():
    from simulation.kernels import jit

    stamp = jit.sources_stamp()
    for kernel in (MODULES["driver"].advance, MODULES["driver"]._draw,  # an inlined twin
                   MODULES["clones"].found_clone, MODULES["world"].economy):
        locator = kernel._cache._impl._locator
        assert type(locator).__name__.startswith("WholeSource")
        assert locator.get_source_stamp() == stamp


def test_an_edited_source_changes_the_stamp(tmp_path, monkeypatch):
    """Editing any kernel file (a callee of another), the codes or the
    tables gives every kernel a new stamp: numba then finds its cache index
    stale and compiles again."""
    from simulation.kernels import jit

    kernels = tmp_path / "kernels"
    shutil.copytree(jit.SOURCES, kernels, ignore=shutil.ignore_patterns("__pycache__"))
    for path in jit.DEPENDENCIES:
        shutil.copy(path, tmp_path / path.name)
    monkeypatch.setattr(jit, "SOURCES", kernels)
    monkeypatch.setattr(jit, "DEPENDENCIES", tuple(tmp_path / p.name for p in jit.DEPENDENCIES))
    before = jit.sources_stamp()
    assert jit.sources_stamp() == before
    for path in (kernels / "world.py", tmp_path / "codes.py"):
        path.write_text(path.read_text() + "\n# edited\n")
        after = jit.sources_stamp()
        assert after != before
        before = after
