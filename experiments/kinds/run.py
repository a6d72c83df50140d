"""Experiment kinds, and running one into a folder.

Every experiment kind (``experiment.name``) is one [`Kind`][experiments.kinds.Kind] in `KINDS`: how it is
validated beyond the config's values, how it runs in a folder, which results files it writes
and whether it resumes into a folder that holds its earlier results. The command, the Python
API and sweeps ask the registry ([`kind_of`][experiments.kinds.kind_of]) instead of testing the kind's name.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from omegaconf import OmegaConf

from experiments import cohort, sensitivity
from experiments import config as C
from experiments.errors import ConfigError
from experiments.kinds.folders import Outputs, claim_folder, dose_folders, remove_results
from experiments.kinds.protocol_run import (
    redraw_dose_response,
    redraw_summary,
    run_dose_response,
    run_protocol_experiment,
)
from experiments.scoring import scorecard
from experiments.scoring.configured_runs import config_of
from experiments.scoring.objective import check_objective

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kind:
    """One experiment kind (an entry of ``KINDS``, keyed by ``experiment.name``).

    Attributes
    ----------
    name : str
        The kind's ``experiment.name`` (``bath``, ``iv_infusion``, ``evoked_release``,
        ``course``, ``dose_response``, ``scorecard``, ``cohort``, ``sensitivity``).
    run : callable
        ``run(cfg, folder, folder_field)`` runs it in a folder the caller holds and returns the
        path of its main file.
    results : callable
        ``results(cfg)`` lists the ``results.h5`` files it writes, relative to the folder, each
        with the config it stores (the last one is what
        [`experiments.api.run`][experiments.api.run] loads).
    tables : callable
        ``tables(cfg)``: its other result tables (``dose_response.csv``, ``scorecard.csv``,
        ``cohort.csv``).
    validate : callable
        ``validate(cfg)`` checks what ``experiments.config.validate`` cannot; raises
        [`ConfigError`][experiments.errors.ConfigError].
    redraw : callable
        ``redraw(folder, cfg)`` redraws a missing or cut-off figure of finished results;
        returns whether it did.
    resumes : bool
        Whether it keeps its finished results in the folder and resumes (the scorecard, the
        cohort, the sensitivity analysis).
    """

    name: str
    run: Callable[[object, Path, str], Path]
    results: Callable[[object], list[tuple[str, object]]]
    tables: Callable[[object], list[str]] = lambda cfg: []
    validate: Callable[[object], None] = lambda cfg: None
    redraw: Callable[[Path, object], bool] = lambda folder, cfg: False
    resumes: bool = False


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
    """Every planned run in its own process (no engine here)."""
    from experiments.figures import scorecard as heat_map

    return scorecard.run_scorecard(cfg, folder, _run_one, _check_run, heat_map if cfg.output.figure else None)


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
    """Every patient's course in its own process (no engine here)."""
    from experiments.figures import cohort as cohort_figure

    log.info("experiment cohort: %d patients drawn from cohort.seed %d", cfg.cohort.n_patients, cfg.cohort.seed)
    return cohort.run_cohort(cfg, folder, _run_config, cohort_figure if cfg.output.figure else None)


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
    """Every sample's course in its own process (no engine here)."""
    from experiments.figures import sensitivity as sensitivity_figure

    log.info(
        "experiment sensitivity: %s over %d parameters, sensitivity.seed %d",
        cfg.sensitivity.method,
        len(sensitivity.parameters(cfg)),
        cfg.sensitivity.seed,
    )
    return sensitivity.run_sensitivity(cfg, folder, _run_config, sensitivity_figure if cfg.output.figure else None)


def _check_samples(cfg) -> None:
    """Every sample's course config passes the config's checks (a range reaching outside a
    key's allowed values shows here, before any run)."""
    sensitivity.plan(cfg, Path("."))


def _one_file(cfg) -> list[tuple[str, object]]:
    return [("results.h5", cfg)]


KINDS: dict[str, Kind] = {
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


def kind_of(cfg) -> Kind:
    """The [`Kind`][experiments.kinds.Kind] of a config's ``experiment.name``.

    Parameters
    ----------
    cfg : omegaconf.DictConfig
        A composed config (validated by [`validate`][experiments.kinds.validate]).

    Returns
    -------
    Kind
        Its entry of ``KINDS``.

    Raises
    ------
    KeyError
        ``experiment.name`` is not a registered kind (a config that was not validated).

    Examples
    --------
    >>> from experiments.config import compose_config
    >>> kind = kind_of(compose_config(["experiment=dose_response"]))
    >>> kind.name, kind.resumes, kind.tables(None)
    ('dose_response', False, ['dose_response.csv'])
    """
    return KINDS[cfg.experiment.name]


def validate(cfg) -> None:
    """The whole validation of a config: every value (``experiments.config.validate``) and what
    its kind checks besides.

    Parameters
    ----------
    cfg : omegaconf.DictConfig
        A composed task config (without Hydra's ``hydra`` node).

    Raises
    ------
    ConfigError
        The first bad value, naming its override path.

    Examples
    --------
    >>> from experiments.config import compose_config
    >>> validate(compose_config(["dosing.dose_mg_per_kg=-3"]))
    Traceback (most recent call last):
    ...
    experiments.errors.ConfigError: dosing.dose_mg_per_kg: must be >= 0, got -3
    >>> validate(compose_config(["experiment=scorecard", "scorecard.records=[no_such_record]"]))
    Traceback (most recent call last):
    ...
    experiments.errors.ConfigError: scorecard.records: ... are not records with a registered observable; scorable: ...
    """
    C.validate(cfg)
    check_objective(cfg)
    kind_of(cfg).validate(cfg)


def run_experiment(
    cfg, output_dir: str | Path, *, overwrite: bool = False, folder_field: str = "hydra.run.dir"
) -> Path:
    """Validate a config, run its experiment and write its results into a folder.

    The folder is held while the run runs ([`claim_folder`][experiments.kinds.claim_folder]).
    The scorecard resumes into its folder (finished runs are kept).

    Parameters
    ----------
    cfg : omegaconf.DictConfig
        A composed task config.
    output_dir : str or pathlib.Path
        The folder (created if missing): ``results.h5`` (dose_response: one per dose in
        ``dose_*/`` and ``dose_response.csv``; scorecard: ``scorecard.csv``) and figures.
    overwrite : bool
        Remove the results of an earlier run in the folder first, instead of refusing.
    folder_field : str
        The setting that chose the folder, named in errors (``hydra.run.dir``, ``output_dir``).

    Returns
    -------
    pathlib.Path
        The path of the main file.

    Raises
    ------
    ConfigError
        A bad value ([`validate`][experiments.kinds.validate]), before anything runs.
    RunFolderError
        A folder that cannot be written, in which another run is running, or (unless
        ``overwrite``) that holds earlier results
        ([`RunFolderError`][experiments.errors.RunFolderError], a
        [`ConfigError`][experiments.errors.ConfigError] naming ``folder_field``), before
        anything is simulated.
    NumericalError
        A window left the model's range; nothing is written.
    KeyboardInterrupt
        On Ctrl-C the run stops after the current window, removes what it wrote and re-raises.
    """
    validate(cfg)
    resume = kind_of(cfg).resumes
    with claim_folder(output_dir, folder_field, resume=resume or overwrite) as folder:
        if overwrite and not resume:
            for path in remove_results(folder):
                log.info("overwrite: removed %s", path)
        return run_in_folder(cfg, folder, folder_field)


def run_in_folder(cfg, output_dir: str | Path, folder_field: str = "hydra.run.dir") -> Path:
    """[`run_experiment`][experiments.kinds.run_experiment] in a folder the caller already holds
    ([`claim_folder`][experiments.kinds.claim_folder]): validates ``cfg`` and runs its kind;
    files it writes replace files of the same name. Returns the path of the main file.
    """
    validate(cfg)
    return kind_of(cfg).run(cfg, Path(output_dir), folder_field)


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
