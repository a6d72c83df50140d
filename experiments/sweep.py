"""Sweeps that resume and index themselves (docs/sweeps.md).

A Hydra multirun (``ketamine-sim -m ...``) gives every job its own run folder under the
sweep folder. Run the same command again into the same sweep folder
(``hydra.sweep.dir=<same>``) and each job first checks its folder
([`run_job`][ketamine_sim.experiments.kinds.jobs.run_job], re-exported here): complete results written
with the job's own resolved config are kept (``skipping finished run ...``), anything else
runs again. Each job records its outcome and job number(s) in
``<run folder>/job_status.json``.

:class:`SweepCallback` (``hydra.callbacks`` in configs/config.yaml) checks the output folder
before Hydra writes into it, and writes ``sweep_index.csv`` at the sweep root when a
multirun ends, also after a failed job or Ctrl-C; :func:`write_sweep_index`
(``python -m ketamine_sim.experiments.sweep SWEEP_DIR``) rebuilds it from the folder alone, e.g. after
the sweep was killed.

The index has one row per job of the sweep (as ``multirun.yaml`` at the root defines it):
``job``, ``status`` (one of :data:`STATUSES`), ``run`` (the folder that recorded that job
number, relative to the root), ``overrides``, one column per overridden key, key readouts
(:func:`key_readouts`), the run's ``objective`` where it has one (``objective.findings``),
the main ``table`` of a job of many runs (``scorecard.csv``, ``cohort.csv``,
``sensitivity.csv``: a finished one is done, its runs are in its folder), wall times and, for
a failed job, ``error``.
"""

from __future__ import annotations

import atexit
import csv
import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

from ketamine_sim.experiments.kinds import KINDS
from ketamine_sim.experiments.kinds.jobs import (  # noqa: F401  (re-exported: the sweep's job API)
    RESUME_IGNORES,
    STATUS_FILE,
    check_finished,
    job_log_tag,
    read_status,
    remove_leftover_temp_files,
    run_job,
    write_atomic_text,
)

log = logging.getLogger(__name__)

INDEX_FILE = "sweep_index.csv"
#: Index statuses: written by this sweep; complete results found and kept; the job raised an
#: error; no complete results (never started, interrupted, or still running).
STATUSES = ("done", "skipped-finished", "failed", "missing")
_RESULTS = "results.h5"


# --------------------------------------------------------------------------- the index


def key_readouts(results_path: str | os.PathLike) -> dict[str, object]:
    """Per population ``<pop>_rate_baseline_hz`` (window 0), ``_max_hz`` and ``_min_hz`` (over
    all windows), plus ``n_windows``, ``wall_time_s``, ``build_s``, ``windows_s`` (the spiking
    windows' summed wall time) and ``recompiled`` from the provenance; read from ``results.h5``
    without its spikes."""
    import numpy as np

    from ketamine_sim.experiments.results import read_summary

    summary = read_summary(results_path)  # a damaged file raises ResultsFileError naming it
    out: dict[str, object] = {"n_windows": summary.n_windows}
    for pop, table in summary.readouts.items():
        if "rate" in table:
            rate = np.asarray(table["rate"], dtype=float)
            out[f"{pop}_rate_baseline_hz"] = round(float(rate[0]), 4) if rate.size else float("nan")
            out[f"{pop}_rate_max_hz"] = round(float(rate.max()), 4) if rate.size else float("nan")
            out[f"{pop}_rate_min_hz"] = round(float(rate.min()), 4) if rate.size else float("nan")
    provenance = summary.provenance
    if isinstance(provenance.get("wall_time_s"), dict):
        wall = provenance["wall_time_s"]
        out["wall_time_s"] = round(float(wall.get("total", float("nan"))), 3)
        out["build_s"] = round(float(wall.get("build", float("nan"))), 3)
        out["windows_s"] = round(float(wall.get("windows", float("nan"))), 3)
    if "recompiled" in provenance and not isinstance(provenance["recompiled"], dict):
        out["recompiled"] = bool(provenance["recompiled"])
    return out


def sweep_jobs(sweep_dir: str | os.PathLike) -> list[list[str]] | None:
    """The override list of every job of the sweep, in job order, from ``multirun.yaml`` at
    the sweep root (Hydra's basic sweeper); None if that file is absent or not expandable."""
    from omegaconf import OmegaConf

    path = Path(sweep_dir) / "multirun.yaml"
    if not path.exists():
        return None
    try:
        from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
        from hydra.core.override_parser.overrides_parser import OverridesParser

        cfg = OmegaConf.load(path)
        if not str(cfg.hydra.sweeper.get("_target_", "")).endswith("BasicSweeper"):
            return None
        params = cfg.hydra.sweeper.get("params")
        params = OmegaConf.to_container(params, resolve=False) if params is not None else {}
        task = OmegaConf.to_container(cfg.hydra.overrides.task, resolve=False)
        parsed = OverridesParser.create().parse_overrides([f"{k}={v}" for k, v in params.items()] + list(task))
        return [list(job) for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]
    except Exception as error:  # e.g. glob() sweeps, which need the config loader
        log.warning("%s: cannot list the sweep's jobs (%s); indexing the run folders found", path, error)
        return None


@dataclass(frozen=True)
class _RunFolder:
    path: Path
    overrides: tuple[str, ...]
    jobs: frozenset[int]  #: the sweep's job numbers this folder records (empty: not recorded)


def _hydra_job_number(folder: Path) -> int | None:
    """``hydra.job.num`` from the folder's ``.hydra/hydra.yaml`` (None if absent)."""
    import yaml

    try:
        num = (yaml.safe_load((folder / ".hydra" / "hydra.yaml").read_text()) or {})["hydra"]["job"]["num"]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return None
    return num if isinstance(num, int) else None


def _run_folders(sweep_dir: Path) -> list[_RunFolder]:
    """Run folders below ``sweep_dir``, oldest first, with their overrides (Hydra's
    ``.hydra/overrides.yaml``, else ``job_status.json``) and job numbers (``job_status.json``,
    else ``.hydra/hydra.yaml``)."""
    import yaml

    found = []
    folders = {p.parent.parent for p in sweep_dir.rglob("overrides.yaml") if p.parent.name == ".hydra"}
    folders |= {p.parent for p in sweep_dir.rglob(STATUS_FILE)}
    for folder in sorted(folders, key=lambda p: (p.stat().st_mtime, str(p))):
        status = read_status(folder) or {}
        try:
            overrides = yaml.safe_load((folder / ".hydra" / "overrides.yaml").read_text())
        except (OSError, yaml.YAMLError):
            overrides = status.get("overrides")
        if not isinstance(overrides, list):
            continue
        jobs = {j for j in [*(status.get("jobs") or []), status.get("job")] if isinstance(j, int)}
        if not jobs and _hydra_job_number(folder) is not None:
            jobs = {_hydra_job_number(folder)}
        found.append(_RunFolder(folder, tuple(str(o) for o in overrides), frozenset(jobs)))
    return found


def _folder_of_job(folders: list[_RunFolder], job: int, overrides: Sequence[str]) -> Path | None:
    """The folder of job ``job``: the newest with these overrides that records this job number;
    else (folders written before job numbers were recorded) the newest with these overrides and
    no job number. Never the folder of another job with the same overrides (``seed=1,2,1``)."""
    overrides = tuple(overrides)
    for wanted in (lambda f: job in f.jobs, lambda f: not f.jobs):
        matches = [f.path for f in folders if f.overrides == overrides and wanted(f)]
        if matches:
            return matches[-1]
    return None


def _split_override(override: str) -> tuple[str, str]:
    key, _, value = override.partition("=")
    return key.lstrip("+~"), value


def _table_of(folder: Path) -> str:
    """The main table a job of an experiment of many runs (a kind that resumes: its job folder
    holds no results.h5 of its own) wrote in ``folder`` ("" if none)."""
    tables = [kind.tables(None)[0] for kind in KINDS.values() if kind.resumes]
    return next((name for name in tables if (folder / name).exists()), "")


def _index_row(sweep_dir: Path, job: int | None, overrides: Sequence[str], folder: Path | None) -> dict[str, object]:
    row: dict[str, object] = {"job": job, "status": "missing", "run": "", "overrides": " ".join(overrides)}
    row.update(_split_override(o) for o in overrides)
    if folder is None:
        return row
    row["run"] = folder.relative_to(sweep_dir).as_posix()
    status = read_status(folder) or {}
    if row["job"] is None:
        row["job"] = status.get("job")
    recorded = status.get("status")
    if status and status.get("overrides") != list(overrides):  # left by an earlier sweep of this folder
        recorded = "running"
    results = sorted(folder.glob(f"dose_*/{_RESULTS}")) if (folder / "dose_response.csv").exists() else []
    results = results or ([folder / _RESULTS] if (folder / _RESULTS).exists() else [])
    if recorded == "failed":
        row["status"], row["error"] = "failed", status.get("error", "")
    elif not results and recorded in ("done", "skipped-finished") and _table_of(folder):
        row["status"], row["table"] = recorded, _table_of(folder)  # a scorecard, cohort or sensitivity job
    elif results and recorded in ("done", "skipped-finished", None):  # None: run before job status files
        row["status"] = recorded or "done"
        if len(results) == 1:
            try:
                row.update(key_readouts(results[0]))
            except (OSError, KeyError, ValueError) as error:
                row["status"], row["error"] = "missing", f"unreadable {results[0].name}: {error}"
        else:  # dose_response: per-dose readouts are in its dose_response.csv
            row["n_results"] = len(results)
    from ketamine_sim.experiments.scoring.objective import OBJECTIVE_FILE

    objective_file = folder / OBJECTIVE_FILE
    if row["status"] in ("done", "skipped-finished") and objective_file.exists():
        try:
            row["objective"] = float(json.loads(objective_file.read_text())["objective"])
        except (OSError, KeyError, TypeError, ValueError):
            pass  # an unreadable objective: the trial's own file says so
    if "job_wall_s" in status:
        row["job_wall_s"] = status["job_wall_s"]
    return row


def sweep_index(sweep_dir: str | os.PathLike):
    """The sweep index as a pandas DataFrame (columns: see the module docstring), built from
    the sweep folder alone: ``multirun.yaml``, the run folders and their ``results.h5``."""
    import pandas as pd

    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"sweep folder {sweep_dir} does not exist")
    folders = _run_folders(sweep_dir)
    jobs = sweep_jobs(sweep_dir)
    if jobs is None:  # no job list: index every folder found, in job order
        rows = [_index_row(sweep_dir, min(f.jobs) if f.jobs else None, list(f.overrides), f.path) for f in folders]
        rows.sort(key=lambda r: (r["job"] is None, r["job"] if r["job"] is not None else 0, r["run"]))
    else:
        rows = [_index_row(sweep_dir, i, job, _folder_of_job(folders, i, job)) for i, job in enumerate(jobs)]
    fixed = ["job", "status", "run", "overrides"]
    keys = list(dict.fromkeys(k for r in rows for k in r if k not in fixed))
    return pd.DataFrame(rows, columns=fixed + keys)


def write_sweep_index(sweep_dir: str | os.PathLike) -> Path:
    """Write :func:`sweep_index` to ``<sweep_dir>/sweep_index.csv`` atomically; returns its path."""
    sweep_dir = Path(sweep_dir)
    frame = sweep_index(sweep_dir)
    path = sweep_dir / INDEX_FILE
    write_atomic_text(path, frame.to_csv(index=False, quoting=csv.QUOTE_MINIMAL))
    return path


def _refuse(error: Exception) -> None:
    """Leave the command as it leaves on a bad config value: one line, exit 2."""
    print(f"ketamine-sim: invalid config: {error}", file=sys.stderr)
    sys.exit(2)


class SweepCallback(Callback):
    """Hydra callback: checks the output folder before Hydra writes into it (a run folder that
    cannot be written, is in use by a live run or holds an earlier run's results; a sweep
    folder that cannot be written: one line, exit 2), and writes ``sweep_index.csv`` at the
    sweep root when a multirun ends, and at exit if it ends early (a failed job, Ctrl-C)."""

    def __init__(self, index: bool = True) -> None:
        self.index = index
        self._sweep_dir: Path | None = None

    def on_run_start(self, config, **kwargs: Any) -> None:
        from omegaconf import OmegaConf

        from ketamine_sim.experiments.errors import ConfigError
        from ketamine_sim.experiments.kinds import check_folder

        kind = KINDS.get(OmegaConf.select(config, "experiment.name", default=None))
        resume = kind is not None and kind.resumes  # the scorecard resumes on purpose
        try:
            check_folder(str(config.hydra.run.dir), "hydra.run.dir", resume=resume)
        except ConfigError as error:
            _refuse(error)

    def on_multirun_start(self, config, **kwargs: Any) -> None:
        from ketamine_sim.experiments.errors import ConfigError
        from ketamine_sim.experiments.kinds import check_writable

        try:
            check_writable(str(config.hydra.sweep.dir), "hydra.sweep.dir")
        except ConfigError as error:
            _refuse(error)
        if self.index:
            import pandas  # noqa: F401  (imported now: an import at interpreter exit may fail)

            import ketamine_sim.experiments.results  # noqa: F401  (and h5py with it)

            self._sweep_dir = Path(str(config.hydra.sweep.dir))
            atexit.register(self._write_index)

    def on_multirun_end(self, config, **kwargs: Any) -> None:
        if self._sweep_dir is not None:
            atexit.unregister(self._write_index)
            self._write_index()

    def _write_index(self) -> None:
        if self._sweep_dir is None or not self._sweep_dir.is_dir():
            return
        try:
            frame_path = write_sweep_index(self._sweep_dir)
        except Exception as error:  # never hide the sweep's own outcome behind an index error
            log.warning("sweep index not written: %s", error)
            return
        log.info("sweep index: %s", frame_path.resolve())


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ketamine_sim.experiments.sweep SWEEP_DIR...``: (re)write each folder's sweep index."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m ketamine_sim.experiments.sweep SWEEP_DIR...  (rewrites SWEEP_DIR/sweep_index.csv)")
        return 0 if argv else 2
    import pandas as pd

    for folder in argv:
        path = write_sweep_index(folder)
        counts = pd.read_csv(path)["status"].value_counts().to_dict()
        print(f"{path}: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
