"""The registry of experiment kinds is the one place that knows them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ketamine_sim.experiments import config as C
from ketamine_sim.experiments.config import compose_config
from ketamine_sim.experiments.kinds import KINDS, kind_of
from ketamine_sim.experiments.paths import CONFIG_DIR

ROOT = Path(__file__).resolve().parents[2]


def test_every_experiment_config_is_a_registered_kind():
    files = sorted(p.stem for p in (Path(CONFIG_DIR) / "experiment").glob("*.yaml"))
    assert sorted(KINDS) == files == sorted(C.EXPERIMENTS)


@pytest.mark.parametrize("name", sorted(KINDS))
def test_a_kind_names_its_results(name):
    cfg = compose_config(["circuit=small", f"experiment={name}"])
    kind = kind_of(cfg)
    assert kind.name == name
    results = kind.results(cfg)
    assert all(rel.endswith("results.h5") for rel, _ in results)
    assert (results == []) == kind.resumes  # the scorecard's results are its runs' folders


def test_dose_response_writes_one_file_per_dose_with_its_dose():
    cfg = compose_config(["circuit=small", "experiment=dose_response", "dose_response.doses_mg_per_kg=[0.1,0.5]"])
    results = kind_of(cfg).results(cfg)
    assert [float(c.dosing.dose_mg_per_kg) for _, c in results] == [0.1, 0.5]
    assert len({rel for rel, _ in results}) == 2


def test_no_module_outside_the_registry_switches_on_the_experiment_name():
    """``experiment.name == "..."`` belongs in experiments/kinds (and the config's validation)."""
    pattern = re.compile(
        r"""experiment\.name\W*(==|!=|in)\s*["'(]|name == ["'](bath|iv_infusion|course|dose_response|evoked_release|scorecard)["']"""
    )
    allowed = {"experiments/kinds", "experiments/config"}
    found = []
    for path in sorted((ROOT / "experiments").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if any(rel.startswith(a) for a in allowed):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                found.append(f"{rel}:{number}: {line.strip()}")
    assert found == []
