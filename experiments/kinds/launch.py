"""Many runs of one experiment launched through the command's Hydra launcher (docs/scorecard.md).

``ketamine-sim experiment=scorecard hydra/launcher=slurm ...``: every planned run of the
scorecard is one job of the launcher the command line chose (``hydra/launcher=local``, the
default: joblib processes on this machine; ``local_submitit``; ``slurm``), as the jobs of a
``-m`` sweep are. Hydra composes each job's config from the command's ``hydra.*`` overrides
and the run's own overrides, and each job runs through
[`run_job`][ketamine_sim.experiments.kinds.jobs.run_job] into its planned folder: kept when that folder
holds finished results of the same config (the sweep's resume rule), run (again) otherwise.
Runs found finished before the launch are not launched at all, so a resumed scorecard on a
cluster submits only the work left.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.plugins import Plugins
from hydra.core.utils import JobStatus
from hydra.types import HydraContext, RunMode
from omegaconf import DictConfig, OmegaConf, open_dict

from ketamine_sim.experiments.config.compose import split_value_overrides, with_values
from ketamine_sim.experiments.config.settings import JOBLIB_LAUNCHER, launched_jobs
from ketamine_sim.experiments.kinds.jobs import STATUS_FILE, check_finished, mark_interrupted, read_status, run_job
from ketamine_sim.experiments.scoring.configured_runs import config_digest, config_of, override_value, overrides_between
from ketamine_sim.experiments.scoring.scorecard import runs_text as _runs
from ketamine_sim.experiments.simulation.progress import format_time_s

log = logging.getLogger(__name__)


def in_hydra_app() -> bool:
    """Whether this process runs a job of the ``ketamine-sim`` command (Hydra's config and
    config loader are set), whose launcher can start more runs; False in the Python API."""
    return HydraConfig.initialized() and GlobalHydra.instance().is_initialized()


@dataclass(frozen=True)
class LaunchedRun:
    """The task function of one launched run (pickled to the launcher's workers).

    Parameters
    ----------
    label : str
        Names the runs in the log (``scorecard``).
    total : int
        Runs launched: the log counts ``run k/total`` with the time left.
    started : float
        ``time.time()`` at the launch (wall clock: the jobs may run in other processes).
    directories : tuple of str
        The launched runs' folders (the log counts those whose job has ended).
    run : callable or None
        ``run(cfg, output_dir)``; None: the experiment's own run (a stand-in in tests).
    """

    label: str
    total: int
    started: float
    directories: tuple[str, ...] = ()
    run: Callable | None = None

    def __call__(self, cfg: DictConfig) -> str:
        hydra_cfg = HydraConfig.get()
        overrides = OmegaConf.to_container(hydra_cfg.overrides.task, resolve=False)
        outcome = run_job(cfg, hydra_cfg.runtime.output_dir, overrides, hydra_cfg.job.num, run=self.run)
        count = max(1, min(self.total, _ended_since(self.directories, self.started)))
        elapsed = time.time() - self.started
        log.info(
            "%s run %d/%d %s: %s [%s elapsed, about %s left]",
            self.label,
            count,
            self.total,
            outcome,
            Path(hydra_cfg.runtime.output_dir).name,
            format_time_s(elapsed),
            format_time_s(elapsed / count * (self.total - count)),
        )
        return outcome


def _ended_since(directories: Sequence[str], started: float, statuses=("done", "failed")) -> int:
    """Launched runs (their folders, ``directories``) whose job ended with one of ``statuses``
    after ``started`` (``time.time()``), from each folder's ``job_status.json``, which every job
    writes wherever it runs. Only these folders count: a run of runs (a cohort scored by a
    scorecard) writes results of its own below its folder."""
    count = 0
    for directory in directories:
        path = Path(directory) / STATUS_FILE
        try:
            if path.stat().st_mtime >= started and (read_status(directory) or {}).get("status") in statuses:
                count += 1
        except OSError:  # not written yet
            pass
    return count


def _hydra_overrides(folder: Path, n_jobs: int | None) -> list[str]:
    """The command's ``hydra.*`` overrides for every launched run: the sweep folder is
    ``folder`` (each run's own folder is its ``hydra.sweep.subdir``), ``n_jobs`` the local
    launcher's processes (None: as the command line says)."""
    keep = [
        o
        for o in OmegaConf.to_container(HydraConfig.get().overrides.hydra, resolve=False)
        if not o.startswith(("hydra.sweep.dir=", "hydra.sweep.subdir=", "hydra.mode="))
        and not (n_jobs is not None and o.startswith("hydra.launcher.n_jobs="))
    ]
    return [
        *keep,
        f"hydra.sweep.dir={override_value(str(folder.resolve()))}",
        *([f"hydra.launcher.n_jobs={n_jobs}"] if n_jobs is not None else []),
    ]


def _root(loader, folder: Path, n_jobs: int | None) -> DictConfig:
    """The launch's primary config: the command's, with ``folder`` as its sweep folder."""
    hydra_cfg = HydraConfig.get()
    return loader.load_configuration(
        config_name=hydra_cfg.job.config_name,
        overrides=[*_hydra_overrides(folder, n_jobs), *hydra_cfg.overrides.task],
        run_mode=RunMode.MULTIRUN,
    )


def _task_config(job_cfg: DictConfig) -> DictConfig:
    """A job's config without its ``hydra`` node (what the run stores)."""
    task = copy.deepcopy(job_cfg)
    with open_dict(task):
        del task["hydra"]
    return task


def _subdir(folder: Path, directory: Path) -> str:
    return directory.relative_to(folder).as_posix()


def launch_runs(
    runs: Sequence,
    folder: str | Path,
    label: str = "scorecard",
    n_jobs: int | None = None,
    run: Callable | None = None,
    expected: dict[Path, str] | None = None,
) -> None:
    """Run every planned run not already finished through the command's Hydra launcher.

    Parameters
    ----------
    runs : sequence of PlannedRun
        Each with ``overrides`` (its command line) and ``directory`` (below ``folder``).
    folder : str or pathlib.Path
        The experiment's folder: the sweep folder of the launch.
    label : str
        Names the runs in the log.
    n_jobs : int or None
        Parallel processes of ``hydra/launcher=local`` (None: ``hydra.launcher.n_jobs``).
    run : callable or None
        ``run(cfg, output_dir)`` of each job (None: the experiment's own run).
    expected : dict or None
        Run folder -> the ``config_digest`` its composed config must have (runs planned as
        whole configs: `launch_configured_runs`); checked for every run before any launches.

    Raises
    ------
    ConfigError
        ``n_jobs`` with a launcher other than the local one.
    RuntimeError
        A run whose overrides compose to another config than the one planned (``expected``).
    Exception
        The error of the first failed run, after every run ended (the finished ones are
        kept: a rerun into the same folder resumes).
    KeyboardInterrupt
        Ctrl-C: the runs in this process stop after their current window and write nothing;
        the local launcher's worker processes (``hydra.launcher.n_jobs`` > 1) are ended,
        their temp files removed when the experiment resumes.
    """
    folder = Path(folder)
    n_jobs = _checked_n_jobs(label, n_jobs)
    _launch(runs, folder, label, run, expected, _compositions(folder, n_jobs))


def _checked_n_jobs(label: str, n_jobs: int | None) -> int | None:
    """``n_jobs`` as the launch uses it (refused with a launcher other than the local one; in a
    job of a ``-m`` sweep or of another launch None is 1)."""
    hydra_cfg = HydraConfig.get()
    target = str(hydra_cfg.launcher.get("_target_", ""))
    launched_jobs(target, n_jobs, f"{label}.n_jobs", hydra_cfg.runtime.choices.get("hydra/launcher"))
    if n_jobs is None and target == JOBLIB_LAUNCHER and hydra_cfg.mode != RunMode.RUN:
        # a job of a -m sweep (mode MULTIRUN) or of another launch (a scorecard's cohort: no
        # mode): the outer launcher's n_jobs already runs its jobs side by side
        return 1
    return n_jobs


def _launch(runs, folder: Path, label: str, run, expected, composed: _Compositions) -> None:
    """`launch_runs` once the launch's primary config is composed (``composed.root``)."""
    planned = list(dict.fromkeys(runs))
    todo = _left_to_run(composed, planned, expected)
    log.info("%s: %s, %d already finished", label, _runs(len(planned)), len(planned) - len(todo))
    if not todo:
        return
    task = LaunchedRun(label, len(todo), time.time(), tuple(str(Path(r.directory).resolve()) for r in todo), run)
    launcher = Plugins.instance().instantiate_launcher(
        hydra_context=HydraContext(config_loader=composed.loader, callbacks=_no_callbacks()),
        task_function=task,
        config=composed.root,
    )
    jobs = [[*r.overrides, f"hydra.sweep.subdir={_subdir(folder, r.directory)}"] for r in todo]
    interrupted = False
    with _kept_state(), _SigintSeen() as sigint:
        try:
            returns = launcher.launch(jobs, initial_job_idx=0)
        except BaseException as error:  # a launcher may end in its own error after Ctrl-C (submitit)
            if not (isinstance(error, KeyboardInterrupt) or sigint.seen):
                raise
            interrupted = True
    if interrupted:  # logged here, where the experiment's own log handlers are back
        if str(composed.root.hydra.launcher.get("_target_", "")) == JOBLIB_LAUNCHER:
            mark_interrupted(task.directories)  # its workers are ended (a cluster's jobs may run on)
        message = (
            f"interrupted: {_ended_since(task.directories, task.started, ('done',))} of {len(todo)} {label} runs finished "
            "and are kept; rerun into the same folder to resume"
        )
        log.warning("%s", message)
        raise KeyboardInterrupt(message)
    failed = [(r, ret) for r, ret in zip(todo, returns, strict=True) if ret.status != JobStatus.COMPLETED]
    log.info(
        "%s: %s launched, %d finished, %d failed [%s]",
        label,
        _runs(len(todo)),
        len(todo) - len(failed),
        len(failed),
        format_time_s(time.time() - task.started),
    )
    for r, ret in failed:
        log.error("%s run failed: %s (%s)", label, r.directory, ret._return_value)
    if failed:
        raise failed[0][1]._return_value


def launch_configured_runs(
    cfg: DictConfig,
    runs: Sequence,
    folder: str | Path,
    label: str,
    n_jobs: int | None = None,
    run: Callable | None = None,
) -> None:
    """`launch_runs` for runs planned as whole configs (a cohort's patients, a sensitivity
    analysis's samples; their ``overrides`` hold the config's YAML,
    ``ketamine_sim.experiments.scoring.configured_runs.payload_of``). Each becomes a command line of its own
    kind: the command's overrides with ``experiment=`` the run's kind (``course``) and without
    the keys of blocks the run has not (``cohort.*``), plus the overrides that turn that
    command's config into the run's (``overrides_between``: ``seed=... state.bdnf_tone=...``),
    so that its ``.hydra/overrides.yaml`` reruns it alone. Every run is checked to compose to
    exactly its planned config before any launches (RuntimeError otherwise)."""
    configs = [config_of(r.overrides) for r in runs]
    if not configs:
        return
    folder = Path(folder)
    n_jobs = _checked_n_jobs(label, n_jobs)
    kind = str(configs[0].experiment.name)
    command = [_as_kind(o, kind) for o in HydraConfig.get().overrides.task if _kept_for(o, configs[0])]
    composed = _compositions(folder, n_jobs)
    base = composed(command)
    launched = [
        dataclasses.replace(r, overrides=(*command, *overrides_between(base, c)))
        for r, c in zip(runs, configs, strict=True)
    ]
    expected = {Path(r.directory): config_digest(c) for r, c in zip(runs, configs, strict=True)}
    _launch(launched, folder, label, run, expected, composed)


def _override_key(override: str) -> str:
    return override.partition("=")[0].lstrip("+~")


def _kept_for(override: str, run_cfg: DictConfig) -> bool:
    """Whether a command-line override applies to a run's config (its top-level block exists there)."""
    return _override_key(override).split(".")[0].split("/")[0] in run_cfg


def _as_kind(override: str, kind: str) -> str:
    """``experiment=<anything>`` as ``experiment=<kind>``; any other override as it is."""
    return f"experiment={kind}" if _override_key(override) == "experiment" else override


class _Compositions:
    """The task configs the jobs of a launch compose from its primary config ``root`` (their
    ``hydra`` node dropped).

    Hydra composes each distinct set of group overrides once; a run's plain ``key=value``
    overrides are then set as Hydra sets them after composing (`split_value_overrides`), so
    that checking a cohort of hundreds of patients composes once, not once per patient. A
    value Hydra would refuse (a key the config lacks) composes the run whole, for Hydra's own
    message."""

    def __init__(self, loader, root: DictConfig):
        self.loader, self.root, self.kept = loader, root, {}

    def __call__(self, overrides: Sequence[str]) -> DictConfig:
        groups, values = split_value_overrides(overrides)
        if tuple(groups) not in self.kept:
            self.kept[tuple(groups)] = _task_config(self.loader.load_sweep_config(self.root, groups))
        try:
            return with_values(self.kept[tuple(groups)], values)
        except Exception:  # noqa: BLE001 - composed whole below: Hydra's message names the problem
            return _task_config(self.loader.load_sweep_config(self.root, list(overrides)))


def _compositions(folder: Path, n_jobs: int | None) -> _Compositions:
    """The compositions of a launch into ``folder`` (its primary config composed once)."""
    loader = GlobalHydra.instance().config_loader()
    return _Compositions(loader, _root(loader, folder, n_jobs))


def _left_to_run(composed: _Compositions, planned: list, expected: dict[Path, str] | None) -> list:
    """The planned runs whose folder does not hold finished results of the config their job
    composes (composed here only where a ``results.h5`` exists or ``expected`` asks for the
    check: a first launch of command lines composes nothing)."""
    todo = []
    for run in planned:
        cfg = None
        if expected is not None:
            cfg = composed(run.overrides)
            if config_digest(cfg) != expected[Path(run.directory)]:
                raise RuntimeError(f"the overrides of {run.directory} compose to another config than the one planned")
        if not (Path(run.directory) / "results.h5").exists():
            todo.append(run)
            continue
        finished, why = check_finished(run.directory, cfg or composed(run.overrides))
        if not finished:
            log.info("running %s again: %s", run.directory, why)
            todo.append(run)
    return todo


def _no_callbacks():
    """Hydra's empty callback list (the command's own callbacks act on its run, not on these)."""
    from hydra._internal.callbacks import Callbacks

    return Callbacks()


class _SigintSeen:
    """Records whether SIGINT came while a launch ran, passing it on to the handler before
    (Python's: KeyboardInterrupt), so that an error a launcher raises after Ctrl-C (submitit:
    a job that ended without output) is read as the interruption it follows."""

    def __enter__(self):
        self.seen, self._previous = False, None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.seen = True
        if callable(self._previous):
            self._previous(signum, frame)
        else:
            raise KeyboardInterrupt

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


class _kept_state:
    """Keeps this process's Hydra config and root log handlers across a launch: the local
    launcher runs jobs in this process (``n_jobs=1``), each setting its own config and
    log file, and the experiment goes on logging to its own."""

    def __enter__(self):
        root = logging.getLogger()
        self._hydra = HydraConfig.instance().cfg
        self._handlers, self._level = list(root.handlers), root.level
        return self

    def __exit__(self, *exc) -> None:
        HydraConfig.instance().cfg = self._hydra
        root = logging.getLogger()
        for handler in list(root.handlers):
            if handler not in self._handlers:
                root.removeHandler(handler)
                handler.close()
        for handler in self._handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(self._level)
