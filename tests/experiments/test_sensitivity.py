"""The global sensitivity analysis (experiments/sensitivity.py): the design (SALib's samplers,
run counts, reproducible per seed), each sample a valid course with its values, the indices
against analytic results, the readouts of a course run, the checks of ``sensitivity.*`` and a
whole analysis with stand-in windows (tables, figure, resume)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers.fake_engine import fake_configured_run, fake_run

from ketamine_sim.experiments import config as C
from ketamine_sim.experiments import figures as F
from ketamine_sim.experiments import sensitivity as S
from ketamine_sim.experiments.config import compose_config
from ketamine_sim.experiments.errors import ConfigError
from ketamine_sim.experiments.results import read_results
from ketamine_sim.experiments.scoring.configured_runs import config_of

BASE = ["experiment=sensitivity", "circuit=small"]
TWO = "sensitivity.parameters=[{key: plasticity.bdnf_gain, low: 2.5, high: 10}, {key: state.bdnf_tone, low: 0.55, high: 0.85}]"
#: a short course for the stand-in runs: two windows around the dose, one day of follow-up
SHORT = ["course.windows_per_dose_min=[-10,40]", "course.window_days_after_last_dose=[]", "dosing.follow_days=1"]
#: the shortest course a sensitivity analysis takes: its last readout is on day 7
WEEK = [*SHORT[:2], "dosing.follow_days=7"]


def sensitivity_config(*overrides):
    cfg = compose_config([*BASE, *overrides])
    C.validate(cfg)
    return cfg


def test_the_design_has_the_method_s_run_count_and_is_the_same_per_seed():
    cfg = sensitivity_config(TWO, "sensitivity.samples=3")
    X = S.design(cfg)
    k = 3  # two parameters and the circuit seed
    assert X.shape == (S.runs_needed("morris", 3, k), k) == (12, 3)
    assert S.problem(cfg)["names"] == ["plasticity.bdnf_gain", "state.bdnf_tone", "seed"]
    assert np.all((X[:, 0] >= 2.5) & (X[:, 0] <= 10) & (X[:, 1] >= 0.55) & (X[:, 1] <= 0.85))
    np.testing.assert_array_equal(S.design(cfg), X)
    assert not np.array_equal(S.design(sensitivity_config(TWO, "sensitivity.samples=3", "sensitivity.seed=2")), X)
    sobol = sensitivity_config(
        TWO, "sensitivity.method=sobol", "sensitivity.samples=8", "sensitivity.noise_floor=false"
    )
    assert S.design(sobol).shape == (S.runs_needed("sobol", 8, 2), 2) == (32, 2)


def test_each_sample_is_a_valid_course_with_its_values():
    cfg = sensitivity_config(TWO, "sensitivity.samples=2")
    X, planned = S.plan(cfg, Path("nowhere"))
    assert len(planned) == len(X) == 8 and len({run.directory for run in planned}) == len({tuple(row) for row in X})
    for row, run in zip(X, planned):
        course = config_of(run.overrides)
        C.validate(course)
        assert course.experiment.name == "course" and "sensitivity" not in course and not course.output.figure
        assert course.plasticity.bdnf_gain == pytest.approx(row[0]) and course.state.bdnf_tone == pytest.approx(row[1])
        assert course.seed == round(row[2]) and isinstance(course.seed, int)


def test_morris_mu_star_of_a_linear_readout_is_its_slope_times_the_range():
    """For y = 4 a + b (c unused), every elementary effect of a is 4 (high - low): mu* = 4 x 7.5,
    sigma 0; b's is 0.3; c's is zero."""
    cfg = sensitivity_config(TWO, "sensitivity.samples=6", "sensitivity.levels=6")
    X = S.design(cfg)
    frame = S.indices(cfg, X, 4 * X[:, 0] + X[:, 1]).set_index("parameter")
    assert frame.loc["plasticity.bdnf_gain", "mu_star"] == pytest.approx(4 * 7.5, rel=1e-9)
    assert frame.loc["plasticity.bdnf_gain", "sigma"] == pytest.approx(0.0, abs=1e-9)
    assert frame.loc["state.bdnf_tone", "mu_star"] == pytest.approx(0.3, rel=1e-9)
    assert frame.loc["seed", "mu_star"] == 0.0
    assert list(frame["rank"]) == [1, 2, 3]
    assert frame["share"].sum() == pytest.approx(1.0) and frame.loc["seed", "share"] == 0.0


def test_sobol_indices_of_an_additive_readout_are_its_variance_shares():
    """y = 2 a' + b' with a', b' the parameters scaled to [0, 1]: Var = 4/12 + 1/12, so
    S1 = ST = 0.8 for a and 0.2 for b (no interaction)."""
    cfg = sensitivity_config(
        TWO, "sensitivity.method=sobol", "sensitivity.samples=1024", "sensitivity.noise_floor=false"
    )
    X = S.design(cfg)
    a, b = (X[:, 0] - 2.5) / 7.5, (X[:, 1] - 0.55) / 0.3
    frame = S.indices(cfg, X, 2 * a + b).set_index("parameter")
    assert frame.loc["plasticity.bdnf_gain", ["S1", "ST"]].tolist() == pytest.approx([0.8, 0.8], abs=0.03)
    assert frame.loc["state.bdnf_tone", ["S1", "ST"]].tolist() == pytest.approx([0.2, 0.2], abs=0.03)
    assert frame.loc["plasticity.bdnf_gain", "rank"] == 1


def test_the_readouts_of_a_course_run(tmp_path):
    data = read_results(fake_run(tmp_path / "drug", ["experiment=course", *SHORT]))
    values = S.readouts(data)
    assert set(values) == set(S.READOUTS)
    assert np.isnan(values.pop("outcome_day_7"))  # the course ends on day 1: no day-7 value
    assert all(np.isfinite(v) for v in values.values())
    assert data.windows["label"][S.peak_window(data)] == "dose 1 +40 min"
    assert values["rate_change_pyr"] > 0  # the stand-in engine fires more with drug
    saline = read_results(fake_run(tmp_path / "saline", ["experiment=course", "drug=saline", *SHORT]))
    assert S.peak_window(saline) == 0
    assert S.readouts(saline)["rate_change_pyr"] == 0.0 and S.readouts(saline)["release_fraction_change"] == 0.0


@pytest.mark.parametrize(
    ("override", "field", "words"),
    [
        ("sensitivity.method=fast", "sensitivity.method", "allowed: morris, sobol"),
        ("sensitivity.levels=5", "sensitivity.levels", "even"),
        ("sensitivity.samples=1", "sensitivity.samples", ">= 2"),
        ("sensitivity.parameters=[]", "sensitivity.parameters", "non-empty"),
        (
            "sensitivity.parameters=[{key: plasticity.bdnf_gian, low: 1, high: 2}]",
            "sensitivity.parameters.0.key",
            "not a numeric key",
        ),
        (
            "sensitivity.parameters=[{key: plasticity.enabled, low: 0, high: 1}]",
            "sensitivity.parameters.0.key",
            "not a numeric key",
        ),
        ("sensitivity.parameters=[{key: seed, low: 1, high: 9}]", "sensitivity.parameters.0.key", "noise_floor"),
        (
            "sensitivity.parameters=[{key: plasticity.bdnf_gain, low: 2, high: 2}]",
            "sensitivity.parameters.0.high",
            "> low",
        ),
        (
            "sensitivity.parameters=[{key: plasticity.bdnf_gain, low: 2}]",
            "sensitivity.parameters.0",
            "key: <config key>",
        ),
        (
            "sensitivity.parameters=[{key: plasticity.bdnf_gain, low: 1, high: 2}, {key: plasticity.bdnf_gain, low: 3, high: 4}]",
            "sensitivity.parameters.1.key",
            "twice",
        ),
    ],
)
def test_bad_settings_are_one_line_naming_the_field(override, field, words):
    with pytest.raises(ConfigError, match=rf"^{field}: .*{words}"):
        sensitivity_config(override)


def test_a_course_too_short_for_the_day_7_readout_is_refused():
    with pytest.raises(
        ConfigError, match=r"^dosing.follow_days: .*7 days after the first dose; the course ends on day 3"
    ):
        sensitivity_config("dosing.follow_days=3")


@pytest.mark.slow
def test_a_seed_that_the_noise_floor_replaces_is_refused():
    from ketamine_sim.experiments.app import check_overrides

    with pytest.raises(ConfigError, match=r"^seed: nothing reads it: with sensitivity.noise_floor"):
        check_overrides([*BASE, "seed=3"])
    check_overrides([*BASE, "seed=3", "sensitivity.noise_floor=false"])


def test_sobol_needs_a_power_of_two():
    with pytest.raises(ConfigError, match=r"^sensitivity.samples: must be a power of 2"):
        sensitivity_config("sensitivity.method=sobol", "sensitivity.samples=12")


def test_a_range_outside_a_key_s_allowed_values_is_refused_before_any_run():
    from ketamine_sim.experiments.kinds import validate

    cfg = compose_config(
        [*BASE, "sensitivity.parameters=[{key: neurochemistry.a1_max_inhibition, low: 0.5, high: 1.5}]"]
    )
    with pytest.raises(
        ConfigError, match=r"^sensitivity.parameters.0: its range gives neurochemistry.a1_max_inhibition=1.5"
    ):
        validate(cfg)


def in_workers(runs):
    """The Python API's way to run the samples: worker processes (stand-in windows)."""
    from ketamine_sim.experiments.scoring.scorecard import execute

    execute(runs, fake_configured_run, 1, label="sensitivity")


@pytest.mark.slow
def test_a_sensitivity_analysis_runs_writes_its_tables_and_resumes(tmp_path, caplog):
    one = "sensitivity.parameters=[{key: neurochemistry.adenosine_gain, low: 0.5, high: 2}]"
    cfg = sensitivity_config(one, "sensitivity.samples=2", *WEEK)
    path = S.run_sensitivity(cfg, tmp_path, in_workers, F.sensitivity)
    table = pd.read_csv(path)
    assert set(table["parameter"]) == {"neurochemistry.adenosine_gain", "seed"}
    assert set(table["readout"]) <= set(S.READOUTS) and {"mu_star", "mu_star_conf", "sigma", "rank", "share"} <= set(
        table
    )
    samples = pd.read_csv(tmp_path / S.SAMPLES)
    assert len(samples) == 6 and set(S.READOUTS) <= set(samples)
    assert (tmp_path / "sensitivity.png").is_file() and len(list((tmp_path / "samples").glob("*/results.h5"))) == 6
    caplog.set_level("INFO")
    again = S.run_sensitivity(cfg, tmp_path, in_workers)
    assert "sensitivity: 6 runs, 6 already finished" in caplog.text
    pd.testing.assert_frame_equal(pd.read_csv(again), table)


def test_the_figure_marks_the_noise_floor():
    table = pd.DataFrame(
        {
            "readout": ["glutamate_peak"] * 3 + ["outcome_day_1"] * 3,
            "parameter": ["a", "b", "seed"] * 2,
            "share": [0.7, 0.1, 0.2, 0.3, 0.6, 0.1],
        }
    )
    fig = F.sensitivity(table, "morris")
    ax = fig.axes[0]
    hatched = [p for p in ax.patches if p.get_gid() == "below_noise"]
    assert [(p.get_x() + 0.5, p.get_y() + 0.5) for p in hatched] == [(1.0, 0.0)]  # b on glutamate_peak
    assert [p.get_x() + 0.5 for p in ax.patches if p.get_gid() == "seed_column"] == [2.0]
    assert "mu*" in fig.axes[1].get_ylabel()


def test_a_readout_undefined_in_some_run_gets_no_indices(caplog):
    cfg = sensitivity_config(TWO, "sensitivity.samples=2")
    X = S.design(cfg)
    samples = pd.DataFrame({name: X[:, 0] for name in S.READOUTS})
    samples.loc[3, "rate_change_sst"] = np.nan  # silent at baseline in one run
    table = S.analyse(cfg, X, samples)
    sst = table[table["readout"] == "rate_change_sst"]
    assert len(sst) == 3 and (sst["runs_undefined"] == 1).all() and sst["share"].isna().all()
    assert "rate_change_sst is undefined in 1 of 8 runs" in caplog.text
    pyr = table[table["readout"] == "rate_change_pyr"].set_index("parameter")
    assert pyr.loc["plasticity.bdnf_gain", "rank"] == 1 and (table["runs_undefined"] == 0).sum() == 3 * (
        len(S.READOUTS) - 1
    )
    fig = F.sensitivity(table, "morris", parameters=S.problem(cfg)["names"])
    assert [t.get_text() for t in fig.axes[0].texts if t.get_gid() == "undefined"] == [
        "undefined in 1 runs: no indices"
    ]


def test_the_command_runs_a_sensitivity_analysis_of_compiled_courses(ketamine_sim):
    """``ketamine-sim experiment=sensitivity``: one parameter over two trajectories (four short
    courses in two worker processes on one compiled circuit); the tables and the figure."""
    run = ketamine_sim(
        "experiment=sensitivity",
        "circuit=small",
        "sensitivity.parameters=[{key: neurochemistry.adenosine_gain, low: 0.5, high: 2}]",
        "sensitivity.samples=2",
        "sensitivity.noise_floor=false",
        "sensitivity.n_jobs=2",
        # the window at +20 min measures the glutamate that drives the adenosine of the next
        "course.windows_per_dose_min=[-10,20,40]",
        *WEEK[1:],
    )
    assert run.returncode == 0, run.stderr[-3000:]
    table = pd.read_csv(run.run_dir / S.TABLE)
    assert set(table["parameter"]) == {"neurochemistry.adenosine_gain"} and len(table) == len(S.READOUTS)
    samples = pd.read_csv(run.run_dir / S.SAMPLES)
    assert len(samples) == 4 and samples["glutamate_peak"].gt(0).all()
    assert (run.run_dir / "sensitivity.png").is_file()
    assert samples["release_fraction_change"].lt(0).all()  # the adenosine feedback lowers release ...
    adenosine = samples.groupby("neurochemistry.adenosine_gain")["release_fraction_change"].mean()
    assert len(adenosine) > 1 and adenosine.iloc[-1] < adenosine.iloc[0]  # ... the more, the larger its gain
    assert "sensitivity: release_fraction_change is decided most by neurochemistry.adenosine_gain" in run.stdout
