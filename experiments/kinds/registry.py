"""The registry of experiment kinds, and running one into a folder.

Every experiment kind (``experiment.name``) is one [`Kind`][ketamine_sim.experiments.kinds.Kind] in `KINDS`
(the kinds themselves are defined and registered in ``ketamine_sim.experiments.kinds.catalog``): how it is
validated beyond the config's values, how it runs in a folder, which results files it writes
and whether it resumes into a folder that holds its earlier results. The command, the Python
API and sweeps ask the registry ([`kind_of`][ketamine_sim.experiments.kinds.kind_of]) instead of testing the kind's name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ketamine_sim.experiments import config as C
from ketamine_sim.experiments.kinds.folders import claim_folder, remove_results
from ketamine_sim.experiments.scoring.objective import check_objective

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
        [`ketamine_sim.experiments.api.run`][ketamine_sim.experiments.api.run] loads).
    tables : callable
        ``tables(cfg)``: its other result tables (``dose_response.csv``, ``scorecard.csv``,
        ``cohort.csv``).
    validate : callable
        ``validate(cfg)`` checks what ``ketamine_sim.experiments.config.validate`` cannot; raises
        [`ConfigError`][ketamine_sim.experiments.errors.ConfigError].
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


#: ``experiment.name`` -> its Kind; filled by ``ketamine_sim.experiments.kinds.catalog`` (imported with the package).
KINDS: dict[str, Kind] = {}


def kind_of(cfg) -> Kind:
    """The [`Kind`][ketamine_sim.experiments.kinds.Kind] of a config's ``experiment.name``.

    Parameters
    ----------
    cfg : omegaconf.DictConfig
        A composed config (validated by [`validate`][ketamine_sim.experiments.kinds.validate]).

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
    >>> from ketamine_sim.experiments.config import compose_config
    >>> kind = kind_of(compose_config(["experiment=dose_response"]))
    >>> kind.name, kind.resumes, kind.tables(None)
    ('dose_response', False, ['dose_response.csv'])
    """
    return KINDS[cfg.experiment.name]


def validate(cfg) -> None:
    """The whole validation of a config: every value (``ketamine_sim.experiments.config.validate``) and what
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
    >>> from ketamine_sim.experiments.config import compose_config
    >>> validate(compose_config(["dosing.dose_mg_per_kg=-3"]))
    Traceback (most recent call last):
    ...
    ketamine_sim.experiments.errors.ConfigError: dosing.dose_mg_per_kg: must be >= 0, got -3
    >>> validate(compose_config(["experiment=scorecard", "scorecard.records=[no_such_record]"]))
    Traceback (most recent call last):
    ...
    ketamine_sim.experiments.errors.ConfigError: scorecard.records: ... are not records with a registered observable; scorable: ...
    """
    C.validate(cfg)
    check_objective(cfg)
    kind_of(cfg).validate(cfg)


def run_experiment(
    cfg, output_dir: str | Path, *, overwrite: bool = False, folder_field: str = "hydra.run.dir"
) -> Path:
    """Validate a config, run its experiment and write its results into a folder.

    The folder is held while the run runs ([`claim_folder`][ketamine_sim.experiments.kinds.claim_folder]).
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
        A bad value ([`validate`][ketamine_sim.experiments.kinds.validate]), before anything runs.
    RunFolderError
        A folder that cannot be written, in which another run is running, or (unless
        ``overwrite``) that holds earlier results
        ([`RunFolderError`][ketamine_sim.experiments.errors.RunFolderError], a
        [`ConfigError`][ketamine_sim.experiments.errors.ConfigError] naming ``folder_field``), before
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
        return run_in_folder(cfg, folder, folder_field, validated=True)


def run_in_folder(cfg, output_dir: str | Path, folder_field: str = "hydra.run.dir", *, validated: bool = False) -> Path:
    """[`run_experiment`][ketamine_sim.experiments.kinds.run_experiment] in a folder the caller already holds
    ([`claim_folder`][ketamine_sim.experiments.kinds.claim_folder]): validates ``cfg`` (unless the caller
    just did: ``validated``) and runs its kind; files it writes replace files of the same name.
    Returns the path of the main file.
    """
    if not validated:
        validate(cfg)
    return kind_of(cfg).run(cfg, Path(output_dir), folder_field)
