"""The import-layer contract of pyproject.toml ([tool.importlinter]) holds, it fails on a
deliberate violation, and no project module takes part in an import cycle."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("circuits", "experiments")
#: The installed package: links to the model and the experiments under the project's own name.
NAMESPACE = "ketamine_sim"


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "lint-imports"
    if not exe.exists():
        pytest.fail("import-linter is not installed: pip install -e '.[test]'")
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run([str(exe), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True)


def test_the_layer_contract_holds():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    "module, line",
    [
        ("experiments/paths.py", "import ketamine_sim.experiments.app  # a leaf reaching up"),
        (
            "experiments/config/settings.py",
            "from ketamine_sim.experiments.scoring import scorecard  # config reaching up",
        ),
        (
            "circuits/spiking/network.py",
            "import ketamine_sim.experiments.results  # the model importing the experiments",
        ),
    ],
)
def test_the_contract_fails_on_a_violation(tmp_path, module, line):
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
        (tmp_path / NAMESPACE).mkdir(exist_ok=True)
        (tmp_path / NAMESPACE / package).symlink_to(Path("..") / package)
    shutil.copy(ROOT / NAMESPACE / "__init__.py", tmp_path / NAMESPACE / "__init__.py")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{line}\n")
    result = _lint_imports(tmp_path)
    assert result.returncode != 0 and "BROKEN" in result.stdout, result.stdout[-2000:]


def _cycles(graph, modules: set[str]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), i.e. import cycles."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.find_modules_directly_imported_by(node) & modules:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for module in sorted(modules):
        if module not in index:
            visit(module)
    return out


def test_no_import_cycle_among_project_modules():
    graph = grimp.build_graph(NAMESPACE, cache_dir=None)
    assert _cycles(graph, set(graph.modules)) == []


def test_the_cycle_finder_finds_a_cycle():
    class Graph:
        edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}

        def find_modules_directly_imported_by(self, module):
            return self.edges[module]

    assert _cycles(Graph(), {"a", "b", "c", "d"}) == [["a", "b", "c"]]


def test_code_docs_and_notebooks_import_the_package_names_only():
    """``ketamine_sim.circuits`` and ``ketamine_sim.experiments``, as a wheel installs them
    (tests/test_install.py): never the repository's folder names, which a wheel does not
    install (doctest and notebook lines included)."""
    import re

    generic = re.compile(r"(?<![\w.])from (circuits|experiments)\b(?!/)|^\W*(>>> )?import (circuits|experiments)\b")
    found = []
    for folder in (*PACKAGES, "tests", "benchmarks", "docs", "notebooks"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in {".py", ".md", ".ipynb"} and "__pycache__" not in path.parts:
                for number, line in enumerate(path.read_text().splitlines(), 1):
                    if generic.search(line) and "generic =" not in line:
                        found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    for name in ("README.md", "CONTRIBUTING.md"):
        found += [f"{name}: {line}" for line in (ROOT / name).read_text().splitlines() if generic.search(line)]
    assert found == []
