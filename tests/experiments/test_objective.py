"""A run's objective (experiments/scoring/objective.py): each finding's distance from its
target, the checks that the run can give the findings, the objective of a finished run, and
fitting with Hydra's Optuna sweeper on the compiled circuit."""

from __future__ import annotations

import json
import math

import pytest
import yaml
from helpers.fake_engine import fake_run

from ketamine_sim.experiments.config import compose_config
from ketamine_sim.experiments.errors import ConfigError
from ketamine_sim.experiments.kinds import validate
from ketamine_sim.experiments.results import read_results
from ketamine_sim.experiments.scoring import objective as O

BASELINE = ["experiment=bath", "bath.concentrations_uM=[0]", "circuit=small"]


def record(target, tolerance):
    return {"id": "X1", "_file": "x", "target": target, "tolerance": tolerance}


@pytest.mark.parametrize(
    ("target", "tolerance", "value", "expected"),
    [
        ({"value": 37.8}, 7.5, 37.8, 0.0),
        ({"value": 37.8}, 7.5, 22.8, 2.0),  # in tolerances
        ({"range": [1, 5]}, 0, 4.0, 0.0),
        ({"range": [1, 5]}, 0, 7.0, 0.5),  # in widths of the range
        ({"range": [2.0, 2.5]}, [2.0, 3.0], 3.5, 0.5),  # the accepted interval given
        ({"range": [10, 30]}, 2, 35.0, 1.5),  # widened by 2, in tolerances
        ({"sign": "negative"}, None, -0.3, 0.0),
        ({"sign": "negative"}, None, 0.2, 0.2),
        ({"sign": "none"}, None, 0.1, 0.0),
        ({"sign": "none"}, None, -0.45, 0.2),
        ({"ordering": ["a", "b"]}, None, {"a": 2.0, "b": 1.0}, 0.0),
        ({"ordering": ["a", "b"]}, None, {"a": 1.0, "b": 1.5}, 0.5),
        ({"value": 37.8}, 7.5, math.nan, math.inf),
    ],
)
def test_each_target_s_distance_is_zero_when_met_and_grows_outside(target, tolerance, value, expected):
    assert O.distance(record(target, tolerance), value) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        (["objective.findings=[C7]"], "C7 is read from a run of experiment=bath"),
        (["objective.findings=[C7]", "experiment=cohort"], "experiment=cohort is not one run"),
        (["objective.findings=[C7]", "experiment=dose_response"], "experiment=dose_response is not one run"),
        ([*BASELINE, "objective.findings=[Z9]"], r"\['Z9'\] are not records with a registered observable"),
        ([*BASELINE, "objective.findings=[C7,C7]"], "given twice"),
        (["experiment=evoked_release", "objective.findings=[A2]"], "A2 compares 2 runs"),
    ],
)
def test_an_objective_the_run_cannot_give_is_refused_before_it(overrides, words):
    with pytest.raises(ConfigError, match=rf"^objective.findings: .*{words}"):
        validate(compose_config(overrides))


def test_the_objective_of_a_run_is_the_sum_of_its_findings_distances(tmp_path):
    cfg = compose_config([*BASELINE, "objective.findings=[C7,C8]"])
    validate(cfg)
    path = fake_run(tmp_path / "run", [*BASELINE[:2], "objective.findings=[C7,C8]"])
    rates = {pop: float(read_results(path).readouts[pop]["rate"][0]) for pop in ("pyr", "pv")}
    value = O.objective(cfg, path.parent)
    expected = max(1 - rates["pyr"], rates["pyr"] - 5, 0) / 4 + max(10 - rates["pv"], rates["pv"] - 20, 0) / 10
    assert value == pytest.approx(expected)
    written = json.loads((path.parent / O.OBJECTIVE_FILE).read_text())
    assert written["objective"] == pytest.approx(value)
    assert written["findings"]["C7"]["value"] == pytest.approx(rates["pyr"])


def test_without_findings_there_is_no_objective():
    cfg = compose_config([])
    validate(cfg)
    assert O.findings(cfg) == []


def test_the_drug_free_circuit_fires_in_its_calibration_ranges(ketamine_sim):
    """C7, C8: pyramidal cells at 1-5 Hz and PV cells at 10-20 Hz in the drug-free window of
    circuit=small (the ranges its background drives were chosen for); the run returns its
    objective, 0, and writes it."""
    run = ketamine_sim(*BASELINE, "objective.findings=[C7,C8]", "output.figure=false")
    assert run.returncode == 0, run.stderr[-3000:]
    written = json.loads((run.run_dir / O.OBJECTIVE_FILE).read_text())
    assert written["objective"] == 0.0, written
    assert 1 <= written["findings"]["C7"]["value"] <= 5 and 10 <= written["findings"]["C8"]["value"] <= 20
    assert "objective 0 over C7, C8" in run.stdout + run.stderr


def test_optuna_fits_two_free_parameters_to_calibration_findings(ketamine_sim, tmp_path):
    """``-m hydra/sweeper=optuna``: three trials of two background drives against C7 and C8;
    the sweeper's best value is the smallest objective the trials wrote."""
    sweep = tmp_path / "fit"
    run = ketamine_sim(
        "-m",
        *BASELINE,
        "objective.findings=[C7,C8]",
        "output.figure=false",
        "hydra/sweeper=optuna",
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.sampler.seed=1",
        "circuit.background.weight_nS.pyr=interval(2.0,4.0)",
        "circuit.background.weight_nS.pv=interval(1.0,2.5)",
        f"hydra.sweep.dir={sweep}",
    )
    assert run.returncode == 0, run.stderr[-3000:]
    trials = [json.loads(p.read_text())["objective"] for p in sorted(sweep.glob("*/objective.json"))]
    assert len(trials) == 3
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert best["best_value"] == pytest.approx(min(trials))
    assert set(best["best_params"]) == {"circuit.background.weight_nS.pyr", "circuit.background.weight_nS.pv"}
    import pandas as pd

    index = pd.read_csv(sweep / "sweep_index.csv")  # every trial with its objective
    assert sorted(index["objective"]) == pytest.approx(sorted(trials))


def test_an_optimising_sweeper_without_an_objective_is_refused_before_any_run(ketamine_sim, tmp_path):
    run = ketamine_sim(
        "-m",
        "hydra/sweeper=optuna",
        "circuit.background.weight_nS.pyr=interval(2.0,4.0)",
        f"hydra.sweep.dir={tmp_path / 'fit'}",
    )
    assert run.returncode == 2
    assert "objective.findings: the sweeper OptunaSweeper minimises what each run returns" in run.stderr
    assert not list((tmp_path / "fit").glob("*/results.h5"))


def test_the_basic_sweeper_needs_no_objective():
    from ketamine_sim.experiments.app import _needs_an_objective

    _needs_an_objective("hydra._internal.core_plugins.basic_sweeper.BasicSweeper", compose_config([]))
    with pytest.raises(ConfigError, match="^objective.findings: the sweeper OptunaSweeper"):
        _needs_an_objective("hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper", compose_config([]))


@pytest.mark.parametrize(
    ("search", "message"),
    [
        (
            "circuit.background.weight_nS.pyr=interval(-0.5,4.0)",
            "circuit.background.weight_nS.pyr: must be >= 0, got -0.5",
        ),
        ("circuit.background.weight_nS.pyr=interval(4.0,2.0)", "the low end must be below the high end"),
        ("circuit.background.weight_nS.pyx=interval(2.0,4.0)", "did you mean circuit.background.weight_nS.pyr"),
        ("circuit.background.weight_nS.pv=choice(1.5,-1)", "circuit.background.weight_nS.pv: must be >= 0, got -1"),
    ],
)
def test_an_optimiser_s_search_space_is_checked_at_its_ends_before_any_trial(search, message):
    from ketamine_sim.experiments.app import check_search_space

    command = [*BASELINE, "objective.findings=[C7]", "hydra/sweeper=optuna", search]
    with pytest.raises(ConfigError) as refused:
        check_search_space(command)
    assert message in str(refused.value)
    check_search_space(
        [
            *BASELINE,
            "objective.findings=[C7]",
            "hydra/sweeper=optuna",
            "circuit.background.weight_nS.pyr=interval(2.0,4.0)",
        ]
    )
    check_search_space([*BASELINE, search])  # the basic sweeper: the sweep's own checks apply
