"""The scorecard: target comparisons, record validation, a tiny scorecard with a known-good and
a deliberately wrong record, resuming it, and checking a record against existing runs."""

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from ketamine_sim.experiments.scoring.scorecard import RecordError, check_record, compare, load_records, scorable

GOOD = {
    "id": "C1",
    "finding": "pyramidal cells fire more",
    "source": "Homayoun 2007 J Neurosci",
    "condition": {"drug": "racemic"},
    "observable": "rate_change_pyr",
    "target": {"sign": "positive"},
    "tolerance": None,
    "tolerance_note": "sign only",
    "status": "tested",
    "role": "validation",
    "checked_by": [],
}
WRONG = dict(GOOD, id="C1_WRONG", target={"sign": "negative"})


def record(**target):
    return {"id": "X", "_file": "x.yaml", "target": target, "tolerance": target.pop("tolerance", None)}


@pytest.mark.parametrize(
    "target,value,passed",
    [
        ({"sign": "positive"}, 0.3, True),
        ({"sign": "positive"}, -0.1, False),
        ({"sign": "negative"}, -0.3, True),
        ({"sign": "negative"}, 0.0, False),
        ({"sign": "none"}, 0.1, True),
        ({"sign": "none"}, -0.4, False),
        ({"range": [10, 30], "tolerance": 0}, 12.0, True),
        ({"range": [10, 30], "tolerance": 0}, 31.0, False),
        ({"range": [10, 30], "tolerance": 2}, 31.0, True),
        ({"value": 37.8, "tolerance": 7.5}, 30.5, True),
        ({"value": 37.8, "tolerance": 7.5}, 29.0, False),
    ],
)
def test_compare_scalar_targets(target, value, passed):
    assert compare(record(**target), value)[0] is passed


def test_compare_orderings_with_tie_groups():
    r = record(ordering=[[0.5, 1.0], [0.1, 0.2]])
    assert compare(r, {0.1: 0.0, 0.2: 0.01, 0.5: 0.05, 1.0: 0.08}) == (True, pytest.approx(0.04))
    assert compare(r, {0.1: 0.0, 0.2: 0.06, 0.5: 0.05, 1.0: 0.08})[0] is False


def test_distance_grows_outside_the_target():
    r = record(value=10.0, tolerance=1.0)
    assert compare(r, 13.0)[1] > compare(r, 11.5)[1] > compare(r, 10.2)[1]


def write_seeds(folder: Path, records) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "records.yaml").write_text(yaml.safe_dump(records, sort_keys=False))
    return folder


def test_the_project_records_load_and_the_scorable_ones_are_known():
    ids = {r["id"] for r in scorable(load_records())}
    assert {"C1", "C2", "A1", "A2", "S1", "S3", "S4", "K3", "K4"} <= ids


@pytest.mark.parametrize(
    "broken,field",
    [
        ({k: v for k, v in GOOD.items() if k != "target"}, "target"),
        (dict(GOOD, target={"sign": "up"}), "target.sign"),
        (dict(GOOD, target={"sign": "positive", "value": 1}), "target"),
        ({k: v for k, v in GOOD.items() if k != "role"}, "role"),
        (dict(GOOD, role="evidence"), "role"),
    ],
)
def test_a_malformed_record_names_its_file_and_field(tmp_path, broken, field):
    folder = write_seeds(tmp_path / "seeds", [GOOD, broken])
    with pytest.raises(RecordError, match=rf"records.yaml: record C1: .*'{field}'"):
        load_records(folder)


def test_validation_is_reported_first_and_calibration_apart(tmp_path):
    from ketamine_sim.experiments.scoring.scorecard import write

    def row(finding, role, passed):
        return {
            "finding": finding,
            "role": role,
            "hypothesis": "default",
            "passed": passed,
            "value": "0.1",
            "target": "sign positive",
            "distance": 0.1,
            "seed_spread": 0.0,
            "n_seeds": 1,
            "observable": "x",
            "unit": "1",
        }

    rows = [row("C1", "calibration", True), row("K3", "validation", False), row("S3", "validation", True)]
    drawn = {}
    write(rows, tmp_path, heat_map=lambda table, path: drawn.setdefault("findings", list(table["finding"])))
    text = (tmp_path / "scorecard.md").read_text()
    assert "validation: 1 of 2 cells pass; calibration (reproduces what it was fitted to): 1 of 1" in text
    assert text.index("## Validation") < text.index("| K3 ") < text.index("## Calibration") < text.index("| C1 ")
    assert list(pd.read_csv(tmp_path / "scorecard.csv")["finding"]) == ["K3", "S3", "C1"]
    assert drawn["findings"] == ["K3 (val.)", "S3 (val.)", "C1 (cal.)"]


def test_the_project_scorecard_has_evidence_of_both_roles():
    roles = {r["id"]: r["role"] for r in scorable(load_records())}
    assert roles["C1"] == "calibration" and roles["S1"] == "calibration"  # parameters were set from them
    assert roles["K3"] == "validation" and roles["C4"] == "validation"
    assert roles["S4"] == "calibration"  # the plasticity drive is defined so that NBQX lowers it


def test_unknown_record_ids_are_refused(tmp_path):
    with pytest.raises(RecordError, match="scorecard.records"):
        scorable(load_records(), ["C1", "Z9"])


@pytest.fixture(scope="module")
def tiny_scorecard(build_cache, tmp_path_factory):
    """default hypothesis, one seed, a known-good and a deliberately wrong record (one iv run)."""
    root = tmp_path_factory.mktemp("scorecard")
    seeds = write_seeds(root / "seeds", [GOOD, WRONG])
    out = root / "out"

    def run(*extra, folder=out):
        env = dict(os.environ, KETAMINE_SIM_CACHE=str(build_cache), MPLBACKEND="Agg")
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "ketamine_sim.experiments.app",
                "experiment=scorecard",
                "circuit=small",
                "backend.threads=1",
                "scorecard.hypotheses=[default]",
                "scorecard.seeds=[1]",
                f"scorecard.seeds_dir={seeds}",
                f"hydra.run.dir={folder}",
                *extra,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=900,
        )

    first = run()
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    return out, seeds, run


@pytest.mark.compiles
def test_good_record_passes_and_wrong_record_fails(tiny_scorecard):
    out, _, _ = tiny_scorecard
    table = pd.read_csv(out / "scorecard.csv")
    assert {"finding", "hypothesis", "passed", "value", "target", "distance", "seed_spread"} <= set(table.columns)
    result = table.set_index("finding")["passed"]
    assert bool(result["C1"]) is True and bool(result["C1_WRONG"]) is False
    assert (out / "scorecard.md").read_text().count("| PASS") == 1
    assert (out / "scorecard.png").exists() and (out / "scorecard.svg").exists()


@pytest.mark.compiles
def test_a_rerun_reuses_finished_runs(tiny_scorecard):
    out, _, run = tiny_scorecard
    results = sorted(out.glob("runs/**/results.h5"))
    assert len(results) == 1  # both records share the one iv_infusion run
    before = results[0].stat().st_mtime_ns
    again = run()
    assert again.returncode == 0
    assert results[0].stat().st_mtime_ns == before
    assert "1 already finished" in again.stdout + again.stderr
    # the run was a job of the command's launcher (hydra/launcher=local): Hydra's files beside it
    run_folder = results[0].parent
    assert (run_folder / ".hydra" / "overrides.yaml").exists() and (run_folder / "job_status.json").exists()


@pytest.mark.compiles
def test_the_scorecard_runs_through_submitit_and_resumes(tiny_scorecard, tmp_path):
    """hydra/launcher=local_submitit: the cluster path (pickled jobs in processes of their own)."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="the cluster extra is not installed")
    out, _, run = tiny_scorecard
    first = run("hydra/launcher=local_submitit", folder=tmp_path)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert (tmp_path / ".submitit").is_dir()
    table, reference = pd.read_csv(tmp_path / "scorecard.csv"), pd.read_csv(out / "scorecard.csv")
    assert table["value"].tolist() == reference["value"].tolist()  # the same runs as the local launcher's
    (result,) = tmp_path.glob("runs/**/results.h5")
    before = result.stat().st_mtime_ns
    again = run("hydra/launcher=local_submitit", folder=tmp_path)
    assert again.returncode == 0 and "1 already finished" in again.stdout + again.stderr
    assert result.stat().st_mtime_ns == before


@pytest.mark.compiles
def test_a_record_is_checked_against_existing_runs_without_simulating(tiny_scorecard, tmp_path):
    out, seeds, _ = tiny_scorecard
    good, wrong = check_record("C1", out / "runs", seeds), check_record("C1_WRONG", out / "runs", seeds)
    assert good["passed"] is True and wrong["passed"] is False and good["value"] > 0
    with pytest.raises(RecordError, match="no run .* matches condition"):
        check_record("C1", tmp_path, seeds)


def test_runs_inherit_every_backend_setting_of_the_command_line():
    """The backend keys the scorecard accepts reach its runs (defaults left out: run folders
    keep their names)."""
    from ketamine_sim.experiments.api import compose_config
    from ketamine_sim.experiments.scoring.scorecard import inherited_overrides

    default = inherited_overrides(compose_config(["experiment=scorecard", "circuit=small"]))
    assert default == ["circuit=small", "backend.threads=1", "output.figure=false"]
    changed = inherited_overrides(
        compose_config(
            [
                "experiment=scorecard",
                "circuit=small",
                "backend.threads=2",
                "backend.cache_dir=/tmp/builds",
                "backend.direct=false",
                "backend.wait_policy=passive",
                "backend.vectorise=false",
            ]
        )
    )
    assert changed == [
        "circuit=small",
        "backend.threads=2",
        "output.figure=false",
        "backend.cache_dir=/tmp/builds",
        "backend.direct=false",
        "backend.wait_policy=passive",
        "backend.vectorise=false",
    ]


def test_with_several_seeds_the_interval_decides_a_sign():
    from ketamine_sim.experiments.scoring.scorecard import judge

    positive = record(sign="positive")
    assert judge(positive, [0.4])["decided_by"] == "one seed" and judge(positive, [0.4])["passed"]
    straddling = judge(positive, [0.5, -0.3, 0.4, 0.45, -0.2])  # mean 0.17 > 0, interval not
    assert straddling["passed"] is False and straddling["ci_low"] < 0 < straddling["ci_high"]
    assert straddling["decided_by"] == "interval"
    assert judge(positive, [0.3, 0.32, 0.29, 0.31, 0.3])["passed"] is True
    none = record(sign="none")
    assert judge(none, [0.01, -0.02, 0.0])["passed"] is True
    assert judge(none, [0.2, 0.3, 0.1])["passed"] is False  # mean 0.2 inside the band, interval not


def test_an_ordering_passes_when_the_interval_of_its_smallest_gap_is_above_zero():
    from ketamine_sim.experiments.scoring.scorecard import judge

    r = record(ordering=["a", "b"])
    clear = [{"a": 1.0 + e, "b": 0.5} for e in (0.0, 0.05, -0.05)]
    assert judge(r, clear)["passed"] is True and judge(r, clear)["ci_low"] > 0
    crossing = [{"a": 1.0, "b": 0.5}, {"a": 0.4, "b": 0.5}, {"a": 1.0, "b": 0.5}]
    assert judge(r, crossing)["passed"] is False


def test_a_value_target_reports_its_distance_in_tolerances():
    from ketamine_sim.experiments.scoring.scorecard import judge

    r = record(value=37.8, tolerance=7.5)
    verdict = judge(r, [28.0, 30.0, 29.0])
    assert verdict["passed"] is False and verdict["decided_by"] == "mean"
    assert verdict["distance_in_tolerances"] == pytest.approx(8.8 / 7.5)
    assert judge(r, [36.0, 38.0])["distance_in_tolerances"] == pytest.approx(0.8 / 7.5)  # inside: <= 1
    assert judge(record(range=[10, 30], tolerance=2), [20.0, 25.0])["distance_in_tolerances"] == 0.0


def test_a_seed_without_a_value_fails_the_cell():
    from ketamine_sim.experiments.scoring.scorecard import judge

    verdict = judge(record(sign="positive"), [0.3, float("nan"), 0.5, 0.4, 0.6])
    assert verdict["passed"] is False and verdict["decided_by"] == "non-finite seed"


def test_the_likelihood_of_a_reported_mean_under_the_seed_distribution():
    """log N(target; mean over seeds, var between seeds / n + reported_sd^2), checked against
    the density written out; NaN without a reported spread."""
    from ketamine_sim.experiments.scoring.scorecard import log_likelihood

    record = {"target": {"value": 37.8}, "reported_sd": 7.5}
    values = [28.0, 30.0, 32.0]
    variance = np.var(values, ddof=1) / 3 + 7.5**2  # 4 / 3 + 56.25
    expected = -0.5 * np.log(2 * np.pi * variance) - (37.8 - 30.0) ** 2 / (2 * variance)
    assert log_likelihood(record, values) == pytest.approx(expected, rel=1e-12)
    assert math.isnan(log_likelihood({"target": {"value": 37.8}}, values))
    assert math.isnan(log_likelihood({"target": {"sign": "positive"}, "reported_sd": 1.0}, values))
    assert math.isnan(log_likelihood(record, [30.0, math.nan]))


def test_scorecard_md_ranks_the_hypotheses_by_likelihood(tmp_path):
    from ketamine_sim.experiments.scoring.scorecard import write

    def row(hypothesis, ll):
        return {
            "finding": "C4",
            "role": "validation",
            "hypothesis": hypothesis,
            "passed": True,
            "value": "30",
            "target": "37.8 +/- 7.5 percent",
            "n_seeds": 5,
            "log_likelihood": ll,
        }

    write([row("default", -3.5), row("combined", -3.1), row("hnk_ampa", -4.0)], tmp_path)
    text = (tmp_path / "scorecard.md").read_text()
    section = text[text.index("## Likelihood") :]
    assert (
        section.index("| 1 | combined | -3.100 | 1 |")
        < section.index("| 2 | default")
        < section.index("| 3 | hnk_ampa")
    )
    write([row("default", -3.5), row("combined", math.nan)], tmp_path / "gap")
    gap = (tmp_path / "gap" / "scorecard.md").read_text()
    assert "| 1 | default | -3.500 | 1 |" in gap and "| 2 | combined | 0.000 (incomplete) | 0 |" in gap
    write([{**row("default", math.nan)}], tmp_path / "none")
    assert "## Likelihood" not in (tmp_path / "none" / "scorecard.md").read_text()


# -- findings scored from virtual patient cohorts (K1, K2, K5) ---------------------------------

COHORT_RECORDS = ("K1", "K2", "K5")


def _cohort_plan(tmp_path, hypotheses=("default", "combined"), seeds=(1, 2)):
    from ketamine_sim.experiments.scoring.scorecard import plan

    records = scorable(load_records(), list(COHORT_RECORDS))
    return records, plan(records, list(hypotheses), list(seeds), ["circuit=small"], tmp_path, cohort_patients=4)


def test_cohort_findings_share_one_cohort_per_hypothesis_and_seed(tmp_path):
    """K1, K2 and K5 read one cohort each per (hypothesis, seed): the seed draws the patients
    (cohort.seed; a top-level seed= is refused by a cohort) and each composes and validates."""
    from ketamine_sim.experiments.config import check_overrides, validate

    _, planned = _cohort_plan(tmp_path)
    runs = set(planned.values())
    assert len(runs) == 4
    for run in runs:
        given = dict(o.split("=", 1) for o in run.overrides)
        assert given["experiment"] == "cohort" and given["cohort.n_patients"] == "4"
        assert given["cohort.seed"] == str(run.seed) and "seed" not in given
        assert given["hypothesis"] == run.hypothesis
    check_overrides(list(next(iter(runs)).overrides), validate=validate)


def _write_cohort(directory: Path, onsets_h, relapse_days, placebo) -> None:
    """A cohort's summary from patients with the given outcomes (NaN onset: no response)."""
    from ketamine_sim.experiments.cohort import SUMMARY, summary

    rows = pd.DataFrame(
        {
            "responded": [float(np.isfinite(h)) for h in onsets_h],
            "onset_h": onsets_h,
            "response_day_1": [float(np.isfinite(h) and h <= 24) for h in onsets_h],
            "response_after_last_dose": [float(np.isfinite(h) and h <= 24) for h in onsets_h],
            "relapsed": [float(np.isfinite(d)) for d in relapse_days],
            "days_to_relapse": [d if np.isfinite(d) else 14.0 for d in relapse_days],
            "placebo_responder": placebo,
        }
    )
    directory.mkdir(parents=True, exist_ok=True)
    summary(rows).to_csv(directory / SUMMARY, index=False)


def test_cohort_findings_are_read_from_each_cohorts_summary(tmp_path):
    """A model whose patients respond within hours and relapse after a week meets K1, K2 and K5;
    one where nobody responds through the model has no onset or relapse (K1, K2 fail) and equal
    arms (K5 fails)."""
    from ketamine_sim.experiments.scoring.scorecard import score

    records, planned = _cohort_plan(tmp_path)
    nan = float("nan")
    for run in set(planned.values()):
        if run.hypothesis == "default":  # 3 of 4 respond at 4-6 h, relapse at 6-8 days
            _write_cohort(run.directory, [4.0, 5.0 + run.seed, 6.0, nan], [6.0, 7.0, 8.0, nan], [0, 0, 0, 1])
        else:  # nobody through the model; one placebo responder
            _write_cohort(run.directory, [nan] * 4, [nan] * 4, [1, 0, 0, 0])
    rows = {(r["finding"], r["hypothesis"]): r for r in score(records, ["default", "combined"], [1, 2], planned)}
    assert rows[("K1", "default")]["passed"] and rows[("K1", "default")]["value"] == "6"  # median 6 h in both cohorts
    assert rows[("K2", "default")]["passed"] and rows[("K2", "default")]["unit"] == "day"
    assert rows[("K5", "default")]["passed"]
    assert not any(rows[(k, "combined")]["passed"] for k in COHORT_RECORDS)
    assert rows[("K5", "combined")]["value"] == "racemic: 0.25; active placebo: 0.25"


def test_a_cohort_is_finished_when_its_summary_is_written(tmp_path):
    from ketamine_sim.experiments.scoring.scorecard import _finished

    _, planned = _cohort_plan(tmp_path, hypotheses=("default",), seeds=(1,))
    (run,) = set(planned.values())
    assert not _finished(run)
    _write_cohort(run.directory, [4.0], [6.0], [0])
    assert _finished(run)


def test_a_cohort_finding_is_not_checked_against_single_runs(tmp_path):
    with pytest.raises(RecordError, match="virtual patient cohorts; score it with experiment=scorecard"):
        check_record("K5", tmp_path)


def test_the_clinical_findings_are_scored_from_compiled_cohorts(ketamine_sim):
    """K1, K2 and K5 from virtual cohorts of compiled courses (3 patients of cohort.seed 2, one
    0.5 mg/kg infusion; each cohort a job of the scorecard's launch, its patients one after
    another). The values are the cohorts' summaries. Pinned model results: under the default
    hypothesis the mood proxy of no patient reaches the response line (no onset to time, no
    relapse, equal arms on day 1: the documented misses of K1, K2, K5); under
    disinhibition_sst one patient responds within hours and relapses days later, on top of
    the placebo arm."""
    run = ketamine_sim(
        "experiment=scorecard",
        "circuit=small",
        "backend.threads=1",
        "scorecard.hypotheses=[default,disinhibition_sst]",
        "scorecard.seeds=[2]",
        "scorecard.records=[K1,K2,K5]",
        "scorecard.cohort_patients=3",
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    table = pd.read_csv(run.run_dir / "scorecard.csv").set_index(["finding", "hypothesis"])
    for hypothesis in ("default", "disinhibition_sst"):
        (path,) = run.run_dir.glob(f"runs/{hypothesis}/seed2/cohort-*/cohort_summary.csv")
        summary = pd.read_csv(path).set_index("measure")["value"]
        assert len(pd.read_csv(path.parent / "cohort.csv")) == 3
        day_1 = (
            f"racemic: {summary['drug_arm_response_day_1_rate']:.3g}; active placebo: {summary['placebo_arm_rate']:.3g}"
        )
        assert table.loc[("K5", hypothesis), "value"] == day_1
        if hypothesis == "default":
            assert math.isnan(summary["median_onset_h"]) and math.isnan(summary["median_days_to_relapse"])
            assert not table.xs(hypothesis, level="hypothesis")["passed"].any()
        else:
            assert float(table.loc[("K1", hypothesis), "value"]) == pytest.approx(summary["median_onset_h"], rel=1e-2)
            assert float(table.loc[("K2", hypothesis), "value"]) == pytest.approx(
                summary["median_days_to_relapse"], rel=1e-2
            )
            assert table.xs(hypothesis, level="hypothesis")["passed"].all()
