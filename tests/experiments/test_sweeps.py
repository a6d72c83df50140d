"""Sweeps that scale out: resume after a kill, the sweep index, concurrent builds into one
cache, and the launcher configs (experiments/sweep.py, configs/hydra/launcher/)."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from helpers.cli import merged

from ketamine_sim.experiments.results import read_results
from ketamine_sim.experiments.sweep import STATUS_FILE, check_finished, sweep_index
from ketamine_sim.experiments.sweep import main as sweep_main

#: A tiny sweep: two 2 s windows per run, one thread (jobs one after another, in one process).
TINY = (
    "experiment=bath",
    "circuit=small",
    "bath.concentrations_uM=[0,1]",
    "bath.equilibration_s=60",
    "backend.threads=1",
    "output.figure=false",
)


def _env(cache: Path) -> dict:
    return dict(os.environ, KETAMINE_SIM_CACHE=str(cache), MPLBACKEND="Agg", PYTHONUNBUFFERED="1")


def _sweep(cache: Path, sweep_dir: Path, *overrides: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "ketamine_sim.experiments.app",
            "-m",
            *merged(*TINY, *overrides),
            f"hydra.sweep.dir={sweep_dir}",
        ],
        check=False,
        capture_output=True,
        text=True,
        env=_env(cache),
        timeout=timeout,
    )


def _index(sweep_dir: Path) -> list[dict]:
    with open(sweep_dir / "sweep_index.csv", newline="") as f:
        return list(csv.DictReader(f))


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns


@pytest.fixture(scope="module")
def parallel_builds(tmp_path_factory):
    """Two processes that start at once, each building the same circuit into one empty cache."""
    cache = tmp_path_factory.mktemp("empty-cache")
    runs = tmp_path_factory.mktemp("parallel")
    env = _env(cache)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ketamine_sim.experiments.app",
                *merged(*TINY, "bath.concentrations_uM=[0]"),
                f"hydra.run.dir={runs / f'run{i}'}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        for i in range(2)
    ]
    outputs = [p.communicate(timeout=900)[0] for p in procs]
    return SimpleNamespace(cache=cache, runs=[runs / f"run{i}" for i in range(2)], procs=procs, outputs=outputs)


@pytest.mark.compiles  # builds into its own cache (parallel_builds)
def test_concurrent_builds_make_one_valid_cache_entry(parallel_builds):
    for proc, output in zip(parallel_builds.procs, parallel_builds.outputs):
        assert proc.returncode == 0, output[-3000:]
    entries = sorted(
        p.name for p in parallel_builds.cache.iterdir() if p.is_dir() and p.name not in ("calls", "compositions")
    )
    assert len(entries) == 1 and entries[0].startswith("small-"), entries
    assert (parallel_builds.cache / entries[0] / "main").is_file()
    calls = list((parallel_builds.cache / "calls").glob("*.json"))  # one call file, naming that build
    assert len(calls) == 1 and json.loads(calls[0].read_text())["build"] == entries[0], calls
    data = [read_results(run) for run in parallel_builds.runs]
    # The second waited for the first's build and used it. (It may still relink main: Brian2
    # orders the clock set-up in main.cpp by object identity, which differs between processes.)
    assert True in [d.provenance["recompiled"] for d in data]
    for pop in ("pyr", "pv", "sst"):  # the same config and seed: the shared build gives the same spikes
        for a, b in zip(data[0].spikes[pop], data[1].spikes[pop]):
            assert (a == b).all()


@pytest.fixture(scope="module")
def resumed(parallel_builds, tmp_path_factory):
    """A sweep of three seeds killed (SIGKILL to its process group) while job 1 runs, indexed,
    then run again with the same command into the same folder."""
    cache = parallel_builds.cache  # warm: the jobs reuse the build
    sweep_dir = tmp_path_factory.mktemp("sweep")
    log = sweep_dir.parent / "killed.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ketamine_sim.experiments.app",
                "-m",
                *TINY,
                "seed=1,2,3",
                f"hydra.sweep.dir={sweep_dir}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_env(cache),
            start_new_session=True,
        )
        deadline = time.time() + 600
        while not ((sweep_dir / "0" / "results.h5").exists() and (sweep_dir / "1" / ".hydra").exists()):
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.time() < deadline, "the sweep did not reach its second job"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)  # the process group: the sweep and the binary it runs
        proc.wait(timeout=60)
    # what a worker killed while writing leaves behind
    (sweep_dir / "1" / ".results.h5.999999.tmp").write_bytes(b"\x89HDF half-written")
    assert sweep_main([str(sweep_dir)]) == 0
    after_kill = _index(sweep_dir)
    before = _stamp(sweep_dir / "0" / "results.h5")
    rerun = _sweep(cache, sweep_dir, "seed=1,2,3")
    return SimpleNamespace(
        sweep_dir=sweep_dir,
        cache=cache,
        after_kill=after_kill,
        before=before,
        rerun=rerun,
        killed_returncode=proc.returncode,
    )


@pytest.mark.compiles  # builds into its own cache (parallel_builds)
def test_killed_sweep_is_indexed_from_its_folder(resumed):
    assert resumed.killed_returncode == -signal.SIGKILL
    rows = resumed.after_kill
    assert [r["job"] for r in rows] == ["0", "1", "2"]
    assert [r["status"] for r in rows] == ["done", "missing", "missing"]
    assert [r["seed"] for r in rows] == ["1", "2", "3"]
    assert float(rows[0]["pyr_rate_baseline_hz"]) > 0


@pytest.mark.compiles  # builds into its own cache (parallel_builds)
def test_resume_skips_finished_runs_and_redoes_the_rest(resumed):
    out = resumed.rerun.stdout + resumed.rerun.stderr
    assert resumed.rerun.returncode == 0, out[-3000:]
    sweep_dir = resumed.sweep_dir
    assert f"skipping finished run {sweep_dir / '0'}" in out
    assert out.count("skipping finished run") == 1
    assert _stamp(sweep_dir / "0" / "results.h5") == resumed.before, "the finished run was rewritten"
    seeds = []
    for job in ("0", "1", "2"):
        data = read_results(sweep_dir / job)
        assert len(data.windows["start_s"]) == 2 and len(data.readouts["pyr"]["rate"]) == 2
        seeds.append(data.provenance["seed"])
    assert seeds == [1, 2, 3]
    assert not list(sweep_dir.rglob("*.tmp")), "temp files left"


@pytest.mark.compiles  # builds into its own cache (parallel_builds)
def test_sweep_index_lists_every_run_after_resume(resumed):
    rows = _index(resumed.sweep_dir)
    assert [(r["job"], r["status"], r["run"], r["seed"]) for r in rows] == [
        ("0", "skipped-finished", "0", "1"),
        ("1", "done", "1", "2"),
        ("2", "done", "2", "3"),
    ]
    for r in rows:
        assert "seed=" in r["overrides"] and r["experiment"] == "bath"
        assert 0 < float(r["pyr_rate_baseline_hz"]) <= float(r["pyr_rate_max_hz"])
        assert float(r["sst_rate_min_hz"]) <= float(r["sst_rate_baseline_hz"])
        assert float(r["wall_time_s"]) >= float(r["build_s"]) > 0
    assert sweep_index(resumed.sweep_dir)["status"].tolist() == ["skipped-finished", "done", "done"]


@pytest.mark.compiles  # builds into its own cache (parallel_builds)
def test_check_finished_compares_the_resolved_config(resumed):
    from ketamine_sim.experiments.api import compose_config

    job1 = resumed.sweep_dir / "1"
    assert check_finished(job1, compose_config([*TINY, "seed=2"])) == (True, "complete results with the same config")
    assert check_finished(job1, compose_config([*TINY, "seed=2", "output.figure=true"]))[0]  # output: not simulated
    finished, why = check_finished(job1, compose_config([*TINY, "seed=5", "block.fit=kinetic"]))
    assert not finished and "block.fit" in why and "seed" in why
    assert check_finished(resumed.sweep_dir / "nothing", compose_config([*TINY])) == (False, "no results.h5")


@pytest.mark.compiles  # builds into its own cache (parallel_builds)
def test_changed_config_in_the_same_folder_is_not_skipped(resumed, tmp_path):
    sweep_dir = tmp_path / "sweep"
    shutil.copytree(resumed.sweep_dir, sweep_dir)
    stamps = {job: _stamp(sweep_dir / job / "results.h5") for job in ("0", "1", "2")}
    run = _sweep(resumed.cache, sweep_dir, "seed=4,2,3")  # job 0 now has seed 4
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    assert f"running {sweep_dir / '0'} again: results.h5 was written with another config (seed)" in out
    assert _stamp(sweep_dir / "0" / "results.h5") != stamps["0"]
    assert read_results(sweep_dir / "0").provenance["seed"] == 4
    assert [_stamp(sweep_dir / job / "results.h5") for job in ("1", "2")] == [stamps["1"], stamps["2"]]
    assert [r["status"] for r in _index(sweep_dir)] == ["done", "skipped-finished", "skipped-finished"]


def test_failed_job_is_indexed_as_failed(tmp_path, build_cache):
    """A job that fails stops the sweep; the index, written at exit, says which failed and which never ran."""
    run = _sweep(build_cache, tmp_path, "bath.equilibration_s=-1,60")
    assert run.returncode == 2, run.stdout[-2000:] + run.stderr[-2000:]
    assert "bath.equilibration_s" in run.stderr
    rows = _index(tmp_path)
    assert [(r["status"], r["bath.equilibration_s"]) for r in rows] == [("failed", "-1"), ("missing", "60")]
    assert "bath.equilibration_s" in rows[0]["error"]
    assert '"failed"' in (tmp_path / "0" / STATUS_FILE).read_text()


@pytest.mark.parametrize(
    "launcher, target",
    [
        ("local", "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"),
        ("slurm", "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"),
        ("local_submitit", "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher"),
    ],
)
def test_launcher_configs_compose(launcher, target):
    if "submitit" in target:
        pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="the cluster extra is not installed")
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    from ketamine_sim.experiments.app import CONFIG_DIR

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(
            config_name="config",
            overrides=[f"hydra/launcher={launcher}", "backend.threads=3"],
            return_hydra_config=True,
        )
    launcher_cfg = cfg.hydra.launcher
    assert launcher_cfg._target_ == target
    if launcher == "local":
        assert launcher_cfg.n_jobs == 1
    else:
        assert launcher_cfg.cpus_per_task == 3  # one core per OpenMP thread
        assert OmegaConf.select(cfg, "hydra.launcher.timeout_min") == 60
        assert "n_jobs" not in launcher_cfg


@pytest.mark.compiles  # builds into its own cache (parallel_builds)
def test_local_submitit_launcher_runs_and_resumes(parallel_builds, tmp_path):
    """The cluster code path (submitit: pickled jobs in their own processes) without a cluster."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="the cluster extra is not installed")
    args = ("hydra/launcher=local_submitit", "seed=1")
    first = _sweep(parallel_builds.cache, tmp_path, *args)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert read_results(tmp_path / "0").provenance["seed"] == 1
    stamp = _stamp(tmp_path / "0" / "results.h5")
    second = _sweep(parallel_builds.cache, tmp_path, *args)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert _stamp(tmp_path / "0" / "results.h5") == stamp
    assert [r["status"] for r in _index(tmp_path)] == ["skipped-finished"]


@pytest.mark.parametrize("table", ["scorecard.csv", "cohort.csv", "sensitivity.csv"])
def test_the_index_counts_a_finished_job_of_many_runs_by_its_table(tmp_path, table):
    """A sweep of scorecards (or cohorts, sensitivity analyses): a job's folder holds its table
    and its runs' folders, no results.h5 of its own; finished, it is done, not missing."""
    import json

    for job, written in ((0, True), (1, False)):
        folder = tmp_path / str(job)
        folder.mkdir()
        status = {"status": "done", "job": job, "jobs": [job], "overrides": [f"seed={job}"]}
        (folder / STATUS_FILE).write_text(json.dumps(status))
        if written:
            (folder / table).write_text("finding\n")
    rows = sweep_index(tmp_path)
    assert list(rows["status"]) == ["done", "missing"]
    assert rows.loc[0, "table"] == table
