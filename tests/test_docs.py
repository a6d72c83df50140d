"""The documentation site builds in strict mode (mkdocs.yml, docs/): every page in the nav, no
broken link or anchor, every API reference block resolves; and the API reference carries the
docstrings (``ketamine_sim.experiments.api.run``'s summary on its page)."""

from __future__ import annotations

import html
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.docs


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text)


def _page_text(page: str) -> str:
    """The text of an HTML page, tags dropped and entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("docs") / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, "mkdocs build --strict failed:\n" + result.stdout + result.stderr
    return out


def test_every_page_is_built(site):
    for md in sorted((ROOT / "docs").rglob("*.md")):
        rel = md.relative_to(ROOT / "docs").with_suffix("")
        built = site / (rel.parent if rel.name == "index" else rel) / "index.html"
        assert built.is_file(), f"docs/{rel}.md was not built into {built.relative_to(site)}"


def test_api_reference_carries_the_docstring_of_run(site):
    from ketamine_sim.experiments.api import run

    summary = inspect.getdoc(run).split("\n\n")[0]
    summary = re.sub(r"\]\[[^\]]*\]", "]", summary)  # a Markdown cross-reference shows its text only
    anchor = 'id="ketamine_sim.experiments.api.run"'
    pages = [p for p in (site / "api").rglob("*.html") if anchor in p.read_text(encoding="utf-8")]
    assert len(pages) == 1, f"ketamine_sim.experiments.api.run is documented on {len(pages)} API pages"
    page = pages[0].read_text(encoding="utf-8")
    section = _page_text(page[page.index(anchor) :])
    expected = " ".join(_words(summary))
    assert expected in " ".join(_words(section)), f"the summary of run is not on {pages[0]}: {summary!r}"
