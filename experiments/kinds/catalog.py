"""The experiment kinds: how each runs in a folder, registered in
[`KINDS`][ketamine_sim.experiments.kinds.registry.KINDS].

Protocol experiments (``bath``, ``iv_infusion``, ``evoked_release``, ``course``) and the
dose-response series run one compiled circuit in this process; the scorecard, the cohort and
the sensitivity analysis run many such runs: the scorecard's through the command's Hydra
launcher (``ketamine_sim.experiments.kinds.launch``), or in worker processes of their own.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path

from omegaconf import OmegaConf

from ketamine_sim.experiments import cohort, sensitivity
from ketamine_sim.experiments import config as C
from ketamine_sim.experiments.errors import ConfigError
from ketamine_sim.experiments.kinds import launch
from ketamine_sim.experiments.kinds.folders import Outputs, dose_folders
from ketamine_sim.experiments.kinds.protocol_run import (
    redraw_dose_response,
    redraw_summary,
    run_dose_response,
    run_protocol_experiment,
)
from ketamine_sim.experiments.kinds.registry import KINDS, Kind, run_experiment, validate
from ketamine_sim.experiments.scoring import scorecard
from ketamine_sim.experiments.scoring.configured_runs import config_of

log = logging.getLogger(__name__)


def _protocol(cfg, folder: Path, folder_field: str) -> Path:
    return run_protocol_experiment(cfg, folder, Outputs(folder_field), *_start(cfg))


def _dose_response(cfg, folder: Path, folder_field: str) -> Path:
    return run_dose_response(cfg, folder, Outputs(folder_field), *_start(cfg))


def _start(cfg) -> tuple[float, datetime]:
    """The run's clock and start time; logs what runs."""
    log.info(
        "experiment %s: circuit %s, drug %s, backend %s, seed %d",
        cfg.experiment.name,
        cfg.circuit.name,
        cfg.drug.name,
        cfg.backend.name,
        cfg.seed,
    )
    return time.perf_counter(), datetime.now(UTC)


def _dose_results(cfg) -> list[tuple[str, object]]:
    """One file per dose, each storing the config with its dose."""
    doses = C.dose_list(cfg)
    return [
        (f"{folder}/results.h5", OmegaConf.merge(cfg, {"dosing": {"dose_mg_per_kg": dose}}))
        for dose, folder in zip(doses, dose_folders(doses))
    ]


def _scorecard(cfg, folder: Path, folder_field: str) -> Path:
    """Every planned run as a job of the command's Hydra launcher, or (the Python API) in
    ``scorecard.n_jobs`` worker processes (no engine here)."""
    from ketamine_sim.experiments.figures import scorecard as heat_map

    execute_runs = _executor(cfg, folder, "scorecard", cfg.scorecard.n_jobs, configured=False)
    return scorecard.run_scorecard(cfg, folder, execute_runs, _check_run, heat_map if cfg.output.figure else None)


def _executor(cfg, folder: Path, label: str, n_jobs, configured: bool):
    """How an experiment of many runs runs them: ``execute_runs(runs)``, through the
    command's Hydra launcher (``ketamine_sim.experiments.kinds.launch``), or (the Python API, no launcher)
    in ``n_jobs`` worker processes of its own (``null``: one). ``configured``: runs planned as
    whole configs (cohort patients, sensitivity samples), else as command lines."""
    if launch.in_hydra_app():
        if configured:
            return lambda runs: launch.launch_configured_runs(cfg, runs, folder, label, n_jobs)
        return lambda runs: launch.launch_runs(runs, folder, label, n_jobs)
    worker = _run_config if configured else _run_one
    return lambda runs: scorecard.execute(runs, worker, int(n_jobs or 1), label=label)


def _scorecard_records(cfg) -> None:
    """The scorecard's records exist and have a registered observable."""
    s = cfg.scorecard
    try:
        scorecard.scorable(
            scorecard.load_records(s.seeds_dir or scorecard.SEEDS_DIR),
            list(s.records) if s.records is not None else None,
        )
    except scorecard.RecordError as error:
        raise ConfigError(
            "scorecard.records" if "scorecard.records" in str(error) else "scorecard.seeds_dir", str(error)
        ) from None


def _cohort(cfg, folder: Path, folder_field: str) -> Path:
    """Every patient's course as a job of the command's Hydra launcher, or in worker processes (no engine here)."""
    from ketamine_sim.experiments.figures import cohort as cohort_figure

    log.info("experiment cohort: %d patients drawn from cohort.seed %d", cfg.cohort.n_patients, cfg.cohort.seed)
    execute_runs = _executor(cfg, folder, "cohort", cfg.cohort.n_jobs, configured=True)
    return cohort.run_cohort(cfg, folder, execute_runs, cohort_figure if cfg.output.figure else None)


def _check_patients(cfg) -> None:
    """The first patient's course config passes the whole validation, and every patient's
    draws lie within the config's ranges (a bad draw shows here, before any run)."""
    patient = cohort.draw_patients(OmegaConf.merge(cfg, {"cohort": {"n_patients": 1}}))[0]
    try:
        validate(cohort.patient_config(cfg, patient))
    except (ConfigError, ValueError) as error:
        field = getattr(error, "field", "pk")
        detail = str(error)[len(field) + 2 :] if isinstance(error, ConfigError) else str(error)
        raise ConfigError(field, f"the cohort's first patient: {detail}") from None
    cohort.plan(cfg, Path("."))  # every patient's draws within the config's ranges (no run)


def _sensitivity(cfg, folder: Path, folder_field: str) -> Path:
    """Every sample's course as a job of the command's Hydra launcher, or in worker processes (no engine here)."""
    from ketamine_sim.experiments.figures import sensitivity as sensitivity_figure

    log.info(
        "experiment sensitivity: %s over %d parameters, sensitivity.seed %d",
        cfg.sensitivity.method,
        len(sensitivity.parameters(cfg)),
        cfg.sensitivity.seed,
    )
    execute_runs = _executor(cfg, folder, "sensitivity", cfg.sensitivity.n_jobs, configured=True)
    return sensitivity.run_sensitivity(cfg, folder, execute_runs, sensitivity_figure if cfg.output.figure else None)


def _check_samples(cfg) -> None:
    """Every sample's course config passes the config's checks (a range reaching outside a
    key's allowed values shows here, before any run)."""
    sensitivity.plan(cfg, Path("."))


def _one_file(cfg) -> list[tuple[str, object]]:
    return [("results.h5", cfg)]


KINDS.update(
    {
        "bath": Kind("bath", _protocol, _one_file, redraw=redraw_summary),
        "iv_infusion": Kind("iv_infusion", _protocol, _one_file, redraw=redraw_summary),
        "evoked_release": Kind("evoked_release", _protocol, _one_file, redraw=redraw_summary),
        "course": Kind("course", _protocol, _one_file, redraw=redraw_summary),
        "dose_response": Kind(
            "dose_response",
            _dose_response,
            _dose_results,
            tables=lambda cfg: ["dose_response.csv"],
            validate=lambda cfg: dose_folders(C.dose_list(cfg)),
            redraw=lambda folder, cfg: redraw_dose_response(folder, _dose_results(cfg)),
        ),
        "scorecard": Kind(
            "scorecard",
            _scorecard,
            lambda cfg: [],
            tables=lambda cfg: ["scorecard.csv"],
            validate=_scorecard_records,
            resumes=True,
        ),
        "cohort": Kind(
            "cohort",
            _cohort,
            lambda cfg: [],
            tables=lambda cfg: [cohort.TABLE, cohort.SUMMARY],
            validate=_check_patients,
            resumes=True,
        ),
        "sensitivity": Kind(
            "sensitivity",
            _sensitivity,
            lambda cfg: [],
            tables=lambda cfg: [sensitivity.TABLE, sensitivity.SAMPLES],
            validate=_check_samples,
            resumes=True,
        ),
    }
)


def _run_one(overrides: tuple[str, ...], directory: str) -> str:
    """One scorecard run in its worker process (module level: pickled by name)."""
    logging.basicConfig(level=logging.WARNING)
    run_experiment(C.compose_config(list(overrides)), Path(directory))
    return directory


def _run_config(payload: tuple[str, ...], directory: str) -> str:
    """One run planned as a whole config (a cohort's patient, a sensitivity sample) in its
    worker process (module level: pickled by name)."""
    logging.basicConfig(level=logging.WARNING)
    run_experiment(config_of(payload), Path(directory))
    return directory


def _check_run(overrides) -> None:
    """The command line's checks of one scorecard run, with the whole validation."""
    C.check_overrides(list(overrides), validate=validate)
