"""The records in ``seeds/`` (one per row of TARGETS.md): schema, id coverage, and that every
``checked_by`` entry names a test that exists. Schema: seeds/README.md. Pure file checks,
no simulation."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
#: TARGETS.md lives beside the clone (shared/science/), not inside it; CI has it there.
TARGETS = Path(__file__).resolve().parents[2] / "shared/science/TARGETS.md"

#: id prefix -> the file that holds that TARGETS section.
FILES = {
    "R": "receptor_pharmacology.yaml",
    "P": "pharmacokinetics.yaml",
    "C": "acute_circuit.yaml",
    "A": "adenosine_release.yaml",
    "S": "slow_plasticity.yaml",
    "K": "clinical_course.yaml",
}
REQUIRED = {
    "id",
    "finding",
    "source",
    "condition",
    "observable",
    "target",
    "tolerance",
    "tolerance_note",
    "status",
    "role",
    "checked_by",
}
#: ``ref`` (one key) or ``refs`` (a list of keys) of seeds/references.bib; tests/test_references.py
#: requires one of them on every record and resolves the keys.
OPTIONAL = {"note", "ref", "refs", "calibrates", "role_note", "targets_row", "reported_sd"}
ROLES = {"calibration", "validation"}
STATUSES = {"tested", "documented_discrepancy", "not_yet_modelled"}
TARGET_KINDS = ("value", "range", "sign", "ordering")
SIGNS = {"positive", "negative", "none"}
NODE_ID = re.compile(r"^(tests/[\w/]+\.py)::(\w+)(\[.*\])?$")


def load(name: str):
    with open(SEEDS / name, encoding="utf-8") as f:
        return yaml.safe_load(f)


def all_records() -> list[tuple[str, dict]]:
    out = []
    for name in FILES.values():
        if (SEEDS / name).exists():
            data = load(name)
            if isinstance(data, list):
                out += [(name, r) for r in data]
    return out


RECORDS = all_records()


def is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def is_scalar(x) -> bool:
    return is_number(x) or (isinstance(x, str) and x.strip() != "")


def check_target(target, problems: list[str]) -> str | None:
    """Append schema problems of ``target``; return its kind (value/range/sign/ordering)."""
    if not isinstance(target, dict):
        problems.append(f"target must be a mapping, got {target!r}")
        return None
    kinds = [k for k in TARGET_KINDS if k in target]
    if len(kinds) != 1:
        problems.append(f"target needs exactly one of {TARGET_KINDS}, got {sorted(target)}")
        return None
    kind = kinds[0]
    allowed = {kind, "unit"} if kind in ("value", "range") else {kind}
    if set(target) - allowed:
        problems.append(f"target ({kind}) has unexpected keys {sorted(set(target) - allowed)}")
    v = target[kind]
    if kind == "value":
        if isinstance(v, dict):
            ok = v and all(isinstance(k, str) and is_number(x) for k, x in v.items())
        elif isinstance(v, list):
            ok = v and all(is_number(x) for x in v)
        else:
            ok = is_number(v)
        if not ok:
            problems.append(f"target value must be a number, a list of numbers or a mapping name -> number, got {v!r}")
    elif kind == "range":
        if not (isinstance(v, list) and len(v) == 2 and all(map(is_number, v)) and v[0] < v[1]):
            problems.append(f"target range must be [lo, hi] with lo < hi, got {v!r}")
    elif kind == "sign":
        if v not in SIGNS:
            problems.append(f"target sign must be one of {sorted(SIGNS)}, got {v!r}")
    else:
        flat = [y for x in v for y in (x if isinstance(x, list) else [x])] if isinstance(v, list) else []
        if not (
            isinstance(v, list)
            and len(v) >= 2
            and all(is_scalar(x) or (isinstance(x, list) and x) for x in v)
            and flat
            and all(map(is_scalar, flat))
            and len(set(map(str, flat))) == len(flat)
        ):
            problems.append(f"target ordering must list >= 2 distinct items (or tie groups), got {v!r}")
    if kind in ("value", "range"):
        unit = target.get("unit")
        unit_ok = isinstance(unit, str) and unit.strip() != ""
        if isinstance(unit, dict) and isinstance(v, dict):
            unit_ok = set(unit) == set(v) and all(isinstance(u, str) and u.strip() for u in unit.values())
        if not unit_ok:
            problems.append(
                f"target ({kind}) needs a unit (a string, or a mapping with the value's keys), got {unit!r}"
            )
    return kind


def check_tolerance(kind: str | None, target: dict, tol, problems: list[str]) -> None:
    if kind is None:
        return
    if kind in ("sign", "ordering"):
        if tol is not None:
            problems.append(f"tolerance must be null for a {kind} target, got {tol!r}")
        return
    v = target[kind]
    if is_number(tol):
        if tol < 0:
            problems.append(f"tolerance must be >= 0, got {tol!r}")
        return
    if kind == "range" or is_number(v):
        lo, hi = (v, v) if is_number(v) else v if isinstance(v, list) and len(v) == 2 else (None, None)
        if not (
            isinstance(tol, list)
            and len(tol) == 2
            and all(map(is_number, tol))
            and lo is not None
            and tol[0] <= lo
            and hi <= tol[1]
        ):
            problems.append(f"tolerance must be a number >= 0 or an interval [lo, hi] containing {v!r}, got {tol!r}")
    elif isinstance(v, list):
        if not (isinstance(tol, list) and len(tol) == len(v) and all(is_number(t) and t >= 0 for t in tol)):
            problems.append(f"tolerance for a list value must be a number or {len(v)} numbers >= 0, got {tol!r}")
    elif isinstance(v, dict):
        if not (isinstance(tol, dict) and set(tol) == set(v) and all(is_number(t) and t >= 0 for t in tol.values())):
            problems.append(
                f"tolerance for a mapping value must be a number or a mapping with keys {sorted(v)}, got {tol!r}"
            )


def record_problems(record) -> list[str]:
    if not isinstance(record, dict):
        return [f"record must be a mapping, got {record!r}"]
    problems = []
    missing, unknown = REQUIRED - set(record), set(record) - REQUIRED - OPTIONAL
    if missing:
        problems.append(f"missing fields {sorted(missing)}")
    if unknown:
        problems.append(f"unknown fields {sorted(unknown)}")
    if not (isinstance(record.get("id"), str) and re.fullmatch(r"[A-Z]\d+", record["id"])):
        problems.append(f"id must look like 'R1', got {record.get('id')!r}")
    finding = record.get("finding")
    if not (
        isinstance(finding, str)
        and finding.strip().endswith(".")
        and "\n" not in finding.strip()
        and not re.search(r"[.;!?]\s+[A-Z]", finding.strip()[:-1])
    ):
        problems.append(f"finding must be one sentence ending with '.', got {finding!r}")
    for field in ("source", "tolerance_note"):
        if not (isinstance(record.get(field), str) and record[field].strip()):
            problems.append(f"{field} must be a non-empty string")
    condition = record.get("condition")
    if not (isinstance(condition, dict) and condition and all(isinstance(k, str) for k in condition)):
        problems.append(f"condition must be a non-empty mapping, got {condition!r}")
    if not (isinstance(record.get("observable"), str) and re.fullmatch(r"[a-z][A-Za-z0-9_]*", record["observable"])):
        problems.append(
            f"observable must be snake_case (unit suffixes such as _uM allowed), got {record.get('observable')!r}"
        )
    kind = check_target(record.get("target"), problems)
    check_tolerance(kind, record.get("target"), record.get("tolerance"), problems)
    if "reported_sd" in record and not (
        is_number(record["reported_sd"])
        and record["reported_sd"] > 0
        and kind == "value"
        and is_number(record["target"].get("value"))
    ):
        problems.append(f"reported_sd must be a number > 0 beside a scalar value target, got {record['reported_sd']!r}")
    if kind == "sign" and "sign only" not in str(record.get("tolerance_note")):
        problems.append("a sign target's tolerance_note must say 'sign only: magnitude unverified'")
    status, checked_by = record.get("status"), record.get("checked_by")
    if status not in STATUSES:
        problems.append(f"status must be one of {sorted(STATUSES)}, got {status!r}")
    if not (isinstance(checked_by, list) and all(isinstance(n, str) and NODE_ID.match(n) for n in checked_by)):
        problems.append(f"checked_by must be a list of node ids 'tests/x.py::test_y', got {checked_by!r}")
    elif status == "tested" and not checked_by:
        problems.append("a tested record needs at least one checked_by test")
    elif status == "not_yet_modelled" and checked_by:
        problems.append("a not_yet_modelled record cannot list checked_by tests")
    if "ref" in record and "refs" in record:
        problems.append("give either ref (one key) or refs (a list of keys), not both")
    if "ref" in record and not (isinstance(record["ref"], str) and record["ref"].strip()):
        problems.append(f"ref must be one key of seeds/references.bib, got {record['ref']!r}")
    if "refs" in record and not (isinstance(record["refs"], list) and all(isinstance(k, str) for k in record["refs"])):
        problems.append(f"refs must be a list of keys of seeds/references.bib, got {record['refs']!r}")
    if "note" in record and not (isinstance(record["note"], str) and record["note"].strip()):
        problems.append("note, when present, must be a non-empty string")
    return problems


def test_every_section_file_is_a_nonempty_list():
    for name in FILES.values():
        assert (SEEDS / name).is_file(), f"seeds/{name} is missing"
        data = load(name)
        assert isinstance(data, list) and data, f"seeds/{name} must be a non-empty list of records"
    assert sorted(p.name for p in SEEDS.glob("*.y*ml")) == sorted(FILES.values()), "unexpected YAML file in seeds/"


@pytest.mark.parametrize(
    "name, record", RECORDS, ids=[str(r.get("id")) if isinstance(r, dict) else "?" for _, r in RECORDS]
)
def test_record_schema(name, record):
    problems = record_problems(record)
    assert not problems, f"seeds/{name}: {record.get('id') if isinstance(record, dict) else record}: " + "; ".join(
        problems
    )


def test_ids_are_unique_and_in_their_section_file():
    ids = [r["id"] for _, r in RECORDS]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicates, f"duplicate ids: {duplicates}"
    misplaced = [(r["id"], name) for name, r in RECORDS if FILES.get(r["id"][:1]) != name]
    assert not misplaced, f"ids in the wrong file (prefix decides the file): {misplaced}"


def test_ids_cover_targets():
    if not TARGETS.is_file():
        pytest.skip(f"{TARGETS} not present beside this clone")
    expected = set(re.findall(r"^\|\s*([A-Z]\d+)\s*\|", TARGETS.read_text(encoding="utf-8"), flags=re.MULTILINE))
    assert expected, "no ids parsed from TARGETS.md"
    have = {r["id"] for _, r in RECORDS}
    added = {r["id"] for _, r in RECORDS if r.get("targets_row") is False}
    assert not expected - have, f"TARGETS ids without a seed record: {sorted(expected - have)}"
    assert not have - expected - added, f"seed records without a TARGETS row: {sorted(have - expected - added)}"
    assert not added & expected, f"records marked targets_row: false that TARGETS has: {sorted(added & expected)}"


def test_checked_by_names_existing_test_functions():
    sources: dict[str, str] = {}
    broken = []
    for _, record in RECORDS:
        for node in record.get("checked_by") or []:
            m = NODE_ID.match(node)
            if not m:
                broken.append(f"{record['id']}: {node} (not a node id)")
                continue
            path, func = m.group(1), m.group(2)
            if path not in sources:
                sources[path] = (ROOT / path).read_text(encoding="utf-8") if (ROOT / path).is_file() else ""
            if not re.search(rf"^\s*def {func}\(", sources[path], flags=re.MULTILINE):
                broken.append(f"{record['id']}: {node}")
    assert not broken, "checked_by entries that name no existing test function: " + ", ".join(broken)


@pytest.mark.parametrize("name, record", RECORDS, ids=[r.get("id", "?") for _, r in RECORDS])
def test_role_says_whether_the_finding_set_parameters(name, record):
    """``role: calibration`` records name what they set (``calibrates``: config keys that the
    default composition holds, or files of the model under circuits/ or configs/); ``validation`` records
    set nothing. A finding a parameter was chosen from is not evidence for the model."""
    from omegaconf import OmegaConf

    from ketamine_sim.experiments.config import compose_config
    from ketamine_sim.experiments.paths import ROOT as ROOT_DIR

    assert record["role"] in ROLES, f"{record['id']}: role {record['role']!r}; allowed: {sorted(ROLES)}"
    keys = record.get("calibrates") or []
    if record["role"] == "validation":
        assert not keys, f"{record['id']}: a validation record calibrates nothing, got {keys}"
        return
    assert keys, f"{record['id']}: a calibration record names the parameters it set (calibrates)"
    cfg = compose_config([])
    for key in keys:
        if key.startswith(("circuits/", "configs/")):
            assert (ROOT_DIR / key).is_file(), f"{record['id']}: {key} is not a file of the model"
        else:
            assert OmegaConf.select(cfg, key, default=None) is not None, f"{record['id']}: no config key {key}"
