"""Citations: every published source is one entry of ``seeds/references.bib``, and every
citation in the project resolves to one. Syntax (docs/references.md): ``[@key]`` in code,
configs and docs (several: ``[@a; @b]``), ``ref: key`` / ``refs: [a, b]`` in seed records.
Also checks CITATION.cff. Pure file checks, no simulation."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import bibtexparser
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIB = ROOT / "seeds" / "references.bib"
#: folders whose *.py, *.yaml and *.md files may cite, and single files that may.
CITING_FOLDERS = ("circuits", "experiments", "configs", "seeds", "docs")
CITING_FILES = ("README.md", "CONTRIBUTING.md")
CITING_SUFFIXES = (".py", ".yaml", ".md")

#: a key: lowercase first author, year, a word of the title (zanos2016nmdar).
KEY = re.compile(r"[a-z]+\d{4}[a-z0-9]+")
#: a bracketed citation group, [@a] or [@a; @b] (pandoc / MyST syntax).
CITATION = re.compile(r"\[(-?@[^\[\]]*)\]")
#: one item of a group: an optional '-' (suppress author), @key, then an optional locator.
ITEM = re.compile(r"-?@([A-Za-z0-9_:.-]+?)(?:,\s*[^;]*)?")
#: seed records with no single published source say so in `source` and give `refs: []`.
NO_SOURCE = re.compile(r"no single source|no study")
VENUE_FIELDS = ("journal", "booktitle", "publisher")


def parse_bib(text: str):
    return bibtexparser.parse_string(text)


@pytest.fixture(scope="module")
def library():
    return parse_bib(BIB.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def keys(library) -> set[str]:
    return {entry.key for entry in library.entries}


def cited_keys(text: str) -> tuple[list[str], list[str]]:
    """(keys, problems): every key cited as [@key] or [@a; @b] in ``text``; a group item
    that is not ``@key`` (optionally with a locator, ``[@key, p. 3]``) is a problem."""
    found, problems = [], []
    for group in CITATION.finditer(text):
        for item in group.group(1).split(";"):
            m = ITEM.fullmatch(item.strip())
            if m:
                found.append(m.group(1))
            else:
                problems.append(f"malformed citation {group.group(0)!r} (write [@key] or [@a; @b])")
    return found, problems


def citation_problems(text: str, known: set[str], where: str = "<text>") -> list[str]:
    """One line per citation in ``text`` that does not resolve to a key of ``known``."""
    found, problems = cited_keys(text)
    return [f"{where}: {p}" for p in problems] + [
        f"{where}: [@{key}] is not a key of seeds/references.bib" for key in found if key not in known
    ]


def citing_files() -> list[Path]:
    files = [ROOT / name for name in CITING_FILES if (ROOT / name).is_file()]
    for folder in CITING_FOLDERS:
        files += sorted(p for p in (ROOT / folder).rglob("*") if p.suffix in CITING_SUFFIXES and p.is_file())
    return files


def seed_records() -> list[tuple[str, dict]]:
    out = []
    for path in sorted((ROOT / "seeds").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        out += [(path.name, r) for r in data if isinstance(r, dict)]
    return out


def record_refs(record: dict) -> list[str] | None:
    """The keys a seed record cites, or None when it has neither ``ref`` nor ``refs``."""
    if "ref" in record:
        return [record["ref"]]
    if "refs" in record:
        return list(record["refs"])
    return None


# ---------------------------------------------------------------- the bibliography itself


def test_bib_parses_without_failed_or_duplicate_blocks(library):
    assert library.entries, "seeds/references.bib has no entries"
    assert not library.failed_blocks, [
        f"line {b.start_line}: {type(b).__name__} {getattr(b, 'key', '')}" for b in library.failed_blocks
    ]


def test_no_duplicate_keys():
    """Counted on the raw text as well, independent of how the parser treats duplicates."""
    raw = re.findall(r"^\s*@\w+\s*\{\s*([^,\s]+)\s*,", BIB.read_text(encoding="utf-8"), flags=re.M)
    duplicates = sorted({k for k in raw if raw.count(k) > 1})
    assert not duplicates, f"keys defined more than once: {duplicates}"


def test_every_entry_is_complete(library):
    problems = []
    for entry in library.entries:
        fields = {name.lower(): str(field.value).strip() for name, field in entry.fields_dict.items()}
        for name in ("author", "title", "year"):
            if not fields.get(name):
                problems.append(f"{entry.key}: no {name}")
        if not any(fields.get(name) for name in VENUE_FIELDS):
            problems.append(f"{entry.key}: needs one of {', '.join(VENUE_FIELDS)}")
        if not re.fullmatch(r"\d{4}", fields.get("year", "")):
            problems.append(f"{entry.key}: year must be four digits, got {fields.get('year')!r}")
        if "doi" in fields and not re.fullmatch(r"10\.\d{4,9}/\S+", fields["doi"]):
            problems.append(f"{entry.key}: doi must look like 10.xxxx/..., got {fields['doi']!r}")
    assert not problems, "\n".join(problems)


def test_keys_are_firstauthor_year_word(library):
    """The key's year is the entry's year, or the year of online publication that its note
    gives (cichon2022ketamine appeared online in 2022, in print in 2023)."""
    problems = []
    for entry in library.entries:
        if not KEY.fullmatch(entry.key):
            problems.append(f"{entry.key}: key must be lowercase firstauthorYEARword")
            continue
        key_year = re.search(r"\d{4}", entry.key).group(0)
        year = str(entry.fields_dict["year"].value) if "year" in entry.fields_dict else ""
        note = str(entry.fields_dict["note"].value) if "note" in entry.fields_dict else ""
        if key_year != year and key_year not in note:
            problems.append(f"{entry.key}: key year {key_year} is not the entry's year {year}")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------- citations resolve


def test_checker_rejects_an_unknown_key():
    known = {"zanos2016nmdar", "kotermanski2009mg"}
    assert citation_problems("as shown [@zanos2016nmdar].", known) == []
    assert citation_problems("[@zanos2016nmdar; @kotermanski2009mg, p. 2775]", known) == []
    assert citation_problems("[-@zanos2016nmdar]", known) == []
    problems = citation_problems("# tau 10 s [@nobody1999made]", known, "configs/x.yaml")
    assert problems == ["configs/x.yaml: [@nobody1999made] is not a key of seeds/references.bib"]
    assert len(citation_problems("[@zanos2016nmdar; @nobody1999made]", known)) == 1
    assert citation_problems("[@zanos2016nmdar; zanos2016]", known), "an item without @ is malformed"
    assert citation_problems("an email a@b.org and a decorator @dataclass", known) == []


def test_every_citation_in_code_configs_and_docs_resolves(keys):
    files = citing_files()
    assert any(p.suffix == ".md" for p in files) and any(p.suffix == ".yaml" for p in files)
    problems, cited = [], 0
    for path in files:
        text = path.read_text(encoding="utf-8")
        cited += len(cited_keys(text)[0])
        problems += citation_problems(text, keys, str(path.relative_to(ROOT)))
    assert not problems, "\n".join(problems)
    assert cited > 0, "no [@key] citation found: is the syntax still [@key]?"


def test_every_seed_record_cites_its_source(keys):
    """Each record has ``ref`` or ``refs`` beside ``source``; ``refs: []`` only where the
    source says there is no single published source."""
    problems = []
    for name, record in seed_records():
        where = f"{name}: {record.get('id')}"
        refs = record_refs(record)
        if refs is None:
            problems.append(f"{where}: needs ref (one key) or refs (a list of keys)")
            continue
        if not refs and not NO_SOURCE.search(str(record.get("source", ""))):
            problems.append(f"{where}: refs is empty but source names a study: {record.get('source')!r}")
        problems += [f"{where}: {k!r} is not a key of seeds/references.bib" for k in refs if k not in keys]
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------- CITATION.cff


def test_citation_cff_is_valid_and_matches_pyproject():
    """Required CFF 1.2.0 fields, checked by hand (cffconvert 2.0 pins jsonschema 3, which the
    notebook stack cannot share), and the version that pyproject.toml gives."""
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert cff["cff-version"] == "1.2.0"
    for field in ("message", "title", "abstract"):
        assert isinstance(cff.get(field), str) and cff[field].strip(), f"CITATION.cff needs {field}"
    assert str(cff["version"]) == project["version"]
    assert cff.get("type", "software") == "software"
    authors = cff.get("authors")
    assert isinstance(authors, list) and authors
    assert all(isinstance(a, dict) and (a.get("name") or a.get("family-names")) for a in authors)
    assert isinstance(cff.get("keywords"), list) and all(isinstance(k, str) for k in cff["keywords"])
    if "license" in cff:
        assert project.get("license"), "CITATION.cff states a license that pyproject.toml does not"
