"""Run experiments from Python (a notebook, a script) with the same configs as the command line.

Overrides are Hydra's `key=value` strings (see [Configuration](../configuration.md)); the run
writes into `output_dir` exactly what `ketamine-sim` writes into its run directory. Brian2's
device is global state, so runs in one process follow each other (each starts from a fresh
device); for parallel runs use the command line's `-m` (see [Sweeps](../sweeps.md)).

Examples
--------
Compose the config a run would use, without running it (no compiler needed):

>>> from ketamine_sim.experiments.api import compose_config
>>> cfg = compose_config(["drug=esketamine", "circuit=small", "seed=4"])
>>> cfg.experiment.name, cfg.drug.name, cfg.circuit.name, cfg.seed
('iv_infusion', 'esketamine', 'small', 4)

Run an experiment and read its readouts (compiles and simulates the circuit):

>>> from ketamine_sim.experiments.api import run
>>> result = run(["experiment=bath", "circuit=small", "bath.concentrations_uM=[0,1]"], "my_run")  # doctest: +SKIP
>>> result.readouts_frame()  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ketamine_sim.experiments import kinds
from ketamine_sim.experiments.analysis import Run, load_run
from ketamine_sim.experiments.config import check_overrides, compose_config
from ketamine_sim.experiments.kinds import run_experiment

__all__ = ["compose_config", "run"]


def run(
    overrides: Sequence[str] = (), output_dir: str | Path = "outputs/api", overwrite: bool = False
) -> Run | pd.DataFrame:
    """Validate, run and write one experiment; returns its results (`dose_response`: the
    results of the last dose, with `dose_response.csv` beside them; `scorecard`, `cohort`
    and `sensitivity`, whose results are tables: the table, `scorecard.csv`, `cohort.csv` or
    `sensitivity.csv`, as a pandas DataFrame).

    With `objective.findings` it also writes the run's `objective.json`
    ([fitting](../fitting.md)).

    The overrides are checked as the command line checks them (a key given twice, a key
    nothing reads, a value out of range) before anything is compiled or simulated.

    Parameters
    ----------
    overrides : sequence of str
        Hydra overrides, `key=value` (`"experiment=bath"`, `"circuit=small"`,
        `"dosing.dose_mg_per_kg=0.5"`); units as the config's key names state them (mg/kg,
        uM, min, s). Empty: the default experiment (a 0.5 mg/kg racemic IV infusion).
    output_dir : str or pathlib.Path
        Folder to write into (created if missing): `results.h5` (layout in
        [Output format](../output_format.md)), the figures if `output.figure` is on; for
        `dose_response` one sub-folder per dose and `dose_response.csv`.
    overwrite : bool
        Remove the results of an earlier run in `output_dir` first, instead of refusing.

    Returns
    -------
    Run
        The run's results ([`Run`][ketamine_sim.experiments.analysis.Run], read back from the
        `results.h5` written, as [`load_run`][ketamine_sim.experiments.analysis.load_run] reads it):
        spikes in ms per population and window, readouts, timeline, config.

    Raises
    ------
    ConfigError
        A bad override (`ketamine_sim.experiments.errors.ConfigError`, a ValueError whose `field` is the
        override path), as the command line refuses it.
    RunFolderError
        `output_dir` is not writable, is in use by a live run, or holds an earlier run's
        results and `overwrite` is False (`ketamine_sim.experiments.errors.RunFolderError`, a
        ConfigError naming `output_dir`); raised before anything is simulated.
    NumericalError
        A window left the model's range (`ketamine_sim.experiments.errors.NumericalError`); nothing is
        written.
    KeyboardInterrupt
        An interrupt (Ctrl-C, a notebook's "interrupt kernel") stops the run after the
        current window; nothing is written.

    Examples
    --------
    A bad value is refused before anything runs (and nothing is written):

    >>> from ketamine_sim.experiments.api import run
    >>> run(["dosing.dose_mg_per_kg=-3"], "outputs/never_written")
    Traceback (most recent call last):
    ...
    ketamine_sim.experiments.errors.ConfigError: dosing.dose_mg_per_kg: must be >= 0, got -3

    One bath application on the small circuit, then its readouts as a table (compiles and
    simulates the circuit):

    >>> result = run(["experiment=bath", "circuit=small", "bath.concentrations_uM=[0,1]"], "my_run")  # doctest: +SKIP
    >>> result.readouts_frame()  # doctest: +SKIP
    >>> result.spikes("pyr", 0)  # (times in ms from the window's start, node ids)  # doctest: +SKIP
    """
    output_dir = Path(output_dir)
    check_overrides(
        list(overrides), validate=kinds.validate
    )  # the command line's checks: a key given twice, a key nothing reads
    cfg = compose_config(overrides)
    path = run_experiment(cfg, output_dir, overwrite=overwrite, folder_field="output_dir")
    if cfg.objective.findings:  # as the command does: objective.json beside results.h5
        from ketamine_sim.experiments.scoring.objective import objective

        objective(cfg, output_dir)
    results = kinds.kind_of(cfg).results(cfg)  # dose_response: one results.h5 per dose, the last loaded
    if not results and path.suffix == ".csv":  # scorecard, cohort, sensitivity: a table of many runs
        return pd.read_csv(path)
    return load_run(output_dir / results[-1][0] if results else path)
