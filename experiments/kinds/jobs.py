"""A run folder as one job that resumes: skipped when it holds finished results of its config.

A sweep's jobs (``ketamine-sim -m``) and the scorecard's runs launched through Hydra's launcher
(``ketamine_sim.experiments.kinds.launch``) each run through ``run_job``. It first checks its folder:

* complete results written with the job's own resolved config (``RESUME_IGNORES``
  aside): the job is skipped (``skipping finished run ...`` in the log); a missing or
  cut-off figure is drawn from the results;
* anything else runs again. Results are written atomically (temp file, then rename), so
  an interrupted job left no ``results.h5``; its leftover temp files are removed first. A
  run whose stored config differs (other overrides, other defaults) is overwritten (its
  files are removed first).

A job holds its folder while it runs ([`claim_folder`][ketamine_sim.experiments.kinds.claim_folder]): a
second job into the same folder is refused instead of writing over a live one. Each job
records its outcome and job number(s) in ``<run folder>/job_status.json``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from omegaconf import OmegaConf

from ketamine_sim.experiments.analysis import flatten_config
from ketamine_sim.experiments.kinds.folders import claim_folder, remove_results
from ketamine_sim.experiments.kinds.registry import kind_of, run_in_folder, validate
from ketamine_sim.experiments.results import atomic_write, read_config

log = logging.getLogger(__name__)

STATUS_FILE = "job_status.json"
_RESULTS = "results.h5"


def _config_dict(cfg) -> dict:
    """The resolved config as ``results.h5`` stores it (YAML), parsed back."""
    return yaml.safe_load(OmegaConf.to_yaml(cfg, resolve=True)) or {}


def _expected_results(cfg) -> list[tuple[Path, Any]]:
    """(results path relative to the run folder, the config stored in it) of every file a run
    writes ([`Kind.results`][ketamine_sim.experiments.kinds.Kind])."""
    return [(Path(rel), stored) for rel, stored in kind_of(cfg).results(cfg)]


def _stored_config(path: Path) -> dict:
    """The config stored in a complete ``results.h5``; raises ResultsFileError (a ValueError) otherwise."""
    return read_config(path)


#: Config keys that choose where or what extra files go, not what is simulated: ignored when
#: matching finished runs (a figure that is now asked for is drawn from the results; an
#: objective is computed from them).
RESUME_IGNORES = ("output", "backend.cache_dir", "objective")


def _differing_keys(stored: dict, wanted: dict) -> list[str]:
    """Dotted keys whose values differ between two configs, less ``RESUME_IGNORES``."""
    a, b = flatten_config(stored), flatten_config(wanted)
    return sorted(
        k
        for k in set(a) | set(b)
        if a.get(k, "<absent>") != b.get(k, "<absent>")
        and not any(k == i or k.startswith(i + ".") for i in RESUME_IGNORES)
    )


def check_finished(output_dir: str | os.PathLike, cfg) -> tuple[bool, str]:
    """Whether ``output_dir`` holds complete results of exactly ``cfg`` (the resolved job
    config); returns (finished, why) with ``why`` a short reason for the log."""
    output_dir = Path(output_dir)
    try:
        expected = _expected_results(cfg)
    except Exception as error:  # an invalid config: the run itself reports it
        return False, f"config not checked ({error})"
    for rel, wanted in expected:
        path = output_dir / rel
        if not path.exists():
            return False, f"no {rel}"
        try:
            stored = _stored_config(path)
        except (OSError, KeyError, ValueError) as error:
            return False, f"{rel} is unreadable ({type(error).__name__}: {error})"
        keys = _differing_keys(stored, _config_dict(wanted))
        if keys:
            more = f", ... ({len(keys)} keys)" if len(keys) > 5 else ""
            return False, f"{rel} was written with another config ({', '.join(keys[:5])}{more})"
    if kind_of(cfg).resumes:  # its tables hold no config to compare: rerun (its finished runs are kept)
        return False, f"experiment={cfg.experiment.name} resumes its own runs"
    missing = [name for name in kind_of(cfg).tables(cfg) if not (output_dir / name).exists()]
    if missing:
        return False, f"no {missing[0]}"
    return True, "complete results with the same config"


def remove_leftover_temp_files(output_dir: str | os.PathLike) -> list[Path]:
    """Delete the temp files an interrupted run left in its folder (``.results.h5.<pid>.<random>.tmp``,
    ``.dose_response.csv.<pid>.<random>.tmp``, ...: [`atomic_write`][ketamine_sim.experiments.files.atomic_write]);
    returns them. Only this job writes its folder."""
    output_dir = Path(output_dir)
    removed = []
    for path in [*output_dir.glob(".*.tmp"), *output_dir.glob("dose_*/.*.tmp")]:
        try:
            path.unlink()
            removed.append(path)
        except FileNotFoundError:
            pass
    return removed


def _redraw_figure_if_needed(output_dir: Path, cfg) -> bool:
    """Redraw the figure of finished results if it is missing or cut off; returns whether it
    did ([`Kind.redraw`][ketamine_sim.experiments.kinds.Kind])."""
    return bool(cfg.output.figure) and kind_of(cfg).redraw(output_dir, cfg)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_atomic_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically ([`atomic_write`][ketamine_sim.experiments.files.atomic_write])."""
    atomic_write(path, lambda tmp: tmp.write_text(text))


def _write_status(output_dir: Path, **status) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    write_atomic_text(output_dir / STATUS_FILE, json.dumps(status, indent=1, default=str) + "\n")


def _try_write_status(output_dir: Path, **status) -> None:
    """``_write_status`` where a failure must not hide the job's own outcome."""
    try:
        _write_status(output_dir, **status)
    except OSError as error:
        log.warning("%s not written: %s", output_dir / STATUS_FILE, error)


def mark_interrupted(run_dirs) -> int:
    """Record ``interrupted`` for every run of ``run_dirs``, or run below one (a cohort's
    patients), whose ``job_status.json`` still says ``running``: after Ctrl-C the local
    launcher ends its worker processes, whose jobs could not record it themselves. Returns how
    many were marked."""
    marked = 0
    for run_dir in run_dirs:
        for path in Path(run_dir).rglob(STATUS_FILE):
            status = read_status(path.parent)
            if status and status.get("status") == "running":
                _try_write_status(path.parent, **{**status, "status": "interrupted", "ended": _now()})
                marked += 1
    return marked


def read_status(run_dir: str | os.PathLike) -> dict | None:
    """A run folder's ``job_status.json`` (None if absent or unreadable)."""
    try:
        return json.loads((Path(run_dir) / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return None


def _jobs_of_folder(output_dir: Path, overrides: list[str], job: int | None) -> list[int]:
    """The jobs of this sweep whose folder ``output_dir`` is: ``job``, and the jobs with the same
    overrides recorded there before (jobs share a folder where ``hydra.sweep.subdir`` names
    folders by their overrides)."""
    previous = read_status(output_dir) or {}
    jobs = set()
    if previous.get("overrides") == overrides:
        jobs.update(previous.get("jobs") or [previous.get("job")])
    jobs.add(job)
    return sorted(j for j in jobs if isinstance(j, int))


#: The longest job tag (characters) put before a sweep job's log lines.
JOB_TAG_CHARS = 80


class _JobTag(logging.Filter):
    """Puts ``[job N: overrides]`` before every log line of a sweep job (once per record,
    whichever handlers it passes), so that the lines of parallel jobs can be told apart."""

    def __init__(self, tag: str) -> None:
        super().__init__()
        self.tag = tag

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "_ketamine_sim_job", False):
            record.msg = f"[{self.tag.replace('%', '%%') if record.args else self.tag}] {record.msg}"
            record._ketamine_sim_job = True
        return True


@contextlib.contextmanager
def job_log_tag(job: int | None, overrides: Sequence[str]):
    """Tag the log lines of one sweep job on every handler of the root logger (see `_JobTag`)."""
    text = " ".join(overrides)
    text = text if len(text) <= JOB_TAG_CHARS else text[: JOB_TAG_CHARS - 3] + "..."
    tag = _JobTag(f"job {job if job is not None else '?'}" + (f": {text}" if text else ""))
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(tag)
    try:
        yield tag
    finally:
        for handler in handlers:
            handler.removeFilter(tag)


def run_job(
    cfg,
    output_dir: str | os.PathLike,
    overrides: Sequence[str] = (),
    job: int | None = None,
    run: Callable | None = None,
) -> str:
    """One job of a sweep: skip it if ``output_dir`` holds its finished results, else run it
    (``run(cfg, output_dir)``, default [`run_in_folder`][ketamine_sim.experiments.kinds.run_in_folder]). The folder is
    held meanwhile ([`claim_folder`][ketamine_sim.experiments.kinds.claim_folder]: writable, no other live run in it,
    else RunFolderError); the results of another config found there are removed before the
    job runs again. Records the outcome in ``job_status.json``; returns ``"done"`` or
    ``"skipped-finished"``; re-raises the run's error (after recording ``"failed"``) and an
    interruption (after recording ``"interrupted"``)."""
    output_dir = Path(output_dir)
    with job_log_tag(job, overrides), claim_folder(output_dir, "hydra.sweep.dir", resume=True):
        base = {"job": job, "jobs": _jobs_of_folder(output_dir, list(overrides), job), "overrides": list(overrides)}
        for path in remove_leftover_temp_files(output_dir):
            log.info("removed a temp file left by an interrupted run: %s", path)
        finished, why = check_finished(output_dir, cfg)
        if finished:
            try:
                note = "; redrew its figure" if _redraw_figure_if_needed(output_dir, cfg) else ""
            except Exception as error:  # the results are complete: a figure is no reason to simulate again
                note = f"; its figure could not be drawn ({type(error).__name__}: {error})"
            log.info("skipping finished run %s (%s)%s", output_dir, why, note)
            _write_status(output_dir, status="skipped-finished", **base, ended=_now())
            return "skipped-finished"
        if (output_dir / _RESULTS).exists() or (output_dir / STATUS_FILE).exists():
            log.info("running %s again: %s", output_dir, why)
        if run is None:

            def run(cfg, output_dir):
                return run_in_folder(cfg, output_dir, "hydra.sweep.dir", validated=True)  # validated below

        started, clock = _now(), time.perf_counter()
        _write_status(output_dir, status="running", **base, started=started)
        try:
            validate(cfg)  # a bad value (a typo in a rerun) fails here, before any earlier result is removed
            _expected_results(cfg)  # output names from values: unique or refused
            for path in remove_results(output_dir):  # e.g. the dose folders of another dose list
                log.info("removed %s (another run's output)", path)
            run(cfg, output_dir)
        except Exception as error:
            _try_write_status(
                output_dir,
                status="failed",
                **base,
                started=started,
                ended=_now(),
                error=f"{type(error).__name__}: {error}",
            )
            raise
        except KeyboardInterrupt:
            _try_write_status(output_dir, status="interrupted", **base, started=started, ended=_now())
            raise
        _write_status(
            output_dir,
            status="done",
            **base,
            started=started,
            ended=_now(),
            job_wall_s=round(time.perf_counter() - clock, 3),
        )
        return "done"
