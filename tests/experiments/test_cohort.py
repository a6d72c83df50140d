"""The virtual patient cohort (experiments/cohort.py): who the patients are, that each is a
valid course of its own, the outcome definitions, the statistics (Wilson, Kaplan-Meier from
lifelines) and a whole cohort with stand-in windows (run, tables, figure, resume)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers.fake_engine import fake_configured_run

from ketamine_sim.circuits.slow.pk_variability import individual
from ketamine_sim.experiments import cohort
from ketamine_sim.experiments import config as C
from ketamine_sim.experiments import figures as F
from ketamine_sim.experiments.config import compose_config

BASE = ["experiment=cohort", "circuit=small", "pk=perez_ruixo2021", "dosing.follow_days=3"]


def cohort_config(*overrides):
    cfg = compose_config([*BASE, *overrides])
    C.validate(cfg)
    return cfg


def test_a_patient_is_the_same_whatever_the_cohorts_size():
    three = cohort.draw_patients(cohort_config("cohort.n_patients=3"))
    five = cohort.draw_patients(cohort_config("cohort.n_patients=5"))
    assert three == five[:3]
    assert len({p.seed for p in five}) == 5
    other = cohort.draw_patients(cohort_config("cohort.n_patients=3", "cohort.seed=2"))
    assert [p.seed for p in other] != [p.seed for p in three]


def test_each_patient_is_a_valid_course_with_its_draws():
    cfg = cohort_config("cohort.n_patients=2")
    for patient in cohort.draw_patients(cfg):
        course = cohort.patient_config(cfg, patient)
        C.validate(course)
        assert course.experiment.name == "course" and "cohort" not in course and course.seed == patient.seed
        person = individual(C.pk_parameters(cfg), patient.pk_etas)
        assert C.pk_parameters(course) == person
        assert {k: course.state[k] for k in cohort.STATE_KEYS} == patient.state


@pytest.mark.slow
def test_severity_and_gains_spread_as_configured():
    cfg = cohort_config("cohort.n_patients=4000", "cohort.state_spread=0.3", "cohort.plasticity_spread=0.2")
    patients = cohort.draw_patients(cfg)
    # x_i = x^exp(eta): log(log x_i / log x) = eta
    deviation = np.log([math.log(p.state["ee_weight_scale"]) / math.log(cfg.state.ee_weight_scale) for p in patients])
    assert all(0 < p.state["ee_weight_scale"] < 1 and p.state["elimination_scale"] > 1 for p in patients)
    gains = np.log([p.plasticity["bdnf_gain"] / cfg.plasticity.bdnf_gain for p in patients])
    assert deviation.std() == pytest.approx(math.sqrt(math.log(1 + 0.3**2)), rel=0.05)
    assert gains.std() == pytest.approx(math.sqrt(math.log(1 + 0.2**2)), rel=0.05)
    placebo = np.mean([p.placebo_responder for p in patients])
    assert placebo == pytest.approx(cfg.cohort.placebo_response, abs=4 * math.sqrt(0.28 * 0.72 / 4000))
    none = cohort.draw_patients(cohort_config("cohort.n_patients=3", "cohort.state_spread=0"))
    assert all(p.state["ee_weight_scale"] == pytest.approx(cfg.state.ee_weight_scale) for p in none)


def test_each_part_of_a_patient_stays_whatever_the_others():
    """Another pk model (another spread between people, none) changes only the pk draws: the
    seed, severity, gains and placebo response of patient i stay."""
    nasal = cohort.draw_patients(cohort_config("cohort.n_patients=4"))
    iv = cohort.draw_patients(cohort_config("cohort.n_patients=4", "pk=domino1984"))
    for a, b in zip(nasal, iv):
        assert (a.seed, a.state, a.plasticity, a.placebo_responder) == (
            b.seed,
            b.state,
            b.plasticity,
            b.placebo_responder,
        )
        assert a.pk_etas and not b.pk_etas
    fewer = cohort.draw_patients(cohort_config("cohort.n_patients=4", "pk.iiv.liver_volume=0"))
    assert [p.pk_etas["central_volume"] for p in fewer] == [p.pk_etas["central_volume"] for p in nasal]


def test_a_draw_outside_the_ranges_is_refused_before_any_run():
    from ketamine_sim.experiments.errors import ConfigError
    from ketamine_sim.experiments.kinds import validate

    with pytest.raises(ConfigError, match=r"cohort.plasticity_spread: patient \d+'s draw is out of range"):
        validate(cohort_config("cohort.n_patients=200", "cohort.plasticity_spread=2"))


def test_the_top_level_seed_is_not_a_cohort_setting():
    from ketamine_sim.experiments.config.compose import check_overrides
    from ketamine_sim.experiments.errors import ConfigError

    with pytest.raises(ConfigError, match="seed: nothing reads it in experiment=cohort: every patient draws"):
        check_overrides(["experiment=cohort", "seed=7"], validate=C.validate)


def test_a_changed_setting_is_a_new_run_folder():
    a = cohort.plan(cohort_config("cohort.n_patients=2"), Path("/x"))
    b = cohort.plan(cohort_config("cohort.n_patients=2", "dosing.dose_mg_per_kg=1.0"), Path("/x"))
    assert [r.directory for _, r in a] != [r.directory for _, r in b]
    assert a[0][1].directory.name.startswith("patient000000-")
    # settings that change no run keep the folders: the cache, the wait policy, a float for an int
    same = cohort.plan(
        cohort_config("cohort.n_patients=2", "backend.cache_dir=/elsewhere", "dosing.follow_days=3.0"), Path("/x")
    )
    assert [r.directory for _, r in same] == [r.directory for _, r in a]


def test_a_responder_followed_to_the_end_is_censored():
    day = 86400.0
    timeline = {
        "time_from_dose_s": np.array([-1.0, 0.0, 1.0, 2.0, 5.0]) * day,
        "outcome": np.array([0.6, 0.6, 0.9, 0.9, 0.85]),
        "spine_density": np.ones(5),
    }
    o = cohort.outcome(timeline, [0.0], 0.5)
    assert o["responded"] == 1 and o["relapsed"] == 0 and o["days_to_relapse"] == 5.0
    never = cohort.outcome({**timeline, "outcome": np.full(5, 0.6)}, [0.0], 0.5)
    assert never["responded"] == 0 and math.isnan(never["days_to_relapse"]) and never["peak_gap_closed"] == 0


def test_kaplan_meier_median_and_wilson_interval():
    # Of the four responding a day after the last dose, relapse at 2, 4 and 8 days, one censored
    # at 6: S(2) = 3/4, S(4) = 3/4 x 2/3 = 1/2, so the median (first time S <= 1/2) is day 4.
    rows = pd.DataFrame(
        {
            "responded": [1, 1, 1, 1, 0],
            "onset_h": [20.0, 30.0, 50.0, 90.0, np.nan],
            "days_to_relapse": [2.0, 4.0, 6.0, 8.0, np.nan],
            "relapsed": [1, 1, 0, 1, 0],
            "response_day_1": [1, 0, 1, 0, 0],
            "response_after_last_dose": [1, 1, 1, 1, 0],
            "peak_gap_closed": [0.6, 0.7, 0.8, 0.9, 0.1],
            "placebo_responder": [0, 1, 0, 0, 1],
        }
    )
    stats = cohort.summary(rows).set_index("measure")
    # the drug arm responds when the model or the placebo response does; the placebo arm alone
    assert stats.loc["placebo_arm_rate", "value"] == 0.4
    assert stats.loc["drug_arm_response_day_1_rate", "value"] == 0.8  # patients 0, 1, 2 and 4
    assert stats.loc["drug_arm_response_after_last_dose_rate", "value"] == 1.0
    # the same patients in both arms: the difference is who responds through the model alone
    assert stats.loc["drug_minus_placebo_response_day_1", "value"] == 0.4  # patients 0 and 2
    assert stats.loc["drug_minus_placebo_response_after_last_dose", "value"] == 0.6
    assert stats.loc["median_days_to_relapse", "value"] == 4.0
    assert stats.loc["median_days_to_relapse", "n"] == 4
    assert stats.loc["responded_rate", "value"] == 0.8
    # onset among the four the model makes respond: median 40 h, range 20-90 h
    assert stats.loc["median_onset_h", ["value", "ci_low", "ci_high", "n"]].tolist() == [40.0, 20.0, 90.0, 4]
    low, high = cohort.wilson_interval(4, 5)
    # Wilson: (p + z^2/2n -/+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n), z = 1.959964
    z, p, n = 1.959964, 0.8, 5
    centre, half = (
        (p + z * z / (2 * n)) / (1 + z * z / n),
        z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n),
    )
    assert (low, high) == pytest.approx((centre - half, centre + half), abs=1e-6)
    fig = F.cohort(rows, cohort.kaplan_meier(rows), 0.5)
    assert fig.axes[2].get_xlabel() == "days after the last dose"


def in_workers(runs):
    """The Python API's way to run the patients: worker processes (stand-in windows)."""
    from ketamine_sim.experiments.scoring.scorecard import execute

    execute(runs, fake_configured_run, 1, label="cohort")


@pytest.mark.slow
def test_a_cohort_runs_writes_its_tables_and_resumes(tmp_path, caplog):
    cfg = cohort_config("cohort.n_patients=2")
    path = cohort.run_cohort(cfg, tmp_path, in_workers, F.cohort)
    rows = pd.read_csv(path)
    assert list(rows["patient"]) == [0, 1] and set(rows["responded"]) <= {0.0, 1.0}
    stats = pd.read_csv(tmp_path / cohort.SUMMARY)
    assert {"responded_rate", "response_day_1_rate", "response_after_last_dose_rate"} <= set(stats["measure"])
    assert (tmp_path / "cohort.png").is_file() and len(list((tmp_path / "patients").glob("*/results.h5"))) == 2
    caplog.set_level("INFO")
    again = cohort.run_cohort(cfg, tmp_path, in_workers)
    assert "cohort: 2 runs, 2 already finished" in caplog.text
    pd.testing.assert_frame_equal(pd.read_csv(again), rows)


def test_the_command_runs_a_cohort_of_compiled_courses(ketamine_sim):
    """``ketamine-sim experiment=cohort``: two patients in two worker processes on one compiled
    circuit; the tables, the figure and a one-line summary; a rerun resumes."""
    run = ketamine_sim(
        "experiment=cohort", "circuit=small", "cohort.n_patients=2", "cohort.n_jobs=2", "dosing.follow_days=3"
    )
    assert run.returncode == 0, run.stderr[-3000:]
    rows = pd.read_csv(run.run_dir / cohort.TABLE)
    assert len(rows) == 2 and rows["peak_gap_closed"].notna().all()
    assert (run.run_dir / cohort.SUMMARY).is_file() and (run.run_dir / "cohort.png").is_file()
    assert "cohort: 2 patients" in run.stdout + run.stderr


def test_without_a_drug_the_mood_proxy_does_not_move(ketamine_sim):
    """Why the placebo arm needs no runs: a course of saline on the compiled circuit leaves the
    proxy at its baseline (no share of the gap closed)."""
    run = ketamine_sim(
        "experiment=course", "circuit=small", "drug=saline", "dosing.follow_days=3", "output.figure=false"
    )
    assert run.returncode == 0, run.stderr[-3000:]
    from ketamine_sim.experiments.results import read_results

    data = read_results(run.run_dir / "results.h5")
    assert cohort.outcome(data.timeline, [0.0], 0.5)["peak_gap_closed"] == pytest.approx(0.0, abs=1e-6)
