"""Runs launched through the command's Hydra launcher (ketamine_sim.experiments.kinds.launch): each planned
run of the scorecard is a job of ``hydra/launcher=...``, composed by Hydra from its overrides
and kept on a rerun only when its folder holds results of the same config. Stand-in windows
(helpers.fake_engine): no compiler."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path

import pytest
import yaml
from helpers.fake_engine import failing_folder_run, fake_folder_run, interrupted_folder_run
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig

from ketamine_sim.experiments.config import check_overrides
from ketamine_sim.experiments.errors import ConfigError
from ketamine_sim.experiments.kinds.jobs import STATUS_FILE
from ketamine_sim.experiments.kinds.launch import in_hydra_app, launch_configured_runs, launch_runs
from ketamine_sim.experiments.paths import CONFIG_DIR
from ketamine_sim.experiments.results import read_config
from ketamine_sim.experiments.scoring.scorecard import PlannedRun

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def command(*overrides: str):
    """The state of a ``ketamine-sim OVERRIDES`` job: Hydra's config and config loader set."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="config", overrides=list(overrides), return_hydra_config=True)
        HydraConfig.instance().set_config(cfg)
        try:
            yield cfg
        finally:
            HydraConfig.instance().cfg = None


def planned(folder: Path, seed: int, name: str | None = None) -> PlannedRun:
    overrides = (
        "circuit=small",
        "backend.threads=1",
        "output.figure=false",
        "hypothesis=default",
        f"seed={seed}",
        "experiment=bath",
        "bath.concentrations_uM=[0]",
    )
    return PlannedRun("default", seed, overrides, folder / "runs" / (name or f"seed{seed}"))


def stamps(runs) -> list[int]:
    return [(r.directory / "results.h5").stat().st_mtime_ns for r in runs]


def test_outside_the_command_nothing_is_launched():
    assert not in_hydra_app()  # the Python API runs the scorecard in its own worker processes
    with command("experiment=scorecard"):
        assert in_hydra_app()


@pytest.mark.slow
def test_launched_runs_are_jobs_that_resume_by_their_config(tmp_path, caplog):
    runs = [planned(tmp_path, 1), planned(tmp_path, 2)]
    with command("experiment=scorecard", "circuit=small"), caplog.at_level(logging.INFO):
        handlers = list(logging.getLogger().handlers)
        launch_runs(runs, tmp_path, run=fake_folder_run)
        # the jobs ran in this process (n_jobs=1): its config and log handlers are its own again
        assert "experiment=scorecard" in HydraConfig.get().overrides.task
        assert list(logging.getLogger().handlers) == handlers
        for run in runs:
            assert read_config(run.directory / "results.h5")["seed"] == run.seed
            assert yaml.safe_load((run.directory / ".hydra" / "overrides.yaml").read_text()) == list(run.overrides)
            assert json.loads((run.directory / STATUS_FILE).read_text())["status"] == "done"
        assert "2 runs, 0 already finished" in caplog.text and "2 runs launched, 2 finished" in caplog.text
        before = stamps(runs)

        caplog.clear()
        launch_runs(runs, tmp_path, run=fake_folder_run)
        assert "2 runs, 2 already finished" in caplog.text and "launched" not in caplog.text
        assert stamps(runs) == before

        # the same folder planned with another config: its results are not kept for it
        other = planned(tmp_path, 3, name="seed1")
        caplog.clear()
        launch_runs([other, runs[1]], tmp_path, run=fake_folder_run)
        assert "1 already finished" in caplog.text and "written with another config (seed)" in caplog.text
        assert read_config(other.directory / "results.h5")["seed"] == 3
        assert stamps(runs)[1] == before[1]


def _run_with_results_below(cfg, output_dir):
    """A stand-in run that, as a cohort scored by a scorecard does, leaves results of its own
    runs below its folder."""
    fake_folder_run(cfg, output_dir)
    for i in range(3):
        inner = Path(output_dir) / "patients" / f"patient{i}"
        inner.mkdir(parents=True)
        (inner / "results.h5").write_bytes(b"")


@pytest.mark.slow
def test_the_log_counts_the_launched_runs_only(tmp_path, monkeypatch):
    """``run k/N`` counts the launch's own runs as they end, not every results file below the
    folder (a run of runs wrote 3 more each: the count reached N after the first run)."""
    from ketamine_sim.experiments.kinds import launch

    counted = []
    monkeypatch.setattr(
        launch.log, "info", lambda message, *args: counted.append(args[1:3]) if "run %d/%d" in message else None
    )
    runs = [planned(tmp_path, 1), planned(tmp_path, 2)]
    with command("experiment=scorecard", "circuit=small"):
        launch_runs(runs, tmp_path, run=_run_with_results_below)
    assert counted == [(1, 2), (2, 2)]


def test_runs_left_running_by_an_interrupt_are_marked_interrupted(tmp_path):
    """After Ctrl-C the local launcher's workers are ended without recording it: the launch
    marks their runs ``interrupted`` (a finished or failed run keeps its status)."""
    from ketamine_sim.experiments.kinds.jobs import mark_interrupted

    folders = {name: tmp_path / name for name in ("running", "done", "failed", "absent")}
    folders["inner running"] = tmp_path / "done" / "patients" / "patient0"  # a run of a run below it
    for name, folder in folders.items():
        if name != "absent":
            folder.mkdir(parents=True)
            (folder / STATUS_FILE).write_text(json.dumps({"status": name.split()[-1], "job": 3}))
    assert mark_interrupted([folders[n] for n in ("running", "done", "failed", "absent")]) == 2
    status = {n: json.loads((f / STATUS_FILE).read_text()) for n, f in folders.items() if n != "absent"}
    for name in ("running", "inner running"):
        assert status[name]["status"] == "interrupted" and status[name]["job"] == 3 and "ended" in status[name]
    assert status["done"]["status"] == "done" and status["failed"]["status"] == "failed"


def test_a_failed_run_ends_the_launch_after_the_others_finished(tmp_path):
    runs = [planned(tmp_path, 13), planned(tmp_path, 1)]
    with command("experiment=scorecard", "circuit=small"), pytest.raises(RuntimeError, match="on purpose"):
        launch_runs(runs, tmp_path, run=failing_folder_run)
    assert json.loads((runs[0].directory / STATUS_FILE).read_text())["status"] == "failed"
    assert (runs[1].directory / "results.h5").exists()


@pytest.mark.slow
def test_an_interrupt_stops_the_launch_and_says_what_is_kept(tmp_path):
    runs = [planned(tmp_path, 1), planned(tmp_path, 13), planned(tmp_path, 2)]
    with command("experiment=scorecard", "circuit=small"), pytest.raises(KeyboardInterrupt, match="1 of 3"):
        launch_runs(runs, tmp_path, run=interrupted_folder_run)
    assert (runs[0].directory / "results.h5").exists()
    assert not (runs[2].directory / "results.h5").exists()  # joblib stops at the interrupt
    assert json.loads((runs[1].directory / STATUS_FILE).read_text())["status"] == "interrupted"


def test_an_experiments_n_jobs_is_for_the_local_launcher_only():
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="the cluster extra is not installed")
    check_overrides(["experiment=scorecard", "scorecard.n_jobs=2"])
    check_overrides(["experiment=scorecard", "hydra/launcher=local_submitit"])
    for experiment in ("scorecard", "cohort", "sensitivity"):
        with pytest.raises(
            ConfigError, match=rf"^{experiment}.n_jobs: .*hydra/launcher=local; with hydra/launcher=local_"
        ):
            check_overrides([f"experiment={experiment}", f"{experiment}.n_jobs=2", "hydra/launcher=local_submitit"])
    with command("experiment=scorecard", "hydra/launcher=slurm"), pytest.raises(ConfigError, match="launcher=slurm"):
        launch_runs([], Path("unused"), n_jobs=2)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["MULTIRUN", None], ids=["job of a -m sweep", "job of a scorecard's launch"])
def test_in_a_launched_job_the_runs_run_one_after_another(tmp_path, monkeypatch, mode):
    """A scorecard that is itself a job of a -m sweep, or a cohort that is a job of a
    scorecard's launch (Hydra gives such a job no mode): the outer hydra.launcher.n_jobs runs
    the jobs side by side, not again each job's runs (n_jobs null: one process)."""
    runs = [planned(tmp_path, 1), planned(tmp_path, 2)]
    with command("experiment=scorecard", "circuit=small", "hydra.launcher.n_jobs=2") as cfg:
        from hydra.types import RunMode
        from omegaconf import open_dict, read_write

        with read_write(cfg.hydra), open_dict(cfg.hydra):
            cfg.hydra.mode = RunMode[mode] if mode else None
        HydraConfig.instance().set_config(cfg)
        from ketamine_sim.experiments.kinds import launch

        seen, original = [], launch._hydra_overrides
        monkeypatch.setattr(
            launch, "_hydra_overrides", lambda folder, n_jobs: seen.append(n_jobs) or original(folder, n_jobs)
        )
        launch_runs(runs, tmp_path, run=fake_folder_run)
    assert seen == [1] and all((r.directory / "results.h5").exists() for r in runs)


@pytest.mark.slow
def test_a_folder_with_backslashes_and_quotes_is_the_launchs_folder(tmp_path):
    folder = tmp_path / "it's a \\ folder\\"
    runs = [planned(folder, 1)]
    with command("experiment=scorecard", "circuit=small"):
        launch_runs(runs, folder, run=fake_folder_run)
    assert (runs[0].directory / "results.h5").exists()
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]


def task_config(cfg):
    """The config without its ``hydra`` node, as the experiment's kind receives it."""
    from omegaconf import open_dict

    task = cfg.copy()
    with open_dict(task):
        del task["hydra"]
    return task


@pytest.mark.slow
@pytest.mark.parametrize(
    "experiment, extra",
    [
        ("cohort", ["cohort.n_patients=2", "pk=perez_ruixo2021"]),
        (
            "sensitivity",
            [
                "sensitivity.parameters=[{key: neurochemistry.adenosine_gain, low: 0.5, high: 2}]",
                "sensitivity.samples=1",
            ],
        ),
    ],
)
def test_runs_planned_as_whole_configs_are_launched_as_the_command_lines_of_those_configs(
    tmp_path, caplog, experiment, extra
):
    """A cohort's patients and a sensitivity analysis's samples: each job's overrides compose to
    exactly the planned config (its folder's hash), and a rerun keeps them."""
    from ketamine_sim.experiments import cohort, sensitivity
    from ketamine_sim.experiments.scoring.configured_runs import config_digest

    overrides = [f"experiment={experiment}", "circuit=small", "dosing.follow_days=7", *extra]
    with command(*overrides) as cfg:
        task = task_config(cfg)
        if experiment == "cohort":
            runs = [run for _, run in cohort.plan(task, tmp_path)]
        else:
            runs = sensitivity.plan(task, tmp_path)[1]
        launch_configured_runs(task, runs, tmp_path, experiment, run=fake_folder_run)
        for run in runs:
            stored = yaml.safe_load((run.directory / ".hydra" / "overrides.yaml").read_text())
            # the run's own command line: a course, without the experiment's block, which reruns it alone
            assert stored[0] == "experiment=course" and not any(o.startswith(experiment) for o in stored)
            check_overrides(stored)
            from omegaconf import OmegaConf

            assert run.directory.name.endswith(
                config_digest(OmegaConf.create(read_config(run.directory / "results.h5")))
            )
        before = stamps(runs)
        with caplog.at_level(logging.INFO):
            launch_configured_runs(task, runs, tmp_path, experiment, run=fake_folder_run)
        assert f"{len(runs)} runs, {len(runs)} already finished" in caplog.text
        assert stamps(runs) == before


@pytest.mark.cli  # submitit runs every job in a Python process of its own
def test_submitit_runs_the_jobs_in_their_own_processes_and_resumes(tmp_path, monkeypatch, caplog):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="the cluster extra is not installed")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), str(ROOT / "tests")]))
    runs = [planned(tmp_path, 1), planned(tmp_path, 2)]
    with command("experiment=scorecard", "circuit=small", "hydra/launcher=local_submitit"):
        launch_runs(runs, tmp_path, run=fake_folder_run)
        assert (tmp_path / ".submitit").is_dir()
        for run in runs:
            assert read_config(run.directory / "results.h5")["seed"] == run.seed
            assert json.loads((run.directory / STATUS_FILE).read_text())["status"] == "done"
        before = stamps(runs)
        with caplog.at_level(logging.INFO):
            launch_runs(runs, tmp_path, run=fake_folder_run)
        assert "2 already finished" in caplog.text
        assert stamps(runs) == before
