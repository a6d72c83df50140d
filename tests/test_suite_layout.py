"""The test suite's own layout: shared code lives in ``tests/helpers/`` (and fixtures in
``conftest.py``); no test module imports another test module or a conftest."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in ``path``, inside functions too."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _is_test_module(name: str) -> bool:
    top = name.split(".")[0]
    return top.startswith("test_") or top.endswith("_test") or top == "conftest"


def cross_imports(folder: Path) -> list[str]:
    """``file:line: module`` for each import of a test module or conftest under ``folder``."""
    return [
        f"{path.relative_to(folder)}:{line}: {module}"
        for path in sorted(folder.rglob("*.py"))
        for line, module in _imported_modules(path)
        if _is_test_module(module)
    ]


def test_no_test_module_imports_another():
    assert not cross_imports(TESTS), "import shared code from tests/helpers/ instead"


def test_the_check_finds_a_cross_import(tmp_path):
    (tmp_path / "test_a.py").write_text("import numpy\nfrom helpers.cli import merged\n")
    (tmp_path / "test_b.py").write_text("def test_x():\n    from test_a import make_data\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "test_c.py").write_text("import test_b, conftest\n")
    assert cross_imports(tmp_path) == [
        "sub/test_c.py:1: test_b",
        "sub/test_c.py:1: conftest",
        "test_b.py:2: test_a",
    ]


def test_helpers_hold_no_tests():
    helpers = TESTS / "helpers"
    assert (helpers / "__init__.py").is_file()
    for path in helpers.rglob("*.py"):
        assert not path.name.startswith("test_"), path
        tree = ast.parse(path.read_text())
        tests = [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]
        assert not tests, f"{path.name}: {tests}"


def test_markers_are_by_need():
    """The markers say what a test needs (compiler, notebooks, docs build, a subprocess, many
    generated cases, a second or more); pytest refuses any other."""
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    names = {marker.split(":")[0].strip() for marker in options["markers"]}
    assert names == {"compiles", "notebook", "docs", "cli", "fuzz", "slow"}
    assert "--strict-markers" in options["addopts"]


@pytest.mark.parametrize("fixture", ["build_cache", "ketamine_sim", "small_run"])
def test_compiling_fixtures_mark_their_tests(request, fixture):
    """Every collected test that uses a shared compiling fixture carries ``compiles``."""
    items = [item for item in request.session.items if fixture in getattr(item, "fixturenames", ())]
    unmarked = [item.nodeid for item in items if item.get_closest_marker("compiles") is None]
    assert not unmarked


#: Tests of the project as a whole (layers, style, docs, references, seeds, notebooks, this file).
PROJECT_TESTS = {
    "test_benchmarks.py",
    "test_docs.py",
    "test_doctests.py",
    "test_install.py",
    "test_layers.py",
    "test_notebooks.py",
    "test_references.py",
    "test_seeds.py",
    "test_style.py",
    "test_suite_layout.py",
}


def test_test_folders_mirror_the_packages():
    """Tests of ``circuits`` live in tests/circuits/, of ``experiments`` in tests/experiments/;
    only tests of the project as a whole sit at the top of tests/."""
    top = {p.name for p in TESTS.glob("test_*.py")}
    assert top == PROJECT_TESTS
    folders = {p.parent.relative_to(TESTS).as_posix() for p in TESTS.rglob("test_*.py")} - {"."}
    assert folders == {"circuits", "experiments"}
    assert all((TESTS.parent / folder).is_dir() for folder in folders)
