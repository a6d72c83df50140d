"""Every option of every config group composes and validates (pure Python, no simulation).

The groups and their options are read from configs/ itself, so a new option file is checked
without editing this test. Each option is composed on its own and, where it belongs to a
protocol, together with the experiments that use it; the composed config then goes through
:func:`ketamine_sim.experiments.config.validate` and the pure-Python steps a run takes before it builds
the circuit (circuit structure, drive, protocol). Runs of every experiment kind on
``circuit=small`` are covered by the other test files (test_experiments, test_release,
test_course, test_scorecard, test_api).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from ketamine_sim.experiments import config as C
from ketamine_sim.experiments.api import compose_config
from ketamine_sim.experiments.app import CONFIG_DIR
from ketamine_sim.experiments.protocols import PROTOCOLS

CONFIGS = Path(CONFIG_DIR)
#: Hydra's own groups under configs/hydra/ (composed with the hydra node, not validated).
HYDRA_GROUPS = ("hydra/help", "hydra/launcher")
#: Experiments whose protocol reads the dosing group besides the default iv_infusion (the dosing
#: courses are written for experiment=course).
DOSED = ("course",)


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONFIGS / group).glob("*.yaml"))


def _project_groups() -> list[str]:
    return sorted(p.name for p in CONFIGS.iterdir() if p.is_dir() and p.name != "hydra")


def _cases() -> list[tuple[str, ...]]:
    cases = [(f"{group}={option}",) for group in _project_groups() for option in _options(group)]
    cases += [(f"experiment={experiment}", f"dosing={option}") for experiment in DOSED for option in _options("dosing")]
    return cases


def _check(overrides: tuple[str, ...]) -> None:
    """Compose, validate and take every pure-Python step a run takes before its build."""
    cfg = compose_config(["circuit=small", *overrides])
    C.validate(cfg)
    C.circuit_structure(cfg)
    C.circuit_drive(cfg)
    name = cfg.experiment.name
    if name in PROTOCOLS:
        PROTOCOLS[name](cfg)


def test_the_groups_are_the_documented_ones():
    """A sanity check of the discovery: the groups of the root defaults list are all found."""
    assert {"backend", "circuit", "dosing", "drug", "experiment", "hypothesis", "manipulation", "pk", "state"} <= set(
        _project_groups()
    )
    assert all(_options(group) for group in _project_groups())


@pytest.mark.parametrize("overrides", _cases(), ids=" ".join)
def test_every_option_composes_and_validates(overrides):
    _check(overrides)


def test_esketamine_nasal_brings_esketamine_unless_the_drug_is_given():
    """The dosing option sets the root-level drug (it failed to compose before); a drug on the
    command line still wins, wherever it stands."""
    assert compose_config(["dosing=esketamine_nasal"]).drug.name == "esketamine"
    assert compose_config(["dosing=esketamine_nasal", "drug=racemic"]).drug.name == "racemic"
    assert compose_config(["drug=arketamine", "dosing=esketamine_nasal"]).drug.name == "arketamine"
    cfg = compose_config(["dosing=esketamine_nasal"])
    assert "drug" not in cfg.dosing and cfg.dosing.route == "intranasal" and cfg.dosing.dose_mg == 56.0


@pytest.mark.parametrize("group", HYDRA_GROUPS)
def test_every_hydra_option_composes(group):
    for option in _options(group):
        if group == "hydra/launcher" and option != "local":
            pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="the cluster extra is not installed")
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            cfg = compose(config_name="config", overrides=[f"{group}={option}"], return_hydra_config=True)
        assert cfg.hydra is not None
